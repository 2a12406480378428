import { readFile, realpath, rm } from 'node:fs/promises';
import { runChecked } from '../../core/exec.js';
import { requireHostTool } from './host-tools.js';

/**
 * Removing a half-built root file system safely. debootstrap bind-mounts host devices into its
 * target (/dev/pts, /dev/shm, ... when it thinks it runs in a container) and mounts /proc and
 * /sys there; when it is killed (a timeout) those mounts stay. A recursive delete would then walk
 * into the host's /dev/shm and delete it. So everything mounted below the tree is unmounted
 * first, and the delete is refused if anything is still mounted.
 */

/** Mount points at or below `dir`, deepest first, read from /proc/self/mountinfo. */
export async function mountsUnder(dir: string, mountinfoPath = '/proc/self/mountinfo'): Promise<string[]> {
  const text = await readFile(mountinfoPath, 'utf8');
  return mountPointsUnder(text, dir);
}

/** The mount points (field 5 of each mountinfo line, octal escapes undone) equal to `dir` or below it, each once, deepest first. */
export function mountPointsUnder(mountinfo: string, dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((field): field is string => Boolean(field))
    .map(unescapeMountField)
    .filter((point) => point === base || point.startsWith(`${base}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * Detaches everything mounted at or below `dir` (its symlinks resolved first), deepest first, with
 * `umount --lazy` (30 s deadline each).
 * @throws Error when something is still mounted afterwards; CommandFailedError when umount fails;
 *   MissingHostToolError when there is something to unmount and umount is not installed; ENOENT
 *   when `dir` does not exist.
 */
export async function unmountAllUnder(dir: string): Promise<void> {
  const resolved = await realpath(dir);
  const points = await mountsUnder(resolved);
  if (points.length === 0) return;
  const umount = await requireHostTool('umount');
  for (const point of points) {
    // lazy: detach now even if something still holds it open; the delete below only needs it gone
    await runChecked([umount, '--lazy', point], { timeoutMs: 30_000 });
  }
  const left = await mountsUnder(resolved);
  if (left.length) throw new Error(`could not unmount ${left.join(', ')}; not deleting ${resolved}`);
}

/** Deletes a tree after unmounting whatever is mounted inside it. Missing trees are fine. */
export async function removeTreeSafely(dir: string): Promise<void> {
  try {
    await unmountAllUnder(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await rm(dir, { recursive: true, force: true });
}
