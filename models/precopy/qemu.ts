/**
 * QEMU's own pre-copy, as a model, with the iteration semantics of QEMU 7.2 (Debian 12's
 * 1:7.2+dfsg-7+deb12u18; its stable patches v7.2.1–v7.2.19 leave the lines below alone). Sources,
 * all in QEMU 7.2.0's tree:
 *
 * - migration/migration.c: `#define MAX_THROTTLE (128 << 20)` (default `max-bandwidth`, 128 MiB/s);
 *   `#define DEFAULT_MIGRATE_SET_DOWNTIME 300` (default `downtime-limit`, ms); `#define BUFFER_DELAY 100`
 *   and `XFER_LIMIT_RATIO (1000 / BUFFER_DELAY)`: the rate limit is max-bandwidth / 10 bytes per 100 ms
 *   window. `migration_update_counters()`, at most once per window: bandwidth = bytes sent in the
 *   window / its length, `threshold_size = bandwidth * downtime_limit`, `expected_downtime =
 *   remaining / bandwidth` (0 threshold before the first window closes). `migration_iteration_run()`:
 *   if the pending bytes are 0 or below `threshold_size`, `migration_completion()`, else another
 *   `qemu_savevm_state_iterate()`. `migration_completion()` stops the guest and lifts the rate limit
 *   (`qemu_file_set_rate_limit(s->to_dst_file, INT64_MAX)`) before the last copy.
 * - migration/ram.c: `ram_save_pending()` syncs the dirty bitmap (`migration_bitmap_sync_precopy()`,
 *   `dirty_sync_count++`) only when the remaining dirty bytes are below `max_size` (the threshold), so
 *   a round is "send until what is left of the bitmap is under the threshold, then sync"; the first
 *   sync happens at setup (`ram_init_bitmaps()`, with every page marked dirty), so round 1 has
 *   `dirty-sync-count` 1; `ram_save_complete()` syncs once more and sends everything left, without a
 *   rate limit. `ram_save_iterate()` sends until the window's budget is used (`qemu_file_rate_limit`)
 *   or no dirty page is left. A zero page is sent as a header and one byte (`save_zero_page_to_file()`).
 * - tests/migration/guestperf/scenario.py and engine.py: the harness limits QEMU itself lacks —
 *   `max_iters=30` (cancel once `dirty-sync-count` > 30) and `max_time=300` s.
 *
 * The model: sending is continuous at the bandwidth; QEMU looks at the pending bytes at each window
 * boundary (every 100 ms from the start) and whenever the bitmap runs empty; a sync adds the pages the
 * guest dirtied since the last sync to those still unsent (their overlap counted twice, at most all of
 * memory). What it leaves out: page headers (8 bytes a page), the CPU cost of syncs and of finding zero
 * pages, multifd, compression, xbzrle, auto-converge and post-copy.
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

/** QEMU 7.2's defaults and guestperf's harness limits, each from the file named in this module's comment. */
export const QEMU_DEFAULTS = {
  /** TARGET_PAGE_SIZE on x86. */
  pageSizeBytes: DEFAULT_PAGE_SIZE_BYTES,
  /** `MAX_THROTTLE (128 << 20)`: the default `max-bandwidth`, bytes per second. */
  bandwidthBytesPerSecond: 128 * 1024 * 1024,
  /** `DEFAULT_MIGRATE_SET_DOWNTIME 300`: the default `downtime-limit`, ms. */
  downtimeLimitMs: 300,
  /** `BUFFER_DELAY 100`: the rate-limit window, ms. */
  rateWindowMs: 100,
  /** guestperf's `max_iters=30`: cancel once `dirty-sync-count` passes it. */
  maxDirtySyncCount: 30,
  /** guestperf's `max_time=300` s, in ms. */
  maxTimeMs: 300_000,
  /** No zero pages unless told (every page of the first pass costs a full page on the wire). */
  zeroPageFraction: 0,
  /** No fixed cost is added to the downtime unless given. */
  switchoverOverheadMs: 0,
} as const;

/**
 * Inputs of the QEMU model. Only `memoryBytes` is required; every other field defaults to
 * `QEMU_DEFAULTS`.
 */
export interface QemuParameters {
  /** Guest memory in bytes: a whole number of pages. */
  memoryBytes: number;
  /** Page size in bytes (default 4096). */
  pageSizeBytes?: number;
  /**
   * The rate pre-copy runs at, bytes per second: `max-bandwidth` (default 128 MiB/s), or the link's
   * rate if that is lower.
   */
  bandwidthBytesPerSecond?: number;
  /** `downtime-limit`, ms (default 300). */
  downtimeLimitMs?: number;
  /** The rate-limit window (`BUFFER_DELAY`), ms (default 100). */
  rateWindowMs?: number;
  /**
   * The rate of the last copy, with the guest paused. QEMU lifts its rate limit there, so the real
   * rate is the link's; the default is `bandwidthBytesPerSecond`, the rate QEMU's own expected-downtime
   * estimate assumes.
   */
  switchoverBandwidthBytesPerSecond?: number;
  /** A fixed cost added to the downtime (device state, CPU state, announce), in ms (default 0). */
  switchoverOverheadMs?: number;
  /** The harness cancels once `dirty-sync-count` exceeds this (default 30, guestperf's). */
  maxDirtySyncCount?: number;
  /** The harness cancels at this time, in ms from the start (default 300000, guestperf's). */
  maxTimeMs?: number;
  /**
   * Share of guest memory that is zero pages when migration starts (0 to 1, default 0). They cost
   * (almost) nothing on the wire in the first pass; pages the guest dirties later are taken as non-zero.
   */
  zeroPageFraction?: number;
}

/** One round of the QEMU model's prediction. */
export interface QemuRound extends PredictedRound {
  /** QEMU's `dirty-sync-count` during this round; for the stop-and-copy round, the count after the completion sync. */
  dirtySyncCount: number;
  /** Pages still to send after the round's closing sync (before the stop-and-copy round: what it sends). */
  remainingPagesAfter: number;
  /** QEMU's own estimate after the round's closing sync, `remaining / bandwidth`, in ms. */
  expectedDowntimeMs: number;
}

/**
 * Predicts a migration under QEMU 7.2's pre-copy: fixed bandwidth, a bitmap sync whenever what is left
 * falls under bandwidth × downtime limit, switch-over when it is still under after the sync. A migration
 * that never gets there is cancelled at the harness's round or time limit (`switchedOver: false`).
 * Throws a RangeError for a parameter out of range (named in the message) or a trace answering a
 * negative or non-finite page count.
 */
export function predictQemu(parameters: QemuParameters, trace: DirtyTrace): PrecopyPrediction<QemuRound> {
  const p = checkParameters(parameters);
  const totalPages = memoryPages(parameters.memoryBytes, p.pageSizeBytes);
  const pageBytes = p.pageSizeBytes;
  const bytesPerMs = p.bandwidthBytesPerSecond / 1000;
  const thresholdBytes = bytesPerMs * p.downtimeLimitMs;
  const switchoverBytesPerSecond = parameters.switchoverBandwidthBytesPerSecond ?? p.bandwidthBytesPerSecond;
  const dirtied = (startMs: number, endMs: number) => checkedPagesDirtied(trace, startMs, endMs);

  // Pages still in the bitmap: first-pass pages (a share of them zero pages) and pages dirtied since.
  let firstPass = totalPages;
  let dirtyPages = 0;
  const firstPassPageBytes = (1 - p.zeroPageFraction) * pageBytes;
  const remaining = () => firstPass + dirtyPages;

  const rounds: QemuRound[] = [];
  let syncCount = 1; // the setup sync (ram_init_bitmaps)
  let lastSyncMs = 0;
  let roundStartMs = 0;
  let roundBytes = 0;
  let nowMs = 0;
  let totalBytes = 0;

  const closeRound = (pagesDirtiedDuring: number) => {
    rounds.push({
      round: syncCount,
      kind: 'pre-copy',
      startMs: roundStartMs,
      durationMs: nowMs - roundStartMs,
      bytesSent: roundBytes,
      pagesDirtiedDuring,
      rateLimitBytesPerSecond: p.bandwidthBytesPerSecond,
      dirtySyncCount: syncCount,
      remainingPagesAfter: remaining(),
      expectedDowntimeMs: (remaining() * pageBytes) / bytesPerMs,
    });
  };
  const finish = (stopReason: PrecopyStopReason, switchedOver: boolean): PrecopyPrediction<QemuRound> => {
    const precopyRounds = rounds.length;
    if (!switchedOver) {
      return { model: 'qemu', rounds, precopyRounds, stopReason, switchedOver, totalTimeMs: nowMs, downtimeMs: null, totalBytesSent: totalBytes };
    }
    // ram_save_complete(): one more sync (pages dirtied since the last one), then everything left, unthrottled.
    const lastDirtied = Math.min(dirtied(lastSyncMs, nowMs), totalPages - remaining());
    dirtyPages += lastDirtied;
    const finalBytes = firstPass * firstPassPageBytes + dirtyPages * pageBytes;
    const copyMs = (finalBytes * 1000) / switchoverBytesPerSecond;
    rounds.push({
      round: syncCount + 1,
      kind: 'stop-and-copy',
      startMs: nowMs,
      durationMs: copyMs,
      bytesSent: finalBytes,
      pagesDirtiedDuring: 0,
      rateLimitBytesPerSecond: switchoverBytesPerSecond,
      dirtySyncCount: syncCount + 1,
      remainingPagesAfter: 0,
      expectedDowntimeMs: (remaining() * pageBytes) / bytesPerMs,
    });
    totalBytes += finalBytes;
    const downtimeMs = copyMs + p.switchoverOverheadMs;
    return { model: 'qemu', rounds, precopyRounds, stopReason, switchedOver, totalTimeMs: nowMs + downtimeMs, downtimeMs, totalBytesSent: totalBytes };
  };

  for (;;) {
    // migration_iteration_run(): the threshold is 0 until the first window has closed.
    const threshold = nowMs >= p.rateWindowMs ? thresholdBytes : 0;
    if (remaining() * pageBytes < threshold) {
      // ram_save_pending(): sync the bitmap; the round that ran since the last sync ends here.
      const newlyDirtied = Math.min(dirtied(lastSyncMs, nowMs), totalPages - remaining());
      dirtyPages += newlyDirtied;
      closeRound(newlyDirtied);
      syncCount += 1;
      lastSyncMs = nowMs;
      roundStartMs = nowMs;
      roundBytes = 0;
      if (remaining() === 0 || remaining() * pageBytes < threshold) return finish('converged', true);
      if (syncCount > p.maxDirtySyncCount) return finish('round-limit', false);
    } else if (remaining() === 0) {
      // Nothing pending and no threshold yet (the first window): QEMU completes without a sync here.
      if (nowMs > roundStartMs) closeRound(0);
      return finish('converged', true);
    }
    if (nowMs >= p.maxTimeMs) {
      // Cancelled mid-round: no sync, so what the guest dirtied is reported but not added to the bitmap.
      if (nowMs > roundStartMs) closeRound(Math.min(dirtied(lastSyncMs, nowMs), totalPages));
      return finish('time-limit', false);
    }

    // qemu_savevm_state_iterate(): send at the bandwidth until the window ends or the bitmap is empty.
    const windowEndMs = Math.min((Math.floor(nowMs / p.rateWindowMs) + 1) * p.rateWindowMs, p.maxTimeMs);
    let budgetBytes = (windowEndMs - nowMs) * bytesPerMs;
    // Pages go out in bitmap order, first-pass and dirtied pages mixed in proportion to their numbers.
    const pages = remaining();
    const meanPageBytes = (firstPass * firstPassPageBytes + dirtyPages * pageBytes) / pages;
    let sentPages: number;
    if (meanPageBytes === 0) {
      sentPages = pages; // only zero pages left: they cost no time
      budgetBytes = 0;
    } else {
      sentPages = Math.min(pages, budgetBytes / meanPageBytes);
      budgetBytes = sentPages * meanPageBytes;
    }
    const fromFirstPass = (sentPages * firstPass) / pages;
    firstPass -= fromFirstPass;
    dirtyPages -= sentPages - fromFirstPass;
    if (firstPass < 1e-9 * totalPages) firstPass = 0;
    if (dirtyPages < 1e-9 * totalPages) dirtyPages = 0;
    roundBytes += budgetBytes;
    totalBytes += budgetBytes;
    nowMs = sentPages === pages ? nowMs + budgetBytes / bytesPerMs : windowEndMs;
  }
}

function checkParameters(parameters: QemuParameters) {
  const p = { ...QEMU_DEFAULTS, ...withoutUndefined(parameters) };
  requirePositive('bandwidthBytesPerSecond', p.bandwidthBytesPerSecond);
  requireNonNegative('downtimeLimitMs', p.downtimeLimitMs);
  requirePositive('rateWindowMs', p.rateWindowMs);
  if (parameters.switchoverBandwidthBytesPerSecond !== undefined) requirePositive('switchoverBandwidthBytesPerSecond', parameters.switchoverBandwidthBytesPerSecond);
  requireNonNegative('switchoverOverheadMs', p.switchoverOverheadMs);
  requireInteger('maxDirtySyncCount', p.maxDirtySyncCount);
  requirePositive('maxTimeMs', p.maxTimeMs);
  requireNonNegative('zeroPageFraction', p.zeroPageFraction);
  if (p.zeroPageFraction > 1) throw new RangeError(`zeroPageFraction must be between 0 and 1, got ${p.zeroPageFraction}`);
  return p;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}
