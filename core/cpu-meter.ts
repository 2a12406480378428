import { readFile } from 'node:fs/promises';
import { aggregateCpuColumns, CLOCK_TICKS_PER_SECOND } from './proc.js';

/** One named source of cumulative CPU time beyond the host total (a cgroup, the QEMU process, the guest). */
export interface CpuCounter {
  /** e.g. `cgroup /system.slice/docker-…`, `qemu pid 1234`. */
  source: string;
  /** Cumulative CPU seconds (user + system) since the source began. */
  seconds: number;
}

/** The host's cumulative CPU time since boot, from the aggregate `cpu` line of /proc/stat, in seconds. */
export interface HostCpuTimes {
  /** Cumulative seconds all cores spent busy (user, nice, system, irq, softirq, steal). */
  busySeconds: number;
  /** Cumulative seconds of all cores, busy or idle. */
  totalSeconds: number;
}

/**
 * Parses the text of /proc/stat (proc(5)): its aggregate `cpu` line, whose fields are clock ticks
 * (USER_HZ) in the order user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice.
 * iowait counts as idle time, not busy.
 * @throws as core/proc.ts's aggregateCpuColumns: no `cpu ` line, fewer than 8 fields or a field that is not a number.
 */
export function parseProcStat(text: string): HostCpuTimes {
  const fields = aggregateCpuColumns(text);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as [number, number, number, number, number, number, number, number];
  // guest and guest_nice are already counted inside user and nice.
  const busy = user + nice + system + irq + softirq + steal;
  return { busySeconds: busy / CLOCK_TICKS_PER_SECOND, totalSeconds: (busy + idle + iowait) / CLOCK_TICKS_PER_SECOND };
}

/**
 * Reads and parses /proc/stat now.
 * @throws as parseProcStat does, or the file system's error.
 */
export async function readHostCpuTimes(): Promise<HostCpuTimes> {
  return parseProcStat(await readFile('/proc/stat', 'utf8'));
}

/**
 * Where a CpuMeter reads whole-host CPU time: this machine's /proc/stat (`host` null), or a named
 * host's (lab mode: read over its SSH connection, parsed by {@link parseProcStat} like this machine's).
 */
export interface HostCpuReader {
  /** The inventory host's name, or null for this machine. */
  host: string | null;
  /** The host's cumulative CPU times now. Its errors fail the window (they should name the host). */
  read(): Promise<HostCpuTimes>;
}

/** This machine's /proc/stat: a single-host run's one reader. */
export const LOCAL_CPU_READER: HostCpuReader = { host: null, read: readHostCpuTimes };

/** Busy CPU time of one whole host over a window. */
export interface HostCpuUse {
  /** The inventory host's name, or null for this machine (single-host mode). */
  host: string | null;
  /** Busy CPU-seconds of the whole host during the window (on a single host: both ends of the link). */
  busySeconds: number;
  /** busySeconds over all the host's cores' elapsed CPU-seconds, 0..1; 0 when its /proc/stat did not advance. */
  busyFraction: number;
}

/** What `CpuMeter.start`'s stop function reports: CPU time spent between start and stop. */
export interface CpuWindow {
  /** Wall-clock seconds between the two readings (performance.now()). */
  elapsedSeconds: number;
  /** One entry per host the meter reads, in its readers' order: this machine alone (host null), or each lab host by name. */
  hosts: HostCpuUse[];
  /** CPU-seconds of each of the target's own accounting sources (cgroup, QEMU process, guest). */
  sources: CpuCounter[];
  /** CPU-seconds isobench's own process spent in the window. */
  harnessSeconds: number;
}

/**
 * Reads a target's own CPU counters (`ProvisionedTarget.cpuCounters`). It is called at both ends of
 * the window; sources are matched by `source`, and one that appears only at the end counts as 0.
 */
export type CounterSource = () => Promise<CpuCounter[]>;

/** Measures CPU time over a window with /proc/stat, the one method every Linux host has. */
export class CpuMeter {
  /**
   * @param readers The hosts whose /proc/stat brackets each window; default this machine's alone.
   *   Lab mode passes the server and client hosts instead (this machine's describes neither).
   */
  constructor(private readonly readers: readonly HostCpuReader[] = [LOCAL_CPU_READER]) {}

  /**
   * Takes the first reading and returns the function that takes the second and reports the window.
   * Host and harness times come from /proc/stat and process.cpuUsage(); target sources are read just
   * outside them (before at the start, after at the end), so the window brackets the hosts'. The
   * hosts are read in parallel: over SSH each reading takes 0.1–0.4 s, and in turn the first host's
   * window would be that much longer than the last's.
   * @param targetCounters The target's counters; default: none.
   * @throws whatever a reader throws (a host that cannot be read, a /proc/stat that does not parse).
   */
  async start(targetCounters: CounterSource = async () => []): Promise<() => Promise<CpuWindow>> {
    const counters0 = await targetCounters();
    const hosts0 = await Promise.all(this.readers.map((reader) => reader.read()));
    const harness0 = process.cpuUsage();
    const wall0 = performance.now();
    return async () => {
      const hosts1 = await Promise.all(this.readers.map((reader) => reader.read()));
      const harness = process.cpuUsage(harness0);
      const wall1 = performance.now();
      const counters1 = await targetCounters();
      return {
        elapsedSeconds: (wall1 - wall0) / 1000,
        hosts: this.readers.map((reader, index) => ({
          host: reader.host,
          busySeconds: hosts1[index]!.busySeconds - hosts0[index]!.busySeconds,
          busyFraction: busyFractionBetween(hosts0[index]!, hosts1[index]!),
        })),
        sources: counters1.map((after) => ({
          source: after.source,
          seconds: after.seconds - (counters0.find((before) => before.source === after.source)?.seconds ?? after.seconds),
        })),
        harnessSeconds: (harness.user + harness.system) / 1e6,
      };
    };
  }
}

/**
 * The share (0..1) of all cores' time spent busy between two /proc/stat readings; 0 when no tick
 * passed. Clamped: the seconds are ticks / 100 in floating point, so an all-busy window can come
 * out as 1.0000000000065 (seen here under load).
 */
export function busyFractionBetween(before: HostCpuTimes, after: HostCpuTimes): number {
  const total = after.totalSeconds - before.totalSeconds;
  if (total <= 0) return 0;
  return Math.min(1, Math.max(0, (after.busySeconds - before.busySeconds) / total));
}
