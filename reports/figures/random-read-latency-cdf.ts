import type { TopLevelSpec } from 'vega-lite';
import { collectRows, hasBaselinePercent, measured, unmeasured, type FigureRow } from '../model/rows.js';
import { FELTER_RANDOM_READ_LATENCY, PAPER_ROWS } from '../reference/papers.js';
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
  spansDecade,
  targetColour,
  toDatum,
  TOOLTIP,
  uniqueInOrder,
  valueAxis,
} from './encoding.js';
import type { Figure, FigureContext, FigureModule } from './figure.js';
import { clatPercentileOf } from '../../results/metrics.js';

const percentileOf = clatPercentileOf;

/** fio random-read completion-latency percentiles (the `randread-latency` point) drawn as a CDF. */
export const randomReadLatencyCdf: FigureModule = {
  id: 'random-read-latency-cdf',
  build(context) {
    const rows = collectRows(
      context.runs,
      { suite: 'random-io', metric: (name) => percentileOf(name) !== null, pointIds: ['randread-latency'] },
      { baseline: context.baseline, multiRun: context.multiRun, styles: context.styles },
    ).map((row) => ({ ...row, category: row.metric ? `p${percentileOf(row.metric)}` : row.category }));
    return rows.length === 0 ? null : cdfFigure(rows, context);
  },
};

function cdfFigure(rows: FigureRow[], context: FigureContext): Figure {
  const series = uniqueInOrder(rows.map((row) => row.series));
  // Latency percentiles from p1 to p99.99 often span a decade, and an emulated guest's more: the
  // axis is logarithmic when they do, linear when they do not.
  const axis = valueAxis(rows);
  const floor = axis.floor;
  const data = rows.map((row) => {
    const datum = toDatum(row, context.baseline, false, floor);
    const percentile = percentileOf(row.metric);
    return {
      ...datum,
      fraction: percentile === null ? null : percentile / 100,
      // Label only the tail's end, where the paper's VM curve pulls away; stacked downwards per
      // series so labels at the same percentile do not overwrite each other.
      tailLabel: percentile === 99 && datum.percentText ? `${row.series} p99: ${datum.percentText}` : '',
      labelFraction: 0.93 - 0.07 * series.indexOf(row.series),
      gapText: gapText(datum),
    };
  });
  const paper = FELTER_RANDOM_READ_LATENCY.values.map((value) => ({
    series: PAPER_ROWS[value.row].label,
    target: PAPER_ROWS[value.row].colourOf,
    value: value.value,
    fraction: Number(value.category) / 100,
    percentile: `p${value.category}`,
  }));
  const colour = targetColour(
    colourScale([...rows.map((row) => row.target), ...paper.map((row) => row.target)], context.styles),
    measured(rows).map((row) => row.target),
  );
  const fractionAxis = { field: 'fraction', type: 'quantitative', title: 'fraction of reads completed', scale: { domain: [0, 1] } };
  const latencyScale = axis.log ? { type: 'log' } : { zero: false };
  const paperLog = spansDecade(paper.map((row) => row.value));
  const unit = rows.find((row) => row.unit)?.unit ?? 'µs';

  const measuredView = {
    title: { text: 'measured (this host)', fontSize: 12 },
    data: { values: data },
    width: 420,
    height: 280,
    layer: [
      {
        name: 'curve',
        transform: [{ filter: IS_MEASURED }],
        mark: { type: 'line', strokeWidth: 1.5, interpolate: 'monotone' },
        encoding: {
          x: { field: 'mean', type: 'quantitative', scale: latencyScale, title: axisTitle(`completion latency (${unit})`, axis.log) },
          y: fractionAxis,
          color: colour,
          detail: { field: 'series', type: 'nominal', sort: series },
          strokeDash: { condition: { test: 'datum.emulated', value: [4, 2] }, value: [1, 0] },
          order: { field: 'fraction', type: 'quantitative' },
        },
      },
      {
        name: 'ci',
        transform: [{ filter: IS_MEASURED }],
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: { x: { field: 'whiskerLow', type: 'quantitative' }, x2: { field: 'ci95High' }, y: fractionAxis, color: colour, tooltip: TOOLTIP },
      },
      {
        name: 'value',
        transform: [{ filter: IS_MEASURED }],
        mark: { type: 'point', filled: true, size: 22 },
        encoding: {
          x: { field: 'mean', type: 'quantitative' },
          y: fractionAxis,
          color: colour,
          opacity: { condition: { test: "datum.status === 'noisy'", value: 0.4 }, value: 1 },
          tooltip: TOOLTIP,
        },
      },
      {
        name: 'label',
        transform: [{ filter: "datum.tailLabel !== ''" }],
        mark: { type: 'text', align: 'left', dx: 6, fontSize: 9 },
        encoding: {
          x: { field: 'mean', type: 'quantitative' },
          y: { field: 'labelFraction', type: 'quantitative' },
          text: { field: 'tailLabel' },
          color: colour,
        },
      },
      gapListLayer(420, 280),
    ],
  };

  const paperView = {
    title: { text: 'published: Felter et al. 2014 (2014 hardware)', fontSize: 12, color: '#555' },
    data: { values: paper },
    width: 260,
    height: 280,
    encoding: {
      x: { field: 'value', type: 'quantitative', scale: paperLog ? { type: 'log' } : { zero: false }, title: axisTitle('published latency (µs)', paperLog) },
      y: fractionAxis,
      color: colour,
    },
    layer: [
      { name: 'paper_curve', mark: { type: 'line', opacity: 0.6 }, encoding: { detail: { field: 'series' }, order: { field: 'fraction', type: 'quantitative' } } },
      {
        name: 'paper',
        mark: { type: 'point', shape: 'diamond', filled: true, size: 40, opacity: 0.7 },
        encoding: {
          shape: { field: 'series', type: 'nominal', legend: { title: 'paper configuration', orient: 'bottom' } },
          tooltip: [
            { field: 'series', title: 'paper configuration' },
            { field: 'percentile', title: 'percentile' },
            { field: 'value', title: 'published µs' },
          ],
        },
      },
    ],
  };

  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Random read latency CDF',
      subtitle: [
        'mirrors Felter et al. 2014, random read latency CDF (fio, 4 KiB, iodepth 16)',
        'points: mean of each completion-latency percentile across repetitions; horizontal whiskers: 95% CI',
      ],
    },
    config: BASE_CONFIG,
    hconcat: [measuredView, paperView],
    resolve: INDEPENDENT_PANELS,
  } as unknown as TopLevelSpec;

  const measuredRows = measured(rows);
  return {
    id: 'random-read-latency-cdf',
    title: 'Random read latency CDF',
    mirrors: 'Felter et al. 2014, random read latency CDF',
    spec,
    rows,
    reference: paper.map((row) => ({
      source: FELTER_RANDOM_READ_LATENCY.paper.citation,
      category: row.percentile,
      series: row.series,
      value: row.value,
      unit: 'µs',
    })),
    notes: [
      `Percentiles of fio completion latency${hasBaselinePercent(rows) ? `; the label at p99 is the % of ${context.baseline} at the same percentile` : ''}.`,
      `Paper: ${FELTER_RANDOM_READ_LATENCY.tool}; only p50, p90 and p99 are published as numbers.`,
      ...logScaleNotes(axis.log, false),
      ...clippedWhiskerNotes(rows, floor),
    ],
    marks: { value: measuredRows.length, ci: measuredRows.length, gap: unmeasured(rows).length, paper: paper.length },
  };
}
