import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { containerMigrationPhases } from '../../reports/figures/container-migration.js';
import { labelRuns } from '../../reports/model/runs.js';
import { TargetStyles } from '../../reports/model/targets.js';
import { renderFigure } from '../../reports/render.js';
import { ContainerMigrationTrialDetail } from '../../results/container-migration.js';
import { parseResultsFile } from '../../results/schema.js';

/*
 * Real container migrations on this host (test/integration/container-migration.test.ts with
 * ISOBENCH_CONTAINER_DETAILS), added as a runc-criu row to a real VM migration results file.
 */
const trials = readFileSync(new URL('../fixtures/criu/container-trials.jsonl', import.meta.url), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { state: string; metrics: unknown[]; commands: string[][]; detail: unknown });
const raw = JSON.parse(readFileSync(new URL('../fixtures/results/migration-idle-dirty-1rep.json', import.meta.url), 'utf8')) as { points: Array<Record<string, unknown>>; plan: { targets: string[] } };
const template = raw.points[0]!;
for (const workload of ['idle', 'web']) {
  const mine = trials.filter((trial) => (trial.detail as { workload: string }).workload === workload);
  raw.points.push({
    ...template,
    key: `runc-criu/migration/${workload}-bw64-dl300-precopy`,
    target: 'runc-criu',
    pointId: `${workload}-bw64-dl300-precopy`,
    params: { ...(template.params as object), workload },
    trials: mine.map((trial, repetition) => ({ repetition, startedAt: '2026-11-30T09:20:00.000Z', durationMs: 9_000, round: repetition, ...trial })),
    summaries: [],
  });
}
const file = parseResultsFile(raw, 'migration-with-container-row.json');
const context = { runs: labelRuns([file]), baseline: 'kvm', multiRun: false, styles: new TargetStyles(displayOf) };

test('the captured container trials validate as the results file\'s container-migration records', () => {
  assert.ok(trials.length >= 2);
  for (const trial of trials) ContainerMigrationTrialDetail.parse(trial.detail);
});

test('figure: one bar of phases per container trial and the probe\'s gap over each; nothing without container trials', async () => {
  const figure = containerMigrationPhases.build(context);
  assert.ok(figure);
  assert.equal(figure.marks.phase, trials.length * 4, 'checkpoint, copy, network and restore of every trial');
  assert.equal(figure.marks.gap, trials.length);
  const { svg } = await renderFigure(figure.spec);
  assert.match(svg, /<svg/);
  assert.match(svg, /ms since the checkpoint started/);
  const vmOnly = parseResultsFile(JSON.parse(readFileSync(new URL('../fixtures/results/migration-idle-dirty-1rep.json', import.meta.url), 'utf8')), 'vm.json');
  assert.equal(containerMigrationPhases.build({ ...context, runs: labelRuns([vmOnly]) }), null);
});
