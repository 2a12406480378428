/**
 * Dirty traces: turning what is known about a workload's page writes into the `DirtyTrace` both
 * models run on. All of them are deterministic (the same input gives the same answers) and check
 * their input, throwing a RangeError that names the bad field.
 *
 * - `constantDirtyTrace`: a rate and, optionally, a writable working set (WWS) it stays inside.
 * - `dirtierTrace`: the same in the units of the migration suite's dirty workload (bytes per second,
 *   a WWS in bytes).
 * - `sampledDirtyTrace`: a step function of sampled rates (e.g. QMP `calc-dirty-rate` results).
 * - `wwsCurveTrace`: Clark's writable-working-set curve, pages dirtied against interval length.
 * - `traceFromMeasuredRounds`: QEMU's `query-migrate` polls of a real migration.
 */
import { requireFinite, requireNonNegative, requirePositive, type DirtyTrace } from './types.js';

function checkInterval(startMs: number, endMs: number): void {
  requireNonNegative('startMs', startMs);
  requireFinite('endMs', endMs);
  if (endMs < startMs) throw new RangeError(`endMs (${endMs}) must not be before startMs (${startMs})`);
}

function checkWorkingSet(workingSetPages: number | undefined): number {
  if (workingSetPages === undefined) return Infinity;
  return requirePositive('workingSetPages', workingSetPages);
}

/**
 * A workload that writes `pagesPerSecond` new pages every second, inside a working set of
 * `workingSetPages` pages when given: the distinct pages of an interval of length Δ are
 * `min(pagesPerSecond × Δ, workingSetPages)` (a dirtier sweeping its working set). Without a working
 * set the count grows without bound (the models cap it at guest memory).
 * Throws a RangeError for a negative or non-finite rate, or a working set that is not above 0.
 */
export function constantDirtyTrace(options: { pagesPerSecond: number; workingSetPages?: number }): DirtyTrace {
  const rate = requireNonNegative('pagesPerSecond', options.pagesPerSecond);
  const cap = checkWorkingSet(options.workingSetPages);
  return {
    description: `constant ${rate} pages/s${cap === Infinity ? '' : ` in a working set of ${cap} pages`}`,
    ...(cap === Infinity ? {} : { workingSetPages: cap }),
    pagesDirtied(startMs, endMs) {
      checkInterval(startMs, endMs);
      return Math.min((rate * (endMs - startMs)) / 1000, cap);
    },
  };
}

/**
 * The migration suite's dirty workload (issue 11: `--dirty-rate MiB/s`, `--wws MiB`) as a trace: it
 * rewrites `workingSetBytes` at `rateBytesPerSecond`. Both are converted to pages of `pageSizeBytes`.
 * Throws a RangeError for a rate below 0 or a working set or page size not above 0.
 */
export function dirtierTrace(options: { rateBytesPerSecond: number; workingSetBytes: number; pageSizeBytes: number }): DirtyTrace {
  const page = requirePositive('pageSizeBytes', options.pageSizeBytes);
  return constantDirtyTrace({
    pagesPerSecond: requireNonNegative('rateBytesPerSecond', options.rateBytesPerSecond) / page,
    workingSetPages: requirePositive('workingSetBytes', options.workingSetBytes) / page,
  });
}

/** One sample of a sampled dirty-rate trace. */
export interface DirtyRateSample {
  /** When this rate starts to apply, in ms from the start of the migration. */
  atMs: number;
  /** Pages written per second from `atMs` until the next sample's `atMs`. */
  pagesPerSecond: number;
}

/**
 * A step function of dirty rates: each sample's rate holds from its `atMs` to the next sample's (the
 * first sample's rate also before it, the last one's for ever after). The distinct pages of an interval
 * are the integral of the rate over it, capped at `workingSetPages` when given.
 * Samples must be in time order (equal times allowed: the later one wins) with finite times of 0 or
 * more and finite rates of 0 or more; an empty list, a sample out of order or a bad number throws a
 * RangeError naming the sample's index.
 */
export function sampledDirtyTrace(samples: readonly DirtyRateSample[], options: { workingSetPages?: number; description?: string } = {}): DirtyTrace {
  if (samples.length === 0) throw new RangeError('a sampled dirty trace needs at least one sample');
  samples.forEach((sample, index) => {
    requireNonNegative(`samples[${index}].atMs`, sample.atMs);
    requireNonNegative(`samples[${index}].pagesPerSecond`, sample.pagesPerSecond);
    const before = samples[index - 1];
    if (before !== undefined && sample.atMs < before.atMs) {
      throw new RangeError(`samples[${index}].atMs (${sample.atMs}) is before samples[${index - 1}].atMs (${before.atMs}): samples must be in time order`);
    }
  });
  // Later samples at the same time replace earlier ones; copy so later changes to the caller's array do not leak in.
  const steps: DirtyRateSample[] = [];
  for (const { atMs, pagesPerSecond } of samples) {
    if (steps.length > 0 && steps[steps.length - 1]!.atMs === atMs) steps[steps.length - 1] = { atMs, pagesPerSecond };
    else steps.push({ atMs, pagesPerSecond });
  }
  const cap = checkWorkingSet(options.workingSetPages);
  // Pages written from time 0 to time t: the integral of the step function.
  const cumulative = (t: number): number => {
    let pages = 0;
    for (let index = 0; index < steps.length; index++) {
      const from = index === 0 ? 0 : steps[index]!.atMs;
      const to = index + 1 < steps.length ? steps[index + 1]!.atMs : Infinity;
      if (t <= from) break;
      pages += (steps[index]!.pagesPerSecond * (Math.min(t, to) - from)) / 1000;
    }
    return pages;
  };
  return {
    description: options.description ?? `${steps.length} sampled dirty rates${cap === Infinity ? '' : ` in a working set of ${cap} pages`}`,
    ...(cap === Infinity ? {} : { workingSetPages: cap }),
    pagesDirtied(startMs, endMs) {
      checkInterval(startMs, endMs);
      if (endMs === startMs) return 0;
      return Math.min(Math.max(0, cumulative(endMs) - cumulative(startMs)), cap);
    },
  };
}

/** One point of a writable-working-set curve. */
export interface WwsPoint {
  /** Length of the interval, in ms. */
  intervalMs: number;
  /** Distinct pages written in an interval of that length. */
  pages: number;
}

/**
 * Clark et al.'s writable working set as a curve: the distinct pages a workload writes in an interval
 * of a given length (their "tracking the writable working set" measurements), the same wherever the
 * interval starts. Between points the curve is linear, from (0 ms, 0 pages) to the first point, and
 * flat after the last one, whose `pages` is the working set.
 * Points must have strictly increasing intervals above 0 and non-decreasing page counts of 0 or more;
 * otherwise a RangeError names the point.
 */
export function wwsCurveTrace(points: readonly WwsPoint[]): DirtyTrace {
  if (points.length === 0) throw new RangeError('a writable-working-set curve needs at least one point');
  points.forEach((point, index) => {
    requirePositive(`points[${index}].intervalMs`, point.intervalMs);
    requireNonNegative(`points[${index}].pages`, point.pages);
    const before = points[index - 1];
    if (before !== undefined && point.intervalMs <= before.intervalMs) {
      throw new RangeError(`points[${index}].intervalMs (${point.intervalMs}) must be longer than points[${index - 1}].intervalMs (${before.intervalMs})`);
    }
    if (before !== undefined && point.pages < before.pages) {
      throw new RangeError(`points[${index}].pages (${point.pages}) is below points[${index - 1}].pages (${before.pages}): a working-set curve never falls`);
    }
  });
  const curve = [{ intervalMs: 0, pages: 0 }, ...points.map(({ intervalMs, pages }) => ({ intervalMs, pages }))];
  const last = curve[curve.length - 1]!;
  return {
    description: `writable-working-set curve of ${points.length} points, ${last.pages} pages at ${last.intervalMs} ms`,
    ...(last.pages > 0 ? { workingSetPages: last.pages } : {}),
    pagesDirtied(startMs, endMs) {
      checkInterval(startMs, endMs);
      const length = endMs - startMs;
      if (length >= last.intervalMs) return last.pages;
      const upper = curve.findIndex((point) => point.intervalMs >= length);
      const high = curve[upper]!;
      const low = curve[upper - 1] ?? high;
      if (high.intervalMs === low.intervalMs) return high.pages;
      return low.pages + ((high.pages - low.pages) * (length - low.intervalMs)) / (high.intervalMs - low.intervalMs);
    },
  };
}

/**
 * One poll of QEMU's `query-migrate` during a migration, the fields the trace needs (the migration
 * suite maps its round records onto this): QMP's `ram.dirty-sync-count` and `ram.dirty-pages-rate`.
 */
export interface MeasuredRoundRecord {
  /** When the poll answered, in ms from the start of the migration. */
  atMs: number;
  /** `ram.dirty-sync-count`: how many times QEMU has synchronised the dirty bitmap so far. */
  dirtySyncCount: number;
  /** `ram.dirty-pages-rate`: pages dirtied per second, as QEMU last computed it (0 until it has). */
  dirtyPagesPerSecond: number;
}

/**
 * A dirty trace from a real migration's `query-migrate` polls. QEMU 7.2 recomputes
 * `dirty-pages-rate` at a bitmap sync once at least 1 s has passed since the last computation
 * (`migration_bitmap_sync` → `migration_update_rates` in migration/ram.c), as the pages newly dirtied
 * over that period divided by its length. So a new value, first seen in the poll at time t, describes
 * the period that started where the previous value was first seen (or at 0 for the first value): the
 * trace steps to each value at the start of the period it measured, and the last value holds after.
 * Leading polls with a rate of 0 are QEMU's "not computed yet" and are dropped; if every poll says 0 the
 * trace is zero. Records are sorted by time (then sync count) first, so their order does not matter.
 * A bad number throws a RangeError naming the record; an empty list throws too.
 *
 * Approximations to know: QEMU counts pages newly set in its bitmap, so a page re-dirtied before it is
 * sent is not counted again; the rate of the last period is held for ever; two periods with the same
 * value merge.
 */
export function traceFromMeasuredRounds(records: readonly MeasuredRoundRecord[], options: { workingSetPages?: number } = {}): DirtyTrace {
  if (records.length === 0) throw new RangeError('a trace from measured rounds needs at least one query-migrate record');
  records.forEach((record, index) => {
    requireNonNegative(`records[${index}].atMs`, record.atMs);
    requireNonNegative(`records[${index}].dirtySyncCount`, record.dirtySyncCount);
    requireNonNegative(`records[${index}].dirtyPagesPerSecond`, record.dirtyPagesPerSecond);
  });
  const sorted = [...records].sort((a, b) => a.atMs - b.atMs || a.dirtySyncCount - b.dirtySyncCount || a.dirtyPagesPerSecond - b.dirtyPagesPerSecond);
  const samples: DirtyRateSample[] = [];
  let periodStartMs = 0;
  let current: number | undefined;
  for (const record of sorted) {
    if (current === undefined && record.dirtyPagesPerSecond === 0) continue;
    if (record.dirtyPagesPerSecond !== current) {
      samples.push({ atMs: periodStartMs, pagesPerSecond: record.dirtyPagesPerSecond });
      periodStartMs = record.atMs;
      current = record.dirtyPagesPerSecond;
    }
  }
  if (samples.length === 0) samples.push({ atMs: 0, pagesPerSecond: 0 });
  return sampledDirtyTrace(samples, {
    ...options,
    description: `${records.length} query-migrate records, ${samples.length} dirty-rate periods`,
  });
}
