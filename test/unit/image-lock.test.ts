import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../core/errors.js';
import { acquireLock, acquireRunLock, refuseHeldRunLock, withLock } from '../../core/lock.js';

async function withTempDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'isobench-lock-'));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A pid that is not running: far above any pid_max in use here. */
const DEAD_PID = 2 ** 22 + 12345;

test('concurrent holders of one lock run one after the other', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'x.lock');
    const events: string[] = [];
    const job = (name: string) =>
      withLock(lockPath, { pollMs: 10 }, async () => {
        events.push(`${name} start`);
        await sleep(50);
        events.push(`${name} end`);
      });
    await Promise.all([job('a'), job('b'), job('c')]);
    for (let index = 0; index < events.length; index += 2) {
      assert.equal(events[index]?.replace(' start', ''), events[index + 1]?.replace(' end', ''), events.join(', '));
    }
    await assert.rejects(readFile(lockPath), /ENOENT/, 'released at the end');
  }));

test('a lock left by a dead process is broken', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'x.lock');
    await writeFile(lockPath, `${DEAD_PID} somehost\n`);
    const lock = await acquireLock(lockPath, { timeoutMs: 2_000, pollMs: 10 });
    assert.equal((await readFile(lockPath, 'utf8')).split(' ')[0], String(process.pid));
    await lock.release();
  }));

test('a live holder is waited for, and the wait times out with a clear error', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'x.lock');
    await writeFile(lockPath, `${process.pid} here\n`);
    const waits: string[] = [];
    await assert.rejects(
      acquireLock(lockPath, { timeoutMs: 200, pollMs: 20, onWait: (holder) => waits.push(holder) }),
      /timed out .* waiting for the lock .*held by pid/,
    );
    assert.deepEqual(waits, [`pid ${process.pid}`]);
  }));

test('an empty lock file is someone mid-write, until it is old', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'x.lock');
    await writeFile(lockPath, '');
    await assert.rejects(acquireLock(lockPath, { timeoutMs: 100, pollMs: 20 }), /timed out/);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath, old, old);
    const lock = await acquireLock(lockPath, { timeoutMs: 1_000, pollMs: 20 });
    await lock.release();
  }));

test('the run lock is the same primitive: a live holder is a usage error at once, a dead one is broken', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'run.lock');
    await writeFile(lockPath, `${process.pid} here\n`);
    const started = performance.now();
    await assert.rejects(acquireRunLock(dir), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, new RegExp(`another isobench run \\(pid ${process.pid}\\) is in progress`));
      return true;
    });
    assert.ok(performance.now() - started < 1_000, 'no waiting');
    await writeFile(lockPath, `${DEAD_PID}\n`);
    const release = await acquireRunLock(dir);
    assert.equal((await readFile(lockPath, 'utf8')).split(' ')[0], String(process.pid));
    await release();
    await assert.rejects(readFile(lockPath), /ENOENT/);
  }));

test('refuseHeldRunLock refuses a live holder as acquireRunLock does, and only reads: no lock taken, none broken', () =>
  withTempDir(async (dir) => {
    const lockPath = path.join(dir, 'run.lock');
    await refuseHeldRunLock(dir);
    assert.deepEqual(await readdir(dir), [], 'no lock file made when none was held');
    await writeFile(lockPath, `${process.pid} here\n`);
    await assert.rejects(refuseHeldRunLock(dir), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.message, `another isobench run (pid ${process.pid}) is in progress: wait for it to finish or stop it`);
      return true;
    });
    await writeFile(lockPath, `${DEAD_PID}\n`);
    await refuseHeldRunLock(dir);
    assert.equal(await readFile(lockPath, 'utf8'), `${DEAD_PID}\n`, 'a dead holder\'s lock is left for acquireRunLock to break');
    await refuseHeldRunLock(path.join(dir, 'no-such-state-directory'));
  }));
