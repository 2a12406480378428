import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive } from '../../core/proc.js';

/**
 * A lock file that serializes builders of the same cache entry across processes on this host.
 * It is created with O_EXCL and holds the owner's pid; a lock whose owner is gone (a crashed or
 * killed build) is broken, so a crash never blocks later runs. Node has no flock(2), hence the
 * pid file.
 */

export interface LockOptions {
  /** Give up after this long; a build holding the lock legitimately takes minutes. */
  timeoutMs?: number;
  pollMs?: number;
  /** A lock older than this is treated as abandoned even if its pid is alive (pid reuse). */
  staleAfterMs?: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (holder: string) => void;
}

export interface HeldLock {
  path: string;
  release(): Promise<void>;
}

/** A lock file that is still empty is being written by its creator; give it this long. */
const EMPTY_LOCK_GRACE_MS = 10_000;

export async function acquireLock(lockPath: string, options: LockOptions = {}): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const pollMs = options.pollMs ?? 500;
  const staleAfterMs = options.staleAfterMs ?? 2 * 60 * 60_000;
  const deadline = Date.now() + timeoutMs;
  let announcedWait = false;

  for (;;) {
    if (await tryCreate(lockPath)) return { path: lockPath, release: () => releaseLock(lockPath) };

    const holder = await readHolder(lockPath);
    if (holder && isAbandoned(holder, staleAfterMs)) {
      await breakLock(lockPath, holder);
      continue;
    }
    if (!announcedWait && holder) {
      options.onWait?.(holder.pid ? `pid ${holder.pid}` : 'another process');
      announcedWait = true;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for the lock ${lockPath} (held by pid ${holder?.pid ?? 'unknown'})`);
    }
    await sleep(pollMs);
  }
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
    // released between our attempt and the read: try again
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
  // Only remove our own lock: if it was broken and retaken, it belongs to the new holder now.
  if (content.trim().split(/\s+/)[0] === String(process.pid)) await unlink(lockPath).catch(() => undefined);
}

/** Runs `work` while holding the lock. */
export async function withLock<T>(lockPath: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(lockPath, options);
  try {
    return await work();
  } finally {
    await lock.release();
  }
}
