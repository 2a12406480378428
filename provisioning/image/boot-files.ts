import { readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * The guest kernel and initrd, taken from the tree's /boot (linux-image-amd64 and
 * initramfs-tools put them there), so QEMU can boot them directly with -kernel/-initrd: the disk
 * image needs no boot loader.
 */

/** What QEMU's `-kernel` and `-initrd` are given. */
export interface BootFiles {
  /** Absolute path of `<tree>/boot/vmlinuz-<version>`. */
  kernel: string;
  /** Absolute path of `<tree>/boot/initrd.img-<version>`. */
  initrd: string;
  /** e.g. `6.1.0-28-amd64`, recorded as the guest kernel. */
  kernelVersion: string;
}

/** From the names in /boot, the newest kernel version that has both a vmlinuz and an initrd. */
export function pickBootFileNames(names: readonly string[]): { kernel: string; initrd: string; kernelVersion: string } | undefined {
  const present = new Set(names);
  const versions = names
    .filter((name) => name.startsWith('vmlinuz-'))
    .map((name) => name.slice('vmlinuz-'.length))
    .filter((version) => present.has(`initrd.img-${version}`))
    .sort(compareKernelVersions);
  const newest = versions.at(-1);
  if (newest === undefined) return undefined;
  return { kernel: `vmlinuz-${newest}`, initrd: `initrd.img-${newest}`, kernelVersion: newest };
}

/**
 * The newest kernel in `<tree>/boot` that has a matching initrd (see pickBootFileNames).
 * @throws Error naming what /boot holds when no kernel has an initrd.
 */
export async function findBootFiles(tree: string): Promise<BootFiles> {
  const bootDir = path.join(tree, 'boot');
  const names = await readdir(bootDir).catch(() => [] as string[]);
  const picked = pickBootFileNames(names);
  if (!picked) {
    throw new Error(`no kernel with a matching initrd in ${bootDir} (found: ${names.join(', ') || 'nothing'}); is linux-image-amd64 in the recipe?`);
  }
  return {
    kernel: path.join(bootDir, picked.kernel),
    initrd: path.join(bootDir, picked.initrd),
    kernelVersion: picked.kernelVersion,
  };
}

/** Compares "6.1.0-28-amd64" style versions number by number. */
export function compareKernelVersions(a: string, b: string): number {
  const partsA = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const partsB = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let index = 0; index < Math.max(partsA.length, partsB.length); index += 1) {
    const difference = (partsA[index] ?? -1) - (partsB[index] ?? -1);
    if (difference !== 0) return difference;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
