/**
 * hosts/proc-stat.ts with a fake host: /proc/stat read by `cat` on the host and parsed by the same
 * parsers as this machine's, every failure naming the host. The text is a real capture
 * (test/fixtures/proc/stat, the development machine).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseProcStat } from '../../core/cpu-meter.js';
import { parseStealTicks } from '../../core/proc.js';
import { HostError, LocalHost } from '../../hosts/host.js';
import { hostProcStat, PROC_STAT_TIMEOUT_MS } from '../../hosts/proc-stat.js';
import { fakeHost } from '../fake-host.js';

const PROC_STAT = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'proc', 'stat'), 'utf8');

test("a host's /proc/stat: `cat /proc/stat` there, with a deadline, parsed as this machine's is", async () => {
  const ran: Array<{ command: readonly string[]; timeoutMs?: number }> = [];
  const reader = hostProcStat(fakeHost('sut', () => ({ stdout: PROC_STAT }), ran));
  assert.equal(reader.name, 'sut');
  assert.deepEqual(await reader.cpuTimes(), parseProcStat(PROC_STAT));
  assert.deepEqual(await reader.stealTicks(), parseStealTicks(PROC_STAT));
  // cpu  79009 0 13924 72333 304 0 1199 32 0 0: steal 32 ticks.
  assert.equal((await reader.stealTicks()).stealTicks, 32);
  assert.deepEqual(ran.map((entry) => entry.command), Array(3).fill(['cat', '/proc/stat']));
  assert.ok(ran.every((entry) => entry.timeoutMs === PROC_STAT_TIMEOUT_MS));
});

test("a host's /proc/stat that does not parse is an error naming the host and quoting the parser", async () => {
  const reader = hostProcStat(fakeHost('peer', () => ({ stdout: 'cpu  1 2 3\nintr 5\n' })));
  await assert.rejects(reader.cpuTimes(), /^Error: host peer: \/proc\/stat's cpu line has an unexpected shape: cpu {2}1 2 3/);
  await assert.rejects(reader.stealTicks(), /^Error: host peer: \/proc\/stat's cpu line has an unexpected shape/);
  const empty = hostProcStat(fakeHost('peer', () => ({ stdout: '' })));
  await assert.rejects(empty.cpuTimes(), /host peer: \/proc\/stat has no aggregate "cpu" line/);
});

test("a host where `cat /proc/stat` fails, or that cannot be reached: the host named", async () => {
  const failing = hostProcStat(fakeHost('sut', () => ({ ok: false, exitCode: 1, stderr: 'cat: /proc/stat: No such file or directory\n' })));
  await assert.rejects(failing.cpuTimes(), /^Error: host sut: reading \/proc\/stat failed: `ssh sut cat \/proc\/stat` exited with code 1: cat: \/proc\/stat: No such file or directory/);
  const lost = new HostError('sut', 'connection-lost', 'Timeout, server 198.18.1.2 not responding.');
  const gone = hostProcStat(fakeHost('sut', () => lost));
  await assert.rejects(gone.stealTicks(), (error) => error === lost);
});

test("this machine as an inventory host (`localhost`): the real `cat /proc/stat` through core/exec parses, and its counters advance", async () => {
  const reader = hostProcStat(new LocalHost());
  const first = await reader.cpuTimes();
  const until = performance.now() + 50;
  while (performance.now() < until);
  const second = await reader.cpuTimes();
  assert.ok(second.totalSeconds >= first.totalSeconds && second.busySeconds >= first.busySeconds);
  assert.ok((await reader.stealTicks()).totalTicks > 0);
});
