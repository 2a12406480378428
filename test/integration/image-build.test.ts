import assert from 'node:assert/strict';
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runChecked } from '../../core/exec.js';
import { ensureDiskImage, type DiskImage } from '../../provisioning/image/disk.js';
import { findExecutable } from '../../core/tools.js';
import { GUEST_INIT_PATH, TREE_RECIPE_HASH_PATH } from '../../provisioning/image/recipe.js';
import { ensureRootfs, type RootfsResult } from '../../provisioning/image/rootfs.js';

/**
 * Builds the real image (about 2 minutes on a cold cache; seconds when cached) and checks what the
 * Docker and KVM targets rely on. It uses the shared cache, so it also warms it for them.
 */

const log = (line: string) => console.log(`# image: ${line}`);

async function whyCannotBuild(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'debootstrap and mkfs need root; run the integration tests as root';
  for (const [tool, debianPackage] of [
    ['debootstrap', 'debootstrap'],
    ['mkfs.ext4', 'e2fsprogs'],
    ['dumpe2fs', 'e2fsprogs'],
    ['debugfs', 'e2fsprogs'],
  ] as const) {
    if (!(await findExecutable(tool))) return `${tool} is not installed (Debian package ${debianPackage})`;
  }
  return undefined;
}

const skipReason = await whyCannotBuild();
let rootfs: RootfsResult | undefined;
let raw: DiskImage | undefined;

test('the root file system is built (or reused) and holds the tools, kernel, initrd and init', { skip: skipReason, timeout: 25 * 60_000 }, async () => {
  rootfs = await ensureRootfs({ log });
  log(`tree ${rootfs.tree} (${rootfs.reused ? 'reused' : 'built'} in ${rootfs.seconds.toFixed(1)} s)`);
  assert.equal(path.basename(rootfs.tree), `rootfs-${rootfs.recipeHash}`);
  for (const inside of ['/usr/bin/fio', '/usr/bin/iperf3', '/usr/bin/sysbench', '/usr/sbin/mariadbd', '/usr/sbin/qemu-ga', '/usr/bin/busybox']) {
    await access(path.join(rootfs.tree, inside), constants.X_OK);
  }
  await access(path.join(rootfs.tree, 'usr', GUEST_INIT_PATH), constants.X_OK); // /sbin -> usr/sbin
  assert.equal((await stat(rootfs.tree)).mode & 0o777, 0o755, 'the root of a container or guest must be 0755');

  const again = await ensureRootfs({ log });
  assert.equal(again.reused, true);
  assert.equal(again.tree, rootfs.tree);
  assert.ok(again.seconds < 5, `a cached tree is found in well under 5 s, took ${again.seconds}`);
});

test('the raw disk image is a valid ext4 file system with the tree in it, plus kernel and initrd paths', { skip: skipReason, timeout: 10 * 60_000 }, async (t) => {
  if (!rootfs) return t.skip('the tree was not built');
  raw = await ensureDiskImage(rootfs.tree, rootfs.recipeHash, 'raw', undefined, { log });
  assert.match(path.basename(raw.kernel), /^vmlinuz-\d/);
  assert.match(path.basename(raw.initrd), /^initrd\.img-\d/);
  assert.ok((await stat(raw.kernel)).size > 1_000_000, 'a real kernel');
  assert.ok((await stat(raw.initrd)).size > 1_000_000, 'a real initrd');

  const dumpe2fs = (await findExecutable('dumpe2fs')) as string;
  const header = (await runChecked([dumpe2fs, '-h', raw.path], { timeoutMs: 60_000 })).stdout;
  assert.match(header, /Filesystem magic number:\s+0xEF53/);
  assert.match(header, /Filesystem volume name:\s+isobench-root/);
  assert.match(header, /Filesystem features:.*\bextent\b/);
  assert.match(header, /Filesystem state:\s+clean/);

  const debugfs = (await findExecutable('debugfs')) as string;
  const listing = (await runChecked([debugfs, '-R', 'ls /usr/bin', raw.path], { timeoutMs: 60_000 })).stdout;
  for (const name of ['fio', 'iperf3', 'sysbench', 'nuttcp']) assert.match(listing, new RegExp(`\\b${name}\\b`), `${name} is in the image`);
  const hashInImage = (await runChecked([debugfs, '-R', `cat ${TREE_RECIPE_HASH_PATH}`, raw.path], { timeoutMs: 60_000 })).stdout;
  assert.equal(hashInImage.trim(), rootfs.recipeHash);
});

test('the qcow2 disk image converts from the raw one and checks clean', { skip: skipReason, timeout: 10 * 60_000 }, async (t) => {
  if (!rootfs || !raw) return t.skip('the raw image was not made');
  const qemuImg = await findExecutable('qemu-img');
  if (!qemuImg) return t.skip('qemu-img is not installed (Debian package qemu-utils)');
  const qcow2 = await ensureDiskImage(rootfs.tree, rootfs.recipeHash, 'qcow2', undefined, { log });
  const info = JSON.parse((await runChecked([qemuImg, 'info', '--output=json', qcow2.path], { timeoutMs: 60_000 })).stdout) as {
    format: string;
    'virtual-size': number;
  };
  assert.equal(info.format, 'qcow2');
  assert.equal(info['virtual-size'], raw.sizeGiB * 1024 ** 3);
  await runChecked([qemuImg, 'check', qcow2.path], { timeoutMs: 120_000 });
});
