import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IsobenchError } from '../../core/errors.js';
import { DeadlineError, pollUntil, sleep, withDeadline } from '../../core/poll.js';

test('a probe that never succeeds ends in a DeadlineError naming what and the deadline', async () => {
  let calls = 0;
  const started = performance.now();
  const error = await pollUntil(
    async () => {
      calls++;
      return undefined;
    },
    { timeoutMs: 120, intervalMs: 20, what: 'nothing listened on 10.0.0.2:5201 (tcp)', detail: () => 'ss showed nothing' },
  ).then(
    () => assert.fail('pollUntil resolved'),
    (caught: unknown) => caught,
  );
  const waited = performance.now() - started;
  assert.ok(error instanceof DeadlineError, String(error));
  assert.ok(error instanceof IsobenchError);
  assert.equal(error.exitCode, 1);
  assert.equal(error.message, 'nothing listened on 10.0.0.2:5201 (tcp) within 120 ms: ss showed nothing');
  // Bounds loose enough for a loaded host (this failed twice while a CI run shared the 2 cores; a
  // stalled event loop can leave room for one probe only): it waited the deadline, not forever, and
  // probed at least once but not more often than every 20 ms.
  assert.ok(waited >= 115 && waited < 10_000, `waited ${waited} ms`);
  assert.ok(calls >= 1 && calls <= 8, `${calls} probes at 20 ms over 120 ms`);
});

test('a probe that succeeds on its 3rd try returns its value, having waited between tries', async () => {
  const attempts: number[] = [];
  const started = performance.now();
  const value = await pollUntil(
    async ({ attempt }) => {
      attempts.push(attempt);
      return attempt === 2 ? { port: 5201 } : false;
    },
    { timeoutMs: 5_000, intervalMs: 30, what: 'never' },
  );
  assert.deepEqual(value, { port: 5201 });
  assert.deepEqual(attempts, [0, 1, 2]);
  assert.ok(performance.now() - started >= 55, 'two pauses of 30 ms');
});

test('a probe error ends the wait at once; a timeout of 0 still probes once', async () => {
  await assert.rejects(
    pollUntil(
      async () => {
        throw new Error('the server exited');
      },
      { timeoutMs: 5_000, intervalMs: 10, what: 'never' },
    ),
    /^Error: the server exited$/,
  );
  let calls = 0;
  await assert.rejects(
    pollUntil(async () => (calls++, null), { timeoutMs: 0, intervalMs: 10, what: 'the lock stayed held' }),
    /the lock stayed held within 0 ms/,
  );
  assert.equal(calls, 1);
});

test('the interval doubles up to maxIntervalMs, and startedAt moves the deadline back', async () => {
  const times: number[] = [];
  await pollUntil(async () => (times.push(performance.now()), times.length === 5), { timeoutMs: 5_000, intervalMs: 10, maxIntervalMs: 40, what: 'never' });
  const gaps = times.slice(1).map((time, index) => time - times[index]!);
  assert.ok(gaps[3]! >= 38, `gaps ${gaps.map(Math.round).join(', ')} ms: 10, 20, 40, 40`);
  await assert.rejects(pollUntil(async () => false, { timeoutMs: 1_000, startedAt: performance.now() - 2_000, intervalMs: 10, what: 'late' }), DeadlineError);
});

test('an aborted signal stops the wait with its reason', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('Ctrl-C')), 30);
  await assert.rejects(pollUntil(async () => false, { timeoutMs: 5_000, intervalMs: 10, what: 'never', signal: controller.signal }), /Ctrl-C/);
});

test('withDeadline passes a result through and turns a slow promise into a DeadlineError', async () => {
  assert.equal(await withDeadline(sleep(5).then(() => 42), 1_000, 'a quick thing'), 42);
  await assert.rejects(withDeadline(sleep(500), 30, 'GET /info'), (error: unknown) => {
    assert.ok(error instanceof DeadlineError);
    assert.equal(error.message, 'GET /info did not finish within 30 ms');
    return true;
  });
  await assert.rejects(withDeadline(Promise.reject(new Error('refused')), 1_000, 'x'), /^Error: refused$/);
});
