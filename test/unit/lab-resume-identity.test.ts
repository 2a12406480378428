/**
 * harness/lab.ts refuseChangedLabHosts: a lab resume continues only on the machines it measured,
 * judged by each host's hostname, CPU, cores and kernel read afresh over its connection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Host } from '../../hosts/host.js';
import type { InventoryHost } from '../../hosts/inventory.js';
import { refuseChangedLabHosts, type LabSelection } from '../../harness/lab.js';
import { identityScript, parseIdentity } from '../../provisioning/lab-host-facts.js';
import type { LabHost, LabHostFacts } from '../../results/schema.js';

/** The identity script's output as `sh` printed it on the development machine (hostname vm, 2 cores). */
const OUTPUT = [
  '', '@@isobench:hostname@@', 'vm',
  '', '@@isobench:cpuinfo@@', 'processor\t: 0', 'vendor_id\t: AuthenticAMD', 'model name\t: AMD EPYC', 'cpu MHz\t\t: 2449.998', '',
  '', '@@isobench:cores@@', '2',
  '', '@@isobench:kernel@@', '6.18.44-fc-v595',
  '', '@@isobench:end@@', '',
].join('\n');

const FACTS: LabHostFacts = {
  hostname: 'vm', cpuModel: 'AMD EPYC', cores: 2, cpuMHz: 2449.998, memoryBytes: 24e9, kernel: '6.18.44-fc-v595', distro: 'Debian GNU/Linux 12 (bookworm)',
  tools: [], perfCounters: false, kvmDevice: true, accel: 'hangs', accelDetail: '', vhostNet: false, docker: null, libvirt: null,
};

const entry = (name: string): InventoryHost => ({ name, ssh: { user: 'root', address: `198.18.7.${name === 'sut' ? 2 : 3}`, port: 22 }, testAddress: `198.18.7.${name === 'sut' ? 2 : 3}`, roles: [] });
const selection = { kind: 'load', inventory: { source: 'lab.yaml', hosts: [entry('sut'), entry('peer')] }, server: entry('sut'), client: entry('peer'), leftOut: [] } as unknown as LabSelection;
const stored = (facts: Partial<LabHostFacts> = {}): LabHost[] => ['sut', 'peer'].map((name) => ({ name, via: `ssh root@${name}`, roles: [], testAddress: '198.18.7.2', facts: { ...FACTS, ...(name === 'sut' ? facts : {}) }, clockOffset: null }));

/** A host that answers the identity script with `stdout` and records what it ran. */
function fakeHost(name: string, stdout: string, ran: string[][]): Host {
  return {
    name,
    via: `ssh root@${name}`,
    run: async (command) => {
      ran.push([...command]);
      return { ok: true, exitCode: 0, signal: null, stdout, stderr: '', timedOut: false, command: [...command], durationMs: 5 };
    },
    commandLine: (command) => [...command],
    start: () => { throw new Error('not in this test'); },
    close: async () => {},
  };
}

test('the identity script\'s output parses to the fields the resume compares', () => {
  assert.deepEqual(parseIdentity(OUTPUT), { hostname: 'vm', cpuModel: 'AMD EPYC', cores: 2, kernel: '6.18.44-fc-v595' });
  assert.throws(() => parseIdentity(OUTPUT.replace('@@isobench:end@@', '')), /the identity script did not finish/);
  assert.doesNotMatch(identityScript(), /qemu|accel/, 'no accel probe: a resume must not wait 15 s a host');
});

test('the same machines: the resume goes on, after reading both hosts', async () => {
  const ran: string[][] = [];
  await refuseChangedLabHosts('run.json', stored(), selection, (name) => fakeHost(name, OUTPUT, ran));
  assert.equal(ran.length, 2);
  assert.deepEqual(ran[0], ['sh', '-c', identityScript()]);
});

test('another kernel or CPU on a host: one line naming the host and what differs', async () => {
  await assert.rejects(
    refuseChangedLabHosts('run.json', stored({ kernel: '6.1.0-27-amd64', cores: 16 }), selection, (name) => fakeHost(name, OUTPUT, [])),
    (error: Error) => {
      assert.equal(error.name, 'UsageError');
      assert.equal(error.message, 'cannot resume run.json: host sut is another machine now (cores 16 then, 2 now; kernel "6.1.0-27-amd64" then, "6.18.44-fc-v595" now): resume on the hosts it measured, or start a new run');
      return true;
    },
  );
});

test('a host whose facts the run could not record is not compared', async () => {
  const ran: string[][] = [];
  const hosts = stored().map((host) => (host.name === 'sut' ? { ...host, facts: null } : host));
  await refuseChangedLabHosts('run.json', hosts, selection, (name) => fakeHost(name, OUTPUT, ran));
  assert.equal(ran.length, 1, 'only peer was read');
});
