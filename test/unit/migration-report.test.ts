import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { migrationDowntime, migrationRounds, migrationWeb } from '../../reports/figures/migration.js';
import { labelRuns } from '../../reports/model/runs.js';
import { TargetStyles } from '../../reports/model/targets.js';
import { renderFigure } from '../../reports/render.js';
import { migrationRows, toMigrationTable } from '../../results/migration-table.js';
import { parseResultsFile } from '../../results/schema.js';

/** A real run here: an idle migration that converged and a flat-out dirtier that did not (test/integration/migration.test.ts). */
const file = parseResultsFile(JSON.parse(readFileSync(new URL('../fixtures/results/migration-idle-dirty-1rep.json', import.meta.url), 'utf8')), 'migration-idle-dirty-1rep.json');
const context = { runs: labelRuns([file]), baseline: 'kvm', multiRun: false, styles: new TargetStyles(displayOf) };

test('results --format migration: one line per trial with every downtime, and – where there was none', () => {
  const rows = migrationRows(file);
  assert.deepEqual(
    rows.map((row) => [row.pointId, row.outcome, row.precopyRounds, row.dirtySyncCount, row.qemuDowntimeMs, row.probeGapMs, row.totalS]),
    [
      ['idle-bw64-dl300-precopy', 'converged', 2, 4, 41, 97.59, 5.748],
      ['dirty0-wws128-bw64-dl300-precopy', 'not converged (time)', 4, 4, null, null, 10.02],
    ],
  );
  const table = toMigrationTable(rows).split('\n');
  assert.match(table[0]!, /^point +rep +total s +pre-copy rounds +dirty-sync-count +sent MiB +QEMU ms +events ms +probe ms +blackout ms +brownout ms +resol\. ms +dirty MiB\/s +outcome$/);
  assert.match(table[1]!, /^kvm\/idle-bw64-dl300-precopy +1 +5\.7 +2 +4 +379 +41 +46 +98 +– +– +10\.2! +– +converged$/);
  assert.match(table[2]!, /^kvm\/dirty0-wws128-bw64-dl300-precopy +1 +10\.0 +4 +4 +641 +– +– +– +– +– +10\.0! +27204 +not converged \(time\)$/);
  assert.match(table.at(-2)!, /missed ±10 ms/, 'a probe that missed ±10 ms is said so under the table');
});

test('figures: rounds per trial and the client-seen downtime render; no web figure without a web trial', async () => {
  const rounds = migrationRounds.build(context);
  assert.ok(rounds);
  // idle: dirty-sync-count 4 = pre-copy rounds 1 and 2 (the table's 2) and the stop-and-copy (QEMU's
  // empty sync before the completion is not a round); the cancelled dirtier: the four rounds it was in.
  assert.equal(rounds.marks['round'], 3 + 4);
  const svg = await renderFigure(rounds.spec);
  assert.equal((svg.svg.match(/<path[^>]*aria-roledescription="bar"/g) ?? []).length, 7, 'seven bars drawn');
  assert.match(svg.svg, /stop-and-copy<\/text>/, 'the stop-and-copy named on the round axis');
  // The legend lists the phases drawn: pre-copy and stop-and-copy; no post-copy bar, so no post-copy entry.
  const legend = svg.svg.slice(svg.svg.indexOf('role-legend'));
  assert.match(legend, />pre-copy</);
  assert.match(legend, />stop-and-copy</);
  assert.doesNotMatch(svg.svg, /post-copy/, 'no post-copy in the legend without a post-copy round');
  const postcopy = structuredClone(file);
  const detail = postcopy.points[1]!.trials[0]!.detail;
  assert.ok(detail?.kind === 'migration');
  detail.rounds[3]!.phase = 'post-copy';
  const withPostcopy = migrationRounds.build({ ...context, runs: labelRuns([postcopy]) });
  assert.match((await renderFigure(withPostcopy!.spec)).svg, />post-copy</, 'a post-copy round drawn is in the legend');
  assert.match(svg.svg, /idle-bw64-dl300-precopy #1: converged/);
  assert.match(svg.svg, /not converged \(time limit\)/);
  const downtime = migrationDowntime.build(context);
  assert.ok(downtime);
  assert.deepEqual(downtime.rows.map((row) => [row.pointId, row.mean]), [['idle-bw64-dl300-precopy', 97.59]]);
  assert.equal(migrationWeb.build(context), null);
});

test('downtime of points with no samples: the gaps say why, and no value axis (no lone 0.000000 tick)', async () => {
  // As the first --wws-trace run here (QEMU died under TCG): every point failed, no summaries.
  const failed = structuredClone(file);
  failed.points = failed.points.filter((point) => point.pointId.startsWith('idle'));
  Object.assign(failed.points[0]!, { status: 'failed', reason: 'qmp.sock: read ECONNRESET', summaries: [] });
  const figure = migrationDowntime.build({ ...context, runs: labelRuns([failed]) });
  assert.ok(figure);
  assert.deepEqual(figure.rows.map((row) => row.mean), [null]);
  assert.deepEqual([figure.marks['value'], figure.marks['gap']], [0, 1]);
  const { svg } = await renderFigure(figure.spec);
  assert.doesNotMatch(svg, />0\.0+</, 'no 0 tick');
  assert.doesNotMatch(svg, /longest echo gap/, 'no value axis title');
  assert.match(svg, /measured \(this host\): no samples/);
  assert.equal((svg.match(/role-axis-label/g) ?? []).length, 1, 'the point axis only');
  assert.ok(figure.notes.some((note) => /no value axis is drawn/.test(note)));
  // With one point measured, the axis is back.
  assert.match((await renderFigure(migrationDowntime.build(context)!.spec)).svg, /longest echo gap/);
});
