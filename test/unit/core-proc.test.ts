import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpuSecondsOf, parseProcessStat, parseStealTicks, processStartTicks, readProcessStat, stealFractionBetween } from '../../core/proc.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'proc');

test('a real /proc/PID/stat line whose comm holds a space and a ")" parses by proc(5) field numbers', async () => {
  // Captured from a shell that renamed itself: printf 'tmux: server)' > /proc/$$/comm; cat /proc/$$/stat
  const line = await readFile(join(FIXTURES, 'tmux-server-stat.txt'), 'utf8');
  const stat = parseProcessStat(line);
  assert.deepEqual(stat, {
    pid: 14432,
    comm: 'tmux: server)',
    state: 'R',
    ppid: 14429,
    pgrp: 14429,
    utimeTicks: 0,
    stimeTicks: 0,
    startTime: '33727',
  });
  assert.equal(cpuSecondsOf({ ...stat, utimeTicks: 250, stimeTicks: 150 }), 4);
});

test('a cut-short or foreign line is an error naming the missing field, never a wrong number', () => {
  assert.throws(() => parseProcessStat('7 (a) b) S 42 7 7 0'), /field 14/);
  assert.throws(() => parseProcessStat('cpu  1 2 3 4'), /not a \/proc\/PID\/stat line/);
});

test('this process: its own stat reads back, and a free pid reads as null', async () => {
  const self = await readProcessStat(process.pid);
  assert.equal(self?.pid, process.pid);
  assert.equal(self?.ppid, process.ppid);
  assert.match((await processStartTicks(process.pid)) ?? '', /^\d+$/);
  assert.equal(await readProcessStat(2 ** 22 + 12345), null);
});

test('/proc/stat steal: two real readings around 6 s of load on both cores give steal / all ticks', async () => {
  // Captured here: cat /proc/stat; two busy loops for 6 s; cat /proc/stat.
  const before = parseStealTicks(await readFile(join(FIXTURES, 'stat-loaded-before.txt'), 'utf8'));
  const after = parseStealTicks(await readFile(join(FIXTURES, 'stat-loaded-after.txt'), 'utf8'));
  // cpu  571188 792 238321 1384621 12626 0 51428 1500 0 0
  assert.deepEqual(before, { stealTicks: 1500, totalTicks: 571188 + 792 + 238321 + 1384621 + 12626 + 0 + 51428 + 1500 });
  // cpu  572386 792 238324 1384621 12626 0 51428 1502 0 0: 1198 user + 3 system + 2 steal ticks passed.
  assert.equal(after.stealTicks, 1502);
  assert.equal(after.totalTicks - before.totalTicks, 1203);
  assert.equal(stealFractionBetween(before, after), 2 / 1203);
});

test('/proc/stat steal: no tick is 0, a counter that went back is clamped, a line without steal is an error', () => {
  const reading = { stealTicks: 10, totalTicks: 1000 };
  assert.equal(stealFractionBetween(reading, reading), 0);
  assert.equal(stealFractionBetween(reading, { stealTicks: 5, totalTicks: 1100 }), 0);
  assert.equal(stealFractionBetween(reading, { stealTicks: 60, totalTicks: 1100 }), 0.5);
  assert.throws(() => parseStealTicks('cpu  1 2 3 4 5 6 7\n'), /unexpected shape: cpu {2}1 2 3 4 5 6 7 \(8 numeric columns needed, steal the 8th\)/);
  assert.throws(() => parseStealTicks('cpu0 1 2 3 4 5 6 7 8\n'), /no aggregate "cpu" line/);
});
