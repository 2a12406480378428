import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { measuredRoundBars, migrationBandwidthSweep, migrationPredictedRounds, migrationWws } from '../../reports/figures/migration-predictions.js';
import { FIGURES } from '../../reports/figures/index.js';
import { figuresOf } from '../../reports/figures/figure.js';
import { migrationPredictionSection } from '../../reports/html/migration-predictions.js';
import { labelRuns } from '../../reports/model/runs.js';
import { TargetStyles } from '../../reports/model/targets.js';
import { FIGURE_MAX_WIDTH_PX, wrapSubtitle, estimatedTextWidthPx } from '../../reports/figures/encoding.js';
import { renderFigure } from '../../reports/render.js';
import { parseResultsFile } from '../../results/schema.js';

function load(name: string) {
  return parseResultsFile(JSON.parse(readFileSync(new URL(`../fixtures/results/${name}`, import.meta.url), 'utf8')), name);
}
const context = (name: string) => ({ runs: labelRuns([load(name)]), baseline: 'kvm', multiRun: false, styles: new TargetStyles(displayOf) });

/** A real run here, before predictions were stored: idle (converged) and a flat-out dirtier (not converged), 64 MiB/s. */
const old = context('migration-idle-dirty-1rep.json');
/**
 * A real run here with predictions stored (2026-11-30, --reps 2): idle, dirty at 16 and 48 MiB/s in 64 MiB,
 * at 32, 64 and 128 MiB/s; 13 trials kept their records (5 more found the guest's network gone). Trimmed
 * for size: no polls, commands, serial logs or events but the migration's own.
 */
const sweep = context('migration-sweep-2reps.json');

const count = (svg: string, role: string) => (svg.match(new RegExp(`aria-roledescription="${role}"`, 'g')) ?? []).length;

test('rounds against both models: a bar per round and series, predictions computed on read for the old file, labels with units', async () => {
  const figure = migrationPredictedRounds.build(old);
  assert.ok(figure);
  // idle: measured 2 pre-copy + stop-and-copy (QEMU's empty round left out), Clark 2 + 1, QEMU 1 + 1;
  // dirty: measured 4, Clark 2 + 1, QEMU 4 (cancelled: no stop-and-copy).
  assert.equal(figure.marks['round'], 3 + 3 + 2 + 4 + 3 + 4);
  const { svg } = await renderFigure(figure.spec);
  assert.equal(count(svg, 'bar'), 19, 'every bar drawn');
  for (const text of ['measured (QEMU)', 'Clark model', 'QEMU model', 'MiB sent in the round', 'round (pre-copy 1…n, then stop-and-copy)', 'stop-and-copy', 'idle-bw64-dl300-precopy #1', 'converged']) {
    assert.ok(svg.includes(text), `the SVG says "${text}"`);
  }
  assert.ok(figure.notes.some((note) => /2 trial\(s\) come from a file written before predictions were stored/.test(note)));
  const [idle] = load('migration-idle-dirty-1rep.json').points[0]!.trials.flatMap((trial) => (trial.detail?.kind === 'migration' ? [trial.detail] : []));
  assert.deepEqual(measuredRoundBars(idle!).map((bar) => bar.category), ['1', '2', 'stop-and-copy'], 'the 0-byte round between the last sync and the completion is not a round');
});

test('rounds against both models fit the page: two columns of panels no wider than the report\'s content box', async () => {
  // The sweep's 18 panels drew 1541 px in a 1252 px box: a 190-character subtitle line, panel titles
  // wider than their panels, and the legend to the right, all at vega's text-width estimate.
  for (const run of [sweep, old]) {
    const figure = migrationPredictedRounds.build(run);
    assert.ok(figure);
    const { svg } = await renderFigure(figure.spec);
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    assert.ok(width <= FIGURE_MAX_WIDTH_PX, `the figure is ${width} px wide, the page has ${FIGURE_MAX_WIDTH_PX}`);
    assert.ok(width > 600, `still two columns (${width} px)`);
  }
});

test('every migration figure of the three real runs fits the page', async () => {
  // The rounds figure (legend at the side: 1254 px), the bandwidth sweep (1453 px) and the WWS trace
  // (1611 px) overflowed the 1252 px box as well, on their subtitles and legend.
  for (const run of [sweep, old, context('migration-wws-trace.json')]) {
    for (const figure of FIGURES.flatMap((module) => figuresOf(module, run))) {
      const width = Number(/<svg[^>]* width="(\d+)"/.exec((await renderFigure(figure.spec)).svg)![1]);
      assert.ok(width <= FIGURE_MAX_WIDTH_PX, `${figure.id}: ${width} px wide, the page has ${FIGURE_MAX_WIDTH_PX}`);
    }
  }
});

test('wrapSubtitle breaks at spaces under the width and keeps every word', () => {
  const line = 'bars: MiB sent in each round — measured (query-migrate), predicted by Clark et al.\'s dynamic rate limiting and by QEMU 7.2\'s rule';
  const wrapped = wrapSubtitle([line, 'short'], 400, 11);
  assert.ok(wrapped.length > 2);
  for (const part of wrapped) assert.ok(estimatedTextWidthPx(part, 11) <= 400, part);
  assert.equal(wrapped.join(' '), `${line} short`);
  assert.deepEqual(wrapSubtitle(['a-very-long-word-alone'], 10, 11), ['a-very-long-word-alone']);
});

test('bandwidth sweep: one row per workload measured at several link rates, every repetition a dot, both quantities with units', async () => {
  assert.equal(migrationBandwidthSweep.build(old), null, 'one link rate: no sweep');
  const figure = migrationBandwidthSweep.build(sweep);
  assert.ok(figure);
  // Measured: a total time for every trial; a downtime only where the guest switched over.
  const file = load('migration-sweep-2reps.json');
  const trials = file.points.flatMap((point) => point.trials.flatMap((trial) => (trial.detail?.kind === 'migration' ? [trial.detail] : [])));
  assert.equal(trials.length, 13);
  const downtimes = trials.filter((detail) => (detail.qemu.downtimeMs ?? detail.qemu.eventDowntimeMs) !== null).length;
  assert.equal(figure.marks['measured-total'], 13);
  assert.equal(figure.marks['measured-downtime'], downtimes);
  assert.equal(figure.marks['predicted-total'], 26, 'Clark and QEMU for every trial');
  const { svg } = await renderFigure(figure.spec);
  assert.equal(count(svg, 'point'), 13 + downtimes + 26 + (figure.marks['predicted-downtime'] ?? 0));
  for (const text of ['kvm idle-dl300-precopy', 'kvm dirty16-wws64-dl300-precopy', 'kvm dirty48-wws64-dl300-precopy', 'max-bandwidth (MiB/s)', 'total time (s)', 'downtime (ms)', 'measured (QEMU)', 'Clark model', 'QEMU model']) {
    assert.ok(svg.includes(text), `the SVG says "${text}"`);
  }
  assert.equal(count(svg, 'legend'), 1);
});

test('the prediction-error table in the report: a row per trial, the three quantities measured and predicted, stored predictions not marked', () => {
  const section = migrationPredictionSection(sweep.runs);
  assert.ok(section);
  const text = section.html;
  assert.equal((text.match(/<tr class="trial"><td rowspan="2">kvm /g) ?? []).length, 13);
  assert.equal((text.match(/<tr class="trial-notes"><td colspan="15">stopped: Clark [a-z-]+, QEMU [a-z-]+; dirty trace: /g) ?? []).length, 13, 'each trial\'s stop reasons and trace under its numbers');
  assert.match(text, /pre-copy rounds \(guest running\)/);
  assert.match(text, /total time \(s\)/);
  assert.match(text, /downtime \(ms\)/);
  assert.doesNotMatch(text, /computed on read/);
  const older = migrationPredictionSection(old.runs);
  assert.ok(older);
  assert.match(older.html, /computed on read/);
  assert.equal(migrationWws.build(sweep), null, 'no trace without --wws-trace');
});

test('tracking the writable working set: the real --wws-trace run, a bar per 1 s sample and the curve per traced trial, the mode named', async () => {
  /** A real `--wws-trace 8` run here (2026-11-30): web and the dirtier at 48 MiB/s in 64 MiB, 64 MiB/s; trimmed like the sweep. */
  const traced = context('migration-wws-trace.json');
  const figure = migrationWws.build(traced);
  assert.ok(figure);
  // web's 4 s interval read 0 MiB/s: under QEMU's 1 MiB/s resolution, so it is left out and said, not drawn as 0.
  assert.deepEqual(figure.marks, { interval: 16, curve: 5 });
  assert.ok(figure.notes.some((note) => /^1 interval\(s\) read 0 MiB\/s, under QEMU's 1 MiB\/s resolution: not drawn/.test(note)));
  const { svg } = await renderFigure(figure.spec);
  assert.equal(count(svg, 'rect mark'), 16, 'eight 1 s intervals per trial');
  assert.equal(count(svg, 'point'), 5, 'the curve: 1 s (mean), 2 s and 4 s per trial, less the one under resolution');
  for (const text of ['kvm web-bw64-dl300-precopy #1 (page-sampling)', 'kvm dirty48-wws64-bw64-dl300-precopy #1 (page-sampling)', 's since the trace began', 'pages changed (4 KiB)', 'interval length (s)', 'WWS curve']) {
    assert.ok(svg.includes(text), `the SVG says "${text}"`);
  }
  assert.ok(figure.notes.some((note) => /TCG \(query-kvm: not enabled\): page sampling/.test(note)), 'why page sampling is said under the figure');
  // The dirtier's set is 64 MiB = 16384 pages: the 4 s interval reads the whole set (within page sampling's error), not 4 × the 1 s rate.
  const trace = load('migration-wws-trace.json').points.flatMap((point) => point.trials).find((trial) => trial.detail?.kind === 'migration' && trial.detail.workload === 'dirty')!.detail;
  const wws = trace?.kind === 'migration' ? trace.wwsTrace : undefined;
  assert.ok(wws?.kind === 'traced');
  const four = wws.curve.find((sample) => sample.calcTimeS === 4)!;
  assert.ok(Math.abs(four.pages - 16384) / 16384 < 0.1, `${four.pages} pages in 4 s`);
});
