import type { TargetStyles } from '../model/targets.js';
import type { TopLevelSpec } from 'vega-lite';
import { formatNumber } from '../model/format.js';
import { collectRows, type FigureRow } from '../model/rows.js';
import { axisTitle, BASE_CONFIG, clippedWhiskerNotes, colourScale, logScaleNotes, targetColour, uniqueInOrder, valueAxis, whiskerLow, type ValueAxis } from './encoding.js';
import type { Figure, FigureContext, FigureModule } from './figure.js';
import { mysqlToolNote, threadsOf } from './mysql.js';
import { MYSQL_METRICS } from '../../results/metrics.js';

/** One dot per (series, thread count) that has both numbers; its CI in both directions. */
interface Pair {
  series: string;
  target: string;
  threads: number | null;
  tps: number;
  tpsLow: number;
  tpsHigh: number;
  latency: number;
  latencyLow: number;
  latencyHigh: number;
  emulated: boolean;
  status: string;
  text: string;
}

/** sysbench p95 latency (ms) against throughput (transactions/s), one dot per thread count, CI whiskers on both axes. */
export const mysqlLatencyThroughput: FigureModule = {
  id: 'mysql-latency-throughput',
  build(context) {
    const options = { baseline: context.baseline, multiRun: context.multiRun, styles: context.styles };
    const throughput = collectRows(context.runs, { suite: 'mysql', metric: MYSQL_METRICS.transactionsPerSecond.name }, options);
    const latency = collectRows(context.runs, { suite: 'mysql', metric: MYSQL_METRICS.latencyP95.name }, options);
    const axes = { x: valueAxis(throughput), y: valueAxis(latency) };
    const pairs = pair(throughput, latency, context, axes);
    return pairs.length === 0 ? null : latencyFigure(pairs, [...throughput, ...latency], context.styles, axes, mysqlToolNote(context.runs), [
      ...clippedWhiskerNotes(throughput, axes.x.floor),
      ...clippedWhiskerNotes(latency, axes.y.floor),
    ]);
  },
};

/** Each axis decided from its own rows: log when they span more than a decade. */
interface Axes {
  x: ValueAxis;
  y: ValueAxis;
}

function pair(throughput: FigureRow[], latency: FigureRow[], context: FigureContext, axes: Axes): Pair[] {
  const pairs: Pair[] = [];
  for (const row of throughput) {
    const match = latency.find((other) => other.run === row.run && other.target === row.target && other.pointId === row.pointId);
    if (!match || row.mean === null || match.mean === null) continue;
    const point = context.runs.find((run) => run.label === row.run)?.file.points.find((candidate) => candidate.suite === 'mysql' && candidate.pointId === row.pointId);
    const threads = point ? threadsOf(point) : null;
    pairs.push({
      series: row.series,
      target: row.target,
      threads,
      tps: row.mean,
      tpsLow: whiskerLow(row, axes.x.floor) ?? row.mean,
      tpsHigh: row.ci95High ?? row.mean,
      latency: match.mean,
      latencyLow: whiskerLow(match, axes.y.floor) ?? match.mean,
      latencyHigh: match.ci95High ?? match.mean,
      emulated: row.emulated,
      status: row.status === 'noisy' || match.status === 'noisy' ? 'noisy' : 'ok',
      text: `${threads ?? '?'} threads: ${formatNumber(row.mean)} tx/s, p95 ${formatNumber(match.mean)} ms`,
    });
  }
  return pairs;
}

function latencyFigure(pairs: Pair[], rows: FigureRow[], styles: TargetStyles, axes: Axes, toolNote: string, clipped: string[]): Figure {
  const colour = targetColour(colourScale(pairs.map((row) => row.target), styles), pairs.map((row) => row.target));
  const scale = (axis: ValueAxis) => (axis.log ? { scale: { type: 'log' } } : {});
  const x = { field: 'tps', type: 'quantitative', title: axisTitle('throughput (transactions/s)', axes.x.log), ...scale(axes.x) };
  const y = { field: 'latency', type: 'quantitative', title: axisTitle('p95 latency (ms)', axes.y.log), ...scale(axes.y) };
  const tooltip = [{ field: 'series', title: 'target' }, { field: 'text', title: 'point' }, { field: 'status' }];
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'MySQL latency against throughput',
      subtitle: ['mirrors Felter et al. 2014, MySQL performance (transactions/s) vs. latency', 'one point per thread count; whiskers: 95% CI of both'],
    },
    config: BASE_CONFIG,
    data: { values: pairs },
    width: 420,
    height: 280,
    layer: [
      {
        name: 'curve',
        mark: { type: 'line' },
        encoding: { x, y, color: colour, detail: { field: 'series', sort: uniqueInOrder(pairs.map((row) => row.series)) }, order: { field: 'threads', type: 'quantitative' } },
      },
      { name: 'ci_x', mark: { type: 'rule' }, encoding: { x: { field: 'tpsLow', type: 'quantitative' }, x2: { field: 'tpsHigh' }, y, color: colour } },
      { name: 'ci', mark: { type: 'rule' }, encoding: { x, y: { field: 'latencyLow', type: 'quantitative' }, y2: { field: 'latencyHigh' }, color: colour } },
      {
        name: 'value',
        mark: { type: 'point', filled: true, size: 30 },
        encoding: { x, y, color: colour, opacity: { condition: { test: "datum.status === 'noisy'", value: 0.4 }, value: 1 }, tooltip },
      },
    ],
  } as unknown as TopLevelSpec;
  return {
    id: 'mysql-latency-throughput',
    title: 'MySQL latency against throughput',
    mirrors: 'Felter et al. 2014, MySQL throughput vs. latency',
    spec,
    rows,
    reference: [],
    notes: [
      toolNote,
      'Failed or skipped thread counts are listed in the MySQL throughput figure.',
      'The paper published this figure as a chart only.',
      ...logScaleNotes(axes.x.log || axes.y.log, false),
      ...clipped,
    ],
    marks: { value: pairs.length, ci: pairs.length },
  };
}
