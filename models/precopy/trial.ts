/**
 * Both pre-copy models run on what one measured migration trial observed (issue 12): the trial's
 * link rate, downtime limit, harness limits and guest memory, and a dirty trace built from what the
 * trial measured. The result is plain data, stored beside the trial (results/migration.ts,
 * `MigrationPredictions`) and recomputed on read for files written before predictions existed.
 *
 * Which dirty trace, and why:
 * - `dirty` workload: the dirtier's own account — the rate it reported over its whole run
 *   (`achievedMiBs`, pages it wrote × page size / seconds; the requested rate when the report could not
 *   be read and the request was not "flat out") inside its known writable working set (`wwsMiB`):
 *   `dirtierTrace`, distinct pages in Δ = min(rate × Δ, WWS). Not QEMU's `dirty-pages-rate`, because
 *   QEMU counts pages *newly* set in its bitmap between syncs at least 1 s apart: once a round is
 *   longer than the time the dirtier takes to sweep its set, QEMU reads WWS / period (the fixture's
 *   flat-out dirtier wrote 27 GiB/s of page writes into 128 MiB; QEMU read 64 MiB/s), so the polls
 *   understate the rate and lose the set's size.
 * - `idle` and `web`: nothing but QEMU knows what the guest writes, so `traceFromMeasuredRounds` on
 *   the `query-migrate` polls (each `dirty-pages-rate` placed at the start of the period QEMU measured
 *   it over); a trial whose polls never gave a rate is predicted with no dirtying at all and says so.
 *
 * Inputs taken from the trial, each named in `inputs`:
 * - guest memory: QEMU's `ram.total` (all RAM blocks, bytes), rounded down to whole pages;
 * - link rate: `max-bandwidth`; QEMU's rule runs at it; Clark's maximum rate is it, and its minimum
 *   and increment keep Xen's proportions (100 and 50 of 500 Mbit/s: 1/5 and 1/10 of the maximum);
 * - downtime limit (QEMU's rule only; Clark's algorithm has none), and the harness's time and round
 *   limits (QEMU's rule: the trial cancels there; Clark keeps Xen's 29 rounds and 3 × memory);
 * - zero pages (QEMU's rule only: QEMU sends a zero page as a header, Xen 2005 sent every page): the
 *   share of memory the measured first pass did not send, 1 − round 1's bytes / `ram.total`, when a
 *   second round shows the first pass finished; else 0. It describes the guest's memory, not the
 *   algorithm, but it is read from the trial itself, so round 1's bytes agree by construction.
 */
import { CLARK_DEFAULTS, predictClark } from './clark.js';
import { predictQemu } from './qemu.js';
import { constantDirtyTrace, dirtierTrace, traceFromMeasuredRounds } from './trace.js';
import { DEFAULT_PAGE_SIZE_BYTES, type DirtyTrace, type PrecopyPrediction, type PrecopyStopReason } from './types.js';

const MIB = 1_048_576;

/**
 * What a measured trial observed, the fields the models need: a structural subset of the migration
 * suite's trial detail (results/migration.ts `MigrationTrialDetail`), so models/ needs no import of it.
 */
export interface ObservedMigrationTrial {
  /** `precopy`, `auto-converge`, `xbzrle`, `multifd` or `postcopy`: only plain pre-copy is modelled. */
  variant: string;
  settings: { maxBandwidthMiBs: number; downtimeLimitMs: number; timeLimitMs: number; roundLimit: number };
  /** `ramBytes`: QEMU's `ram.total`, bytes; null when QEMU never answered with it. */
  qemu: { ramBytes: number | null };
  /** The measured rounds in order (bytes sent, and the phase). */
  rounds: ReadonlyArray<{ round: number; sentBytes: number; phase: string }>;
  /** The `query-migrate` polls: ms since the start, `dirty-sync-count`, `dirty-pages-rate` (pages/s). */
  samples: ReadonlyArray<{ tMs: number; syncCount: number | null; dirtyPagesRate: number | null }>;
  /** `dirty` workload only: the dirtier's working set (MiB), requested and reported rates (MiB/s; 0 requested = flat out). */
  dirty?: { wwsMiB: number; requestedMiBs: number; achievedMiBs: number | null } | undefined;
}

/** One predicted round as stored: when it starts and how long it lasts (ms from the start), bytes it sends, its rate limit (bytes/s). */
export interface StoredPredictedRound {
  round: number;
  kind: 'pre-copy' | 'stop-and-copy';
  startMs: number;
  durationMs: number;
  sentBytes: number;
  rateLimitBytesPerSecond: number;
}

/** One model's prediction for a trial, as stored (see `PrecopyPrediction` for each field's meaning). */
export interface StoredPrediction {
  model: 'clark' | 'qemu';
  stopReason: PrecopyStopReason;
  switchedOver: boolean;
  /** Rounds sent while the guest ran (the stop-and-copy not counted). */
  precopyRounds: number;
  /** ms, downtime included. */
  totalTimeMs: number;
  /** ms; null when the migration would be cancelled. */
  downtimeMs: number | null;
  totalBytes: number;
  rounds: StoredPredictedRound[];
}

/** Where the trace came from (see the module comment). */
export interface StoredTraceSource {
  source: 'dirtier' | 'query-migrate' | 'none';
  /** In words, e.g. `the dirtier's reported 47.9 MiB/s in its 64 MiB working set`. */
  description: string;
  /** The rate the trace starts with, bytes per second (for `query-migrate`, its first non-zero rate; 0 for `none`). */
  dirtyBytesPerSecond: number;
  /** The writable working set, bytes, when known (the dirtier's). */
  workingSetBytes: number | null;
}

/** The model inputs taken from the trial (see the module comment). */
export interface StoredPredictionInputs {
  memoryBytes: number;
  pageSizeBytes: number;
  bandwidthBytesPerSecond: number;
  downtimeLimitMs: number;
  timeLimitMs: number;
  roundLimit: number;
  zeroPageFraction: number;
  clarkMinRateBytesPerSecond: number;
  clarkMaxRateBytesPerSecond: number;
  clarkRateIncrementBytesPerSecond: number;
}

/** Both models' predictions for one trial, or why there are none. */
export type TrialPredictions =
  | { kind: 'predicted'; trace: StoredTraceSource; inputs: StoredPredictionInputs; clark: StoredPrediction; qemu: StoredPrediction }
  | { kind: 'not-predicted'; reason: string };

/** The rate a dirtier trace uses, MiB/s, or null when the trial gives none (flat out and no report). */
function dirtierRateMiBs(dirty: NonNullable<ObservedMigrationTrial['dirty']>): number | null {
  if (dirty.achievedMiBs !== null) return dirty.achievedMiBs;
  return dirty.requestedMiBs > 0 ? dirty.requestedMiBs : null;
}

/** The trace for a trial and its description (see the module comment for the choice). */
export function traceForTrial(trial: ObservedMigrationTrial, pageSizeBytes = DEFAULT_PAGE_SIZE_BYTES): { trace: DirtyTrace; source: StoredTraceSource } {
  const rate = trial.dirty ? dirtierRateMiBs(trial.dirty) : null;
  if (trial.dirty && rate !== null) {
    const workingSetBytes = trial.dirty.wwsMiB * MIB;
    const reported = trial.dirty.achievedMiBs !== null;
    return {
      trace: dirtierTrace({ rateBytesPerSecond: rate * MIB, workingSetBytes, pageSizeBytes }),
      source: {
        source: 'dirtier',
        description: `the dirtier's ${reported ? 'reported' : 'requested'} ${rate.toFixed(1)} MiB/s in its ${trial.dirty.wwsMiB} MiB working set`,
        dirtyBytesPerSecond: rate * MIB,
        workingSetBytes,
      },
    };
  }
  const records = trial.samples.flatMap((sample) =>
    sample.tMs >= 0 && sample.syncCount !== null && sample.dirtyPagesRate !== null ? [{ atMs: sample.tMs, dirtySyncCount: sample.syncCount, dirtyPagesPerSecond: sample.dirtyPagesRate }] : [],
  );
  const firstRate = records.find((record) => record.dirtyPagesPerSecond > 0)?.dirtyPagesPerSecond ?? 0;
  if (firstRate === 0) {
    return {
      trace: constantDirtyTrace({ pagesPerSecond: 0 }),
      source: { source: 'none', description: 'no dirtying: QEMU\'s dirty-pages-rate was 0 or absent in every poll', dirtyBytesPerSecond: 0, workingSetBytes: null },
    };
  }
  const rates = [...new Set(records.map((record) => record.dirtyPagesPerSecond).filter((value) => value > 0))];
  return {
    trace: traceFromMeasuredRounds(records),
    source: {
      source: 'query-migrate',
      description: `QEMU's dirty-pages-rate from ${records.length} query-migrate polls (${Math.min(...rates)}–${Math.max(...rates)} pages/s)`,
      dirtyBytesPerSecond: firstRate * pageSizeBytes,
      workingSetBytes: null,
    },
  };
}

function stored(prediction: PrecopyPrediction): StoredPrediction {
  return {
    model: prediction.model,
    stopReason: prediction.stopReason,
    switchedOver: prediction.switchedOver,
    precopyRounds: prediction.precopyRounds,
    totalTimeMs: prediction.totalTimeMs,
    downtimeMs: prediction.downtimeMs,
    totalBytes: prediction.totalBytesSent,
    rounds: prediction.rounds.map((round) => ({
      round: round.round,
      kind: round.kind,
      startMs: round.startMs,
      durationMs: round.durationMs,
      sentBytes: round.bytesSent,
      rateLimitBytesPerSecond: round.rateLimitBytesPerSecond,
    })),
  };
}

/**
 * Clark's and QEMU's predictions for a measured trial (see the module comment for every input).
 * A trial it cannot predict gives `not-predicted` with the reason: a variant other than plain
 * pre-copy, no `ram.total` from QEMU, or a model's RangeError on the trial's numbers. Any other error
 * is a bug and is thrown.
 */
export function predictMigrationTrial(trial: ObservedMigrationTrial): TrialPredictions {
  if (trial.variant !== 'precopy') return { kind: 'not-predicted', reason: `the models describe plain pre-copy; this trial ran the ${trial.variant} variant` };
  if (trial.qemu.ramBytes === null || trial.qemu.ramBytes <= 0) return { kind: 'not-predicted', reason: 'QEMU never reported ram.total, so the guest memory is unknown' };
  const pageSizeBytes = DEFAULT_PAGE_SIZE_BYTES;
  const memoryBytes = Math.floor(trial.qemu.ramBytes / pageSizeBytes) * pageSizeBytes;
  const bandwidthBytesPerSecond = trial.settings.maxBandwidthMiBs * MIB;
  const [first, second] = trial.rounds;
  const zeroPageFraction = first && second ? Math.min(1, Math.max(0, 1 - first.sentBytes / memoryBytes)) : 0;
  // Xen's proportions: start at 100 and add 50 of its 500 Mbit/s maximum.
  const scale = bandwidthBytesPerSecond / CLARK_DEFAULTS.maxRateBytesPerSecond;
  const inputs: StoredPredictionInputs = {
    memoryBytes,
    pageSizeBytes,
    bandwidthBytesPerSecond,
    downtimeLimitMs: trial.settings.downtimeLimitMs,
    timeLimitMs: trial.settings.timeLimitMs,
    roundLimit: trial.settings.roundLimit,
    zeroPageFraction,
    clarkMinRateBytesPerSecond: CLARK_DEFAULTS.minRateBytesPerSecond * scale,
    clarkMaxRateBytesPerSecond: bandwidthBytesPerSecond,
    clarkRateIncrementBytesPerSecond: CLARK_DEFAULTS.rateIncrementBytesPerSecond * scale,
  };
  try {
    const { trace, source } = traceForTrial(trial, pageSizeBytes);
    const clark = predictClark(
      {
        memoryBytes,
        pageSizeBytes,
        minRateBytesPerSecond: inputs.clarkMinRateBytesPerSecond,
        maxRateBytesPerSecond: inputs.clarkMaxRateBytesPerSecond,
        rateIncrementBytesPerSecond: inputs.clarkRateIncrementBytesPerSecond,
      },
      trace,
    );
    const qemu = predictQemu(
      {
        memoryBytes,
        pageSizeBytes,
        bandwidthBytesPerSecond,
        downtimeLimitMs: inputs.downtimeLimitMs,
        maxDirtySyncCount: inputs.roundLimit,
        maxTimeMs: inputs.timeLimitMs,
        zeroPageFraction,
      },
      trace,
    );
    return { kind: 'predicted', trace: source, inputs, clark: stored(clark), qemu: stored(qemu) };
  } catch (error) {
    if (error instanceof RangeError) return { kind: 'not-predicted', reason: `a model refused the trial's inputs: ${error.message}` };
    throw error;
  }
}
