import type { TopLevelSpec } from 'vega-lite';
import { predictMigrationTrial } from '../../models/precopy/index.js';
import type { MigrationTrialDetail } from '../../results/migration.js';
import { countedRounds, predictionRows, type PredictionRow } from '../../results/migration-predictions.js';
import { MIGRATION_METRICS } from '../../results/metrics.js';
import { collectRows } from '../model/rows.js';
import type { ReportRun } from '../model/runs.js';
import { BASE_CONFIG, FIGURE_MAX_WIDTH_PX, wrapSubtitle } from './encoding.js';
import type { Figure, FigureContext, FigureModule } from './figure.js';
import { outcomeWords } from './migration.js';

/*
 * Issue 12's figures, beside the migration figures of issue 11 (migration.ts): the measured rounds
 * with Clark's and QEMU's predictions on one axis, per trial; total time and downtime against the
 * link rate, measured and predicted (Clark's trade-off); and the writable working set tracked with
 * QMP calc-dirty-rate (Clark's "tracking the writable working set"). Predictions are the trials'
 * stored ones, or computed on read (models/precopy `predictMigrationTrial`) for older files.
 */

const MIB = 1_048_576;
/** The three series every prediction figure draws, in this order and these colours. */
const SERIES = ['measured (QEMU)', 'Clark model', 'QEMU model'] as const;
const SERIES_COLOURS = ['#4c78a8', '#f58518', '#54a24b'];
/** Left of where a faceted figure's title starts: the first panel's value axis, its labels and title (px, as vega lays them out here). */
const PANEL_LEFT_PX = 110;
/** The stop-and-copy's category on a rounds axis: after the pre-copy rounds. */
const STOP_AND_COPY = 'stop-and-copy';

/** One trial's comparison with where it came from. */
interface PredictedTrial {
  panel: string;
  run: ReportRun;
  row: PredictionRow;
}

/** Every migration trial of the runs, with its predictions (stored or computed on read). */
export function predictedTrials(runs: readonly ReportRun[], multiRun: boolean): PredictedTrial[] {
  return runs.flatMap((run) =>
    predictionRows(run.file, predictMigrationTrial).map((row) => ({
      panel: `${multiRun ? `${run.tag} ` : ''}${row.target} ${row.pointId} #${row.repetition + 1}: ${outcomeWords(row.detail)}`,
      run,
      row,
    })),
  );
}

/**
 * A measured trial's rounds on the prediction figure's axis: pre-copy rounds numbered from 1 in the
 * order sent, then the stop-and-copy; the pre-copy rounds are those the table counts
 * (results/migration-predictions.ts `countedRounds`: QEMU's sync that decides the switch-over is not
 * a round, and the models have no such round).
 */
export function measuredRoundBars(detail: MigrationTrialDetail): { category: string; mib: number; seconds: number }[] {
  return countedRounds(detail).map((round, index) => ({
    category: round.phase === 'stop-and-copy' ? STOP_AND_COPY : String(index + 1),
    mib: round.sentBytes / MIB,
    seconds: (round.endMs - round.startMs) / 1000,
  }));
}

function rowsFor(context: FigureContext, metric: string) {
  return collectRows(context.runs, { suite: 'migration', metric }, { baseline: context.baseline, multiRun: context.multiRun, styles: context.styles });
}

/** Measured rounds and both models' predicted rounds, MiB per round, a panel per trial. */
export const migrationPredictedRounds: FigureModule = {
  id: 'migration-predicted-rounds',
  build(context): Figure | null {
    const trials = predictedTrials(context.runs, context.multiRun).filter((trial) => trial.row.prediction !== null && trial.row.detail.rounds.length > 0);
    if (trials.length === 0) return null;
    const data = trials.flatMap(({ panel, row }) => {
      const prediction = row.prediction!;
      const predicted = (series: (typeof SERIES)[number], rounds: typeof prediction.clark.rounds) =>
        rounds.map((round, index) => ({
          panel,
          series,
          category: round.kind === 'stop-and-copy' ? STOP_AND_COPY : String(index + 1),
          mib: round.sentBytes / MIB,
          seconds: round.durationMs / 1000,
        }));
      return [
        ...measuredRoundBars(row.detail).map((bar) => ({ panel, series: SERIES[0], ...bar })),
        ...predicted(SERIES[1], prediction.clark.rounds),
        ...predicted(SERIES[2], prediction.qemu.rounds),
      ];
    });
    const longest = Math.max(...data.map((datum) => (datum.category === STOP_AND_COPY ? 0 : Number(datum.category))));
    const order = [...Array.from({ length: longest }, (_, index) => String(index + 1)), STOP_AND_COPY];
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Migration: measured rounds against Clark\'s and QEMU\'s models',
        subtitle: wrapSubtitle([
          'bars: MiB sent in each round — measured (query-migrate), predicted by Clark et al.\'s dynamic rate limiting and by QEMU 7.2\'s rule, from the trial\'s own dirty trace and limits',
          'x: pre-copy rounds in the order sent, then the stop-and-copy (the guest paused); a model or trial without one has no bar there',
        ], FIGURE_MAX_WIDTH_PX - PANEL_LEFT_PX),
      },
      config: BASE_CONFIG,
      data: { values: data },
      // Two columns fit the page only if each panel's title fits over its panel: the trial on one line, its outcome under it.
      facet: { field: 'panel', type: 'nominal', title: null, sort: trials.map((trial) => trial.panel), header: { labelFontSize: 10, labelLimit: 0, labelExpr: "split(datum.value, ': ')" } },
      columns: 2,
      resolve: { scale: { x: 'independent', xOffset: 'independent', y: 'independent' } },
      spec: {
        width: 340,
        height: 130,
        layer: [
          {
            name: 'round',
            mark: { type: 'bar', stroke: '#333', strokeWidth: 0.3 },
            encoding: {
              x: { field: 'category', type: 'ordinal', sort: order, title: 'round (pre-copy 1…n, then stop-and-copy)', axis: { labelAngle: 0, labelOverlap: 'parity' } },
              xOffset: { field: 'series', type: 'nominal', sort: [...SERIES] },
              y: { field: 'mib', type: 'quantitative', title: 'MiB sent in the round' },
              // Above the panels: a legend to their right widened the figure past the page.
              color: { field: 'series', type: 'nominal', title: null, scale: { domain: [...SERIES], range: SERIES_COLOURS }, legend: { orient: 'top' } },
              tooltip: [
                { field: 'series', title: 'series' },
                { field: 'category', title: 'round' },
                { field: 'mib', title: 'MiB sent', format: '.1f' },
                { field: 'seconds', title: 'round length (s)', format: '.2f' },
              ],
            },
          },
        ],
      },
    } as unknown as TopLevelSpec;
    const computed = trials.filter((trial) => trial.row.predictions === 'computed').length;
    return {
      id: 'migration-predicted-rounds',
      title: 'Migration: measured rounds against Clark\'s and QEMU\'s models',
      mirrors: 'Clark et al. 2005, iterative pre-copy rounds, beside models of Clark\'s algorithm and QEMU\'s',
      spec,
      rows: rowsFor(context, MIGRATION_METRICS.rounds.name),
      reference: [],
      notes: [
        'Each model runs on the trial\'s own dirty trace (dirty: the dirtier\'s reported rate in its working set; idle and web: QEMU\'s polled dirty-pages-rate), guest memory (ram.total), max-bandwidth, downtime limit and the harness\'s time and round limits (models/precopy/trial.ts).',
        'Clark: Xen 2005\'s algorithm with its rates scaled to the link (starts at 1/5 of max-bandwidth, rises to the last round\'s dirty rate + 1/10, capped at max-bandwidth), every page sent (no zero-page skipping); stops on few pages, a dirty rate above the cap, 29 rounds or 3 × memory. QEMU: fixed max-bandwidth, zero pages as the measured first pass had them, switch-over once what is left fits the downtime limit.',
        ...(computed > 0 ? [`${computed} trial(s) come from a file written before predictions were stored: their predictions were computed when this report was made.`] : []),
      ],
      marks: { round: data.length },
    };
  },
};

/** A bandwidth sweep: the workloads (points without their link rate) measured at two or more link rates. */
function sweepKey(pointId: string): string {
  return pointId.replace(/-bw\d+-/, '-');
}

/**
 * Total time and downtime against the link rate, measured (each repetition, and the mean) and as the
 * two models predict, for every workload measured at two or more link rates (Clark's trade-off: a
 * faster link shortens the migration and the stop-and-copy).
 */
export const migrationBandwidthSweep: FigureModule = {
  id: 'migration-bandwidth-sweep',
  build(context): Figure | null {
    const trials = predictedTrials(context.runs, context.multiRun);
    const bandwidths = new Map<string, Set<number>>();
    for (const { run, row } of trials) {
      const key = `${context.multiRun ? `${run.tag} ` : ''}${row.target} ${sweepKey(row.pointId)}`;
      bandwidths.set(key, (bandwidths.get(key) ?? new Set()).add(row.detail.settings.maxBandwidthMiBs));
    }
    const swept = [...bandwidths.entries()].filter(([, set]) => set.size >= 2).map(([key]) => key);
    if (swept.length === 0) return null;
    const data = trials.flatMap(({ run, row }) => {
      const workload = `${context.multiRun ? `${run.tag} ` : ''}${row.target} ${sweepKey(row.pointId)}`;
      if (!swept.includes(workload)) return [];
      const base = { workload, bandwidth: row.detail.settings.maxBandwidthMiBs, repetition: row.repetition + 1, outcome: outcomeWords(row.detail) };
      const quantities = [
        { quantity: 'total time (s)', compared: row.totalMs, scale: 1 / 1000 },
        { quantity: 'downtime (ms)', compared: row.downtimeMs, scale: 1 },
      ];
      return quantities.flatMap(({ quantity, compared, scale }) =>
        [
          { series: SERIES[0], value: compared.measured },
          { series: SERIES[1], value: compared.clark },
          { series: SERIES[2], value: compared.qemu },
        ].flatMap(({ series, value }) => (value === null ? [] : [{ ...base, quantity, series, value: value * scale }])),
      );
    });
    if (data.length === 0) return null;
    const colour = { field: 'series', type: 'nominal', title: null, scale: { domain: [...SERIES], range: SERIES_COLOURS } };
    const x = { field: 'bandwidth', type: 'quantitative', title: 'max-bandwidth (MiB/s)', scale: { zero: false } };
    const tooltip = [
      { field: 'series' },
      { field: 'quantity' },
      { field: 'value', format: '.1f' },
      { field: 'bandwidth', title: 'max-bandwidth (MiB/s)' },
      { field: 'repetition' },
      { field: 'outcome' },
    ];
    // One column per quantity, each with its own unit on its axis; rows are the workloads, in the same order in both.
    const column = (quantity: string, yTitle: string, labels: boolean, suffix: string) => ({
      transform: [{ filter: { field: 'quantity', equal: quantity } }],
      facet: { row: { field: 'workload', type: 'nominal', title: null, sort: swept, header: labels ? { labelAngle: 0, labelAlign: 'left', labelLimit: 0, labelFontSize: 10 } : { labels: false } } },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 260,
        height: 150,
        layer: [
          {
            name: `mean-${suffix}`,
            mark: { type: 'line', strokeWidth: 1.5 },
            encoding: { x, y: { aggregate: 'mean', field: 'value', type: 'quantitative', title: yTitle }, color: colour, detail: { field: 'series' } },
          },
          {
            name: `predicted-${suffix}`,
            transform: [{ filter: { field: 'series', oneOf: [SERIES[1], SERIES[2]] } }],
            mark: { type: 'point', filled: true, size: 40, opacity: 0.8 },
            encoding: { x, y: { field: 'value', type: 'quantitative' }, color: colour, shape: { field: 'series', type: 'nominal', title: null, scale: { domain: [...SERIES], range: ['circle', 'triangle-up', 'square'] } }, tooltip },
          },
          {
            name: `measured-${suffix}`,
            transform: [{ filter: { field: 'series', equal: SERIES[0] } }],
            mark: { type: 'point', filled: true, size: 70, stroke: '#fff', strokeWidth: 0.8 },
            encoding: { x, y: { field: 'value', type: 'quantitative' }, color: colour, tooltip },
          },
        ],
      },
    });
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Migration: total time and downtime against the link rate',
        subtitle: wrapSubtitle([
          'mirrors Clark et al. 2005\'s trade-off between migration time and service impact; a row per workload; QEMU\'s total-time (left) and downtime (right)',
          'dots: each repetition (measured drawn on top, large); lines: the mean of the measured and of each model\'s predictions; no downtime where the migration was cancelled',
        ], FIGURE_MAX_WIDTH_PX - PANEL_LEFT_PX),
      },
      config: BASE_CONFIG,
      data: { values: data },
      hconcat: [column('total time (s)', 'total time (s)', true, 'total'), column('downtime (ms)', 'downtime (ms)', false, 'downtime')],
    } as unknown as TopLevelSpec;
    return {
      id: 'migration-bandwidth-sweep',
      title: 'Migration: total time and downtime against the link rate',
      mirrors: 'Clark et al. 2005, the trade-off between migration time and downtime (dynamic rate limiting)',
      spec,
      rows: [...rowsFor(context, MIGRATION_METRICS.totalTime.name), ...rowsFor(context, MIGRATION_METRICS.downtimeQemu.name)],
      reference: [],
      notes: [
        'Measured: QEMU\'s total-time (a cancelled migration: up to the cancel) and downtime, one dot per repetition; the spread of the dots is the spread over repetitions.',
        'Predicted: each repetition\'s own Clark and QEMU predictions (the same models as the rounds figure), one dot each; lines join the means.',
      ],
      marks: Object.fromEntries(
        [['total', 'total time (s)'], ['downtime', 'downtime (ms)']].flatMap(([suffix, quantity]) => [
          [`predicted-${suffix}`, data.filter((datum) => datum.quantity === quantity && datum.series !== SERIES[0]).length],
          [`measured-${suffix}`, data.filter((datum) => datum.quantity === quantity && datum.series === SERIES[0]).length],
        ]),
      ),
    };
  },
};

/** Clark's "tracking the writable working set": pages changed per interval over time, and the WWS curve, per traced trial. */
export const migrationWws: FigureModule = {
  id: 'migration-wws',
  build(context): Figure | null {
    const traced = context.runs.flatMap((run) =>
      run.file.points
        .filter((point) => point.suite === 'migration')
        .flatMap((point) =>
          point.trials.flatMap((trial) => {
            const wws = trial.detail?.kind === 'migration' ? trial.detail.wwsTrace : undefined;
            return wws?.kind === 'traced' ? [{ panel: `${context.multiRun ? `${run.tag} ` : ''}${point.target} ${point.pointId} #${trial.repetition + 1} (${wws.mode})`, wws }] : [];
          }),
        ),
    );
    if (traced.length === 0) return null;
    // QEMU answers whole MiB/s: a 0 is "under 1 MiB/s", not "no page changed"; it is not drawn as 0 but counted in a note.
    const belowResolution = traced.reduce((sum, { wws }) => sum + [...wws.series, ...wws.curve].filter((sample) => sample.dirtyRateMiBs === 0).length, 0);
    const series = traced.flatMap(({ panel, wws }) =>
      wws.series.filter((sample) => sample.dirtyRateMiBs !== 0).map((sample) => ({ panel, kind: 'series', startS: sample.startMs / 1000, endS: sample.startMs / 1000 + sample.calcTimeS, pages: sample.pages, mibs: sample.dirtyRateMiBs })),
    );
    const curve = traced.flatMap(({ panel, wws }) => {
      const ones = wws.series.filter((sample) => sample.calcTimeS === 1 && sample.dirtyRateMiBs !== 0);
      const mean = ones.length ? ones.reduce((sum, sample) => sum + sample.pages, 0) / ones.length : null;
      return [
        ...(mean === null ? [] : [{ panel, kind: 'curve', intervalS: 1, pages: mean, note: `mean of ${ones.length} 1 s samples` }]),
        ...wws.curve.filter((sample) => sample.dirtyRateMiBs !== 0).map((sample) => ({ panel, kind: 'curve', intervalS: sample.calcTimeS, pages: sample.pages, note: `one ${sample.calcTimeS} s sample` })),
      ];
    });
    const panels = traced.map((trace) => trace.panel);
    const pagesAxis = { field: 'pages', type: 'quantitative', title: 'pages changed (4 KiB)' };
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Migration: tracking the writable working set',
        subtitle: wrapSubtitle([
          'mirrors Clark et al. 2005, "tracking the writable working set" (pages dirtied per interval over time), with the workload on and no migration under way',
          'left: pages changed in each 1 s interval over time; right: distinct pages changed against the interval\'s length (flattens at the working set); QMP calc-dirty-rate, mode in each title',
        ], FIGURE_MAX_WIDTH_PX - PANEL_LEFT_PX),
      },
      config: BASE_CONFIG,
      hconcat: [
        {
          data: { values: series },
          facet: { row: { field: 'panel', type: 'nominal', title: null, sort: panels, header: { labelOrient: 'top', labelAngle: 0, labelAnchor: 'start', labelLimit: 0, labelFontSize: 10 } } },
          resolve: { scale: { y: 'independent' } },
          spec: {
            width: 380,
            height: 110,
            layer: [
              {
                name: 'interval',
                mark: { type: 'rect', color: '#e45756', stroke: '#333', strokeWidth: 0.3 },
                encoding: {
                  x: { field: 'startS', type: 'quantitative', title: 's since the trace began' },
                  x2: { field: 'endS' },
                  y: { ...pagesAxis, stack: null },
                  y2: { datum: 0 },
                  tooltip: [
                    { field: 'startS', title: 'from (s)', format: '.1f' },
                    { field: 'endS', title: 'to (s)', format: '.1f' },
                    { field: 'pages', title: 'pages changed', format: ',.0f' },
                    { field: 'mibs', title: 'QEMU dirty-rate (MiB/s)' },
                  ],
                },
              },
            ],
          },
        },
        {
          data: { values: curve },
          facet: { row: { field: 'panel', type: 'nominal', title: null, sort: panels, header: { labelOrient: 'top', labelAngle: 0, labelAnchor: 'start', labelFontSize: 10, labelExpr: "'WWS curve'" } } },
          resolve: { scale: { y: 'independent' } },
          spec: {
            width: 200,
            height: 110,
            layer: [
              {
                name: 'curve',
                mark: { type: 'line', point: { filled: true, size: 40 }, color: '#4c78a8' },
                encoding: {
                  x: { field: 'intervalS', type: 'quantitative', title: 'interval length (s)', scale: { domainMin: 0 } },
                  y: pagesAxis,
                  tooltip: [{ field: 'intervalS', title: 'interval (s)' }, { field: 'pages', title: 'distinct pages', format: ',.0f' }, { field: 'note' }],
                },
              },
            ],
          },
        },
      ],
    } as unknown as TopLevelSpec;
    return {
      id: 'migration-wws',
      title: 'Migration: tracking the writable working set',
      mirrors: 'Clark et al. 2005, tracking the writable working set of SPEC CINT2000',
      spec,
      rows: rowsFor(context, MIGRATION_METRICS.dirtyRate.name),
      reference: [],
      notes: [
        'QEMU\'s calc-dirty-rate, read back with query-dirty-rate, on the running guest before the migration, the workload on. QEMU 7.2 takes whole seconds and answers whole MiB/s (256 pages), so under 1 MiB/s reads 0, which is left out.',
        'Page sampling (the one mode for TCG: QEMU 7.2 dies of SIGSEGV on dirty-bitmap and dirty-ring calc-dirty-rate under TCG here; both count writes through KVM) hashes 16384 sampled pages per GiB at the start and end of the interval: a page written back with the same content, or a write between samples, is not seen; the count is the sampled share times the RAM block.',
        ...(belowResolution > 0 ? [`${belowResolution} interval(s) read 0 MiB/s, under QEMU's 1 MiB/s resolution: not drawn (they are not a measured 0).`] : []),
        ...traced.map(({ panel, wws }) => `${panel}: ${wws.modeReason}.`),
      ],
      marks: { interval: series.length, curve: curve.length },
    };
  },
};
