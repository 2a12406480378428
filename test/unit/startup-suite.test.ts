import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bench } from 'tinybench';
import { QUICK_BUDGET_MS, startupMetrics, startupSuite } from '../../suites/startup/index.js';

test('startup has one cold-start point whose budget shrinks in quick mode', () => {
  const [quick] = startupSuite.points({ quick: true, cores: 2, options: {} });
  const [full] = startupSuite.points({ quick: false, cores: 2, options: {} });
  assert.equal(quick?.id, 'cold-start');
  assert.equal(quick?.params.budgetMs, QUICK_BUDGET_MS);
  assert.ok(Number(full?.params.budgetMs) > QUICK_BUDGET_MS);
});

test('startup metrics come from tinybench\'s latency statistics, in ms', async () => {
  const bench = new Bench({ time: 0, iterations: 3, warmup: false });
  bench.add('sleep', () => new Promise((resolve) => setTimeout(resolve, 20)));
  await bench.run();
  const result = bench.tasks[0]!.result;
  assert.equal(result.state, 'completed');
  if (result.state !== 'completed') return;
  const metrics = new Map(startupMetrics(result.latency).map((metric) => [metric.name, metric]));
  assert.equal(metrics.get('starts')?.value, 3);
  assert.ok(metrics.get('ready_ms')!.value >= 19, 'each start took at least the 20 ms it slept');
  assert.ok(metrics.get('ready_min_ms')!.value <= metrics.get('ready_p50_ms')!.value);
  assert.ok(metrics.get('ready_p50_ms')!.value <= metrics.get('ready_max_ms')!.value);
  assert.equal(metrics.get('ready_ms')?.unit, 'ms');
});

test('without a way to start fresh instances the trial is skipped with a reason, not a zero', async () => {
  const [point] = startupSuite.points({ quick: true, cores: 2, options: {} });
  const outcome = await startupSuite.runTrial(point!, { launchFresh: undefined } as never);
  assert.equal(outcome.state, 'skipped');
  assert.match(outcome.state === 'skipped' ? outcome.reason : '', /cannot start fresh instances/);
});
