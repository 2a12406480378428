import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBenchOptions } from '../../harness/commands/bench.js';
import { runBench } from '../../harness/runner.js';
import { assertNoLeftovers } from '../helpers.js';

test('startup times a fresh process and a fresh container to their first answer, and leaves nothing', { timeout: 20 * 60_000 }, async () => {
  await assertNoLeftovers();
  const out = await mkdtemp(join(tmpdir(), 'isobench-startup-'));
  const options = await parseBenchOptions(['--target', 'native,docker-host', '--suite', 'startup', '--quick', '--reps', '2', '--out', out, '--quiet-wait', '5']);
  const { results } = await runBench(options);
  const readyMs = (target: string) => {
    const point = results.points.find((candidate) => candidate.key === `${target}/startup/cold-start`);
    assert.ok(point && (point.status === 'ok' || point.status === 'noisy'), `${target}: ${point?.status} ${point?.reason ?? ''}`);
    const summary = point.summaries.find((candidate) => candidate.metric === 'ready_ms');
    const starts = point.summaries.find((candidate) => candidate.metric === 'starts');
    assert.ok(summary && starts && starts.min >= 1, `${target} started at least once per trial`);
    return summary.mean;
  };
  const native = readyMs('native');
  const container = readyMs('docker-host');
  assert.ok(native > 0.5 && native < 10_000, `a process answers in ${native} ms`);
  assert.ok(container > 10 && container < 120_000, `a container answers in ${container} ms`);
  await assertNoLeftovers('every fresh instance was torn down');
});
