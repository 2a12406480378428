import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpuSecondsOf, parseProcessStat, processStartTicks, readProcessStat } from '../../core/proc.js';

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
