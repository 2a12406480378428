/**
 * core/cpu-meter.ts: /proc/stat parsing on a capture from the development machine (2 cores, Linux
 * 6.x, USER_HZ 100) and the window arithmetic of CpuMeter's per-source counters.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CpuMeter, parseProcStat, type CpuCounter, type HostCpuTimes } from '../../core/cpu-meter.js';
import { CLOCK_TICKS_PER_SECOND } from '../../core/proc.js';

/** `cat /proc/stat` on the development machine: `cpu  79009 0 13924 72333 304 0 1199 32 0 0`. */
const PROC_STAT = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'proc', 'stat'), 'utf8');

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

test('/proc/stat: busy is user+nice+system+irq+softirq+steal, total adds idle and iowait, in seconds', () => {
  assert.equal(CLOCK_TICKS_PER_SECOND, 100);
  const times = parseProcStat(PROC_STAT);
  // user 79009 + nice 0 + system 13924 + irq 0 + softirq 1199 + steal 32 = 94164 ticks.
  close(times.busySeconds, 941.64, 'busy');
  // 94164 + idle 72333 + iowait 304 = 166801 ticks.
  close(times.totalSeconds, 1668.01, 'total');
});

test('/proc/stat: only the aggregate line counts, not cpu0, cpu1, …', () => {
  const perCore = PROC_STAT.split('\n').filter((line) => /^cpu\d+ /.test(line));
  assert.equal(perCore.length, 2);
  const withoutAggregate = perCore.join('\n');
  assert.throws(() => parseProcStat(withoutAggregate), /no aggregate "cpu" line/);
});

test('/proc/stat: guest time is already inside user and nice, so it is not counted twice', () => {
  const line = (guest: number, guestNice: number) => `cpu  1000 10 200 5000 50 5 15 20 ${guest} ${guestNice}\nintr 1\n`;
  const withoutGuest = parseProcStat(line(0, 0));
  const withGuest = parseProcStat(line(700, 8));
  close(withoutGuest.busySeconds, 12.5, 'busy'); // 1000 + 10 + 200 + 5 + 15 + 20
  close(withoutGuest.totalSeconds, 63, 'total'); // busy + 5000 + 50
  assert.deepEqual(withGuest, withoutGuest);
  // Kernels before 2.6.33 print 8 fields: no guest columns at all.
  assert.deepEqual(parseProcStat('cpu  1000 10 200 5000 50 5 15 20\n'), withoutGuest);
});

test('/proc/stat: a cpu line of another shape is an error naming it', () => {
  assert.throws(() => parseProcStat('cpu  1 2 3\n'), /unexpected shape: cpu {2}1 2 3/);
  assert.throws(() => parseProcStat('cpu  1 2 3 4 5 6 7 x\n'), /unexpected shape/);
});

test('CpuMeter: each source is charged its own increase over the window; a source new at the end counts 0', async () => {
  const readings: CpuCounter[][] = [
    [{ source: 'cgroup a', seconds: 10 }, { source: 'qemu pid 1', seconds: 3 }],
    [{ source: 'qemu pid 1', seconds: 4.25 }, { source: 'cgroup a', seconds: 12.5 }, { source: 'late', seconds: 9 }],
  ];
  const stop = await new CpuMeter().start(async () => readings.shift()!);
  // Burn a little CPU so the host and harness figures have something to show.
  const until = performance.now() + 30;
  while (performance.now() < until);
  const window = await stop();
  assert.deepEqual(window.sources, [
    { source: 'qemu pid 1', seconds: 1.25 },
    { source: 'cgroup a', seconds: 2.5 },
    { source: 'late', seconds: 0 },
  ]);
  assert.ok(window.elapsedSeconds >= 0.03 && window.elapsedSeconds < 5, `elapsed ${window.elapsedSeconds}`);
  assert.equal(window.hosts.length, 1);
  const [local] = window.hosts;
  assert.equal(local!.host, null, 'by default this machine alone');
  assert.ok(local!.busyFraction >= 0 && local!.busyFraction <= 1, `fraction ${local!.busyFraction}`);
  assert.ok(local!.busySeconds >= 0);
  assert.ok(window.harnessSeconds > 0 && window.harnessSeconds < 5, `harness ${window.harnessSeconds}`);
});

test('CpuMeter: without target counters the window has no sources', async () => {
  const window = await (await new CpuMeter().start())();
  assert.deepEqual(window.sources, []);
});

test('CpuMeter with named hosts: each host is charged its own /proc/stat increase, this machine is not read', async () => {
  // Captured here around 6 s of two busy loops (core-proc.test.ts): 1198 + 3 + 2 busy ticks passed, no idle.
  const before = parseProcStat(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'proc', 'stat-loaded-before.txt'), 'utf8'));
  const after = parseProcStat(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'proc', 'stat-loaded-after.txt'), 'utf8'));
  const reads: string[] = [];
  const reader = (host: string, readings: HostCpuTimes[]) => ({ host, read: async () => (reads.push(host), readings.shift()!) });
  const idle = { busySeconds: 50, totalSeconds: 1000 };
  const meter = new CpuMeter([reader('sut', [before, after]), reader('peer', [idle, { busySeconds: 50.5, totalSeconds: 1004 }])]);
  const window = await (await meter.start())();
  assert.deepEqual(reads, ['sut', 'peer', 'sut', 'peer']);
  assert.deepEqual(window.hosts.map((host) => host.host), ['sut', 'peer']);
  close(window.hosts[0]!.busySeconds, 12.03, 'sut busy');
  close(window.hosts[0]!.busyFraction, 1, 'sut fraction');
  close(window.hosts[1]!.busySeconds, 0.5, 'peer busy');
  close(window.hosts[1]!.busyFraction, 0.125, 'peer fraction');
});

test('CpuMeter: a host whose reading fails fails the window with its error', async () => {
  const meter = new CpuMeter([{ host: 'sut', read: async () => Promise.reject(new Error("host sut: /proc/stat's cpu line has an unexpected shape: cpu  1 2")) }]);
  await assert.rejects(meter.start(), /host sut: \/proc\/stat's cpu line has an unexpected shape/);
});
