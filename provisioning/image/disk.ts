import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { runChecked } from '../../core/exec.js';
import { findBootFiles, type BootFiles } from './boot-files.js';
import { withLock } from '../../core/lock.js';
import { resolveImageCacheDir } from './cache-dir.js';
import { requireHostTool } from './host-tools.js';

/**
 * The KVM guests' disk: the recipe's tree as an ext4 file system image, made with
 * `mkfs.ext4 -d` (it copies the tree in, no mounting, no loop devices), optionally converted to
 * qcow2. It has no partition table and no boot loader: guests boot the tree's kernel and initrd
 * directly with root=/dev/vda.
 */

/** `raw`: the ext4 image as a plain sparse file. `qcow2`: the same converted with `qemu-img convert`. */
export type DiskFormat = 'raw' | 'qcow2';

/** Room for the 1.4 GB tree plus the quick suites' data (fio files, MariaDB tables). Sparse. */
export const DEFAULT_DISK_SIZE_GIB = 4;

/** Root file system label, so a guest can also be booted with root=LABEL=isobench-root. */
export const DISK_LABEL = 'isobench-root';

const MKFS_TIMEOUT_MS = 10 * 60_000;
const QEMU_IMG_TIMEOUT_MS = 10 * 60_000;

/** Where ensureDiskImage keeps images and where it reports progress. */
export interface DiskImageOptions {
  /** Default: $ISOBENCH_CACHE_DIR, else /var/cache/isobench. */
  cacheDir?: string;
  /** Progress lines (cached, making, made in N s); default: none. */
  log?: (line: string) => void;
}

/** A cached disk image and the kernel and initrd that boot it. */
export interface DiskImage extends BootFiles {
  /** The cached image. Shared by every run: boot a copy (cloneDiskImage), never this file. */
  path: string;
  format: DiskFormat;
  /** The file system's size in GiB (the file is sparse: it takes less on disk). */
  sizeGiB: number;
  recipeHash: string;
  /** True when the image was already in the cache. */
  reused: boolean;
  /** Time spent finding or making it, in seconds. */
  seconds: number;
}

/** The cache file name, `disk-<hash>-<N>g.raw|qcow2`: one image per recipe, size and format. */
export function diskImageName(recipeHash: string, format: DiskFormat, sizeGiB: number): string {
  return `disk-${recipeHash}-${sizeGiB}g.${format}`;
}

/**
 * The recipe's disk image in the cache, made when missing (raw with `mkfs.ext4 -d`; qcow2 by
 * converting the raw one, which is made or reused first). Builders of one image are serialized
 * by `<image>.lock`; a build is renamed into place only when it finished, and removed when it failed.
 *
 * @param tree A finished tree from ensureRootfs; its /boot must hold a kernel and initrd.
 * @param sizeGiB Whole GiB, at least 1; default DEFAULT_DISK_SIZE_GIB.
 * @throws Error for a size that is not a whole number of GiB, or a tree without a kernel and initrd.
 * @throws MissingHostToolError when mkfs.ext4 or qemu-img is not installed.
 * @throws CommandFailedError (core/exec.ts) when mkfs.ext4 or qemu-img fails or runs past 10 min.
 * @throws LockTimeoutError (core/lock.ts) when another builder holds the lock for longer than both builds' timeouts plus a minute.
 */
export async function ensureDiskImage(
  tree: string,
  recipeHash: string,
  format: DiskFormat,
  sizeGiB: number = DEFAULT_DISK_SIZE_GIB,
  options: DiskImageOptions = {},
): Promise<DiskImage> {
  if (!Number.isInteger(sizeGiB) || sizeGiB < 1) throw new Error(`disk size must be a whole number of GiB, got ${sizeGiB}`);
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const cacheDir = path.resolve(resolveImageCacheDir(options.cacheDir));
  const image = path.join(cacheDir, diskImageName(recipeHash, format, sizeGiB));
  const bootFiles = await findBootFiles(tree);
  const describe = (reused: boolean): DiskImage => ({
    ...bootFiles,
    path: image,
    format,
    sizeGiB,
    recipeHash,
    reused,
    seconds: (performance.now() - started) / 1000,
  });

  // Like the tree, a finished image appears only by rename: present means complete.
  if (await isFile(image)) {
    log(`${format} disk image of recipe ${recipeHash} is cached: ${image}`);
    return describe(true);
  }
  await mkdir(cacheDir, { recursive: true });
  return withLock(`${image}.lock`, { timeoutMs: MKFS_TIMEOUT_MS + QEMU_IMG_TIMEOUT_MS + 60_000 }, async () => {
    if (await isFile(image)) return describe(true);
    if (format === 'raw') {
      log(`making the raw disk image of recipe ${recipeHash} (not cached) — mkfs.ext4 -d, about 10 seconds: ${image}`);
      await buildRawImage(tree, image, sizeGiB);
    } else {
      const raw = await ensureDiskImage(tree, recipeHash, 'raw', sizeGiB, options);
      log(`converting the disk image of recipe ${recipeHash} to qcow2 (not cached): ${image}`);
      await convertToQcow2(raw.path, image);
    }
    const result = describe(false);
    log(`made the ${format} disk image of recipe ${recipeHash} in ${Math.round(result.seconds)} s`);
    return result;
  });
}

async function buildRawImage(tree: string, image: string, sizeGiB: number): Promise<void> {
  const mkfs = await requireHostTool('mkfs.ext4');
  const partial = `${image}.building-${process.pid}`;
  try {
    // -F: the target is a plain file; without it mke2fs may stop to ask, and nothing would answer.
    await runChecked([mkfs, '-q', '-F', '-t', 'ext4', '-L', DISK_LABEL, '-d', tree, partial, `${sizeGiB}G`], {
      timeoutMs: MKFS_TIMEOUT_MS,
    });
    await rename(partial, image);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

async function convertToQcow2(raw: string, image: string): Promise<void> {
  const qemuImg = await requireHostTool('qemu-img');
  const partial = `${image}.building-${process.pid}`;
  try {
    await runChecked([qemuImg, 'convert', '-f', 'raw', '-O', 'qcow2', raw, partial], { timeoutMs: QEMU_IMG_TIMEOUT_MS });
    await rename(partial, image);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

/**
 * A private, writable copy of a cached image for one guest: workloads write to their disk, and
 * the cached image must stay as built. raw: a sparse copy (the raw variant measures a raw file,
 * so it stays one). qcow2: a thin qcow2 overlay whose backing file is the cached image.
 *
 * @returns `destination`, whose directory is created if need be.
 * @throws CommandFailedError when cp (10 min deadline) or `qemu-img create` (60 s) fails.
 * @throws MissingHostToolError when a qcow2 overlay is asked for and qemu-img is not installed.
 */
export async function cloneDiskImage(image: Pick<DiskImage, 'path' | 'format'>, destination: string): Promise<string> {
  await mkdir(path.dirname(destination), { recursive: true });
  if (image.format === 'raw') {
    await runChecked(['cp', '--sparse=always', '--reflink=auto', image.path, destination], { timeoutMs: MKFS_TIMEOUT_MS });
  } else {
    const qemuImg = await requireHostTool('qemu-img');
    await runChecked([qemuImg, 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image.path, destination], {
      timeoutMs: 60_000,
    });
  }
  return destination;
}

async function isFile(candidate: string): Promise<boolean> {
  return stat(candidate).then(
    (info) => info.isFile(),
    () => false,
  );
}
