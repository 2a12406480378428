/**
 * harness/point-summary.ts: outliers by the modified z-score, and the notes a point's reason carries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modifiedZOutliers, summarizePoint } from '../../harness/point-summary.js';
import type { PointResult, TrialRecord } from '../../results/schema.js';

test('modified z-score: |0.6745·(x − median)/MAD| above 3.5 is an outlier, at 3.5 or below it is not', () => {
  // median 10, MAD 1: 15.2 scores 0.6745 × 5.2 = 3.507, 15.1 scores 3.440.
  assert.deepEqual(modifiedZOutliers([10, 11, 9, 10, 15.2]), [4]);
  assert.deepEqual(modifiedZOutliers([10, 11, 9, 10, 15.1]), []);
  // Both tails.
  assert.deepEqual(modifiedZOutliers([4, 10, 11, 9, 10, 16]), [0, 5]);
});

test('a MAD of 0 flags nothing, however far a value lies; no values, no outliers', () => {
  assert.deepEqual(modifiedZOutliers([5, 5, 5, 9]), []);
  assert.deepEqual(modifiedZOutliers([]), []);
  assert.deepEqual(modifiedZOutliers([7]), []);
});

const trial = (value: number, repetition: number, extra: Partial<TrialRecord> = {}): TrialRecord => ({
  state: 'completed',
  repetition,
  round: repetition,
  startedAt: '2026-11-25T00:00:00Z',
  durationMs: 1000,
  commands: [['true']],
  metrics: [{ name: 'score_ops', unit: 'ops', value }, { name: 'side_ms', unit: 'ms', value: 10 + (repetition === 0 ? 90 : repetition * 0.1) }],
  ...extra,
} as TrialRecord);

const point = (trials: TrialRecord[]): PointResult => ({
  key: 'native/fake/p1',
  target: 'native',
  suite: 'fake',
  pointId: 'p1',
  params: {},
  headline: { metric: 'score_ops', unit: 'ops', direction: 'higher' },
  trials,
  summaries: [],
  status: 'pending',
});

test('outliers are listed by repetition number and kept in the mean; the reason names the headline\'s', () => {
  const trials = [100, 101, 99, 100, 160].map((value, index) => trial(value, index));
  const summarized = summarizePoint(point(trials), 0.5);
  const headline = summarized.summaries.find((summary) => summary.metric === 'score_ops')!;
  assert.deepEqual(headline.outliers, [4]);
  assert.equal(headline.mean, 112, 'the outlier stays in the mean');
  assert.equal(headline.n, 5);
  assert.deepEqual(summarized.summaries.find((summary) => summary.metric === 'side_ms')!.outliers, [0], 'every metric is screened');
  assert.equal(summarized.status, 'ok');
  assert.equal(summarized.reason, 'score_ops has an outlier at repetition 4 (modified z-score above 3.5; kept)');
});

test('a clean point has an empty outlier list and no reason', () => {
  const summarized = summarizePoint(point([100, 101, 99].map((value, index) => trial(value, index))), 0.5);
  assert.deepEqual(summarized.summaries[0]!.outliers, []);
  assert.equal(summarized.reason, undefined);
});

test('trials flagged for steal time are noted with the worst fraction; unflagged steal is not', () => {
  const trials = [
    trial(100, 0, { steal: { fraction: 0.02, flagged: false } }),
    trial(101, 1, { steal: { fraction: 0.142, flagged: true } }),
    trial(99, 2, { steal: { fraction: 0.11, flagged: true } }),
  ];
  const summarized = summarizePoint(point(trials), 0.5);
  assert.equal(summarized.status, 'ok');
  assert.equal(summarized.reason, '2 trial(s) lost CPU time to the hypervisor above the steal limit (up to 14.2 % steal)');
});
