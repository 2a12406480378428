import { epochMs } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { sleep } from '../../core/poll.js';
import type { MigrationRun, MigrationSnapshot } from '../../contracts/target.js';
import type { MigrationVariant } from '../../results/migration.js';
import type { LoopEnd } from './outcome.js';

/* The poll loop of a migration trial: query-migrate until the migration ends or a limit stops it. */

/** `query-migrate` about every 50 ms, as QEMU's guestperf does (tests/migration-stress/guestperf/engine.py). */
export const POLL_INTERVAL_MS = 50;
/** Past the time limit, a post-copy migration (which cannot be cancelled) may run this much longer before the trial fails, ms. */
export const POSTCOPY_GRACE_MS = 120_000;

/** What the poll loop saw. */
export interface LoopResult {
  end: LoopEnd;
  snapshots: MigrationSnapshot[];
  maxThrottlePercent: number | null;
  postcopyStarted: boolean;
}

/**
 * Polls the source until the migration completes or fails, or a limit is reached (then it cancels:
 * a cancel that races a completion counts as completed). The post-copy variant switches to post-copy
 * once the first pass is done (the count of dirty-bitmap syncs reaches 2), as guestperf's
 * `post-copy-iters 1` does; a post-copy migration cannot be cancelled, so only a grace past the time
 * limit fails it.
 */
export async function pollMigration(run: MigrationRun, params: { variant: MigrationVariant; timeLimitS: number; roundLimit: number }): Promise<LoopResult> {
  const snapshots: MigrationSnapshot[] = [];
  let maxThrottlePercent: number | null = null;
  let postcopyStarted = false;
  const deadline = run.startedAtMs + params.timeLimitS * 1000;
  const result = (end: LoopEnd): LoopResult => ({ end, snapshots, maxThrottlePercent, postcopyStarted });
  for (;;) {
    const tick = performance.now();
    let snapshot: MigrationSnapshot;
    try {
      snapshot = await run.poll();
    } catch (error) {
      return result({ kind: 'failed', error: `query-migrate failed: ${errorMessage(error)}` });
    }
    snapshots.push(snapshot);
    if (snapshot.throttlePercent !== null) maxThrottlePercent = Math.max(maxThrottlePercent ?? 0, snapshot.throttlePercent);
    if (snapshot.status === 'completed') {
      await settleCompletedFigures(run, snapshots);
      return result({ kind: 'completed' });
    }
    if (snapshot.status === 'failed') return result({ kind: 'failed', error: snapshot.error ?? 'QEMU reported the migration failed without a reason' });
    if (snapshot.status === 'cancelled' || snapshot.status === 'cancelling') return result({ kind: 'failed', error: 'the migration was cancelled by someone other than isobench' });
    const now = epochMs();
    if (snapshot.status === 'postcopy-active' || snapshot.status === 'postcopy-paused' || snapshot.status === 'postcopy-recover') {
      if (now > deadline + POSTCOPY_GRACE_MS) return result({ kind: 'failed', error: `post-copy did not finish within ${params.timeLimitS} s plus ${POSTCOPY_GRACE_MS / 1000} s` });
    } else {
      const rounds = snapshot.syncCount ?? 0;
      if (params.variant === 'postcopy' && !postcopyStarted && snapshot.status === 'active' && rounds >= 2) {
        try {
          await run.startPostcopy();
          postcopyStarted = true;
        } catch (error) {
          return result({ kind: 'failed', error: `migrate-start-postcopy failed: ${errorMessage(error)}` });
        }
      }
      const limit = rounds > params.roundLimit ? 'rounds' : now >= deadline ? 'time' : null;
      if (limit) {
        let last: MigrationSnapshot;
        try {
          last = await run.cancel();
        } catch (error) {
          return result({ kind: 'failed', error: `cancelling at the ${limit} limit failed: ${errorMessage(error)}` });
        }
        snapshots.push(last);
        if (last.status === 'completed') {
          await settleCompletedFigures(run, snapshots);
          return result({ kind: 'completed' });
        }
        const seconds = ((now - run.startedAtMs) / 1000).toFixed(1);
        const detail = limit === 'rounds' ? `cancelled in round ${rounds} (limit ${params.roundLimit}) after ${seconds} s` : `cancelled at the ${params.timeLimitS} s limit in round ${rounds}`;
        return result({ kind: 'limit', limit, detail });
      }
    }
    await sleep(POLL_INTERVAL_MS - (performance.now() - tick));
  }
}

/** Asks after a completion this many times, 20 ms apart, for QEMU's final figures (see settleCompletedFigures). */
const SETTLE_POLLS = 25;

/**
 * QEMU 7.2 sets the status to `completed` a moment before its migration thread computes
 * `total-time` and `downtime`: a query in between reads both as 0 (seen here, with the MIGRATION
 * completed event 1 ms before the query). Asks again until total-time is non-zero, for up to half a
 * second; the answer replaces the last snapshot. A 0 that stays is kept as QEMU said it, and
 * buildDetail treats a completed migration's 0 total-time as "not reported".
 */
async function settleCompletedFigures(run: MigrationRun, snapshots: MigrationSnapshot[]): Promise<void> {
  for (let attempt = 0; attempt < SETTLE_POLLS && !(snapshots.at(-1)!.totalTimeMs! > 0); attempt++) {
    await sleep(20);
    const again = await run.poll().catch(() => null);
    if (again?.status === 'completed') snapshots[snapshots.length - 1] = again;
  }
}

