/**
 * Clark et al.'s pre-copy with dynamic rate limiting (NSDI 2005), as a model: given guest memory, a
 * dirty trace and the limits, it predicts each round's rate, duration and bytes, the stop reason, the
 * total time and the downtime.
 *
 * The algorithm (the paper as summarised in `shared/reference/`, and Xen's `xc_linux_save.c` of the
 * time): round 1 sends all of memory at the minimum rate; each round sends the pages dirtied during
 * the round before; after each round the rate limit becomes that round's dirty rate plus an increment,
 * capped at the maximum; pre-copy stops when few pages remain, when the dirty rate exceeds the
 * maximum, after a number of rounds, or once more than a multiple of memory has been sent; then the
 * guest is paused and the last dirty pages are sent (stop-and-copy).
 *
 * Sources of the defaults (Xen's rate unit, "Mbit/s", is 2^20 bit/s = 131072 bytes/s: its throttle
 * sends BURST_BUDGET = 100 KiB every RATE_TO_BTU / rate = 781250 / rate µs, and the comment above
 * RATE_TO_BTU derives 781250 from 1024 × 1024 bits):
 * - minimum 100, maximum 500, increment 50 Mbit/s: `shared/reference/papers.json` (clark2005.rate_limit_mbit_s);
 *   in xen-project/xen `tools/libxc/xc_linux_save.c` at e4c215974f (11 April 2005, Xen 2.0 as the paper
 *   was published) `#define MAX_MBIT_RATE 500`, the `+ 50` in `print_stats()`, and the start rate
 *   `#define START_MBIT_RATE ioctxt->resource` (the `xm migrate --resource MBIT` option, default 0 = no
 *   limit); `#define START_MBIT_RATE 100` appears in the same file at 7962b47d8b (8 Nov 2005, Xen 3.0).
 * - 50 pages: `(sent_this_iter+skip_this_iter < 50)` in the stop test of the same file (the paper: 256 KB).
 * - 29 pre-copy rounds: `int max_iters = 29;` commented "limit us to 30 times round loop" (e4c215974f), later
 *   `#define DEF_MAX_ITERS 29`: the 30th pass is the stop-and-copy.
 * - 3 × memory: `int max_factor = 3;` commented "never send more than 3x nr_pfns", later `DEF_MAX_FACTOR 3`.
 * - the stop-and-copy at the maximum rate: the paper's account of dynamic rate limiting (not quoted in
 *   `shared/reference/`); `xc_linux_save.c` keeps the rate `print_stats()` set last (see `rules`).
 *
 * What the model leaves out: Xen's fix-up pages, page-table canonicalisation, CPU time of the scan and
 * the shadow-table flush, and the 4.9 % gap between the decimal Mbit/s `print_stats()` measures dirtying
 * in and the binary Mbit/s its throttle sends at (both are bytes per second here).
 */
import {
  checkedPagesDirtied,
  DEFAULT_PAGE_SIZE_BYTES,
  memoryPages,
  requireInteger,
  requireNonNegative,
  requirePositive,
  type DirtyTrace,
  type PrecopyPrediction,
  type PrecopyStopReason,
  type PredictedRound,
} from './types.js';

/** Xen's "Mbit/s" in bytes per second: 2^20 bits / 8 (`RATE_TO_BTU` in xc_linux_save.c). */
export const XEN_MBIT_BYTES_PER_SECOND = 131072;

/** Clark's defaults, each from the source named in this module's comment. */
export const CLARK_DEFAULTS = {
  /** 4 KiB x86 pages. */
  pageSizeBytes: DEFAULT_PAGE_SIZE_BYTES,
  /** 100 Mbit/s (Xen units): the first round's rate and the floor. */
  minRateBytesPerSecond: 100 * XEN_MBIT_BYTES_PER_SECOND,
  /** 500 Mbit/s: `MAX_MBIT_RATE`. */
  maxRateBytesPerSecond: 500 * XEN_MBIT_BYTES_PER_SECOND,
  /** 50 Mbit/s: added to the last round's dirty rate (`print_stats()`). */
  rateIncrementBytesPerSecond: 50 * XEN_MBIT_BYTES_PER_SECOND,
  /** Stop when fewer than 50 pages are left (`sent_this_iter+skip_this_iter < 50`). */
  fewPagesThresholdPages: 50,
  /** At most 29 pre-copy rounds (`max_iters` / `DEF_MAX_ITERS`). */
  maxPrecopyRounds: 29,
  /** Stop once more than 3 × memory has been sent (`max_factor` / `DEF_MAX_FACTOR`). */
  maxVolumeFactor: 3,
  /** No fixed cost is added to the downtime unless given. */
  stopAndCopyOverheadMs: 0,
  /** Xen skips a page that is dirty again before its turn comes (the `to_skip` bitmap). */
  skipRedirtied: true,
  /** The paper's rules (see `ClarkParameters.rules`). */
  rules: 'paper',
} as const;

/**
 * Inputs of the Clark model. Only `memoryBytes` is required; every other field defaults to
 * `CLARK_DEFAULTS`.
 */
export interface ClarkParameters {
  /** Guest memory in bytes: a whole number of pages. */
  memoryBytes: number;
  /** Page size in bytes (default 4096). */
  pageSizeBytes?: number;
  /** The first round's rate and, under the paper's rules, the lowest rate (default 100 Xen Mbit/s). */
  minRateBytesPerSecond?: number;
  /** The highest rate; a dirty rate above it stops pre-copy (default 500 Xen Mbit/s). */
  maxRateBytesPerSecond?: number;
  /** Added to the last round's dirty rate to give the next round's rate (default 50 Xen Mbit/s). */
  rateIncrementBytesPerSecond?: number;
  /** Pre-copy stops when fewer pages than this are left (default 50). */
  fewPagesThresholdPages?: number;
  /** Pre-copy stops after this many rounds (default 29; the stop-and-copy is one more). */
  maxPrecopyRounds?: number;
  /** Pre-copy stops once more than this many times guest memory has been sent (default 3). */
  maxVolumeFactor?: number;
  /**
   * The stop-and-copy round's rate. Default: the maximum rate under the paper's rules; under
   * `xc_linux_save` the rate `print_stats()` set after the last pre-copy round.
   */
  stopAndCopyRateBytesPerSecond?: number;
  /** A fixed cost added to the downtime (CPU state, device state, ARP), in ms (default 0). */
  stopAndCopyOverheadMs?: number;
  /**
   * Whether a page dirtied again during a round, before the sender reaches it, is skipped in that
   * round (it is sent in the next). Xen does (`to_skip`); default true. The model assumes the
   * workload's writes land uniformly on its working set (`trace.workingSetPages`, all of memory
   * when unknown) and that the sender visits the pages to send in random order (Xen's `permute()`).
   */
  skipRedirtied?: boolean;
  /**
   * Which reading of the algorithm:
   * - `paper` (default): next rate = clamp(dirty rate + increment, minimum, maximum); stop when the
   *   pages dirtied during the round (the ones left to send) are fewer than the threshold, or when the
   *   round's dirty rate is above the maximum; stop-and-copy at the maximum rate.
   * - `xc_linux_save`: Xen 2.0's code — the rate only rises, and only when the dirty rate is above it
   *   (`if (dirty > mbit_rate) mbit_rate = dirty + 50`, capped); the few-pages test is on the pages the
   *   round just handled (sent + skipped < 50); the rate stop is "sent more this round than last while
   *   at the maximum rate"; stop-and-copy at the rate set last.
   */
  rules?: 'paper' | 'xc_linux_save';
}

/** One round of the Clark model's prediction. */
export interface ClarkRound extends PredictedRound {
  /** Pages that were due in this round but skipped because the guest had dirtied them again (0 in stop-and-copy). */
  pagesSkipped: number;
  /** This round's dirty rate, `pagesDirtiedDuring` × page size / duration, in bytes per second (0 for a round of no time). */
  dirtyRateBytesPerSecond: number;
}

/** Steps of the scan integration per round when pages can be skipped (see `sendRound`). */
const SCAN_STEPS = 4096;

/** Floating-point noise allowed when a dirty rate is compared with the maximum (relative). */
const RATE_EPSILON = 1e-9;

/**
 * Predicts a migration under Clark et al.'s pre-copy with dynamic rate limiting.
 * Throws a RangeError for a parameter out of range (named in the message) or a trace answering a
 * negative or non-finite page count.
 */
export function predictClark(parameters: ClarkParameters, trace: DirtyTrace): PrecopyPrediction<ClarkRound> {
  const p = checkParameters(parameters);
  const totalPages = memoryPages(parameters.memoryBytes, p.pageSizeBytes);
  const hotPages = Math.min(totalPages, trace.workingSetPages ?? totalPages);
  const dirtied = (startMs: number, endMs: number) => Math.min(totalPages, checkedPagesDirtied(trace, startMs, endMs));

  const rounds: ClarkRound[] = [];
  let rate = p.minRateBytesPerSecond;
  let pagesToSend = totalPages;
  // Of the pages due in round 1 (all of memory) only the working set can be re-dirtied; later rounds send only dirtied pages.
  let hotFraction = hotPages / totalPages;
  let startMs = 0;
  let pagesSentTotal = 0;
  let pagesSentLastRound = Infinity; // xc_linux_save starts sent_last_iter at 1<<20 pages (4 GB): round 1 never "sent more".

  for (let round = 1; ; round++) {
    const ratePagesPerSecond = rate / p.pageSizeBytes;
    const { durationMs, pagesSent } = sendRound(pagesToSend, ratePagesPerSecond, startMs, p.skipRedirtied ? { hotFraction, hotPages, dirtied } : undefined);
    const pagesDirtiedDuring = dirtied(startMs, startMs + durationMs);
    const dirtyRateBytesPerSecond = durationMs > 0 ? (pagesDirtiedDuring * p.pageSizeBytes * 1000) / durationMs : 0;
    rounds.push({
      round,
      kind: 'pre-copy',
      startMs,
      durationMs,
      bytesSent: pagesSent * p.pageSizeBytes,
      pagesDirtiedDuring,
      rateLimitBytesPerSecond: rate,
      pagesSkipped: pagesToSend - pagesSent,
      dirtyRateBytesPerSecond,
    });
    pagesSentTotal += pagesSent;
    startMs += durationMs;

    const aboveMaximum = dirtyRateBytesPerSecond > p.maxRateBytesPerSecond * (1 + RATE_EPSILON);
    const nextRate =
      p.rules === 'paper'
        ? Math.min(p.maxRateBytesPerSecond, Math.max(p.minRateBytesPerSecond, dirtyRateBytesPerSecond + p.rateIncrementBytesPerSecond))
        : dirtyRateBytesPerSecond > rate
          ? Math.min(p.maxRateBytesPerSecond, dirtyRateBytesPerSecond + p.rateIncrementBytesPerSecond)
          : rate;
    const stopReason = ((): PrecopyStopReason | undefined => {
      if (p.rules === 'paper') {
        if (pagesDirtiedDuring < p.fewPagesThresholdPages) return 'few-pages';
        if (aboveMaximum) return 'rate-cap';
      } else {
        if (pagesToSend < p.fewPagesThresholdPages) return 'few-pages';
        if (pagesSent > pagesSentLastRound && rate >= p.maxRateBytesPerSecond) return 'rate-cap';
      }
      if (round >= p.maxPrecopyRounds) return 'round-limit';
      if (pagesSentTotal > p.maxVolumeFactor * totalPages) return 'volume-limit';
      return undefined;
    })();

    if (stopReason !== undefined) {
      const stopRate = parameters.stopAndCopyRateBytesPerSecond ?? (p.rules === 'paper' ? p.maxRateBytesPerSecond : nextRate);
      const copyMs = (pagesDirtiedDuring * p.pageSizeBytes * 1000) / stopRate;
      rounds.push({
        round: round + 1,
        kind: 'stop-and-copy',
        startMs,
        durationMs: copyMs,
        bytesSent: pagesDirtiedDuring * p.pageSizeBytes,
        pagesDirtiedDuring: 0,
        rateLimitBytesPerSecond: stopRate,
        pagesSkipped: 0,
        dirtyRateBytesPerSecond: 0,
      });
      const downtimeMs = copyMs + p.stopAndCopyOverheadMs;
      return {
        model: 'clark',
        rounds,
        precopyRounds: round,
        stopReason,
        switchedOver: true,
        totalTimeMs: startMs + downtimeMs,
        downtimeMs,
        totalBytesSent: (pagesSentTotal + pagesDirtiedDuring) * p.pageSizeBytes,
      };
    }
    rate = nextRate;
    pagesToSend = pagesDirtiedDuring;
    hotFraction = 1;
    pagesSentLastRound = pagesSent;
  }
}

/**
 * One pre-copy round: `pagesToSend` pages at `ratePagesPerSecond`. Without skipping it lasts
 * pagesToSend / rate. With skipping, a page due in the round is skipped when the guest has dirtied it
 * again before the sender gets to it: with the writes spread uniformly over `hotPages` and the sender
 * visiting the due pages in random order, the chance at time τ into the round is
 * q(τ) = hotFraction × min(1, dirtied(τ) / hotPages). The sender sends at the rate and skips for free,
 * so it gets through due pages at rate / (1 − q(τ)): dτ/dn = (1 − q(τ)) / rate over the n due pages.
 * That is integrated over n in `SCAN_STEPS` midpoint steps; pages sent = rate × duration.
 */
function sendRound(
  pagesToSend: number,
  ratePagesPerSecond: number,
  startMs: number,
  skip: { hotFraction: number; hotPages: number; dirtied: (startMs: number, endMs: number) => number } | undefined,
): { durationMs: number; pagesSent: number } {
  if (skip === undefined || pagesToSend === 0) return { durationMs: (pagesToSend / ratePagesPerSecond) * 1000, pagesSent: pagesToSend };
  const redirtied = (tauSeconds: number) => skip.hotFraction * Math.min(1, skip.dirtied(startMs, startMs + tauSeconds * 1000) / skip.hotPages);
  const stepPages = pagesToSend / SCAN_STEPS;
  let tau = 0;
  for (let step = 0; step < SCAN_STEPS; step++) {
    const half = tau + ((1 - redirtied(tau)) * stepPages) / (2 * ratePagesPerSecond);
    tau += ((1 - redirtied(half)) * stepPages) / ratePagesPerSecond;
  }
  return { durationMs: tau * 1000, pagesSent: tau * ratePagesPerSecond };
}

function checkParameters(parameters: ClarkParameters) {
  const p = { ...CLARK_DEFAULTS, ...withoutUndefined(parameters) };
  requirePositive('minRateBytesPerSecond', p.minRateBytesPerSecond);
  requirePositive('maxRateBytesPerSecond', p.maxRateBytesPerSecond);
  if (p.maxRateBytesPerSecond < p.minRateBytesPerSecond) {
    throw new RangeError(`maxRateBytesPerSecond (${p.maxRateBytesPerSecond}) must not be below minRateBytesPerSecond (${p.minRateBytesPerSecond})`);
  }
  requireNonNegative('rateIncrementBytesPerSecond', p.rateIncrementBytesPerSecond);
  requireNonNegative('fewPagesThresholdPages', p.fewPagesThresholdPages);
  requireInteger('maxPrecopyRounds', p.maxPrecopyRounds);
  requirePositive('maxVolumeFactor', p.maxVolumeFactor);
  if (parameters.stopAndCopyRateBytesPerSecond !== undefined) requirePositive('stopAndCopyRateBytesPerSecond', parameters.stopAndCopyRateBytesPerSecond);
  requireNonNegative('stopAndCopyOverheadMs', p.stopAndCopyOverheadMs);
  if (typeof p.skipRedirtied !== 'boolean') throw new RangeError(`skipRedirtied must be true or false, got ${String(p.skipRedirtied)}`);
  if (p.rules !== 'paper' && p.rules !== 'xc_linux_save') throw new RangeError(`rules must be 'paper' or 'xc_linux_save', got ${String(p.rules)}`);
  return p;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}
