import type { QuietHostCheck } from '../results/schema.js';
import { busyFractionBetween, readHostCpuTimes, type HostCpuTimes } from '../core/cpu-meter.js';
import { sleep } from '../core/poll.js';

/** On 2 cores, one core half busy is already 25 %: anything above that would show in the numbers. */
export const DEFAULT_BUSY_THRESHOLD = 0.25;
/** Length in ms of one /proc/stat sample window. */
export const DEFAULT_SAMPLE_MS = 1_000;
/** How long in ms a busy host is waited for before the trial runs flagged; `--quiet-wait` (in s) overrides it. */
export const DEFAULT_MAX_WAIT_MS = 20_000;

/** Overrides for {@link waitForQuietHost}; each unset field takes the DEFAULT_ constant above. */
export interface QuietHostOptions {
  /** Busy fraction of the whole host (0..1) above which it counts as busy. */
  busyThreshold?: number;
  /** Sample window in ms. */
  sampleMs?: number;
  /** Longest wait in ms before giving up and flagging the trial. */
  maxWaitMs?: number;
}

/**
 * Samples whole-host CPU busy over one sample window (~1 s) before a trial. A busy host is waited for,
 * one window after another; if it is still busy once `maxWaitMs` has passed, the trial runs anyway
 * and is flagged, with the figure kept in the results.
 *
 * @param options Threshold (fraction 0..1), window and longest wait in ms; unset fields take the defaults.
 * @param readCpuTimes Test seam: reads the host's cumulative CPU seconds at each end of a window.
 *   Default: /proc/stat ({@link readHostCpuTimes}). Its errors (no /proc/stat) are passed through.
 * @returns The last window's busy fraction (0..1), how long the host was waited for in ms, and
 *   whether the trial runs flagged.
 */
export async function waitForQuietHost(
  options: QuietHostOptions = {},
  readCpuTimes: () => Promise<HostCpuTimes> = readHostCpuTimes,
): Promise<QuietHostCheck> {
  const threshold = options.busyThreshold ?? DEFAULT_BUSY_THRESHOLD;
  const sampleMs = options.sampleMs ?? DEFAULT_SAMPLE_MS;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const started = performance.now();
  for (;;) {
    const before = await readCpuTimes();
    await sleep(sampleMs);
    const after = await readCpuTimes();
    const busyFraction = busyFractionBetween(before, after);
    const waitedMs = performance.now() - started - sampleMs;
    if (busyFraction <= threshold) return { busyFraction, waitedMs: Math.max(0, waitedMs), flagged: false };
    if (waitedMs + sampleMs >= maxWaitMs) return { busyFraction, waitedMs, flagged: true };
  }
}
