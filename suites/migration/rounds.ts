import type { MigrationRound, MigrationSample } from '../../results/migration.js';

/** A MIGRATION_PASS event of the source: QEMU synced the dirty bitmap and pass `pass` began. */
export interface PassEvent {
  pass: number;
  /** ms since the migration started, QEMU's stamp. */
  tMs: number;
}

/**
 * Clark's rounds from the polls and QEMU's pass events (results/migration.ts, MigrationRound says
 * how each field is made). Round k starts at pass event k (else the first poll that saw
 * `dirty-sync-count` k) and ends where round k+1 starts, or at `end`. Bytes at a boundary are
 * `transferred` interpolated linearly between the polls around it, anchored at 0 bytes at the start;
 * when the migration completed and QEMU gave `downtime-bytes`, the last round is the stop-and-copy
 * with exactly those bytes, and the precopy total is what came before it. What setup sent before
 * the first sync counts in the first round, so the rounds add up to `transferred`.
 *
 * @param samples In the order polled, times ms since the start.
 * @param end ms since the start at which the last round ended (the migration's end, or the cancel),
 *   and when the migration switched to post-copy (its MIGRATION postcopy-active event): rounds that
 *   begin from then on are `post-copy`, and the completed total closes the last of them.
 */
export function deriveRounds(
  samples: readonly MigrationSample[],
  passes: readonly PassEvent[],
  end: { tMs: number; postcopyFromMs?: number | null },
): MigrationRound[] {
  const last = samples.at(-1);
  const postcopyFrom = end.postcopyFromMs ?? null;
  // A post-copy migration has no stop-and-copy round: its tail is post-copy, counted in `transferred`.
  const completed = last?.status === 'completed' && postcopyFrom === null;
  const starts = new Map<number, { tMs: number; boundary: 'event' | 'poll' }>();
  for (const pass of passes) if (!starts.has(pass.pass)) starts.set(pass.pass, { tMs: pass.tMs, boundary: 'event' });
  for (const sample of samples) {
    if (sample.syncCount !== null && sample.syncCount >= 1 && !starts.has(sample.syncCount)) starts.set(sample.syncCount, { tMs: sample.tMs, boundary: 'poll' });
  }
  const numbers = [...starts.keys()].sort((a, b) => a - b);
  if (numbers.length === 0) return [];
  const finalRound = numbers.at(-1)!;
  const stopAndCopyBytes = completed && last?.downtimeBytes != null && last.transferredBytes !== null ? last.downtimeBytes : null;

  // The transferred counter over time: 0 at the start, every pre-copy poll, and (completed) the
  // pre-copy total at the start of the stop-and-copy.
  const anchors: Array<[number, number]> = [[0, 0]];
  for (const sample of samples) {
    if (sample.transferredBytes !== null && sample.status !== 'completed') anchors.push([sample.tMs, sample.transferredBytes]);
  }
  const lastTransferred = [...samples].reverse().find((sample) => sample.transferredBytes !== null)?.transferredBytes ?? null;
  if (stopAndCopyBytes !== null) anchors.push([starts.get(finalRound)!.tMs, last!.transferredBytes! - stopAndCopyBytes]);
  else if (lastTransferred !== null) anchors.push([end.tMs, lastTransferred]);
  anchors.sort((a, b) => a[0] - b[0]);
  const bytesAt = (tMs: number): number => {
    let before = anchors[0]!;
    for (const anchor of anchors) {
      if (anchor[0] > tMs) {
        const span = anchor[0] - before[0];
        return span <= 0 ? anchor[1] : before[1] + ((anchor[1] - before[1]) * (tMs - before[0])) / span;
      }
      before = anchor;
    }
    return before[1];
  };

  return numbers.map((round, index) => {
    const start = starts.get(round)!;
    const next = numbers[index + 1];
    const endMs = next === undefined ? end.tMs : starts.get(next)!.tMs;
    const stopAndCopy = completed && round === finalRound;
    const phase = stopAndCopy ? 'stop-and-copy' : postcopyFrom !== null && start.tMs >= postcopyFrom ? 'post-copy' : 'pre-copy';
    const inside = samples.filter((sample) => sample.tMs >= start.tMs && sample.tMs < endMs && sample.status !== 'completed');
    const lastInside = inside.at(-1);
    // What setup sent before the first sync belongs to the first round.
    const from = index === 0 ? 0 : bytesAt(start.tMs);
    const sent = stopAndCopy && stopAndCopyBytes !== null ? stopAndCopyBytes : Math.max(0, Math.round(bytesAt(endMs) - from));
    return {
      round,
      startMs: start.tMs,
      endMs,
      sentBytes: sent,
      bytesFrom: stopAndCopy && stopAndCopyBytes !== null ? 'downtime-bytes' : 'interpolated',
      boundary: start.boundary,
      phase,
      remainingAtStartBytes: inside[0]?.remainingBytes ?? null,
      dirtyPagesRate: lastInside?.dirtyPagesRate ?? null,
      mbps: lastInside?.mbps ?? null,
      expectedDowntimeMs: lastInside?.expectedDowntimeMs ?? null,
    };
  });
}
