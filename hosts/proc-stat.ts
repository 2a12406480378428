/**
 * A host's /proc/stat, read over its shared SSH connection (or here, for `localhost`) and parsed by
 * the same parsers as this machine's (core/cpu-meter.ts, core/proc.ts): lab mode's CPU cost, steal
 * and quiet-host wait read the hosts the run measures, not the controlling machine.
 */
import { parseProcStat, type HostCpuTimes } from '../core/cpu-meter.js';
import { describeFailure } from '../core/exec.js';
import { parseStealTicks, type StealTicks } from '../core/proc.js';
import type { Host } from './host.js';

/**
 * Deadline in ms of one `cat /proc/stat` on a host: a reading takes 0.1–0.4 s over a shared
 * connection on the loaded development machine; 15 s leaves room for a first connection
 * (ConnectTimeout 10 s) and fails a hung host long before a trial's own deadline.
 */
export const PROC_STAT_TIMEOUT_MS = 15_000;

/** One host's /proc/stat readers, named for the records and for errors. */
export interface HostProcStat {
  /** The inventory host's name. */
  readonly name: string;
  /**
   * The host's cumulative CPU times now (CpuMeter, quiet-host wait).
   * @throws HostError when the host cannot run the command; Error `host NAME: …` when `cat` fails or
   *   its /proc/stat does not parse (the parser's words quoted).
   */
  cpuTimes(): Promise<HostCpuTimes>;
  /**
   * The host's steal and total ticks now.
   * @throws as cpuTimes.
   */
  stealTicks(): Promise<StealTicks>;
}

/**
 * Reads a host's /proc/stat and parses it with `parse`.
 * @throws HostError (from the host) when it cannot run the command; Error naming the host when `cat`
 *   exits non-zero or `parse` throws.
 */
export async function readHostProcStat<T>(host: Host, parse: (text: string) => T, timeoutMs: number = PROC_STAT_TIMEOUT_MS): Promise<T> {
  const outcome = await host.run(['cat', '/proc/stat'], { timeoutMs });
  if (!outcome.ok) throw new Error(`host ${host.name}: reading /proc/stat failed: ${describeFailure(outcome)}`);
  try {
    return parse(outcome.stdout);
  } catch (error) {
    throw new Error(`host ${host.name}: ${(error as Error).message}`, { cause: error });
  }
}

/** The /proc/stat readers of one host; each call is one `cat /proc/stat` there, as locally each is one read. */
export function hostProcStat(host: Host, timeoutMs: number = PROC_STAT_TIMEOUT_MS): HostProcStat {
  return {
    name: host.name,
    cpuTimes: () => readHostProcStat(host, parseProcStat, timeoutMs),
    stealTicks: () => readHostProcStat(host, parseStealTicks, timeoutMs),
  };
}
