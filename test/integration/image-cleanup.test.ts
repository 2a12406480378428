import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runChecked } from '../../core/exec.js';
import { findExecutable } from '../../core/tools.js';
import { mountsUnder, removeTreeSafely } from '../../provisioning/image/tree-removal.js';

/**
 * The scenario removeTreeSafely exists for: debootstrap was killed with host directories still
 * bind-mounted into its target. Deleting the half-built tree must not delete through the mount.
 */

async function whyCannotMount(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'bind mounts need root';
  if (!(await findExecutable('mount'))) return 'mount is not installed (Debian package mount)';
  return undefined;
}

test('removing a half-built tree unmounts what is bound into it and leaves the host side alone', { skip: await whyCannotMount(), timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'isobench-cleanup-'));
  const hostSide = path.join(dir, 'host-shm');
  const tree = path.join(dir, 'rootfs-x.building-1');
  try {
    await mkdir(hostSide);
    await writeFile(path.join(hostSide, 'precious'), 'keep me\n');
    await mkdir(path.join(tree, 'dev/shm'), { recursive: true });
    await mkdir(path.join(tree, 'proc'), { recursive: true });
    await runChecked([(await findExecutable('mount')) as string, '--bind', hostSide, path.join(tree, 'dev/shm')], { timeoutMs: 10_000 });
    await runChecked([(await findExecutable('mount')) as string, '-t', 'tmpfs', 'none', path.join(tree, 'proc')], { timeoutMs: 10_000 });
    assert.equal((await mountsUnder(tree)).length, 2);

    await removeTreeSafely(tree);

    await assert.rejects(access(tree), /ENOENT/);
    assert.equal(await readFile(path.join(hostSide, 'precious'), 'utf8'), 'keep me\n');
    assert.deepEqual(await mountsUnder(dir), []);
  } finally {
    for (const point of await mountsUnder(dir).catch(() => [])) {
      await runChecked(['umount', '--lazy', point], { timeoutMs: 10_000 }).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  }
});

test('removing a tree that does not exist is not an error', async () => {
  await removeTreeSafely(path.join(tmpdir(), 'isobench-cleanup-never-existed'));
});
