import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import { stateDirectory } from './ledger.js';
import { DeadlineError, pollUntil } from './poll.js';
import { isProcessAlive } from './proc.js';

/**
 * Pid lock files, the one lock primitive of isobench: the run lock (one run per host) and the image
 * cache's per-entry locks both use it. A lock is a file created with O_EXCL holding `PID HOSTNAME`;
 * a lock whose owner is gone (a crashed or killed run) is broken, so a crash never blocks later
 * runs. Node has no flock(2), hence the pid file.
 */

/** How acquireLock waits for a held lock. */
export interface LockOptions {
  /** Give up after this many ms; 0 tries once. Default 30 min: a build holding the lock legitimately takes minutes. */
  timeoutMs?: number;
  /** ms between two looks at a held lock. Default 500. */
  pollMs?: number;
  /** A lock older than this many ms is treated as abandoned even if its pid is alive (pid reuse). Default 2 h; Infinity: never. */
  staleAfterMs?: number;
  /** Called once, with `pid N` or `another process`, when the lock is held by someone else and the wait begins. */
  onWait?: (holder: string) => void;
}

/** A lock this process holds. */
export interface HeldLock {
  path: string;
  /** Removes the lock file, if it is still ours (a lock broken and retaken belongs to its new holder). */
  release(): Promise<void>;
}

/** The lock stayed held by a live process for the whole wait. */
export class LockTimeoutError extends DeadlineError {
  /**
   * @param lockPath The lock file.
   * @param holderPid The pid written in it, when there was one.
   */
  constructor(
    readonly lockPath: string,
    readonly holderPid: number | undefined,
    timeoutMs: number,
    options: { cause?: unknown } = {},
  ) {
    super(`the lock ${lockPath} stayed held`, timeoutMs, {
      message: `timed out after ${Math.round(timeoutMs / 1000)} s waiting for the lock ${lockPath} (held by pid ${holderPid ?? 'unknown'})`,
      cause: options.cause,
    });
  }
}

/** A lock file that is still empty is being written by its creator; give it this long (ms). */
const EMPTY_LOCK_GRACE_MS = 10_000;

/**
 * Takes the lock at `lockPath`, waiting while a live process holds it.
 * @throws LockTimeoutError when it is still held after `timeoutMs`; file-system errors other than EEXIST.
 */
export async function acquireLock(lockPath: string, options: LockOptions = {}): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const staleAfterMs = options.staleAfterMs ?? 2 * 60 * 60_000;
  let announcedWait = false;
  let lastHolder: LockHolder | undefined;
  try {
    return await pollUntil(
      async () => {
        for (;;) {
          if (await tryCreate(lockPath)) return { path: lockPath, release: () => releaseLock(lockPath) };
          const holder = await readHolder(lockPath);
          if (holder === undefined) continue; // released between our attempt and the read
          if (isAbandoned(holder, staleAfterMs)) {
            await breakLock(lockPath, holder);
            continue;
          }
          lastHolder = holder;
          if (!announcedWait) {
            options.onWait?.(holder.pid ? `pid ${holder.pid}` : 'another process');
            announcedWait = true;
          }
          return undefined;
        }
      },
      { timeoutMs, intervalMs: options.pollMs ?? 500, what: `the lock ${lockPath} stayed held` },
    );
  } catch (error) {
    if (error instanceof DeadlineError) throw new LockTimeoutError(lockPath, lastHolder?.pid, timeoutMs, { cause: error });
    throw error;
  }
}

/** Runs `work` while holding the lock at `lockPath`; releases it however `work` ends. Errors as for acquireLock. */
export async function withLock<T>(lockPath: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(lockPath, options);
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

/**
 * One run at a time: runs share the test network's names and addresses, and two benchmarks on one
 * host would measure each other. Does not wait: a live holder is the user's to stop.
 *
 * @returns A function that releases the lock.
 * @throws UsageError (exit 2) naming the pid of the run in progress.
 */
export async function acquireRunLock(directory: string = stateDirectory()): Promise<() => Promise<void>> {
  await mkdir(directory, { recursive: true });
  const path = join(directory, 'run.lock');
  try {
    // A run lock is never stale while its pid lives: a run may legitimately take days.
    const lock = await acquireLock(path, { timeoutMs: 0, staleAfterMs: Infinity });
    return () => lock.release();
  } catch (error) {
    if (!(error instanceof LockTimeoutError)) throw error;
    throw runLockHeld(path, error.holderPid, { cause: error });
  }
}

/**
 * The run lock's refusal without taking the lock, so `bench` can refuse before it prints its plan
 * or creates anything (it takes the lock later, after the installs, and acquireRunLock refuses
 * then if a run started meanwhile). Reads the lock file only: creates nothing, breaks nothing.
 * @throws UsageError (exit 2), worded as acquireRunLock's, while a live process holds the lock.
 */
export async function refuseHeldRunLock(directory: string = stateDirectory()): Promise<void> {
  const path = join(directory, 'run.lock');
  const holder = await readHolder(path);
  if (holder === undefined || isAbandoned(holder, Infinity)) return;
  throw runLockHeld(path, holder.pid);
}

function runLockHeld(path: string, holderPid: number | undefined, options: { cause?: unknown } = {}): UsageError {
  if (holderPid === undefined) {
    return new UsageError(`could not take the run lock ${path}: another isobench run is starting, or remove it if no isobench run is in progress`, options);
  }
  return new UsageError(`another isobench run (pid ${holderPid}) is in progress: wait for it to finish or stop it`, options);
}

async function tryCreate(lockPath: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(`${process.pid} ${hostname()}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

interface LockHolder {
  /** undefined while the creator has not written its pid yet. */
  pid: number | undefined;
  ageMs: number;
  content: string;
}

async function readHolder(lockPath: string): Promise<LockHolder | undefined> {
  try {
    const [content, info] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
    const pid = Number.parseInt(content.trim().split(/\s+/)[0] ?? '', 10);
    return { pid: Number.isFinite(pid) && pid > 0 ? pid : undefined, ageMs: Date.now() - info.mtimeMs, content };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isAbandoned(holder: LockHolder, staleAfterMs: number): boolean {
  if (holder.ageMs > staleAfterMs) return true;
  if (holder.pid === undefined) return holder.ageMs > EMPTY_LOCK_GRACE_MS;
  return !isProcessAlive(holder.pid);
}

/**
 * Moves the abandoned lock aside first: rename is atomic, so when two waiters both find it
 * abandoned only one of them removes it. If what was moved turns out not to be the abandoned lock
 * (a third process took the lock in between), it is put back if the name is still free.
 */
async function breakLock(lockPath: string, abandoned: LockHolder): Promise<void> {
  const aside = `${lockPath}.broken-${process.pid}-${Date.now()}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== abandoned.content) {
    // link, unlike rename, fails instead of replacing a lock someone took meanwhile
    await link(aside, lockPath).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

async function releaseLock(lockPath: string): Promise<void> {
  const content = await readFile(lockPath, 'utf8').catch(() => '');
  if (content.trim().split(/\s+/)[0] === String(process.pid)) await unlink(lockPath).catch(() => undefined);
}
