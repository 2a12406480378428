import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { TrialOutcome } from '../../contracts/suite.js';
import { TrialRecord } from '../../results/schema.js';
import { withCyclesDetail } from '../../suites/tcp-bulk/index.js';
import { parsePerfCycles } from '../../suites/tcp-bulk/perf-stat.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/tools/${name}`, import.meta.url), 'utf8');
const completed: TrialOutcome = { state: 'completed', metrics: [{ name: 'throughput_gbps', unit: 'Gbit/s', value: 9.4, method: 'iperf3 receiver' }], commands: [['iperf3']] };

test('a trial whose perf printed <not counted> stores why it has no cycles, and the results schema keeps it', () => {
  const trial = withCyclesDetail(completed, parsePerfCycles(fixture('perf-stat-cycles-not-counted.txt')));
  assert.equal(trial.state, 'completed');
  assert.deepEqual(trial.state === 'completed' && trial.detail, {
    kind: 'cycles-not-measured',
    perf: 'not-counted',
    reason: 'perf printed <not counted>: the cycles counter exists but was never scheduled during the run (common in VMs, or counters in use by others); cycles not measured',
    lines: ['<not counted>,,cycles,0,0.00,,'],
  });
  const stored = TrialRecord.parse({ ...trial, repetition: 0, startedAt: '2026-11-30T09:00:00Z', durationMs: 5000 });
  assert.equal(stored.detail?.kind, 'cycles-not-measured');
  const unsupported = withCyclesDetail(completed, parsePerfCycles(fixture('perf-stat-cycles-not-supported.txt')));
  assert.match(unsupported.state === 'completed' ? unsupported.detail?.kind === 'cycles-not-measured' ? unsupported.detail.reason : '' : '', /^perf printed <not supported>/);
});

test('counted cycles, no perf, or a failed trial: nothing is added', () => {
  assert.equal(withCyclesDetail(completed, parsePerfCycles(fixture('perf-stat-cycles-counted.txt'))), completed);
  assert.equal(withCyclesDetail(completed, null), completed);
  const failed: TrialOutcome = { state: 'failed', reason: 'iperf3 exited 1', commands: [] };
  assert.equal(withCyclesDetail(failed, parsePerfCycles(fixture('perf-stat-cycles-not-counted.txt'))), failed);
});
