import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { captureCli } from './capture.js';
import { formatOffset, labHostLines, pairwiseOffsetLines } from '../../harness/lab-doctor.js';
import { dockerRows } from '../../harness/commands/doctor.js';
import type { LabHost, LabHostFacts } from '../../results/schema.js';

/** Runs the CLI in-process and returns its exit code and stderr. */
async function cli(argv: string[]): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await captureCli(argv);
  return { code, stderr: stderr.join('\n') };
}

test('doctor --hosts: a bad inventory or flag is one line, exit code 2, before any host is contacted', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-doctor-'));
  try {
    const bad = join(directory, 'lab.yaml');
    await writeFile(bad, 'hosts:\n  - name: sut\n    ssh: root@lab-sut\n    test-address: 10.1.2.3\n');
    const outside = await cli(['doctor', '--hosts', bad]);
    assert.equal(outside.code, 2);
    assert.equal(outside.stderr, `isobench: --hosts ${bad}: hosts[0] (sut): test-address 10.1.2.3 lies outside the test range 198.18.0.0/15: use an address in it`);
    // The test range follows --guard-range.
    await writeFile(bad, 'hosts:\n  - name: sut\n    ssh: root@lab-sut\n    test-address: 198.18.1.2\n    port: 22\n');
    assert.match((await cli(['doctor', '--hosts', bad, '--guard-range', '10.1.0.0/16'])).stderr, /test-address 198\.18\.1\.2 lies outside the test range 10\.1\.0\.0\/16|unknown field "port"/);
    const unknown = await cli(['doctor', '--host', bad]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^isobench: unknown flag --host: see npm run doctor -- --help for the flags$/);
    assert.equal((await cli(['doctor', '--guard-range', '198.18.0.0/15'])).code, 2);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('offsets print signed with their bound; pairs subtract offsets and add bounds', () => {
  assert.equal(formatOffset(0.123, 0.85), '+0.12 ms ± 0.85 ms');
  assert.equal(formatOffset(-3.5, 1), '−3.50 ms ± 1.00 ms');
  const host = (name: string, offsetMs: number, uncertaintyMs: number): LabHost => ({ name, via: 'local', roles: [], testAddress: '198.18.1.2', facts: null, clockOffset: { offsetMs, uncertaintyMs, roundTripMs: 2 * uncertaintyMs, samples: 8 } });
  assert.deepEqual(pairwiseOffsetLines([host('a', 1, 0.5), host('b', -2, 0.25), { ...host('c', 0, 0), clockOffset: null }]), ['  b − a: −3.00 ms ± 0.75 ms']);
  const unreachable: LabHost = { name: 'ghost', via: 'ssh root@198.18.9.9', roles: ['client'], testAddress: '198.18.9.9', facts: null, clockOffset: null, error: 'host ghost: unreachable: ssh: connect to host 198.18.9.9 port 22: No route to host' };
  assert.deepEqual(labHostLines(unreachable, null), [
    'host ghost (ssh root@198.18.9.9; roles client; test address 198.18.9.9)',
    '  reachable     no: host ghost: unreachable: ssh: connect to host 198.18.9.9 port 22: No route to host',
    '  clock offset  not measured',
  ]);
});

test('the rows doctor computes are shown even when the host\'s facts could not be read', () => {
  const host: LabHost = { name: 'sut', via: 'ssh root@198.18.1.2', roles: ['server'], testAddress: '198.18.1.2', facts: null, clockOffset: null };
  assert.deepEqual(labHostLines(host, 120, { image: 'absent', libvirtOverSsh: 'no: libvirtd does not answer on qemu+ssh://root@198.18.1.2/system (x)' }), [
    'host sut (ssh root@198.18.1.2; roles server; test address 198.18.1.2)',
    '  reachable          yes (first command 120 ms, connection set-up included)',
    '  libvirt from here  no: libvirtd does not answer on qemu+ssh://root@198.18.1.2/system (x)',
    '  clock offset       not measured',
    '  image              absent',
  ]);
});

// The daemon's version and the client's stood unnamed (a row `docker`, a version among the tools).
test('doctor names whose Docker version each row shows: the daemon (server) and the client', () => {
  const daemon = { version: '26.1.5', storageDriver: 'overlay2', cgroupVersion: '2', userlandProxy: false };
  assert.deepEqual(dockerRows(daemon, 'Docker version 28.2.2, build e6534b4', ''), [
    { check: 'docker daemon (server)', value: '26.1.5 (overlay2, cgroup v2, userland proxy off)', note: '' },
    { check: 'docker client', value: 'Docker version 28.2.2, build e6534b4', note: '' },
  ]);
  assert.deepEqual(dockerRows(null, null, 'the Docker targets start dockerd when they run'), [
    { check: 'docker daemon (server)', value: 'not answering', note: 'the Docker targets start dockerd when they run' },
    { check: 'docker client', value: 'missing', note: 'apt-get install docker.io' },
  ]);
  const facts: LabHostFacts = {
    hostname: 'lab-sut', cpuModel: 'fake', cores: 2, cpuMHz: null, memoryBytes: null, kernel: '6.1.0', distro: 'test',
    tools: [{ tool: 'fio', version: 'fio-3.33' }, { tool: 'docker', version: 'Docker version 28.2.2, build e6534b4' }],
    perfCounters: false, kvmDevice: false, accel: 'not probed', accelDetail: 'not probed: no /dev/kvm', vhostNet: false,
    docker: { version: '26.1.5', storageDriver: 'overlay2', cgroupVersion: '2' }, libvirt: null,
  };
  const lines = labHostLines({ name: 'sut', via: 'local', roles: ['server'], testAddress: '198.18.1.2', facts, clockOffset: null }, 12);
  assert.ok(lines.some((line) => /^ {2}docker daemon \(server\) +26\.1\.5 \(overlay2, cgroup v2\)$/.test(line)), lines.join('\n'));
  assert.ok(lines.some((line) => /^ {2}docker client +Docker version 28\.2\.2, build e6534b4$/.test(line)), lines.join('\n'));
  assert.ok(lines.some((line) => /^ {2}tools +fio-3\.33$/.test(line)), 'the client is not also among the tools');
});
