import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `value` as pretty-printed JSON (2-space indent, trailing newline) so that readers only ever
 * see the old file or the new one, never a torn one: it goes to a hidden temporary file in the same
 * directory (so the rename stays on one file system), which is then renamed over `path`. A process
 * killed midway leaves at most that temporary file. Creates the directory if needed. No fsync: this
 * guards against a crashed run, not a power cut.
 *
 * The temporary name is `.<name>.<pid>.<12 random hex digits>.tmp`: unique per write, so concurrent
 * writers of one file (two updates in the same millisecond, two copies of this module, two processes
 * with one pid in different PID namespaces) never share a temporary file; the last rename wins whole.
 *
 * @param options `mode`: permission bits of a new file (default 0o666 minus the umask).
 * @throws the file system's error (ENOSPC, EACCES, …) after removing the temporary file; a TypeError
 *   from JSON.stringify for a value that cannot be serialized (a BigInt, a cycle).
 */
export async function writeJsonAtomic(path: string, value: unknown, options: { mode?: number } = {}): Promise<void> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, text, options.mode === undefined ? {} : { mode: options.mode });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
