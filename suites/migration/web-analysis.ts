import type { WebTimeline } from '../../results/migration.js';
import type { LoadReport } from './client/reports.js';
import { relativeMs } from './probe-analysis.js';

/**
 * Clark's web figure in numbers: from requests completed per bucket, the pre-migration rate, the
 * blackout (no request completes) and the brownout (under half the pre-migration rate).
 */

/** A bucket below this share of the pre-migration rate counts towards the brownout (issue 11: "below half"). */
export const BROWNOUT_SHARE = 0.5;

/** What webImpact found; every figure null when the load had no pre-migration completions to compare with. */
export interface WebImpact {
  /** Requests per second over the pre-migration window. */
  baselinePerSecond: number | null;
  /** ms of the longest run of buckets with no completion, from the migration's start to the window's end. */
  blackoutMs: number | null;
  /** ms of all buckets below BROWNOUT_SHARE of the baseline rate in that span (blackout buckets included). */
  brownoutMs: number | null;
}

/**
 * @param load The client's buckets.
 * @param baseline The pre-migration window, epoch ms: buckets wholly inside it make the baseline.
 * @param affected From the migration's start to the end of the watch after it, epoch ms: the whole
 *   buckets that overlap it are judged (the client's last, cut-short bucket never counts as empty).
 */
export function webImpact(load: LoadReport, baseline: { fromMs: number; toMs: number }, affected: { fromMs: number; toMs: number }): WebImpact {
  const { bucketMs } = load;
  const bucketStart = (index: number) => load.startedAtMs + index * bucketMs;
  const inside = load.completed.flatMap((value, index) => (bucketStart(index) >= baseline.fromMs && bucketStart(index) + bucketMs <= baseline.toMs ? [value] : []));
  if (inside.length === 0) return { baselinePerSecond: null, blackoutMs: null, brownoutMs: null };
  const perBucket = inside.reduce((sum, value) => sum + value, 0) / inside.length;
  if (perBucket === 0) return { baselinePerSecond: 0, blackoutMs: null, brownoutMs: null };
  let longestEmpty = 0;
  let empty = 0;
  let brownout = 0;
  // The last bucket of the report is partial (the client stopped inside it): judge only whole buckets.
  const whole = Math.floor((load.endedAtMs - load.startedAtMs) / bucketMs);
  for (let index = 0; index < Math.min(whole, load.completed.length); index++) {
    const start = bucketStart(index);
    if (start + bucketMs <= affected.fromMs || start >= affected.toMs) continue;
    const value = load.completed[index] ?? 0;
    if (value === 0) {
      empty += bucketMs;
      longestEmpty = Math.max(longestEmpty, empty);
    } else empty = 0;
    if (value < BROWNOUT_SHARE * perBucket) brownout += bucketMs;
  }
  return { baselinePerSecond: (perBucket * 1000) / bucketMs, blackoutMs: longestEmpty, brownoutMs: brownout };
}

/**
 * The web client's part of a trial's record (QEMU, libvirt and container trials): its buckets, with
 * times relative to `affected.fromMs`, and webImpact over `affected`; undefined without a web client.
 */
export function webTimeline(load: LoadReport | null | undefined, baseline: { fromMs: number; toMs: number }, affected: { fromMs: number; toMs: number }, command: string[]): WebTimeline | undefined {
  if (!load) return undefined;
  return {
    bucketMs: load.bucketMs,
    firstBucketMs: relativeMs(load.startedAtMs, affected.fromMs),
    completed: load.completed,
    failed: load.failed,
    connections: load.connections,
    ...webImpact(load, baseline, affected),
    command,
  };
}
