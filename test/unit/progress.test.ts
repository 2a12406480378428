/** harness/progress.ts: a status line on a terminal; elsewhere a plain line every 30 s at most. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEARTBEAT_SECONDS, Progress } from '../../harness/progress.js';

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, stream: { isTTY, columns: 80, write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WriteStream };
}

test('not on a terminal: the status is a plain line, at most one every 30 s (a first look printed nothing for 3m24s)', () => {
  const out = stream(false);
  let clock = 0;
  const progress = new Progress(out.stream, () => clock);
  progress.update('round 1/3 · trial 1/12 · native · tcp-bulk · client-to-server');
  clock = 29_999;
  progress.update('round 1/3 · trial 5/12 · kvm · tcp-rr · tcp');
  clock = HEARTBEAT_SECONDS * 1000;
  progress.update('round 1/3 · trial 6/12 · kvm · random-io · randread');
  progress.log('stopped: all points decided');
  assert.deepEqual(out.written, [
    'round 1/3 · trial 1/12 · native · tcp-bulk · client-to-server\n',
    'round 1/3 · trial 6/12 · kvm · random-io · randread\n',
    'stopped: all points decided\n',
  ]);
});

test('on a terminal: one status line rewritten in place, cut to the width, cleared before a lasting line', () => {
  const saved = process.env.CI;
  delete process.env.CI;
  try {
    const out = stream(true);
    const progress = new Progress(out.stream, () => 0);
    progress.update('x'.repeat(100));
    progress.update('short');
    progress.log('done');
    assert.deepEqual(out.written, [`\r${'x'.repeat(79)}`, `\rshort${' '.repeat(74)}`, `\r${' '.repeat(5)}\r`, 'done\n']);
  } finally {
    if (saved !== undefined) process.env.CI = saved;
  }
});
