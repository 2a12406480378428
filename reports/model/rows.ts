import { headlineSummary, type MetricSummary, type ParamValue, type PointResult, type PointStatus } from '../../results/schema.js';
import { headlineNoise, ratioText, verdictWords } from '../../results/table.js';
import { pointCaveats } from '../../results/caveats.js';
import type { ReportRun } from './runs.js';
import { describeTarget, type TargetStyles } from './targets.js';

/**
 * One drawable row of a figure: a (run, target, point, metric) with its summary, or with no value
 * and the reason why (failed, skipped, pending), so a figure can show the gap instead of hiding it.
 */
export interface FigureRow {
  run: string;
  /** `#1`, `#2`: printed on the marks when several runs share a figure. */
  runTag: string;
  target: string;
  /** Legend/offset key: the target as it really ran, prefixed by the run when a report holds several. */
  series: string;
  pointId: string;
  /** The label of the point on the figure's category axis (e.g. `client → server`). */
  category: string;
  params: Record<string, ParamValue>;
  metric: string;
  unit: string;
  method: string | null;
  status: PointStatus;
  reason: string | null;
  n: number;
  mean: number | null;
  sd: number | null;
  ci95Low: number | null;
  ci95High: number | null;
  cv: number | null;
  /** mean / the baseline target's mean for the same run, point and metric, in percent. */
  percentOfBaseline: number | null;
  emulated: boolean;
  warnings: string[];
  /** What the point's own stored measurements say qualifies its figures (results/caveats.ts), joined by `; `; null when nothing. */
  caveat: string | null;
  /**
   * The point's verdict against the run's baseline in words with its ratio, e.g. `slower by 23.6 %;
   * 123.6 % (103.6–147.5) of native`, on the row of the metric the verdict judged; null on other rows and
   * on points without a verdict.
   */
  verdict: string | null;
}

/**
 * Whether any row is a percentage of the baseline: the baseline target ran the same point in the
 * same run. A figure whose rows have none (a native-only run in a report judged against kvm) must
 * not label anything "% of" the baseline.
 */
export function hasBaselinePercent(rows: readonly Pick<FigureRow, 'percentOfBaseline'>[]): boolean {
  return rows.some((row) => row.percentOfBaseline !== null);
}

/** Which numbers of a results file one figure draws. */
export interface RowQuery {
  suite: string;
  /** Exact metric name, or a test for families such as `clat_p99.9_us`. */
  metric: string | ((name: string) => boolean);
  /** Points to draw, in this order; others of the suite are left out. All points when absent. */
  pointIds?: readonly string[];
  /** The axis label of a point; its point id when absent. */
  categoryOf?: (point: PointResult) => string;
}

/** How rows are labelled and compared. */
export interface RowOptions {
  /** Target whose mean is 100% in percentOfBaseline. */
  baseline: string;
  /** Several runs side by side: series names carry the run label. */
  multiRun: boolean;
  /** Row order (and colours) of this report's targets. */
  styles: TargetStyles;
}

/**
 * One row per run x point x metric that matches the query, failed points included (mean null) so
 * figures can show the gap. Sorted by the query's point order, then by target in report order.
 */
export function collectRows(runs: readonly ReportRun[], query: RowQuery, options: RowOptions): FigureRow[] {
  const rows: FigureRow[] = [];
  for (const run of runs) {
    const points = run.file.points.filter(
      (point) => point.suite === query.suite && (!query.pointIds || query.pointIds.includes(point.pointId)),
    );
    for (const point of points) rows.push(...rowsOfPoint(run, point, query, options));
  }
  return sortRows(rows, query.pointIds, options.styles);
}

function rowsOfPoint(run: ReportRun, point: PointResult, query: RowQuery, options: RowOptions): FigureRow[] {
  const target = describeTarget(run.file, point.target);
  const base = {
    run: run.label,
    runTag: run.tag,
    target: point.target,
    series: options.multiRun ? `${run.tag} ${target.display}` : target.display,
    pointId: point.pointId,
    category: query.categoryOf ? query.categoryOf(point) : point.pointId,
    params: point.params,
    emulated: target.emulated,
    warnings: target.warnings,
    caveat: pointCaveats(point).join('; ') || null,
  };
  const matches = (name: string) => (typeof query.metric === 'string' ? name === query.metric : query.metric(name));
  const summaries = point.summaries.filter((summary) => matches(summary.metric));
  if (point.status === 'failed' || point.status === 'skipped' || point.status === 'pending' || summaries.length === 0) {
    // A point without the metric but marked ok simply does not measure it (e.g. perf cycles on a
    // host without counters): that is not a gap to show.
    if (point.status === 'ok' || point.status === 'noisy') return [];
    const metric = typeof query.metric === 'string' ? query.metric : '';
    return [{ ...base, ...emptyValue(metric), status: point.status, reason: point.reason ?? null, verdict: null }];
  }
  const headline = headlineSummary(point)?.metric;
  return summaries.map((summary) => {
    // Each row is judged by its own metric's spread. The point's status and notes are about its
    // headline metric, so they speak for the headline's row only: a newcomer saw a probe-downtime row
    // flagged with migration_total_ms's coefficient of variation.
    const isHeadline = summary.metric === headline;
    // The headline's flag and words are the results table's (results/table.ts headlineNoise).
    const noise = isHeadline ? headlineNoise(point) : summary.status === 'noisy' ? `${summary.metric} varies by ${(summary.cv * 100).toFixed(1)} %` : null;
    return {
      ...base,
      ...valueOf(summary),
      status: noise !== null ? 'noisy' : 'ok',
      reason: noise,
      percentOfBaseline: percentOfBaseline(run, point, summary, options.baseline),
      verdict: point.verdict && point.verdict.metric === summary.metric ? verdictLine(point.verdict) : null,
    };
  });
}

function verdictLine(verdict: NonNullable<PointResult['verdict']>): string {
  const ratio = ratioText(verdict);
  return `${verdictWords(verdict)}${ratio ? `; ${ratio} of ${verdict.baseline}` : ''}`;
}

function emptyValue(metric: string) {
  return {
    metric,
    unit: '',
    method: null,
    n: 0,
    mean: null,
    sd: null,
    ci95Low: null,
    ci95High: null,
    cv: null,
    percentOfBaseline: null,
  };
}

function valueOf(summary: MetricSummary) {
  return {
    metric: summary.metric,
    unit: summary.unit,
    method: summary.method ?? null,
    n: summary.n,
    mean: summary.mean,
    sd: summary.sd,
    ci95Low: summary.ci95Low,
    ci95High: summary.ci95High,
    cv: summary.cv,
  };
}

function percentOfBaseline(run: ReportRun, point: PointResult, summary: MetricSummary, baseline: string): number | null {
  const reference = run.file.points.find(
    (candidate) =>
      candidate.target === baseline &&
      candidate.suite === point.suite &&
      candidate.pointId === point.pointId &&
      (candidate.status === 'ok' || candidate.status === 'noisy'),
  );
  const baselineMean = reference?.summaries.find((candidate) => candidate.metric === summary.metric)?.mean;
  if (baselineMean === undefined || baselineMean === 0) return null;
  return (summary.mean / baselineMean) * 100;
}

/** Array sort is stable: runs keep the order the user named the files in (before, after). */
function sortRows(rows: FigureRow[], pointOrder: readonly string[] | undefined, styles: TargetStyles): FigureRow[] {
  const pointRank = (pointId: string) => (pointOrder ? pointOrder.indexOf(pointId) : 0);
  return rows.sort(
    (a, b) =>
      pointRank(a.pointId) - pointRank(b.pointId) ||
      styles.compare(a.target, b.target),
  );
}

/** Rows that carry a number; the others are drawn as status markers. */
export function measured(rows: readonly FigureRow[]): FigureRow[] {
  return rows.filter((row) => row.mean !== null);
}

/** Rows without a number (mean null): the gaps a figure must label with their status. */
export function unmeasured(rows: readonly FigureRow[]): FigureRow[] {
  return rows.filter((row) => row.mean === null);
}
