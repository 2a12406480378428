/**
 * The requests the host's own disks completed during a fio trial, from /sys/block/DISK/stat. fio
 * asks for one block size; what reaches the disk under the target's stack can be merged (QEMU's
 * virtio-blk joins adjacent guest requests; the host's I/O scheduler joins queued ones) or split
 * (a disk's max_segments). Where the disk's cost is per request, as on a virtual disk, throughput
 * then follows the disk's request size, not fio's: issue 13, a TCG guest "beating" native on 1 MiB
 * sequential I/O. Read on the machine the target runs on: this one for every local target
 * (hostDisks, readDiskCounters), the server host over SSH in lab mode (readHostDiskCounters).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetHostAccess } from '../../contracts/suite.js';
import { describeFailure } from '../../core/exec.js';

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

/**
 * The shell script that prints, on another host, what hostDisks and readDiskCounters read here: one
 * line per /sys/block entry with a `device` link, its name and then its stat line. A constant: no
 * value of isobench's is put into it.
 */
export const DISK_STATS_SCRIPT = 'for d in /sys/block/*; do [ -e "$d/device" ] && [ -r "$d/stat" ] && printf \'%s %s\\n\' "${d##*/}" "$(cat "$d/stat")"; done; true';

/**
 * Parses DISK_STATS_SCRIPT's output: `NAME FIELDS…` per line, the fields as parseBlockStat reads
 * them. A line that does not parse is left out, as readDiskCounters leaves out a disk it cannot read.
 */
export function parseDiskStats(text: string): Map<string, DiskCounters> {
  const counters = new Map<string, DiskCounters>();
  for (const line of text.split('\n')) {
    const match = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!match) continue;
    try {
      counters.set(match[1]!, parseBlockStat(match[2]!));
    } catch {
      // Left out: see above.
    }
  }
  return counters;
}

/** Deadline of one DISK_STATS_SCRIPT run on a host, in ms (a few reads of sysfs over a shared SSH connection). */
export const HOST_DISK_READ_TIMEOUT_MS = 15_000;

/**
 * The disks and counters of the host a target runs on, read there (lab mode's server host over
 * SSH), keyed by disk name.
 * @throws Error naming the host when the script fails there (the host's own HostError when it does not answer).
 */
export async function readHostDiskCounters(host: TargetHostAccess): Promise<Map<string, DiskCounters>> {
  const outcome = await host.exec(['sh', '-c', DISK_STATS_SCRIPT], { timeoutMs: HOST_DISK_READ_TIMEOUT_MS });
  if (!outcome.ok) throw new Error(`reading /sys/block on host ${host.name} failed: ${describeFailure(outcome)}`);
  return parseDiskStats(outcome.stdout);
}
