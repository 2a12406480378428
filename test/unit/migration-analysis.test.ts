import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProbeReport } from '../../suites/migration/client/reports.js';
import { classifyOutcome, healthProblem } from '../../suites/migration/outcome.js';
import { gapCovering, judgeSelfTest, longestGapWithin } from '../../suites/migration/probe-analysis.js';
import { deriveRounds } from '../../suites/migration/rounds.js';
import { webImpact } from '../../suites/migration/web-analysis.js';
import type { MigrationSample } from '../../results/migration.js';

const T0 = 1_796_000_000_000;

function probe(gaps: Array<[number, number]>): ProbeReport {
  return {
    startedAtMs: T0, endedAtMs: T0 + 10_000, intervalMs: 1, gapThresholdMs: 5, sent: 10_000, received: 9_000, duplicates: 0,
    firstEchoAtMs: T0 + 1, lastEchoAtMs: T0 + 9_999, gaps, gapsDropped: 0, maxSendLateMs: 1.2, sendErrors: 0,
  };
}

test('probe: the gap that covers a pause is the one overlapping it most, not merely the longest', () => {
  const gaps: Array<[number, number]> = [[T0 + 100, T0 + 106], [T0 + 1_000, T0 + 1_104], [T0 + 2_000, T0 + 2_600]];
  assert.deepEqual(gapCovering(gaps, T0 + 1_001, T0 + 1_101), { fromMs: T0 + 1_000, toMs: T0 + 1_104 });
  assert.equal(gapCovering(gaps, T0 + 5_000, T0 + 5_100), null, 'no gap there');
  assert.deepEqual(longestGapWithin(gaps, T0, T0 + 1_500), { fromMs: T0 + 1_000, toMs: T0 + 1_104 });
  assert.deepEqual(longestGapWithin(gaps, T0, T0 + 3_000), { fromMs: T0 + 2_000, toMs: T0 + 2_600 });
});

test('probe self-test: passes within ±10 ms, says which pause it misread, and has no resolution when a pause went unseen', () => {
  const freezes = [
    { requestedMs: 100, stoppedAtMs: T0 + 1_000.5, resumedAtMs: T0 + 1_101.5 },
    { requestedMs: 200, stoppedAtMs: T0 + 2_000.2, resumedAtMs: T0 + 2_201.2 },
    { requestedMs: 500, stoppedAtMs: T0 + 3_000, resumedAtMs: T0 + 3_501 },
  ];
  const good = judgeSelfTest(freezes, probe([[T0 + 999.8, T0 + 1_104], [T0 + 1_999, T0 + 2_203], [T0 + 2_999.5, T0 + 3_504]]));
  assert.equal(good.passed, true, good.reason);
  assert.deepEqual(good.pauses.map((pause) => Math.round(pause.errorMs! * 10) / 10), [3.2, 3, 3.5]);
  assert.equal(Math.round(good.resolutionMs! * 10) / 10, 3.5);

  const coarse = judgeSelfTest(freezes, probe([[T0 + 999.8, T0 + 1_104], [T0 + 1_999, T0 + 2_230], [T0 + 2_999.5, T0 + 3_504]]));
  assert.equal(coarse.passed, false);
  assert.match(coarse.reason!, /cannot resolve 10 ms here: 201\.0 ms read as 231\.0 ms/);
  assert.equal(coarse.resolutionMs, 30, 'the worst error is the resolution');

  const blind = judgeSelfTest(freezes, probe([[T0 + 999.8, T0 + 1_104]]));
  assert.equal(blind.passed, false);
  assert.equal(blind.resolutionMs, null, 'no resolution is claimed when a pause went unseen');
  assert.match(blind.reason!, /no gap for the 200 ms, 500 ms pause/);
});

function sampleAt(tMs: number, syncCount: number | null, transferredBytes: number, remainingBytes: number, status: MigrationSample['status'] = 'active'): MigrationSample {
  return { tMs, status, syncCount, transferredBytes, remainingBytes, dirtyPagesRate: 1000, mbps: 268, expectedDowntimeMs: 300, throttlePercent: null };
}

test('rounds: bytes per round from the transferred counter between the polls where dirty-sync-count changes', () => {
  const samples = [
    sampleAt(0, null, 0, 0, 'setup'),
    sampleAt(50, 1, 1_000, 500_000),
    sampleAt(100, 1, 400_000, 100_000),
    sampleAt(150, 2, 500_000, 60_000),
    sampleAt(200, 4, 560_000, 20_000), // rounds 3 and 4 both began between two polls
    sampleAt(250, 5, 580_000, 0, 'completed'),
  ];
  const rounds = deriveRounds(samples, { tMs: 260, transferredBytes: 590_000 });
  assert.deepEqual(rounds.map((round) => [round.round, round.startMs, round.endMs, round.sentBytes, round.roundsMerged]), [
    [1, 50, 150, 499_000, 0],
    [2, 150, 200, 60_000, 0],
    [4, 200, 250, 20_000, 1],
    [5, 250, 260, 10_000, 0],
  ]);
  assert.equal(rounds[0]!.remainingAtStartBytes, 500_000);
  assert.deepEqual(deriveRounds([sampleAt(0, null, 0, 0, 'setup')], { tMs: 10, transferredBytes: null }), [], 'no pass, no round');
});

test('web: baseline from whole pre-migration buckets, blackout the longest empty run, brownout every bucket under half', () => {
  const completed = [10, 10, 10, 10, 10, 4, 0, 0, 0, 6, 10, 3];
  const load = { startedAtMs: T0, endedAtMs: T0 + 1_150, bucketMs: 100, connections: 4, completed, failed: completed.map(() => 0), errors: [] };
  const impact = webImpact(load, { fromMs: T0, toMs: T0 + 500 }, { fromMs: T0 + 500, toMs: T0 + 1_250 });
  assert.deepEqual(impact, { baselinePerSecond: 100, blackoutMs: 300, brownoutMs: 400 });
  // The last bucket (3 requests, cut short by the client's stop) is not judged.
  assert.deepEqual(webImpact({ ...load, completed: completed.map(() => 0) }, { fromMs: T0, toMs: T0 + 500 }, { fromMs: T0 + 500, toMs: T0 + 1_250 }).blackoutMs, null, 'no baseline, no verdict');
});

test('outcome: failure and limits first, then health, then forced, else converged', () => {
  const healthy = { runState: 'running', serialProblem: null, workloadAnswered: true, detail: 'echoes arrived' };
  const evidence = { variant: 'precopy' as const, maxThrottlePercent: null, postcopyStarted: false, health: healthy };
  assert.deepEqual(classifyOutcome({ kind: 'completed' }, evidence), { kind: 'converged' });
  assert.deepEqual(classifyOutcome({ kind: 'failed', error: 'Unable to write to socket' }, evidence), { kind: 'failed', error: 'Unable to write to socket' });
  assert.equal(classifyOutcome({ kind: 'limit', limit: 'time', detail: 'cancelled at the 30 s limit in round 14' }, evidence).kind, 'not-converged');
  assert.deepEqual(classifyOutcome({ kind: 'completed' }, { ...evidence, variant: 'auto-converge', maxThrottlePercent: 40 }), {
    kind: 'forced', by: 'auto-converge', detail: 'auto-converge throttled the vCPUs up to 40 %',
  });
  assert.equal(classifyOutcome({ kind: 'completed' }, { ...evidence, variant: 'auto-converge', maxThrottlePercent: 0 }).kind, 'converged', 'auto-converge that never throttled did not force');
  assert.equal(classifyOutcome({ kind: 'completed' }, { ...evidence, variant: 'postcopy', postcopyStarted: true }).kind, 'forced');
  const panicked = classifyOutcome({ kind: 'completed' }, { ...evidence, health: { ...healthy, serialProblem: 'Kernel panic - not syncing: Fatal exception' } });
  assert.deepEqual(panicked, { kind: 'guest-unhealthy', reason: 'its console says: Kernel panic - not syncing: Fatal exception' });
  assert.match(healthProblem({ ...healthy, runState: 'paused' })!, /is paused, not running/);
  assert.match(healthProblem({ ...healthy, workloadAnswered: false, detail: 'no echo arrived after the switch-over' })!, /stopped answering: no echo/);
  assert.equal(healthProblem(null), 'the guest was not checked after the switch-over');
});
