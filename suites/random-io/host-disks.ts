/**
 * The requests the host's own disks completed during a fio trial, from /sys/block/DISK/stat. fio
 * asks for one block size; what reaches the disk under the target's stack can be merged (QEMU's
 * virtio-blk joins adjacent guest requests; the host's I/O scheduler joins queued ones) or split
 * (a disk's max_segments). Where the disk's cost is per request, as on a virtual disk, throughput
 * then follows the disk's request size, not fio's: issue 13, a TCG guest "beating" native on 1 MiB
 * sequential I/O. Read on the machine isobench runs on (the host of every local target).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Where the kernel lists block devices. */
export const SYS_BLOCK = '/sys/block';

/** A disk's completed requests and sectors so far (512-byte sectors, whatever the disk's own block size). */
export interface DiskCounters {
  readIos: number;
  readSectors: number;
  writeIos: number;
  writeSectors: number;
}

/**
 * Parses the text of /sys/block/DISK/stat: fields 1 (read I/Os completed), 3 (sectors read), 5
 * (write I/Os completed) and 7 (sectors written), per the kernel's Documentation/block/stat.rst.
 * @throws Error quoting the text when it has fewer than 7 fields or one of them is not a whole number.
 */
export function parseBlockStat(text: string): DiskCounters {
  const fields = text.trim().split(/\s+/);
  const numbers = fields.slice(0, 7).map((field) => (/^\d+$/.test(field) ? Number(field) : Number.NaN));
  if (numbers.length < 7 || numbers.some((value) => Number.isNaN(value))) throw new Error(`not a /sys/block/*/stat line: "${text.trim().slice(0, 200)}"`);
  return { readIos: numbers[0]!, readSectors: numbers[2]!, writeIos: numbers[4]!, writeSectors: numbers[6]! };
}

/** Which requests a job's figure is about: fio's `rw` read, randread → reads; write, randwrite → writes; anything else both. */
export type RequestDirection = 'reads' | 'writes' | 'both';

/** The direction of fio's `--rw` value. */
export function directionOf(rw: string): RequestDirection {
  if (rw === 'read' || rw === 'randread') return 'reads';
  if (rw === 'write' || rw === 'randwrite') return 'writes';
  return 'both';
}

/** The mean size of the requests the disks completed between two readings, and how many. */
export interface RequestSize {
  /** Mean request size in KiB (sectors × 512 / 1024 over requests). */
  meanKib: number;
  requests: number;
}

/**
 * The mean size of the requests completed between `before` and `after`, summed over the disks both
 * readings have, in `direction`; null when the disks completed no such request (absent, never 0 KiB).
 */
export function requestSize(before: ReadonlyMap<string, DiskCounters>, after: ReadonlyMap<string, DiskCounters>, direction: RequestDirection): RequestSize | null {
  let requests = 0;
  let sectors = 0;
  for (const [disk, end] of after) {
    const start = before.get(disk);
    if (!start) continue;
    if (direction !== 'writes') {
      requests += end.readIos - start.readIos;
      sectors += end.readSectors - start.readSectors;
    }
    if (direction !== 'reads') {
      requests += end.writeIos - start.writeIos;
      sectors += end.writeSectors - start.writeSectors;
    }
  }
  if (!(requests > 0) || sectors < 0) return null;
  return { meanKib: (sectors * 512) / 1024 / requests, requests };
}

/**
 * The host's disks: entries of `root` with a `device` link (hardware or a hypervisor's virtual disk),
 * not loop, zram, ram or device-mapper devices, whose requests end on one of those.
 */
export async function hostDisks(root: string = SYS_BLOCK): Promise<string[]> {
  const names = await readdir(root).catch(() => []);
  const disks: string[] = [];
  for (const name of names.sort()) {
    const isDisk = await stat(join(root, name, 'device')).then(
      () => true,
      () => false,
    );
    if (isDisk) disks.push(name);
  }
  return disks;
}

/**
 * Each disk's counters now; a disk whose stat cannot be read or parsed is left out (a disk removed
 * mid-run), so requestSize sums only disks read on both sides.
 */
export async function readDiskCounters(disks: readonly string[], root: string = SYS_BLOCK): Promise<Map<string, DiskCounters>> {
  const counters = new Map<string, DiskCounters>();
  for (const disk of disks) {
    try {
      counters.set(disk, parseBlockStat(await readFile(join(root, disk, 'stat'), 'utf8')));
    } catch {
      // Left out: see above.
    }
  }
  return counters;
}
