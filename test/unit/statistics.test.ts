import assert from 'node:assert/strict';
import { test } from 'node:test';
import { studentTQuantile, summarize } from '../../harness/statistics.js';

test('Student t quantiles match the printed tables', () => {
  const table: Array<[number, number]> = [[1, 12.706], [2, 4.303], [4, 2.776], [9, 2.262], [29, 2.045], [120, 1.980]];
  for (const [df, expected] of table) assert.ok(Math.abs(studentTQuantile(0.975, df) - expected) < 5e-4, `df ${df}`);
  assert.ok(Math.abs(studentTQuantile(0.025, 4) + 2.776) < 5e-4);
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
