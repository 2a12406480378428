/**
 * Shapes shared by the two pre-copy models (`clark.ts`, `qemu.ts`) and the dirty traces they run on
 * (`trace.ts`), and the checks every model input goes through.
 *
 * Units are in the names: bytes, pages, milliseconds (`Ms`), bytes per second. Page counts are real
 * numbers, not rounded: a model predicts expected values (a dirty rate of 400 pages/s over 0.08 s is
 * 32 pages, over 0.081 s it is 32.4).
 */

/**
 * Why a model's pre-copy phase ended.
 * - `converged`: QEMU's rule — the pages left after a bitmap sync fit the downtime limit
 *   (remaining bytes < bandwidth × downtime limit); the guest is switched over.
 * - `few-pages`: Clark's rule — fewer pages than the threshold are left to send; stop-and-copy follows.
 * - `rate-cap`: Clark's rule — the guest dirties memory faster than the maximum rate; stop-and-copy follows.
 * - `round-limit`: Clark — the maximum number of pre-copy rounds was reached, stop-and-copy follows;
 *   QEMU — the harness's round limit was passed (QEMU 7.2 has none of its own) and the migration is
 *   cancelled: no switch-over, no downtime.
 * - `volume-limit`: Clark — more than the given multiple of guest memory has been sent; stop-and-copy follows.
 * - `time-limit`: QEMU — the harness's time limit was reached and the migration is cancelled.
 */
export type PrecopyStopReason = 'converged' | 'few-pages' | 'rate-cap' | 'round-limit' | 'volume-limit' | 'time-limit';

/** One predicted round, common to both models. */
export interface PredictedRound {
  /** 1-based round number (for QEMU, the `dirty-sync-count` while the round runs). */
  round: number;
  /** `pre-copy` while the guest runs; `stop-and-copy` is the last round, sent with the guest paused. */
  kind: 'pre-copy' | 'stop-and-copy';
  /** When the round starts, in ms from the start of the migration (after QEMU's setup). */
  startMs: number;
  /** How long the round lasts, in ms; for the stop-and-copy round this is the downtime. */
  durationMs: number;
  /** Bytes put on the wire in this round (page contents; protocol headers are not counted). */
  bytesSent: number;
  /** Distinct pages the guest dirtied while this round ran (0 in the stop-and-copy round). */
  pagesDirtiedDuring: number;
  /** The rate the sender was held to in this round, in bytes per second. */
  rateLimitBytesPerSecond: number;
}

/** A model's whole prediction for one migration. */
export interface PrecopyPrediction<Round extends PredictedRound = PredictedRound> {
  /** Which model produced it. */
  model: 'clark' | 'qemu';
  /** The pre-copy rounds in order, then the stop-and-copy round when the guest was switched over. */
  rounds: Round[];
  /** How many of `rounds` are pre-copy rounds. */
  precopyRounds: number;
  /** Why the pre-copy phase ended. */
  stopReason: PrecopyStopReason;
  /** Whether the guest moved: false only when the harness cancelled a QEMU migration at its limit. */
  switchedOver: boolean;
  /** From the start of the first round to the end of the last one (the downtime included), in ms. */
  totalTimeMs: number;
  /** The stop-and-copy round's duration plus the fixed switch-over overhead, in ms; null when cancelled. */
  downtimeMs: number | null;
  /** Bytes sent in all rounds. */
  totalBytesSent: number;
}

/**
 * How many distinct guest pages were written in a time interval: the only thing the models ask of a
 * workload. Built by `trace.ts` from a constant rate, sampled rates, a writable-working-set curve or
 * measured QEMU rounds.
 */
export interface DirtyTrace {
  /** One line saying what the trace was built from, for figures and error messages. */
  readonly description: string;
  /**
   * The writable working set (hot pages the workload keeps rewriting), in pages, when known. The Clark
   * model uses it to estimate how many pages of a round are re-dirtied before they are sent (Xen skips
   * those); unknown means "spread over all of memory".
   */
  readonly workingSetPages?: number;
  /**
   * Distinct pages written in `[startMs, endMs)`, times in ms from the start of the migration:
   * 0 when the two are equal, never decreasing as `endMs` grows. Not capped at guest memory (the
   * models cap it). Throws a RangeError when `startMs` is negative, not finite or after `endMs`.
   */
  pagesDirtied(startMs: number, endMs: number): number;
}

/** Throws a RangeError unless `value` is a finite number. */
export function requireFinite(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${String(value)}`);
  return value;
}

/** Throws a RangeError unless `value` is a finite number above 0. */
export function requirePositive(name: string, value: number): number {
  requireFinite(name, value);
  if (value <= 0) throw new RangeError(`${name} must be above 0, got ${value}`);
  return value;
}

/** Throws a RangeError unless `value` is a finite number of 0 or more. */
export function requireNonNegative(name: string, value: number): number {
  requireFinite(name, value);
  if (value < 0) throw new RangeError(`${name} must be 0 or more, got ${value}`);
  return value;
}

/** Throws a RangeError unless `value` is a whole number of at least `minimum` (default 1). */
export function requireInteger(name: string, value: number, minimum = 1): number {
  if (!Number.isSafeInteger(value) || value < minimum) throw new RangeError(`${name} must be a whole number of at least ${minimum}, got ${String(value)}`);
  return value;
}

/**
 * Guest memory in pages: `memoryBytes / pageSizeBytes`, both checked. Throws a RangeError when either
 * is not a positive whole number or memory is not a whole number of pages.
 */
export function memoryPages(memoryBytes: number, pageSizeBytes: number): number {
  requireInteger('memoryBytes', memoryBytes);
  requireInteger('pageSizeBytes', pageSizeBytes);
  if (memoryBytes % pageSizeBytes !== 0) {
    throw new RangeError(`memoryBytes (${memoryBytes}) must be a whole number of pages of ${pageSizeBytes} bytes`);
  }
  return memoryBytes / pageSizeBytes;
}

/** Checks a trace's answer for one interval: a finite number of pages, 0 or more. */
export function checkedPagesDirtied(trace: DirtyTrace, startMs: number, endMs: number): number {
  const pages = trace.pagesDirtied(startMs, endMs);
  if (!Number.isFinite(pages) || pages < 0) {
    throw new RangeError(`the dirty trace (${trace.description}) answered ${String(pages)} pages for [${startMs}, ${endMs}) ms: it must be a finite number of 0 or more`);
  }
  return pages;
}

/** x86's page size, and QEMU's TARGET_PAGE_SIZE on x86 (4 KiB): the default `pageSizeBytes` of both models. */
export const DEFAULT_PAGE_SIZE_BYTES = 4096;
