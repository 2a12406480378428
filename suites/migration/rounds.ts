import type { MigrationRound, MigrationSample } from '../../results/migration.js';

/**
 * Clark's rounds from `query-migrate` polls: a round is a value of `dirty-sync-count` (QEMU syncs
 * the dirty bitmap once per pass, and the count says which pass runs), from the first poll that saw
 * it to the first poll that saw the next. Bytes sent in a round are the growth of `transferred`
 * between those polls, so each boundary is as exact as the poll interval (about 50 ms). A count that
 * rose by more than one between two polls folds the rounds in between into the later one
 * (`roundsMerged`). Polls before the first pass (setup, no count yet) belong to no round.
 *
 * @param samples In the order polled, times ms since the start.
 * @param end The end of the last round: ms since the start and `transferred` then (the last poll's,
 *   when no later figure exists).
 */
export function deriveRounds(samples: readonly MigrationSample[], end: { tMs: number; transferredBytes: number | null }): MigrationRound[] {
  const rounds: MigrationRound[] = [];
  let open: { round: MigrationRound; startTransferred: number } | null = null;
  let previousCount: number | null = null;
  let lastTransferred: number | null = null;
  const close = (tMs: number, transferred: number | null) => {
    if (!open) return;
    const sent = transferred === null ? 0 : Math.max(0, transferred - open.startTransferred);
    rounds.push({ ...open.round, endMs: tMs, sentBytes: sent });
    open = null;
  };
  for (const sample of samples) {
    if (sample.transferredBytes !== null) lastTransferred = sample.transferredBytes;
    const syncCount = sample.syncCount;
    if (syncCount === null || syncCount < 1) continue;
    if (open && syncCount === previousCount) {
      open.round.dirtyPagesRate = sample.dirtyPagesRate ?? open.round.dirtyPagesRate;
      open.round.mbps = sample.mbps ?? open.round.mbps;
      open.round.expectedDowntimeMs = sample.expectedDowntimeMs ?? open.round.expectedDowntimeMs;
      continue;
    }
    if (previousCount !== null && syncCount < previousCount) continue; // a count never goes back; ignore a stale poll
    close(sample.tMs, sample.transferredBytes);
    open = {
      startTransferred: sample.transferredBytes ?? 0,
      round: {
        round: syncCount,
        startMs: sample.tMs,
        endMs: sample.tMs,
        sentBytes: 0,
        remainingAtStartBytes: sample.remainingBytes,
        dirtyPagesRate: sample.dirtyPagesRate,
        mbps: sample.mbps,
        expectedDowntimeMs: sample.expectedDowntimeMs,
        roundsMerged: previousCount === null ? Math.max(0, syncCount - 1) : Math.max(0, syncCount - previousCount - 1),
      },
    };
    previousCount = syncCount;
  }
  close(end.tMs, end.transferredBytes ?? lastTransferred);
  return rounds;
}
