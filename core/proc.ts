import { readdir, readFile } from 'node:fs/promises';

/**
 * What isobench reads about host processes from /proc, parsed in one place. /proc/PID/stat is one
 * line of space-separated fields, numbered from 1 in proc(5):
 *
 *   (1) pid  (2) comm  (3) state  (4) ppid  (5) pgrp  (6) session  … (14) utime  (15) stime  …
 *   (22) starttime  …
 *
 * comm is the command name in parentheses and may itself hold spaces and ')' (`(tmux: server))`),
 * so the fields after it are counted from the LAST ')' of the line, never by splitting the whole line.
 */

/** USER_HZ, the unit of utime, stime and starttime (and of /proc/stat). Linux fixes it at 100 on every architecture isobench runs on. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of one /proc/PID/stat line isobench uses. */
export interface ProcessStat {
  /** Field 1. */
  pid: number;
  /** Field 2, without its parentheses; at most 15 bytes, may hold spaces and ')'. */
  comm: string;
  /** Field 3: R running, S sleeping, D disk wait, Z zombie, T stopped, … */
  state: string;
  /** Field 4: the parent's pid (0 for the kernel's own). */
  ppid: number;
  /** Field 5: the process group. */
  pgrp: number;
  /** Field 14: user-mode CPU time, in clock ticks. */
  utimeTicks: number;
  /** Field 15: kernel-mode CPU time, in clock ticks. */
  stimeTicks: number;
  /**
   * Field 22: when the process started, in clock ticks since boot, as the kernel wrote it. With the
   * pid it names one process even after the pid is reused; kept as text because ledgers store it so.
   */
  startTime: string;
}

/** Index of field N (N ≥ 3) among the fields that follow comm. */
const after = (field: number) => field - 3;

/**
 * Parses one /proc/PID/stat line (a trailing newline is fine).
 * @throws Error naming the line when it is cut short before field 22 or a numeric field is not a number.
 */
export function parseProcessStat(line: string): ProcessStat {
  const open = line.indexOf(' (');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/PID/stat line: ${line.slice(0, 120)}`);
  const fields = line.slice(close + 2).trim().split(' ');
  const number = (field: number): number => {
    const value = Number(fields[after(field)]);
    if (fields[after(field)] === undefined || !Number.isFinite(value)) {
      throw new Error(`/proc/PID/stat has an unexpected shape (field ${field}): ${line.slice(0, 120)}`);
    }
    return value;
  };
  const stat: ProcessStat = {
    pid: Number(line.slice(0, open)),
    comm: line.slice(open + 2, close),
    state: fields[after(3)] ?? '',
    ppid: number(4),
    pgrp: number(5),
    utimeTicks: number(14),
    stimeTicks: number(15),
    startTime: String(number(22)),
  };
  if (!Number.isInteger(stat.pid)) throw new Error(`/proc/PID/stat has an unexpected shape (field 1): ${line.slice(0, 120)}`);
  return stat;
}

/** User plus system CPU time of a process (fields 14 + 15), in seconds. Excludes its waited-for children. */
export function cpuSecondsOf(stat: ProcessStat): number {
  return (stat.utimeTicks + stat.stimeTicks) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU seconds a host process has used so far (fields 14 + 15, all its threads).
 * @throws Error when there is no such process.
 */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readProcessStat(pid);
  if (!stat) throw new Error(`process ${pid} is gone (no /proc/${pid}/stat)`);
  return cpuSecondsOf(stat);
}

/** The parsed /proc/PID/stat of a host process, or null when there is no such process (or it cannot be read). */
export async function readProcessStat(pid: number): Promise<ProcessStat | null> {
  const line = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (line === null) return null;
  try {
    return parseProcessStat(line);
  } catch {
    return null;
  }
}

/** The start time (field 22, clock ticks since boot, as text) of a process; null when it does not exist. */
export async function processStartTicks(pid: number): Promise<string | null> {
  return (await readProcessStat(pid))?.startTime ?? null;
}

/**
 * Whether a pid names a process (signal 0). EPERM counts as alive: it exists, it is just not ours.
 * A zombie counts as alive here; `hostProcessTree` (kill-tree.ts) counts it as gone.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The stat of every process on the host, read once (processes that end during the scan are skipped). */
export async function allProcessStats(): Promise<ProcessStat[]> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
  return (await Promise.all(pids.map(readProcessStat))).filter((stat): stat is ProcessStat => stat !== null);
}

/** The steal column of /proc/stat's aggregate `cpu` line and the sum it is a share of, in clock ticks (USER_HZ). */
export interface StealTicks {
  /** Column 8, steal: time the hypervisor ran something else while this host's vCPUs were runnable. */
  stealTicks: number;
  /** user + nice + system + idle + iowait + irq + softirq + steal: all CPU time (guest and guest_nice are already inside user and nice). */
  totalTicks: number;
}

/**
 * The numeric columns of /proc/stat's aggregate `cpu` line, in clock ticks (USER_HZ), in proc(5)'s
 * order: user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice. One reader for
 * every user of the line (the CPU meter, steal time, the guest's counters).
 * @throws Error when there is no `cpu ` line, or it has fewer than 8 columns (kernels before 2.6.11
 *   have no steal column) or one that is not a number; the message quotes the line.
 */
export function aggregateCpuColumns(procStat: string): number[] {
  const line = procStat.split('\n').find((candidate) => candidate.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no aggregate "cpu" line');
  const columns = line.trim().split(/\s+/).slice(1).map(Number);
  if (columns.length < 8 || columns.some((value) => !Number.isFinite(value))) {
    throw new Error(`/proc/stat's cpu line has an unexpected shape: ${line} (8 numeric columns needed, steal the 8th)`);
  }
  return columns;
}

/**
 * The steal and total ticks of /proc/stat's aggregate `cpu` line.
 * @throws as {@link aggregateCpuColumns}.
 */
export function parseStealTicks(procStat: string): StealTicks {
  const columns = aggregateCpuColumns(procStat);
  return { stealTicks: columns[7]!, totalTicks: columns.slice(0, 8).reduce((sum, value) => sum + value, 0) };
}

/**
 * Steal time between two readings as a share of all CPU time in that window, 0..1; 0 when no tick
 * passed (a window shorter than 1/USER_HZ).
 */
export function stealFractionBetween(before: StealTicks, after: StealTicks): number {
  const total = after.totalTicks - before.totalTicks;
  if (total <= 0) return 0;
  return Math.min(1, Math.max(0, (after.stealTicks - before.stealTicks) / total));
}

/**
 * Reads /proc/stat's steal and total ticks now.
 * @throws as parseStealTicks does, or the file system's error.
 */
export async function readStealTicks(): Promise<StealTicks> {
  return parseStealTicks(await readFile('/proc/stat', 'utf8'));
}
