/** Lab mode's migration run, checked before anything is made (issue 14): the inventory's fields and the command line's hosts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../core/errors.js';
import { labMigrationSelection } from '../../harness/lab-migration.js';
import { parseInventory, type TestRange } from '../../hosts/inventory.js';
import { cidrContains, parseAddress, parseCidr } from '../../provisioning/ipv4.js';

const GUARD = parseCidr('198.18.0.0/15');
const RANGE: TestRange = { text: '198.18.0.0/15', contains: (address) => cidrContains(GUARD, parseAddress(address)) };

const LAB = `hosts:
  - name: a
    ssh: root@lab-a.example
    test-address: 198.18.1.2
    shared-dir: /srv/nfs/isobench
    bridge: br-lab
    guest-address: 198.18.1.50/24
    roles: [migration-source]
  - name: b
    ssh: root@lab-b.example
    test-address: 198.18.1.3
    shared-dir: /srv/nfs/isobench
    bridge: br-lab
    roles: [migration-dest]
  - name: c
    ssh: root@lab-c.example
    test-address: 198.18.1.4
    roles: [client]
`;

const select = (text: string, flags: Parameters<typeof labMigrationSelection>[1] = {}, targets = ['kvm'], suites = ['migration'], vmManager: 'qemu' | 'libvirt' = 'qemu') =>
  labMigrationSelection(parseInventory(text, 'lab.yaml', RANGE), flags, targets, suites, vmManager);

test('the roles pick source, destination and the one client host as the watch host; guest-address is read', () => {
  const selection = select(LAB);
  assert.deepEqual([selection.source.name, selection.dest.name, selection.watch?.name], ['a', 'b', 'c']);
  assert.equal(selection.sharedDirectory, '/srv/nfs/isobench');
  assert.deepEqual(selection.source.guestAddress, { address: '198.18.1.50', prefix: 24 });
});

test('--vm-manager libvirt is kept for the placement: each end\'s libvirtd moves the domain', () => {
  assert.equal(select(LAB, {}, ['kvm'], ['migration'], 'libvirt').vmManager, 'libvirt');
  assert.equal(select(LAB).vmManager, 'qemu');
});

test('no client host: no watch host (QEMU\'s downtime only)', () => {
  assert.equal(select(LAB.replace('roles: [client]', 'roles: []')).watch, null);
});

/** Each refusal: one line naming what to add or change. */
const REFUSED: Array<{ why: string; run: () => unknown; says: RegExp }> = [
  { why: 'another suite beside migration', run: () => select(LAB, {}, ['kvm'], ['migration', 'tcp-rr']), says: /^lab mode runs --suite migration in a run of its own .*not with tcp-rr/ },
  { why: 'a target other than kvm', run: () => select(LAB, {}, ['native']), says: /migrates the kvm target between hosts, not native: use --target kvm --suite migration$/ },
  { why: '--server', run: () => select(LAB, { server: 'a' }), says: /names --source and --dest .*not --server$/ },
  { why: 'the same host twice', run: () => select(LAB.replace('roles: [migration-dest]', 'roles: [migration-dest, migration-source]').replace('roles: [migration-source]', 'roles: [migration-source, migration-dest]'), { source: 'a', dest: 'a' }), says: /--source and --dest are both a/ },
  { why: 'no shared-dir', run: () => select(LAB.replace('    shared-dir: /srv/nfs/isobench\n    bridge: br-lab\n    roles: [migration-dest]', '    bridge: br-lab\n    roles: [migration-dest]')), says: /host b has no shared-dir in the inventory/ },
  { why: 'different shared-dirs', run: () => select(LAB.replace('    shared-dir: /srv/nfs/isobench\n    bridge: br-lab\n    roles: [migration-dest]', '    shared-dir: /srv/other\n    bridge: br-lab\n    roles: [migration-dest]')), says: /name different shared-dirs/ },
  { why: 'no bridge', run: () => select(LAB.replace('    bridge: br-lab\n    roles: [migration-dest]', '    roles: [migration-dest]')), says: /^host b has no bridge in lab\.yaml/ },
  { why: 'no guest-address', run: () => select(LAB.replace('    guest-address: 198.18.1.50/24\n', '')), says: /^host a has no guest-address in lab\.yaml: .*guest-address: 198\.18\.1\.50\/24/ },
  { why: 'the watch host is an end', run: () => select(LAB.replace('roles: [migration-dest]', 'roles: [migration-dest, client]'), { client: 'b' }), says: /--client b is an end of the migration/ },
  { why: 'a source without the role', run: () => select(LAB, { source: 'c' }), says: /--source c: host c does not have the role migration-source/ },
  // Named the same before the roles are looked at ("add it to its roles" would only lead here).
  { why: '--dest named as --source', run: () => select(LAB, { source: 'a', dest: 'a' }), says: /^--source and --dest are both a: a lab migration moves the guest to another host$/ },
  { why: '--client named as an end', run: () => select(LAB, { client: 'b', dest: 'b' }), says: /^--client b is an end of the migration/ },
  // Points lab mode would skip after booting the guest (newcomer check: 33-48 s, then exit 0 with nothing measured).
  { why: 'a variant other than pre-copy', run: () => select(LAB, { variant: 'precopy,xbzrle' }), says: /^lab mode migrates with plain pre-copy only so far, not --variant xbzrle: leave --variant out$/ },
  { why: 'the web workload named', run: () => select(LAB, { workload: 'idle,web' }), says: /^lab mode runs the idle and dirty workloads so far .*: --workload idle,dirty$/ },
  // A guest the hosts' link cannot reach (newcomer check: it booted, then every trial's probe went unanswered).
  { why: 'a guest-address off the hosts\' link', run: () => select(LAB.replace('198.18.1.50/24', '198.18.9.50/24')), says: /^host a: guest-address 198\.18\.9\.50\/24 is not on the link of a \(198\.18\.1\.2\), b \(198\.18\.1\.3\) in lab\.yaml/ },
  { why: 'the broadcast address', run: () => select(LAB.replace('198.18.1.50/24', '198.18.1.255/24')), says: /^host a: guest-address 198\.18\.1\.255\/24 is its subnet's broadcast address/ },
];

for (const { why, run, says } of REFUSED) {
  test(`refused in one line: ${why}`, () => {
    assert.throws(run, (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, says);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  });
}

test('guest-address: inside the test range, not a host\'s test-address, a real prefix', () => {
  assert.throws(() => parseInventory(LAB.replace('198.18.1.50/24', '10.0.0.5/24'), 'lab.yaml', RANGE), /hosts\[0\] \(a\): guest-address 10\.0\.0\.5 lies outside the test range/);
  assert.throws(() => parseInventory(LAB.replace('198.18.1.50/24', '198.18.1.3/24'), 'lab.yaml', RANGE), /guest-address 198\.18\.1\.3 is host b's test-address/);
  assert.throws(() => parseInventory(LAB.replace('198.18.1.50/24', '198.18.1.50/31'), 'lab.yaml', RANGE), /the prefix length must be 8-30/);
  assert.throws(() => parseInventory(LAB.replace('198.18.1.50/24', '198.18.1.50'), 'lab.yaml', RANGE), /guest-address must be ADDRESS\/PREFIX/);
});
