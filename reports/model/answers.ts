import { median } from 'simple-statistics';
import type { HeadlineMetric, PointResult, PointStatus, ResultsFile, StoredVerdict } from '../../results/schema.js';
import { headlineSummary } from '../../results/schema.js';
import { withVerdicts } from '../../results/verdict.js';
import type { ReportRun } from './runs.js';
import { describeTarget, type TargetStyles } from './targets.js';

/*
 * The report's first answer: per target and suite, is it equivalent to the baseline, slower, faster,
 * or can the repetitions not tell yet? Built from the verdicts stored on each point (results/verdict.ts).
 */

/** The word of a stored verdict. */
export type VerdictKind = StoredVerdict['verdict'];
/** The verdict kinds in the order the report lists counts. */
export const VERDICT_KINDS: readonly VerdictKind[] = ['slower', 'faster', 'equivalent', 'undecided', 'not-comparable'];

/**
 * A suite cell's class: a verdict kind when that is the cell's answer, `mixed` when some points are
 * slower and others faster, `none` when no point of the target in that suite was judged.
 */
export type CellKind = VerdictKind | 'mixed' | 'none';

/** One point of a target in the answer table: its headline verdict, or why it has none. */
export interface PointAnswer {
  pointId: string;
  /** The headline metric the verdict judged (or the point's first summary's when it declares none). */
  metric: string;
  unit: string;
  /** Which way is better for the metric; null when the point declares no headline. */
  direction: HeadlineMetric['direction'] | null;
  /** Absent on baseline points and on points that never completed a trial. */
  verdict: StoredVerdict | null;
  status: PointStatus;
  reason: string | null;
}

/** One target x suite cell. */
export interface SuiteAnswer {
  suite: string;
  points: PointAnswer[];
  /** Points per verdict kind. */
  counts: Record<VerdictKind, number>;
  kind: CellKind;
  /** The cell's answer in words, e.g. `slower on 1 of 2 points`. */
  words: string;
  /**
   * Geometric mean over the cell's points that have a ratio of the *performance* ratio, in % of the
   * baseline: the metric's ratio where higher is better, its inverse where lower is better (latency,
   * cost), so below 100 % is always worse. Null when no point has a ratio.
   */
  performancePercent: number | null;
  /** Points in that geometric mean, and the lowest and highest performance ratio among them (%). */
  ratioPoints: number;
  performanceRange: [low: number, high: number] | null;
}

/** One row of the answer table: a target (configuration) as it really ran. */
export interface TargetAnswer {
  target: string;
  /** e.g. `kvm (TCG, no vhost)` (see describeTarget). */
  display: string;
  emulated: boolean;
  /** Why the row is not what its name promises (TCG, no vhost, ...); empty when it is. */
  warnings: string[];
  /** The target every ratio is relative to. */
  isBaseline: boolean;
  /** Per suite of {@link AnswerTable.suites}: null when the target ran no point of it. */
  cells: (SuiteAnswer | null)[];
}

/** The answer table of one run. */
export interface AnswerTable {
  run: ReportRun;
  /** The target the verdicts are judged against. */
  baseline: string;
  /** The equivalence margin in percent, and the floor under which no difference is called. */
  marginPercent: number;
  floorPercent: number;
  /** Columns: each suite with the headline metrics its points are judged on. */
  suites: { suite: string; metrics: string[] }[];
  /** Rows, in the registry's display order. */
  rows: TargetAnswer[];
  /** Judged points per verdict kind, over the whole run. */
  counts: Record<VerdictKind, number>;
}

/**
 * The file judged against `baseline`: as stored when that is the run's own baseline (or the run has no
 * such target: then its stored verdicts stand), else re-judged from the raw trials (results/verdict.ts).
 */
export function judgedAgainst(file: ResultsFile, baseline: string): ResultsFile {
  if (file.plan.baseline === baseline || !file.points.some((point) => point.target === baseline)) return file;
  return withVerdicts({ ...file, plan: { ...file.plan, baseline } });
}

function zeroCounts(): Record<VerdictKind, number> {
  return { slower: 0, faster: 0, equivalent: 0, undecided: 0, 'not-comparable': 0 };
}

function pointAnswer(point: PointResult): PointAnswer {
  const summary = headlineSummary(point);
  return {
    pointId: point.pointId,
    metric: point.headline?.metric ?? summary?.metric ?? '',
    unit: point.headline?.unit ?? summary?.unit ?? '',
    direction: point.headline?.direction ?? null,
    verdict: point.verdict ?? null,
    status: point.status,
    reason: point.reason ?? null,
  };
}

/** A point's ratio as performance (higher is better), or null. */
export function performanceRatio(answer: Pick<PointAnswer, 'verdict' | 'direction'>): number | null {
  const ratio = answer.verdict?.ratio ?? null;
  if (ratio === null) return null;
  return answer.direction === 'lower' ? 1 / ratio : ratio;
}

function suiteAnswer(suite: string, points: PointAnswer[]): SuiteAnswer {
  const counts = zeroCounts();
  for (const point of points) if (point.verdict) counts[point.verdict.verdict]++;
  const judged = VERDICT_KINDS.reduce((sum, kind) => sum + counts[kind], 0);
  const of = `of ${judged} point${judged === 1 ? '' : 's'}`;
  let kind: CellKind;
  let words: string;
  if (counts.slower > 0 && counts.faster > 0) [kind, words] = ['mixed', `mixed: ${counts.slower} slower, ${counts.faster} faster ${of}`];
  else if (counts.slower > 0) [kind, words] = ['slower', `slower on ${counts.slower} ${of}`];
  else if (counts.faster > 0) [kind, words] = ['faster', `faster on ${counts.faster} ${of}`];
  else if (counts.undecided > 0) [kind, words] = ['undecided', `undecided on ${counts.undecided} ${of}`];
  else if (counts.equivalent > 0) [kind, words] = ['equivalent', counts.equivalent === judged ? `equivalent on all ${judged}` : `equivalent on ${counts.equivalent} ${of}`];
  else if (counts['not-comparable'] > 0) [kind, words] = ['not-comparable', `not comparable (${of.slice(3)})`];
  else [kind, words] = ['none', points.length ? `no verdict (${points.map((point) => point.status).join(', ')})` : 'not run'];
  const ratios = points.map(performanceRatio).filter((ratio): ratio is number => ratio !== null);
  const geometric = ratios.length ? Math.exp(ratios.reduce((sum, ratio) => sum + Math.log(ratio), 0) / ratios.length) * 100 : null;
  return {
    suite,
    points,
    counts,
    kind,
    words,
    performancePercent: geometric,
    ratioPoints: ratios.length,
    performanceRange: ratios.length ? [Math.min(...ratios) * 100, Math.max(...ratios) * 100] : null,
  };
}

/**
 * The answer table of one run: one row per target in `styles` order, one column per suite (in the
 * plan's order, then any other suite the file holds), each cell the target's points of that suite
 * with their verdicts, counted and summarised ({@link SuiteAnswer}).
 */
export function answerTable(run: ReportRun, styles: TargetStyles): AnswerTable {
  const { file } = run;
  const baseline = file.plan.baseline;
  const suiteOrder = [...new Set([...file.plan.suites, ...file.points.map((point) => point.suite)])].filter((suite) =>
    file.points.some((point) => point.suite === suite),
  );
  const targets = [...new Set([...file.plan.targets, ...file.points.map((point) => point.target)])]
    .filter((target) => file.points.some((point) => point.target === target))
    .sort(styles.compare);
  const counts = zeroCounts();
  for (const point of file.points) if (point.verdict) counts[point.verdict.verdict]++;
  const verdicts = file.points.flatMap((point) => (point.verdict ? [point.verdict] : []));
  return {
    run,
    baseline,
    marginPercent: file.plan.marginPercent,
    floorPercent: verdicts[0]?.floorPercent ?? Math.max(file.plan.marginPercent, file.plan.noiseFloorPercent ?? 0),
    suites: suiteOrder.map((suite) => ({
      suite,
      metrics: [...new Set(file.points.filter((point) => point.suite === suite).map((point) => pointAnswer(point).metric).filter(Boolean))],
    })),
    rows: targets.map((target) => {
      const description = describeTarget(file, target);
      return {
        target,
        display: description.display,
        emulated: description.emulated,
        warnings: description.warnings,
        isBaseline: target === baseline,
        cells: suiteOrder.map((suite) => {
          const points = file.points.filter((point) => point.target === target && point.suite === suite);
          return points.length ? suiteAnswer(suite, points.map(pointAnswer)) : null;
        }),
      };
    }),
    counts,
  };
}

/** One point of an A/A run: the two arms' ratio, its spread and what the verdict claimed. */
export interface NoiseFloorPoint {
  /** The second arm's target. */
  target: string;
  suite: string;
  pointId: string;
  metric: string;
  verdict: StoredVerdict;
  /** The larger distance of the 95 % interval's ends from 1, in percent; null without an interval. */
  spreadPercent: number | null;
}

/** What an A/A run measured: per point the ratio's spread and MDE, and how many points claimed a difference. */
export interface NoiseFloor {
  points: NoiseFloorPoint[];
  /** Points whose verdict was `slower` or `faster`: in an A/A run, each is a false alarm. */
  claimed: number;
  /** The largest spread over all points (%), null when none has an interval. */
  largestSpreadPercent: number | null;
  /** The median MDE over the points that have one (%), null when none has. */
  medianMdePercent: number | null;
}

/** The A/A summary of a run: every judged point (both arms are the same configuration). */
export function noiseFloor(file: ResultsFile): NoiseFloor {
  const points: NoiseFloorPoint[] = file.points.flatMap((point) => {
    const verdict = point.verdict;
    if (!verdict) return [];
    const spreadPercent = verdict.ci95 ? Math.max(1 - verdict.ci95[0], verdict.ci95[1] - 1) * 100 : null;
    return [{ target: point.target, suite: point.suite, pointId: point.pointId, metric: verdict.metric, verdict, spreadPercent }];
  });
  const spreads = points.map((point) => point.spreadPercent).filter((value): value is number => value !== null);
  const mdes = points
    .map((point) => (point.verdict.verdict === 'not-comparable' ? null : point.verdict.mdePercent))
    .filter((value): value is number => value !== null);
  return {
    points,
    claimed: points.filter((point) => point.verdict.verdict === 'slower' || point.verdict.verdict === 'faster').length,
    largestSpreadPercent: spreads.length ? Math.max(...spreads) : null,
    medianMdePercent: mdes.length === 0 ? null : median(mdes),
  };
}
