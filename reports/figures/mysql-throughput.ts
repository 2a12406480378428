import type { TopLevelSpec } from 'vega-lite';
import { collectRows, hasBaselinePercent, measured, unmeasured, type FigureRow } from '../model/rows.js';
import { FELTER_MYSQL_THROUGHPUT } from '../reference/papers.js';
import {
  axisTitle,
  BASE_CONFIG,
  clippedWhiskerNotes,
  colourScale,
  gapListLayer,
  gapText,
  INDEPENDENT_PANELS,
  IS_MEASURED,
  logScaleNotes,
  targetColour,
  toDatum,
  TOOLTIP,
  uniqueInOrder,
  valueAxis,
} from './encoding.js';
import type { Figure, FigureContext, FigureModule } from './figure.js';
import { paperData, paperView } from './grouped-bars.js';
import { mysqlToolNote, threadsOf } from './mysql.js';
import { MYSQL_METRICS } from '../../results/metrics.js';

/** sysbench OLTP read-only transactions/s per thread count, beside Felter 2014's published sweep. */
export const mysqlThroughput: FigureModule = {
  id: 'mysql-throughput',
  build(context) {
    const rows = collectRows(
      context.runs,
      { suite: 'mysql', metric: MYSQL_METRICS.transactionsPerSecond.name, categoryOf: (point) => `${threadsOf(point) ?? point.pointId} threads` },
      { baseline: context.baseline, multiRun: context.multiRun, styles: context.styles },
    );
    return rows.length === 0 ? null : throughputFigure(rows, context);
  },
};

function throughputFigure(rows: FigureRow[], context: FigureContext): Figure {
  const threadsByKey = new Map<string, number | null>();
  for (const run of context.runs) {
    for (const point of run.file.points) if (point.suite === 'mysql') threadsByKey.set(`${run.label}/${point.pointId}`, threadsOf(point));
  }
  const axis = valueAxis(rows);
  const data = rows.map((row) => {
    const datum = toDatum(row, context.baseline, false, axis.floor);
    return {
      ...datum,
      threads: threadsByKey.get(`${row.run}/${row.pointId}`) ?? null,
      percent: row.percentOfBaseline,
      gapText: gapText(datum),
    };
  });
  const series = uniqueInOrder(rows.map((row) => row.series));
  const reference = paperData(FELTER_MYSQL_THROUGHPUT);
  const colour = targetColour(
    colourScale([...rows.map((row) => row.target), ...reference.map((row) => row.target)], context.styles),
    measured(rows).map((row) => row.target),
  );
  const valueScale = axis.log ? { scale: { type: 'log' } } : {};
  // Thread counts are whole numbers swept in powers of two: ticks only where a point was measured,
  // on a base-2 log scale so 1, 2, 4 … 32 are evenly spaced (a linear axis drew 1.4 and 1.8 threads).
  const sweep = [...new Set(data.map((datum) => datum.threads).filter((value): value is number => typeof value === 'number'))].sort((a, b) => a - b);
  const threads = {
    field: 'threads',
    type: 'quantitative',
    title: 'sysbench threads',
    scale: { type: 'log', base: 2 },
    axis: { values: sweep, format: 'd' },
  };
  const line = (field: string, title: string, name: string, scale: Record<string, unknown> = {}) => ({
    name,
    transform: [{ filter: IS_MEASURED }],
    mark: { type: 'line', point: false },
    encoding: {
      x: threads,
      y: { field, type: 'quantitative', title, ...scale },
      color: colour,
      detail: { field: 'series', type: 'nominal', sort: series },
      strokeDash: { condition: { test: 'datum.emulated', value: [4, 2] }, value: [1, 0] },
    },
  });

  const throughputView = {
    title: { text: 'measured (this host)', fontSize: 12 },
    data: { values: data },
    width: 380,
    height: 240,
    layer: [
      line('mean', axisTitle('transactions/s', axis.log), 'curve', valueScale),
      {
        name: 'ci',
        transform: [{ filter: IS_MEASURED }],
        mark: { type: 'rule' },
        encoding: { x: threads, y: { field: 'whiskerLow', type: 'quantitative' }, y2: { field: 'ci95High' }, color: colour, tooltip: TOOLTIP },
      },
      {
        name: 'value',
        transform: [{ filter: IS_MEASURED }],
        mark: { type: 'point', filled: true, size: 30 },
        encoding: {
          x: threads,
          y: { field: 'mean', type: 'quantitative' },
          color: colour,
          opacity: { condition: { test: "datum.status === 'noisy'", value: 0.4 }, value: 1 },
          tooltip: TOOLTIP,
        },
      },
      gapListLayer(380, 240),
    ],
  };
  const percents = hasBaselinePercent(rows);
  const percentView = {
    title: { text: `% of ${context.baseline} (100% = no loss)`, fontSize: 12 },
    data: { values: data },
    width: 380,
    height: 120,
    layer: [
      { ...line('percent', `% of ${context.baseline}`, 'percent_curve'), transform: [{ filter: 'isValid(datum.percent)' }] },
      {
        name: 'percent',
        transform: [{ filter: 'isValid(datum.percent)' }],
        mark: { type: 'point', filled: true, size: 20 },
        encoding: { x: threads, y: { field: 'percent', type: 'quantitative' }, color: colour, tooltip: TOOLTIP },
      },
    ],
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'MySQL throughput against concurrency',
      subtitle: [
        'mirrors Felter et al. 2014, MySQL throughput (transactions/s) vs. concurrency',
        `points: mean; whiskers: 95% CI${percents ? `; lower panel: % of ${context.baseline} at each thread count` : ''}`,
      ],
    },
    config: BASE_CONFIG,
    // No "% of" panel when no point has the baseline's: it would be an empty panel claiming one.
    hconcat: [percents ? { vconcat: [throughputView, percentView] } : throughputView, paperView(FELTER_MYSQL_THROUGHPUT, reference, colour, [])],
    resolve: INDEPENDENT_PANELS,
  } as unknown as TopLevelSpec;

  const measuredRows = measured(rows);
  return {
    id: 'mysql-throughput',
    title: 'MySQL throughput against concurrency',
    mirrors: 'Felter et al. 2014, MySQL throughput vs. concurrency',
    spec,
    rows,
    reference: reference.map((row) => ({
      source: FELTER_MYSQL_THROUGHPUT.paper.citation,
      category: row.category,
      series: row.series,
      value: row.value,
      unit: FELTER_MYSQL_THROUGHPUT.unit,
    })),
    notes: [
      mysqlToolNote(context.runs),
      `Paper: ${FELTER_MYSQL_THROUGHPUT.tool}; ${FELTER_MYSQL_THROUGHPUT.note ?? ''}.`,
      ...logScaleNotes(axis.log, false),
      ...clippedWhiskerNotes(rows, axis.floor),
    ],
    marks: {
      value: measuredRows.length,
      ci: measuredRows.length,
      gap: unmeasured(rows).length,
      percent: rows.filter((row) => row.percentOfBaseline !== null).length,
      paper: reference.length,
    },
  };
}
