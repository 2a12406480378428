import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../core/errors.js';
import { hostForRole, parseInventory, parseSshTarget, readInventory, type TestRange } from '../../hosts/inventory.js';
import { cidrContains, parseAddress, parseCidr } from '../../provisioning/ipv4.js';
import { REPO_ROOT } from '../helpers.js';

const GUARD = parseCidr('198.18.0.0/15');
const RANGE: TestRange = { text: '198.18.0.0/15', contains: (address) => cidrContains(GUARD, parseAddress(address)) };

const GOOD = `hosts:
  - name: sut
    ssh: root@lab-sut.example:22
    test-address: 198.18.1.2
    data-dir: /srv/isobench
    roles: [server, migration-source]
  - name: peer
    ssh: root@lab-peer.example
    test-address: 198.18.1.3
    roles: [client, migration-dest]
`;

test("the issue's example inventory reads as written", async () => {
  const inventory = await readInventory(join(REPO_ROOT, 'test/fixtures/hosts/lab.yaml'), RANGE);
  assert.deepEqual(inventory.hosts.map((host) => host.name), ['sut', 'peer']);
  assert.deepEqual(inventory.hosts[0]!.ssh, { user: 'root', address: 'lab-sut.example', port: 22 });
  assert.deepEqual(inventory.hosts[1]!.ssh, { user: 'root', address: 'lab-peer.example' });
  assert.equal(inventory.hosts[0]!.dataDir, '/srv/isobench');
  assert.equal(inventory.hosts[1]!.dataDir, undefined);
  assert.deepEqual(inventory.hosts[1]!.roles, ['client', 'migration-dest']);
});

test('JSON is read too, and localhost needs no ssh', () => {
  const json = JSON.stringify({ hosts: [{ name: 'localhost', 'test-address': '198.19.5.1', roles: ['client'] }, { name: 'b', ssh: 'me@10.0.0.7:2222', 'test-address': '198.19.5.2' }] });
  const inventory = parseInventory(json, 'lab.json', RANGE);
  assert.equal(inventory.hosts[0]!.ssh, undefined);
  assert.deepEqual(inventory.hosts[1]!.ssh, { user: 'me', address: '10.0.0.7', port: 2222 });
  assert.deepEqual(inventory.hosts[1]!.roles, []);
});

test('shared-dir and bridge are read when written, absent otherwise', () => {
  const inventory = parseInventory(GOOD.replace('    data-dir: /srv/isobench\n', '    data-dir: /srv/isobench\n    shared-dir: /mnt/nfs/isobench\n    bridge: br-lab\n'), 'lab.yaml', RANGE);
  assert.equal(inventory.hosts[0]!.sharedDir, '/mnt/nfs/isobench');
  assert.equal(inventory.hosts[0]!.bridge, 'br-lab');
  assert.equal(inventory.hosts[1]!.sharedDir, undefined);
  assert.equal(inventory.hosts[1]!.bridge, undefined);
});

/** Each bad inventory, and what its one line must say. */
const BAD: Array<{ why: string; text: string; says: RegExp }> = [
  { why: 'unknown field', text: GOOD.replace('data-dir:', 'datadir:'), says: /^--hosts lab\.yaml: hosts\[0\] \(sut\): unknown field "datadir"/ },
  { why: 'unknown top-level field', text: `${GOOD}extra: 1\n`, says: /^--hosts lab\.yaml: the file: unknown field "extra": the fields are hosts, ssh-config$/ },
  // A misspelt required field is named as the misspelling, not only as the field missing (a newcomer's `test-adress`).
  { why: 'misspelt required field', text: GOOD.replace('test-address: 198.18.1.2', 'test-adress: 198.18.1.2'), says: /^--hosts lab\.yaml: hosts\[0\] \(sut\): unknown field "test-adress": the fields are / },
  { why: 'misspelt hosts', text: GOOD.replace(/^hosts:/m, 'host:'), says: /^--hosts lab\.yaml: the file: unknown field "host": the fields are hosts, ssh-config$/ },
  { why: 'missing name', text: GOOD.replace('  - name: peer\n', '  - roles: [client]\n').replace('    roles: [client, migration-dest]\n', ''), says: /hosts\[1\]: name is missing$/ },
  { why: 'missing test-address', text: GOOD.replace('    test-address: 198.18.1.3\n', ''), says: /hosts\[1\] \(peer\): test-address is missing$/ },
  { why: 'duplicate host name', text: GOOD.replace('name: peer', 'name: sut'), says: /hosts\[1\] \(sut\): duplicate host name "sut"/ },
  { why: 'duplicate test-address', text: GOOD.replace('198.18.1.3', '198.18.1.2'), says: /hosts\[1\] \(peer\): duplicate test-address 198\.18\.1\.2, already host sut's/ },
  { why: 'ssh without user', text: GOOD.replace('root@lab-peer.example', 'lab-peer.example'), says: /hosts\[1\] \(peer\): ssh must be user@address\[:port\]/ },
  // It said the form was wrong, when only the port was.
  { why: 'ssh port out of range', text: GOOD.replace('root@lab-sut.example:22', 'root@host:70000'), says: /^--hosts lab\.yaml: hosts\[0\] \(sut\): ssh root@host:70000: port 70000 is out of range 1-65535: use a port in that range, or leave :PORT out for ssh's default$/ },
  { why: 'ssh port 0', text: GOOD.replace(':22', ':0'), says: /hosts\[0\] \(sut\): ssh root@lab-sut\.example:0: port 0 is out of range 1-65535/ },
  { why: 'ssh that would be an option', text: GOOD.replace('root@lab-peer.example', '-oProxyCommand=x@y'), says: /hosts\[1\] \(peer\): ssh must be/ },
  { why: 'ssh as a URL', text: GOOD.replace('root@lab-peer.example', 'ssh://root@lab-peer.example'), says: /hosts\[1\] \(peer\): ssh must be/ },
  { why: 'remote host without ssh', text: GOOD.replace('    ssh: root@lab-peer.example\n', ''), says: /hosts\[1\] \(peer\): ssh is missing/ },
  { why: 'localhost with ssh', text: GOOD.replace('name: peer', 'name: localhost'), says: /hosts\[1\] \(localhost\): ssh is not allowed on localhost/ },
  { why: 'test-address outside the test range', text: GOOD.replace('198.18.1.3', '192.168.1.3'), says: /hosts\[1\] \(peer\): test-address 192\.168\.1\.3 lies outside the test range 198\.18\.0\.0\/15/ },
  { why: 'test-address not an address', text: GOOD.replace('198.18.1.3', 'lab-peer'), says: /hosts\[1\] \(peer\): test-address must be an IPv4 address/ },
  { why: 'test-address with a part over 255', text: GOOD.replace('198.18.1.3', '198.18.1.300'), says: /test-address 198\.18\.1\.300 is not an IPv4 address/ },
  // The bad value is quoted: the index alone made a reader count list items.
  { why: 'unknown role', text: GOOD.replace('[client, migration-dest]', '[client, migration-target]'), says: /hosts\[1\] \(peer\): roles\.1: unknown role "migration-target": the roles are server, client, migration-source, migration-dest$/ },
  { why: 'a role typo', text: GOOD.replace('[server, migration-source]', '[sever]'), says: /^--hosts lab\.yaml: hosts\[0\] \(sut\): roles\.0: unknown role "sever": the roles are server, client, migration-source, migration-dest$/ },
  { why: 'relative data-dir', text: GOOD.replace('/srv/isobench', 'srv/isobench'), says: /hosts\[0\] \(sut\): data-dir must be an absolute path/ },
  { why: 'relative shared-dir', text: GOOD.replace('    data-dir: /srv/isobench\n', '    shared-dir: nfs/isobench\n'), says: /hosts\[0\] \(sut\): shared-dir must be an absolute path/ },
  { why: 'bridge name too long', text: GOOD.replace('    data-dir: /srv/isobench\n', '    bridge: a-bridge-name-too-long\n'), says: /hosts\[0\] \(sut\): bridge must be a network interface name/ },
  { why: 'no hosts', text: 'hosts: []\n', says: /: hosts must list at least one host$/ },
  { why: 'not a mapping', text: '- a\n- b\n', says: /^--hosts lab\.yaml: the file must be a mapping with a hosts list/ },
  { why: 'YAML syntax error', text: 'hosts:\n  - name: [sut\n', says: /not valid YAML or JSON \(line \d+\)/ },
  { why: 'duplicate key', text: GOOD.replace('    test-address: 198.18.1.3\n', '    test-address: 198.18.1.3\n    test-address: 198.18.1.4\n'), says: /not valid YAML or JSON \(line 10\)/ },
  { why: 'name not a string', text: GOOD.replace('name: peer', 'name: 5'), says: /hosts\[1\]: name: Invalid input: expected string, received number/ },
  { why: 'name with a space', text: GOOD.replace('name: peer', 'name: my peer'), says: /hosts\[1\] \(my peer\): name must be lower-case/ },
];

for (const bad of BAD) {
  test(`a bad inventory is one line naming the field, exit code 2: ${bad.why}`, () => {
    assert.throws(
      () => parseInventory(bad.text, 'lab.yaml', RANGE),
      (error: unknown) => {
        assert.ok(error instanceof UsageError, String(error));
        assert.equal(error.exitCode, 2);
        assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
        assert.match(error.message, bad.says);
        return true;
      },
    );
  });
}

test('a file that cannot be read is one line, exit 2', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-inventory-'));
  try {
    await assert.rejects(readInventory(join(directory, 'none.yaml'), RANGE), /--hosts .*none\.yaml cannot be read \(ENOENT\)/);
    await writeFile(join(directory, 'empty.yaml'), '');
    await assert.rejects(readInventory(join(directory, 'empty.yaml'), RANGE), /--hosts .*empty\.yaml: the file must be a mapping/);
    // A missing ssh-config made every host look dead ("the connection was lost"), exit 1 (newcomer check, 2026-12-01).
    await writeFile(join(directory, 'lab.yaml'), `ssh-config: ./nope_config\n${GOOD}`);
    await assert.rejects(readInventory(join(directory, 'lab.yaml'), RANGE), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /^--hosts .*lab\.yaml: ssh-config .*nope_config cannot be read \(ENOENT\): write the path of an ssh_config file, relative to the inventory's directory$/);
      return true;
    });
    await writeFile(join(directory, 'nope_config'), 'Host *\n');
    assert.equal((await readInventory(join(directory, 'lab.yaml'), RANGE)).sshConfig, join(directory, 'nope_config'));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('ssh targets: the accepted forms and the refused ones', () => {
  assert.deepEqual(parseSshTarget('root@[fd00::5]:2200'), { user: 'root', address: 'fd00::5', port: 2200 });
  assert.deepEqual(parseSshTarget('bench_user@198.18.1.2'), { user: 'bench_user', address: '198.18.1.2' });
  for (const bad of ['root@', '@host', 'root@host:0', 'root@host:', 'root@ho st', 'root@-host', 'root@host;ls', 'Root@host']) {
    assert.equal(parseSshTarget(bad), null, bad);
  }
});

test('a role: the named host must have it; unnamed, exactly one host has it', () => {
  const inventory = parseInventory(GOOD, 'lab.yaml', RANGE);
  assert.equal(hostForRole(inventory, 'server', 'sut', 'server').name, 'sut');
  assert.equal(hostForRole(inventory, 'client', undefined, 'client').name, 'peer');
  assert.throws(() => hostForRole(inventory, 'client', 'sut', 'client'), /--client sut: host sut does not have the role client in lab\.yaml/);
  assert.throws(() => hostForRole(inventory, 'client', 'nobody', 'client'), /--client nobody: no such host in lab\.yaml \(hosts: sut, peer\)/);
  const noClient = parseInventory(GOOD.replace('[client, migration-dest]', '[migration-dest]'), 'lab.yaml', RANGE);
  assert.throws(() => hostForRole(noClient, 'client', undefined, 'client'), /--hosts lab\.yaml: no host has the role client/);
  const twoServers = parseInventory(GOOD.replace('[client, migration-dest]', '[server]'), 'lab.yaml', RANGE);
  assert.throws(() => hostForRole(twoServers, 'server', undefined, 'server'), /sut, peer all have the role server: choose one with --server/);
});
