import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { runCommand, startBackground } from '../../core/exec.js';
import { killProcessTree, terminate } from '../../core/kill-tree.js';
import { DeadlineError, pollUntil } from '../../core/poll.js';
import { allProcessStats, readProcessStat } from '../../core/proc.js';

/** Gone as kill(pid, 0) sees it; an orphan may linger as a zombie until init reaps it, which is also ended. */
async function isGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  return (await readProcessStat(pid))?.state === 'Z';
}

test('a real sh -c "sleep 1000 & sleep 1000" tree is gone afterwards, children included', async () => {
  const child = spawn('sh', ['-c', 'sleep 1000 & sleep 1000'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  const root = child.pid!;
  const sleeps = await pollUntil(
    async () => {
      const found = (await allProcessStats()).filter((stat) => stat.ppid === root).map((stat) => stat.pid);
      return found.length === 2 ? found : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 20, what: 'the two sleeps did not start' },
  );
  assert.equal(await killProcessTree(root, { graceMs: 1_000 }), 'terminated');
  await exited;
  for (const pid of [root, ...sleeps]) assert.ok(await isGone(pid), `pid ${pid} is still there`);
});

test('a process that ignores SIGTERM gets SIGKILL after the grace period', async () => {
  const child = spawn('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = once(child, 'exit');
  await once(child.stdout, 'data');
  const signals: string[] = [];
  const started = performance.now();
  assert.equal(await killProcessTree(child.pid!, { graceMs: 200, onSignal: (signal) => signals.push(signal) }), 'killed');
  assert.ok(performance.now() - started >= 190, 'the grace period was given');
  assert.deepEqual(signals, ['SIGTERM', 'SIGKILL']);
  const [, signal] = await exited;
  assert.equal(signal, 'SIGKILL');
});

test('terminate: grace 0 sends SIGKILL at once; something that never goes is a DeadlineError', async () => {
  const sent: string[] = [];
  const stubborn = { description: 'a stubborn thing', signal: async (signal: string) => void sent.push(signal), gone: async () => false };
  await assert.rejects(terminate(stubborn, { graceMs: 0, killWaitMs: 50, intervalMs: 10 }), (error: unknown) => {
    assert.ok(error instanceof DeadlineError);
    assert.match(error.message, /a stubborn thing did not exit after SIGKILL within 50 ms/);
    return true;
  });
  assert.deepEqual(sent, ['SIGKILL']);
  assert.equal(await terminate({ description: 'x', signal: async () => assert.fail('signalled'), gone: async () => true }), 'already-gone');
});

test('runCommand on its deadline kills the whole tree, so a grandchild holding stdout cannot hold the outcome back', async () => {
  const started = performance.now();
  const outcome = await runCommand(['sh', '-c', 'sleep 1000 & echo started; sleep 1000'], { timeoutMs: 300 });
  assert.ok(performance.now() - started < 5_000, `took ${Math.round(performance.now() - started)} ms`);
  assert.equal(outcome.timedOut, true);
  assert.equal(outcome.ok, false);
  assert.equal(outcome.stdout, 'started\n');
});

test('startBackground.stop gives the grace period asked for, then the tree is gone', async () => {
  const server = startBackground(['sh', '-c', 'trap "" TERM; sleep 1000 & while :; do sleep 0.05; done'], { timeoutMs: 60_000 });
  await pollUntil(async () => (await allProcessStats()).some((stat) => stat.ppid === server.pid), { timeoutMs: 5_000, intervalMs: 20, what: 'no child' });
  const children = (await allProcessStats()).filter((stat) => stat.ppid === server.pid).map((stat) => stat.pid);
  assert.ok(children.length > 0, 'the children whose end is checked below');
  const started = performance.now();
  const outcome = await server.stop(400);
  assert.ok(performance.now() - started >= 390, 'SIGKILL only after the grace period');
  assert.equal(outcome.signal, 'SIGKILL');
  assert.equal(outcome.timedOut, false);
  for (const pid of children) assert.ok(await isGone(pid), `child ${pid} is still there`);
});
