import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalHost } from '../../hosts/host.js';
import { measureClockOffset, offsetFromSamples, parseDateNanos, parseFacts, splitSections } from '../../provisioning/lab-host-facts.js';
import { LabHost } from '../../results/schema.js';
import { REPO_ROOT } from '../helpers.js';

const captured = readFileSync(join(REPO_ROOT, 'test/fixtures/hosts/facts-no-qemu.out'), 'utf8');

test("the facts script's real output becomes a host's facts", () => {
  const facts = parseFacts(captured);
  assert.equal(facts.hostname, 'vm');
  assert.equal(facts.cpuModel, 'AMD EPYC');
  assert.equal(facts.cpuMHz, 2596.154);
  assert.equal(facts.cores, 2);
  assert.equal(facts.memoryBytes, 24684096 * 1024);
  assert.equal(facts.kernel, '6.18.44-fc-v595');
  assert.equal(facts.distro, 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(facts.perfCounters, false, '<not supported> is no counter');
  assert.equal(facts.kvmDevice, true);
  assert.equal(facts.vhostNet, false);
  assert.equal(facts.accel, 'not probed');
  assert.equal(facts.accelDetail, 'not probed: qemu-system-x86_64 is missing');
  assert.deepEqual(facts.docker, { version: '20.10.24+dfsg1', storageDriver: 'overlay2', cgroupVersion: '1' });
  assert.equal(facts.libvirt, null);
  assert.equal(facts.tools.find((tool) => tool.tool === 'iperf3')?.version, 'iperf 3.12 (cJSON 1.7.15)');
  assert.equal(facts.tools.find((tool) => tool.tool === 'qemu-system-x86_64')?.version, null, 'absent is absent');
  // The results file's schema takes it.
  assert.ok(LabHost.safeParse({ name: 'sut', via: 'local', roles: [], testAddress: '198.18.1.2', facts, clockOffset: null }).success);
});

test('a cut-off facts script is an error, not half the facts', () => {
  assert.throws(() => parseFacts(captured.slice(0, captured.indexOf('@@isobench:accel@@'))), /did not finish/);
  assert.equal(splitSections('\n@@isobench:a@@\n x \n@@isobench:b@@\n').get('a'), 'x');
});

test('clock offset: the shortest round trip wins, the uncertainty is half of it', () => {
  // Host 250 ms ahead; the host read its clock somewhere inside each window.
  const offset = offsetFromSamples([
    { t0: 1000, hostMs: 1260, t3: 1040 },
    { t0: 2000, hostMs: 2253, t3: 2006 },
    { t0: 3000, hostMs: 3290, t3: 3100 },
  ]);
  assert.deepEqual(offset, { offsetMs: 250, uncertaintyMs: 3, roundTripMs: 6, samples: 3 });
  assert.throws(() => offsetFromSamples([]), /no clock samples/);
  assert.equal(parseDateNanos('1764494513.123456789\n'), 1764494513123.4568);
  assert.ok(Number.isNaN(parseDateNanos('1764494513.N\n')), 'a date without %N support gives no time');
});

test('clock offset of this machine against itself is zero within its uncertainty', async () => {
  const offset = await measureClockOffset(new LocalHost());
  assert.equal(offset.samples, 8);
  assert.ok(Math.abs(offset.offsetMs) <= offset.uncertaintyMs, JSON.stringify(offset));
});

test('a host whose date has no nanoseconds is refused with its name', async () => {
  // A host whose `date` ignores %N, as busybox's does: the session answers, but with no nanoseconds.
  const busybox = new LocalHost('busybox');
  const fake = { name: 'busybox', via: 'local', commandLine: (command: readonly string[]) => [...command], run: (command: readonly string[]) => busybox.run(command), close: () => busybox.close(), start: (_command: readonly string[], options: Parameters<LocalHost['start']>[1]) => busybox.start(['sh', '-c', 'while read -r _; do echo 1764494513.N; done'], options) };
  await assert.rejects(measureClockOffset(fake, 2), /host busybox: `date \+%s\.%N` gave no time: 1764494513\.N/);
});
