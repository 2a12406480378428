import { mkdir, open, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';

/**
 * The results directory is checked before anything is installed, locked or provisioned: a run that
 * cannot write its results must not build a network, boot a guest and then lose what it measured.
 */

/** Bytes the probe file holds: a results file starts at tens of KiB and grows with every trial. */
export const PROBE_BYTES = 256 * 1024;
/** How long the whole check may take (ms): a file system that hangs (a dead NFS mount) fails too. */
export const OUTPUT_CHECK_TIMEOUT_MS = 3_000;

/** What {@link prepareOutputDirectory} did, so an early failure of the run can undo it. */
export interface PreparedOutputDirectory {
  /** Absolute. */
  path: string;
  /** Directories it created, deepest first: removed again (if still empty) when the run stops before writing. */
  created: string[];
}

/**
 * Creates the results directory where needed and proves it writable by writing a probe file of
 * PROBE_BYTES and removing it. Directories are created one level at a time: Node's recursive
 * `mkdir` under /proc never returns (it spins on one core), while a plain `mkdir` fails at once.
 *
 * @param flag Names the flag in messages (`--out`).
 * @throws UsageError (exit 2, one line) naming the directory, the system's error code and the fix:
 *   a path through a file, a directory that cannot be created (ENOENT under /proc, EPERM under /sys,
 *   EROFS, EACCES), no space for the results (ENOSPC), or a file system that does not answer within
 *   OUTPUT_CHECK_TIMEOUT_MS. Whatever it created before failing is removed.
 */
export async function prepareOutputDirectory(
  directory: string,
  options: { flag?: string; timeoutMs?: number; probeBytes?: number } = {},
): Promise<PreparedOutputDirectory> {
  const path = resolve(directory);
  const flag = options.flag ?? '--out';
  const timeoutMs = options.timeoutMs ?? OUTPUT_CHECK_TIMEOUT_MS;
  const created: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new UsageError(`${flag} ${directory}: the file system did not answer within ${timeoutMs / 1000} s: choose a directory on a local disk`));
    }, timeoutMs);
  });
  const work = createAndProbe(path, directory, flag, created, options.probeBytes ?? PROBE_BYTES, () => timedOut);
  try {
    await Promise.race([work, hung]);
    return { path, created };
  } catch (error) {
    // Work cut off by the deadline goes on in the background (it may never settle: do not wait
    // for it): what it made is undone once it does.
    if (timedOut) void work.catch(() => {}).finally(() => removeCreated(created));
    else await removeCreated(created);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Removes directories {@link prepareOutputDirectory} created, deepest first, each only while empty. */
export async function removeCreated(created: readonly string[]): Promise<void> {
  for (const directory of created) await rmdir(directory).catch(() => {});
}

async function createAndProbe(path: string, given: string, flag: string, created: string[], probeBytes: number, cancelled: () => boolean): Promise<void> {
  const fail = (what: string, error: unknown, fix: string) => {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    return new UsageError(`${flag} ${given}: ${what} (${code}${describeCode(code)}): ${fix}`, { cause: error });
  };
  // Walk up to the deepest part that exists, then create the rest one level at a time.
  const missing: string[] = [];
  let existing = path;
  for (;;) {
    try {
      const info = await stat(existing);
      if (!info.isDirectory()) throw new UsageError(`${flag} ${given}: ${existing} is a file, not a directory: choose a directory`);
      break;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') {
        throw new UsageError(`${flag} ${given}: a part of the path is a file, not a directory: choose a directory`, { cause: error });
      }
      if (code !== 'ENOENT') throw fail(`cannot look at ${existing}`, error, 'choose a directory you can write');
      if (dirname(existing) === existing) throw fail(`cannot create ${existing}`, error, 'choose a directory you can write');
      missing.unshift(existing);
      existing = dirname(existing);
    }
  }
  for (const part of missing) {
    if (cancelled()) return;
    try {
      await mkdir(part);
      created.unshift(part);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw fail(`cannot create ${part}`, error, 'choose a directory you can write');
    }
  }
  if (cancelled()) return;
  const probe = join(path, `.isobench-write-probe-${process.pid}`);
  try {
    const handle = await open(probe, 'wx', 0o600);
    try {
      // writeFile loops over short writes (a nearly full disk takes part and refuses the rest);
      // datasync makes a file system with delayed allocation say ENOSPC now, not at close.
      await handle.writeFile(Buffer.alloc(probeBytes));
      await handle.datasync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const fix = code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space there or choose another --out' : 'choose a directory you can write';
    throw fail(code === 'ENOSPC' || code === 'EDQUOT' ? `no room for the results in ${path}` : `cannot write in ${path}`, error, fix);
  } finally {
    await rm(probe, { force: true }).catch(() => {});
  }
}

/** A few words for the codes a user meets here; the code alone for the rest. */
function describeCode(code: string): string {
  const words: Record<string, string> = {
    ENOENT: ': no such file or directory',
    EACCES: ': permission denied',
    EPERM: ': operation not permitted',
    EROFS: ': read-only file system',
    ENOSPC: ': no space left on device',
    EDQUOT: ': disk quota exceeded',
  };
  return words[code] ?? '';
}
