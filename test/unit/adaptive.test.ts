/**
 * harness/adaptive.ts and harness/aa.ts: which points the next adaptive round chases, why the loop
 * stops, the budget estimate, and the verdict and A/A summary lines, on hand-built results files.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aaArm, aaSummaryLines, armConfiguration } from '../../harness/aa.js';
import { estimateRoundMs, nextAdaptiveRound, verdictSummaryLine } from '../../harness/adaptive.js';
import type { PointResult, ResultsFile, StoredVerdict, TrialRecord } from '../../results/schema.js';

const trial = (durationMs: number, repetition: number): TrialRecord => ({
  state: 'completed', repetition, round: repetition, startedAt: '2026-11-25T00:00:00Z', durationMs, commands: [], metrics: [{ name: 'score_ops', unit: 'ops', value: 100 }],
});

type VerdictSketch =
  | { verdict: 'undecided'; repetitionsNeeded: number | null; ratio?: number; mdePercent?: number }
  | { verdict: 'equivalent' | 'slower' | 'faster'; ratio?: number; mdePercent?: number }
  | { verdict: 'not-comparable' };

function verdictOf(sketch: VerdictSketch, baseline: string): StoredVerdict {
  const base = { baseline, metric: 'score_ops', marginPercent: 5, floorPercent: 5, n: { baseline: 3, candidate: 3 } };
  if (sketch.verdict === 'not-comparable') return { ...base, verdict: 'not-comparable', reason: 'too few', ratio: null, ci95: null, ci90: null };
  const ratio = sketch.ratio ?? 1;
  const estimate = { ratio, ci95: [ratio * 0.9, ratio * 1.1] as [number, number], ci90: [ratio * 0.92, ratio * 1.08] as [number, number], mdePercent: sketch.mdePercent ?? 10 };
  if (sketch.verdict === 'undecided') return { ...base, ...estimate, verdict: 'undecided', repetitionsNeeded: sketch.repetitionsNeeded };
  if (sketch.verdict === 'equivalent') return { ...base, ...estimate, verdict: 'equivalent' };
  return { ...base, ...estimate, verdict: sketch.verdict, effectPercent: 100 * Math.abs(ratio - 1) };
}

function point(target: string, pointId: string, durations: number[], options: { verdict?: VerdictSketch; status?: PointResult['status']; suite?: string; baseline?: string } = {}): PointResult {
  const suite = options.suite ?? 'fake';
  return {
    key: `${target}/${suite}/${pointId}`,
    target,
    suite,
    pointId,
    params: {},
    headline: { metric: 'score_ops', unit: 'ops', direction: 'higher' },
    trials: durations.map(trial),
    summaries: [],
    status: options.status ?? 'ok',
    ...(options.verdict ? { verdict: verdictOf(options.verdict, options.baseline ?? 'native') } : {}),
  };
}

function resultsFile(points: PointResult[], plan: Partial<ResultsFile['plan']> = {}): ResultsFile {
  return {
    schema: 'isobench/results',
    version: 2,
    runId: 'test',
    startedAt: '2026-11-25T00:00:00Z',
    finishedAt: null,
    status: 'running',
    isobenchVersion: '0.2.0',
    host: { hostname: 'h', cpuModel: 'c', cores: 2, cpuMHz: null, memoryBytes: 1, kernel: 'k', distro: 'd', nodeVersion: 'v', tools: [], perfCounters: false, kvmDevice: false, kvmUsable: null, vhostNet: false, docker: null },
    plan: {
      targets: ['native', 'kvm'], suites: ['fake'], quick: true, repetitions: 3, seed: 1, cvThreshold: 0.05, options: {}, mode: 'compare', baseline: 'native',
      marginPercent: 5, noiseFloorPercent: null, adaptive: { maxRepetitions: 6, budgetSeconds: null }, pinning: { oversubscribed: true, cpuSets: null, reason: '' }, command: [],
      ...plan,
    },
    order: [],
    targets: [],
    points,
  };
}

const limits = { maxRepetitions: 6, budgetSeconds: null };
const always = () => true;
const s3 = [1000, 1000, 1000];

test('undecided points decidable within --max-reps are chased with their baseline points; decided ones are not', () => {
  const file = resultsFile([
    point('native', 'p1', s3),
    point('native', 'p2', s3),
    point('native', 'p3', s3),
    point('kvm', 'p1', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 5 } }),
    point('kvm', 'p2', s3, { verdict: { verdict: 'equivalent' } }),
    point('docker-host', 'p1', s3, { verdict: { verdict: 'slower', ratio: 0.8 } }),
    point('docker-host', 'p3', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 6 } }),
  ]);
  const decision = nextAdaptiveRound(file, limits, always, 0);
  assert.equal(decision.stopReason, null);
  assert.deepEqual(decision.chased, ['kvm/fake/p1', 'docker-host/fake/p3']);
  assert.deepEqual(decision.keys, ['native/fake/p1', 'native/fake/p3', 'kvm/fake/p1', 'docker-host/fake/p3'], 'in file order, each once');
  assert.equal(decision.undecided, 2);
  assert.equal(decision.estimatedMs, 4000);
});

test('the loop stops when everything is decided, or nothing is left to compare', () => {
  const decided = resultsFile([point('native', 'p1', s3), point('kvm', 'p1', s3, { verdict: { verdict: 'faster', ratio: 1.3 } }), point('kvm', 'p2', s3, { verdict: { verdict: 'not-comparable' } })]);
  assert.equal(nextAdaptiveRound(decided, limits, always, 0).stopReason, 'all 2 compared point(s) decided');
  const alone = resultsFile([point('native', 'p1', s3)]);
  assert.equal(nextAdaptiveRound(alone, limits, always, 0).stopReason, 'no point to decide: no candidate point has a verdict against native');
});

test('--max-reps: a point (or its baseline) at the limit is not chased; all at the limit says so', () => {
  const six = [1, 1, 1, 1, 1, 1];
  const file = resultsFile([point('native', 'p1', six), point('kvm', 'p1', six, { verdict: { verdict: 'undecided', repetitionsNeeded: 4 } })]);
  const decision = nextAdaptiveRound(file, limits, always, 0);
  assert.deepEqual(decision.keys, []);
  assert.equal(decision.stopReason, '--max-reps 6 reached with 1 point(s) undecided');
  const baselineFull = resultsFile([point('native', 'p1', six), point('kvm', 'p1', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 4 } })]);
  assert.equal(nextAdaptiveRound(baselineFull, limits, always, 0).stopReason, '--max-reps 6 reached with 1 point(s) undecided');
});

test('nothing more can decide: too many repetitions needed, no estimate, a failed baseline, a target that cannot run', () => {
  const file = resultsFile([
    point('native', 'p1', s3),
    point('native', 'p2', [1], { status: 'failed' }),
    point('native', 'p3', s3),
    point('kvm', 'p1', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 7 } }),
    point('kvm', 'p2', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 4 } }),
    point('kvm', 'p3', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: null } }),
    point('kvm', 'p4', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 4 } }),
    point('docker-host', 'p1', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 4 } }),
  ]);
  const decision = nextAdaptiveRound(file, limits, (key) => !key.startsWith('docker-host/'), 0);
  assert.deepEqual(decision.keys, []);
  assert.equal(
    decision.stopReason,
    'nothing more can decide: 5 point(s) undecided (2 would need more than 6 repetitions, 2 whose baseline failed, 1 whose target cannot run)',
  );
});

test('budget: a round that would end past it is not started; the estimate comes from past trials', () => {
  const file = resultsFile([point('native', 'p1', [1000, 3000]), point('kvm', 'p1', [2000, 2000, 2000], { verdict: { verdict: 'undecided', repetitionsNeeded: 5 } })]);
  assert.equal(estimateRoundMs(file, ['native/fake/p1', 'kvm/fake/p1']), 4000);
  assert.equal(estimateRoundMs(file, ['native/fake/p1', 'kvm/fake/unknown']), 2000 + 2000, 'a point without trials takes the mean of all trials');
  assert.equal(estimateRoundMs(resultsFile([]), ['a']), 0);
  const budget = { maxRepetitions: 6, budgetSeconds: 60 };
  assert.equal(nextAdaptiveRound(file, budget, always, 56_000).stopReason, null, '56 s + 4 s ends on the budget: allowed');
  assert.equal(
    nextAdaptiveRound(file, budget, always, 56_001).stopReason,
    'budget 1m00s: 56s used, the next round (~4s) would end past it; 1 point(s) undecided',
  );
});

test('the estimate separates the quiet-host wait: a point\'s own work time, plus the wait the latest trials needed', () => {
  // A first round on a host still busy after provisioning: the first two trials waited 19 s each, the
  // latest four none (the shape of the fresh-machine run of 2026-11-30, 12 trials in 2m35s).
  const at = (second: number) => new Date(Date.UTC(2026, 10, 30, 20, 11, second)).toISOString();
  const waited = (durationMs: number, waitedMs: number, second: number): TrialRecord => ({
    ...trial(durationMs, 0), startedAt: at(second), quietHost: { busyFraction: waitedMs > 0 ? 0.5 : 0.01, waitedMs, flagged: waitedMs > 0 },
  });
  const busyThenQuiet = resultsFile([
    point('native', 'p1', []), point('kvm', 'p1', []), point('native', 'p2', []),
  ].map((entry, index) => ({
    ...entry,
    trials: [[waited(25_000, 19_000, 0), waited(6_000, 0, 40)], [waited(25_500, 19_000, 25)], [waited(6_400, 0, 50), waited(6_400, 0, 57), waited(6_000, 0, 58)]][index]!,
  })));
  assert.equal(estimateRoundMs(busyThenQuiet, ['native/fake/p1', 'kvm/fake/p1', 'native/fake/p2']), 6_000 + 6_500 + 6_266.666666666667, 'no wait charged: the latest 4 waited 0 s');
  // A host that is busy now: the latest trials' mean wait is added to every trial of the round.
  const busyNow = resultsFile([{ ...point('native', 'p1', []), trials: [waited(6_000, 0, 0), waited(26_000, 20_000, 10), waited(26_000, 20_000, 20), waited(16_000, 10_000, 30), waited(6_000, 0, 40)] }]);
  assert.equal(estimateRoundMs(busyNow, ['native/fake/p1', 'native/fake/p1']), 2 * (6_000 + 12_500));
});

test('the verdict summary counts decided and undecided points; none for a baseline-only run', () => {
  const file = resultsFile([
    point('native', 'p1', s3),
    point('kvm', 'p1', s3, { verdict: { verdict: 'equivalent' } }),
    point('kvm', 'p2', s3, { verdict: { verdict: 'equivalent' } }),
    point('kvm', 'p3', s3, { verdict: { verdict: 'slower', ratio: 0.7 } }),
    point('kvm', 'p4', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 9 } }),
    point('kvm', 'p5', s3, { verdict: { verdict: 'not-comparable' } }),
  ]);
  assert.equal(verdictSummaryLine(file), 'verdicts vs native: 3 decided (2 equivalent, 1 slower), 1 undecided, 1 not comparable');
  assert.equal(verdictSummaryLine(resultsFile([point('native', 'p1', s3)])), null);
  assert.equal(verdictSummaryLine(resultsFile([point('kvm', 'p4', s3, { verdict: { verdict: 'undecided', repetitionsNeeded: 9 } })])), 'verdicts vs native: 0 decided, 1 undecided');
});

test('A/A arms: the suffix names the second arm and maps back to the configuration', () => {
  assert.equal(aaArm('kvm:qcow2'), 'kvm:qcow2~aa');
  assert.equal(armConfiguration('kvm:qcow2~aa'), 'kvm:qcow2');
  assert.equal(armConfiguration('native'), 'native');
});

test('A/A summary per suite: claims of a difference, median |ratio − 1| and median MDE of the second arm', () => {
  const arm = aaArm('native');
  const aa = (pointId: string, suite: string, verdict: VerdictSketch) => point(arm, pointId, s3, { suite, verdict });
  const file = resultsFile(
    [
      point('native', 'p1', s3),
      aa('p1', 'bulk', { verdict: 'equivalent', ratio: 1.01, mdePercent: 4 }),
      aa('p2', 'bulk', { verdict: 'faster', ratio: 1.08, mdePercent: 6 }),
      aa('p3', 'bulk', { verdict: 'undecided', repetitionsNeeded: 8, ratio: 0.97, mdePercent: 12 }),
      aa('p4', 'bulk', { verdict: 'not-comparable' }),
      aa('p1', 'rr', { verdict: 'equivalent', ratio: 0.995, mdePercent: 2 }),
    ],
    { mode: 'aa', targets: ['native', arm], suites: ['bulk', 'rr', 'idle'] },
  );
  assert.deepEqual(aaSummaryLines(file), [
    'A/A bulk: 1 of 4 point(s) claimed a difference (25 %, expected ≤ 5 %); median |A/A ratio − 1| 3.00 %; median MDE 6.00 %',
    'A/A rr: 0 of 1 point(s) claimed a difference (0 %, expected ≤ 5 %); median |A/A ratio − 1| 0.50 %; median MDE 2.00 %',
    'A/A idle: no point has a verdict',
  ]);
  assert.deepEqual(aaSummaryLines({ ...file, plan: { ...file.plan, mode: 'compare' } }), []);
});
