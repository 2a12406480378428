/**
 * core/exec.ts deadlines and failures. Bounds are generous (a hang check, not a timing benchmark):
 * a 300 ms deadline must come back within 3 s (10x) even on a loaded 2-core machine.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandFailedError, runChecked, runCommand, startBackground } from '../../core/exec.js';
import { pollUntil } from '../../core/poll.js';
import { parseProcessStat } from '../../core/proc.js';

const DEADLINE_MS = 300;
const HANG_BOUND_MS = 3_000;

let scratch = '';
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'isobench-exec-test-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Running, not a zombie: an orphan killed here may wait for its reaper (this sandbox's pid 1 is slow to reap). */
const alive = (pid: number) => {
  try {
    return parseProcessStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).state !== 'Z';
  } catch {
    return false;
  }
};

/** Kills a process if it still runs; for cleaning up after a test whose subject failed to. */
const reap = (pid: number | undefined) => {
  if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
};

test('a program that never exits is killed at its deadline: timedOut, not ok', async () => {
  const started = performance.now();
  const outcome = await runCommand(['sleep', '1000'], { timeoutMs: DEADLINE_MS });
  const elapsed = performance.now() - started;
  assert.equal(outcome.timedOut, true);
  assert.equal(outcome.ok, false);
  assert.ok(elapsed >= DEADLINE_MS - 50, `returned after ${elapsed} ms, before its deadline`);
  assert.ok(elapsed < HANG_BOUND_MS, `returned after ${elapsed} ms`);
  assert.deepEqual(outcome.command, ['sleep', '1000']);
});

// execa alone kills `sh` but then waits for the pipes, which the orphaned `sleep` holds open until it
// ends by itself: exec.ts must kill the whole process tree.
test('a program whose child holds the pipes is killed at its deadline too', async () => {
  const pidFile = join(scratch, 'grandchild.pid');
  const started = performance.now();
  const running = runCommand(['sh', '-c', `sleep 1000 & echo $! > ${pidFile}; wait`], { timeoutMs: DEADLINE_MS });
  const settled = await Promise.race([running.then(() => 'returned' as const), sleep(HANG_BOUND_MS).then(() => 'hung' as const)]);
  const elapsed = performance.now() - started;
  const grandchild = existsSync(pidFile) ? Number((await readFile(pidFile, 'utf8')).trim()) : undefined;
  try {
    assert.equal(settled, 'returned', `still waiting after ${Math.round(elapsed)} ms for a ${DEADLINE_MS} ms deadline`);
    const outcome = await running;
    assert.equal(outcome.timedOut, true);
    assert.equal(outcome.ok, false);
    assert.ok(grandchild === undefined || !alive(grandchild), 'the child holding the pipes is gone too');
  } finally {
    reap(grandchild);
    await running;
  }
});

test('a non-zero exit is not ok and carries its exit code and output', async () => {
  const outcome = await runCommand(['sh', '-c', 'echo partial; echo broken >&2; exit 3']);
  assert.equal(outcome.ok, false);
  assert.equal(outcome.exitCode, 3);
  assert.equal(outcome.timedOut, false);
  assert.equal(outcome.signal, null);
  assert.equal(outcome.stdout, 'partial\n');
  assert.equal(outcome.stderr, 'broken\n');
  const success = await runCommand(['true']);
  assert.equal(success.ok, true);
  assert.equal(success.exitCode, 0);
});

test('runChecked throws CommandFailedError naming the command, carrying the outcome', async () => {
  await assert.rejects(runChecked(['sh', '-c', 'echo no such thing >&2; exit 4']), (error: unknown) => {
    assert.ok(error instanceof CommandFailedError);
    assert.match(error.message, /`sh -c echo no such thing >&2; exit 4` exited with code 4: no such thing/);
    assert.equal(error.outcome.exitCode, 4);
    return true;
  });
  await assert.rejects(runChecked(['sleep', '1000'], { timeoutMs: DEADLINE_MS }), (error: unknown) => {
    assert.ok(error instanceof CommandFailedError);
    assert.match(error.message, /`sleep 1000` timed out/);
    return true;
  });
  assert.equal((await runChecked(['true'])).ok, true);
});

test('startBackground().stop() ends the process', async () => {
  const server = startBackground(['sleep', '1000']);
  try {
    assert.ok(server.pid !== undefined && alive(server.pid));
    const started = performance.now();
    const outcome = await server.stop();
    assert.ok(performance.now() - started < HANG_BOUND_MS);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.signal, 'SIGTERM', 'asked to stop first, not killed');
    assert.equal(alive(server.pid), false, 'the process is gone once stop resolves');
  } finally {
    reap(server.pid);
  }
});

/**
 * Whether `pid` is `sleep` (the shell has exec'd it) and ignores SIGTERM (bit 15 - 1 of SigIgn in
 * /proc/PID/status): the state the test below needs before stop() may send SIGTERM.
 */
const sleepIgnoringTerm = (pid: number) => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const ignored = /^SigIgn:\s+([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
    return /^Name:\s+sleep$/m.test(status) && (parseInt(ignored.slice(-4), 16) & (1 << 14)) !== 0;
  } catch {
    return false;
  }
};

test('startBackground().stop() kills a program that ignores SIGTERM after the grace period', async () => {
  // `exec` so the shell's ignored SIGTERM is inherited by sleep itself, with no child left behind.
  const server = startBackground(['sh', '-c', 'trap "" TERM; exec sleep 1000']);
  try {
    // Wait for the trap and the exec to have happened, not a fixed 100 ms: on a loaded machine the
    // shell may not have run `trap` yet, and SIGTERM would end it (a false failure, seen once).
    await pollUntil(async () => sleepIgnoringTerm(server.pid!), { timeoutMs: 10_000, intervalMs: 10, what: 'sh did not become sleep ignoring SIGTERM' });
    const graceMs = 200;
    const started = performance.now();
    const outcome = await server.stop(graceMs);
    const elapsed = performance.now() - started;
    // The grace period given is the one honoured: SIGKILL not before it (load only makes this
    // later)... and well before the 2000 ms default grace and execa's own 2 s force-kill, either of
    // which would take at least 2000 ms however idle the machine. Only a stall of 1.8 s could fail it.
    assert.ok(elapsed >= graceMs - 10, `SIGKILL after ${Math.round(elapsed)} ms, before the ${graceMs} ms grace period`);
    assert.ok(elapsed < 2_000, `stopped after ${Math.round(elapsed)} ms with a ${graceMs} ms grace period`);
    assert.equal(outcome.signal, 'SIGKILL');
    assert.equal(alive(server.pid!), false);
  } finally {
    reap(server.pid);
  }
});

test('a background program is killed at its own deadline', async () => {
  const server = startBackground(['sleep', '1000'], { timeoutMs: DEADLINE_MS });
  try {
    const started = performance.now();
    const outcome = await server.exited;
    assert.ok(performance.now() - started < HANG_BOUND_MS);
    assert.equal(outcome.timedOut, true);
    assert.equal(outcome.ok, false);
  } finally {
    reap(server.pid);
  }
});

test('onOutput streams both outputs as they arrive, and the outcome still holds all of it', async () => {
  const seen: Array<{ stream: string; text: string; at: number }> = [];
  const started = performance.now();
  const outcome = await runCommand(['sh', '-c', 'echo first; echo oops >&2; sleep 0.4; printf "é\\n"'], {
    timeoutMs: 5_000,
    onOutput: (stream, text) => seen.push({ stream, text, at: performance.now() - started }),
  });
  assert.equal(outcome.stdout, 'first\né\n');
  assert.equal(outcome.stderr, 'oops\n');
  assert.equal(seen.filter((chunk) => chunk.stream === 'stdout').map((chunk) => chunk.text).join(''), 'first\né\n');
  assert.equal(seen.find((chunk) => chunk.stream === 'stderr')?.text, 'oops\n');
  // The first line came before the program ended: streamed, not handed over at exit.
  const first = seen.find((chunk) => chunk.text.startsWith('first'))!;
  assert.ok(first.at < outcome.durationMs - 200, `first chunk at ${first.at.toFixed(0)} ms of ${outcome.durationMs.toFixed(0)} ms`);
});
