import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarize } from '../../harness/statistics.js';

test('the 95 % interval uses Student t quantiles that match the printed tables', () => {
  // Two samples a distance 2 apart, then n copies around 0: half-width / (sd / √n) is t(0.975, n − 1).
  const table: Array<[number, number]> = [[2, 12.706], [3, 4.303], [5, 2.776], [10, 2.262], [30, 2.045], [121, 1.980]];
  for (const [n, expected] of table) {
    const samples = Array.from({ length: n }, (_, index) => (index % 2 === 0 ? 1 : -1) + index * 1e-3);
    const summary = summarize(samples);
    const t = (summary.ci95High - summary.mean) / (summary.sd / Math.sqrt(n));
    assert.ok(Math.abs(t - expected) < 5e-4, `n ${n}: t ${t}, table ${expected}`);
    assert.ok(Math.abs(summary.mean - summary.ci95Low - (summary.ci95High - summary.mean)) < 1e-12, 'symmetric');
  }
});

test('summary: mean, sample sd, t-based 95% CI and CV', () => {
  const summary = summarize([10, 12, 14]);
  assert.equal(summary.mean, 12);
  assert.equal(summary.sd, 2);
  const half = 4.302652729911275 * (2 / Math.sqrt(3));
  assert.ok(Math.abs(summary.ci95Low - (12 - half)) < 1e-6);
  assert.ok(Math.abs(summary.ci95High - (12 + half)) < 1e-6);
  assert.ok(Math.abs(summary.cv - 2 / 12) < 1e-12);
  assert.deepEqual([summary.min, summary.max, summary.n], [10, 14, 3]);
});

test('summary of one sample has no spread, and zero samples is an error', () => {
  assert.deepEqual(summarize([5]), { n: 1, mean: 5, sd: 0, ci95Low: 5, ci95High: 5, cv: 0, min: 5, max: 5 });
  assert.throws(() => summarize([]), /zero samples/);
});

test('a mean of zero has a cv of 0, not a division by zero', () => {
  const summary = summarize([-1, 1]);
  assert.equal(summary.mean, 0);
  assert.equal(summary.cv, 0);
  assert.equal(summary.sd, Math.SQRT2);
});
