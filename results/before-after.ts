import { mean, permutationTest } from 'simple-statistics';
import { seededRandom } from '../core/random.js';
import type { MetricDirection } from './metrics.js';
import type { HostFacts, PointResult, ResultsFile } from './schema.js';
import { headlineSamples } from './verdict.js';

/*
 * Before/after (issue 9, item 7): the same matrix measured twice, e.g. before and after a kernel or
 * Docker upgrade. Did anything change, by how much, and does the change hold across the sweep?
 *
 * The model is Firecracker's A/B test (firecracker-microvm/firecracker, tools/ab_test.py and
 * tests/framework/ab_test.py): a permutation test on the raw samples of each dimension, a change
 * reported only when p < 0.01 *and* the relative change of the mean exceeds a minimum effect, and a
 * look at whether a change shows up across the dimensions rather than at one of them. The test is
 * the two-sample permutation test of the difference of means (Good 2005, *Permutation, Parametric
 * and Bootstrap Tests of Hypotheses*, 3rd ed., Springer, ch. 3): under "nothing changed" the labels
 * before/after are exchangeable, so the share of relabellings whose |difference of means| is at
 * least the observed one is the p-value. Everything here is pure: files in, typed values out.
 */

/** The significance level: a change is called only at p below it (Firecracker's default `--significance`). */
export const SIGNIFICANCE = 0.01;
/**
 * Random relabellings per point. At p = 0.01 the Monte Carlo estimate's standard error is
 * √(0.01·0.99/10,000) ≈ 0.001, so p near the threshold is resolved to about a tenth of it.
 */
export const DEFAULT_PERMUTATIONS = 10_000;

/** Which way a called change goes, by the headline metric's direction. */
export type ChangeDirection = 'better' | 'worse';

/** One side's headline samples, summarised. */
export interface SideSummary {
  /** Completed trials that measured the headline metric. */
  n: number;
  /** Their mean, in the metric's unit; null when n = 0. */
  mean: number | null;
}

/** What every decided point carries: both sides, the ratio and the test. */
export interface PointTest {
  /** The headline metric compared, e.g. `throughput_gbps`. */
  metric: string;
  /** Its unit, e.g. `Gbit/s`. */
  unit: string;
  /** Which way is better for it. */
  direction: MetricDirection;
  before: SideSummary & { mean: number };
  after: SideSummary & { mean: number };
  /** mean(after) / mean(before), dimensionless (1 = no change). */
  ratio: number;
  /** Two-sided permutation p-value, (b + 1) / (permutations + 1) (see {@link permutationPValue}). */
  pValue: number;
  /** The minimum effect in percent: a change is called only when 100·|ratio − 1| exceeds it. */
  floorPercent: number;
}

/** Why a point could not be compared. */
export type NotComparableCause =
  | 'missing'
  | 'too-few-samples'
  | 'cannot-reach-significance'
  | 'no-headline'
  | 'different-headline'
  | 'non-positive-mean';

/**
 * The decision on one point, a union on `decision`:
 * - `changed`: p < {@link SIGNIFICANCE} and 100·|ratio − 1| > floorPercent; `change` is better or
 *   worse by the metric's direction, `changePercent` = 100·|ratio − 1|;
 * - `unchanged`: one of the two conditions failed; `significant` and `beyondFloor` say which held;
 * - `not-comparable`: no test was possible; `cause` and the one-line `reason` say why, `before` and
 *   `after` hold what each side had (n 0 and mean null for a side without the point).
 */
export type PointDecision =
  | (PointTest & { decision: 'changed'; change: ChangeDirection; changePercent: number })
  | (PointTest & { decision: 'unchanged'; significant: boolean; beyondFloor: boolean })
  | { decision: 'not-comparable'; cause: NotComparableCause; reason: string; metric: string | null; unit: string | null; before: SideSummary; after: SideSummary };

/** One point of the matrix (same target configuration, suite and pointId in both files) and its decision. */
export interface PointComparison {
  /** `target/suite/pointId`. */
  key: string;
  /** The configuration, e.g. `docker-nat:overlay`. */
  target: string;
  suite: string;
  pointId: string;
  decision: PointDecision;
}

/**
 * Does the change hold across a target × suite sweep? A union on `verdict`, with `decided` = the
 * points that were `changed` or `unchanged`:
 * - `holds`: every changed point moved the same way and at least half the decided points changed;
 * - `some-points`: some changed, but fewer than half, or in both directions; `changed` lists them;
 * - `no-change`: every decided point is unchanged;
 * - `not-comparable`: no point could be decided.
 */
export type SweepVerdict =
  | { verdict: 'holds'; change: ChangeDirection; changed: number; decided: number; changePercent: { min: number; max: number } }
  | { verdict: 'some-points'; changed: Array<{ pointId: string; change: ChangeDirection; changePercent: number }>; decided: number }
  | { verdict: 'no-change'; decided: number }
  | { verdict: 'not-comparable'; decided: 0 };

/** A target × suite sweep: its points in order and the verdict over them. */
export interface SweepComparison {
  target: string;
  suite: string;
  points: PointComparison[];
  verdict: SweepVerdict;
  /** How many of `points` are not comparable (not counted in the verdict's `decided`). */
  notComparable: number;
}

/** A host fact that differs between the two runs, as text. */
export interface HostDifference {
  field: 'cpuModel' | 'kernel' | 'cores';
  before: string;
  after: string;
}

/** The whole before/after comparison of two results files. */
export interface BeforeAfter {
  before: RunIdentity;
  after: RunIdentity;
  /** The AFTER plan's equivalence margin in percent. */
  marginPercent: number;
  /** The AFTER plan's measured noise floor in percent, or null. */
  noiseFloorPercent: number | null;
  /** max(marginPercent, noiseFloorPercent): the minimum effect a change must exceed, in percent. */
  floorPercent: number;
  /** {@link SIGNIFICANCE}. */
  significance: number;
  /** Relabellings per point. */
  permutations: number;
  /** Seed of the relabellings, the same for every point. */
  seed: number;
  /** Host facts that differ; empty when the runs measured the same kind of host. */
  hostDifferences: HostDifference[];
  /** Per target × suite, in the AFTER file's point order, then what only BEFORE has. */
  sweeps: SweepComparison[];
}

/** Names a run in the comparison. */
export interface RunIdentity {
  runId: string;
  /** ISO 8601. */
  startedAt: string;
}

/** How {@link compareBeforeAfter} and {@link comparePoint} decide. */
export interface BeforeAfterOptions {
  /** Relabellings per point (default {@link DEFAULT_PERMUTATIONS}); at least 1,000. */
  permutations?: number;
  /** Seed of the relabellings (default: the AFTER run's `plan.seed`). */
  seed?: number;
}

/**
 * Two-sided permutation p-value of the difference of means between `before` and `after` (raw
 * samples, any unit, at least one each): simple-statistics' `permutationTest`, driven by the seeded
 * mulberry32 generator of core/random.ts rather than Math.random, so the same samples, permutations
 * and seed always give the same p. The library returns b / permutations, b the relabellings at
 * least as extreme as the data; this returns (b + 1) / (permutations + 1), which counts the data
 * as one of the relabellings and is never 0 (Phipson & Smyth 2010, "Permutation p-values should
 * never be zero", Stat. Appl. Genet. Mol. Biol. 9(1)). Identical samples give exactly 1.
 * @throws {RangeError} for an empty side, fewer than 1,000 permutations or a non-integer seed.
 */
export function permutationPValue(before: readonly number[], after: readonly number[], permutations: number, seed: number): number {
  if (before.length === 0 || after.length === 0) throw new RangeError(`a permutation test needs samples on both sides (before ${before.length}, after ${after.length})`);
  if (!(Number.isInteger(permutations) && permutations >= 1000)) throw new RangeError(`permutations must be an integer of at least 1000, got ${permutations}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const share = permutationTest([...after], [...before], 'two_side', permutations, seededRandom(seed));
  const extreme = Math.round(share * permutations);
  return (extreme + 1) / (permutations + 1);
}

/**
 * The smallest p-value a permutation test can give for these sample sizes, whatever the data:
 * 2 / C(n_b + n_a, n_b) when both sides are the same size (the split and its mirror are equally
 * extreme), else 1 / C(n_b + n_a, n_b). At 3 trials a side it is 0.1, at 4 it is 0.029, at 5 it is
 * 0.0079: below 5 repetitions a side no change can be called at p < 0.01.
 */
export function smallestPValue(beforeCount: number, afterCount: number): number {
  let splits = 1;
  for (let index = 1; index <= beforeCount; index++) splits = (splits * (afterCount + index)) / index;
  return (beforeCount === afterCount ? 2 : 1) / splits;
}

/** What {@link comparePoint} needs besides the samples. */
export interface ComparePointOptions extends BeforeAfterOptions {
  /** The headline metric's name, e.g. `iops`. */
  metric: string;
  /** Its unit. */
  unit: string;
  /** Which way is better. */
  direction: MetricDirection;
  /** The minimum effect in percent, ≥ 0. */
  floorPercent: number;
  /** Seed of the relabellings. */
  seed: number;
}

/**
 * Decides one point from its raw headline samples before and after (one number per completed trial,
 * in the metric's unit): `changed` when the two-sided permutation p < {@link SIGNIFICANCE} and
 * 100·|mean(after)/mean(before) − 1| > `floorPercent`; else `unchanged`. `not-comparable` when a
 * side has fewer than 2 samples, a mean is not positive (no ratio), or the sizes cannot reach
 * p < 0.01 at all (see {@link smallestPValue}), which would otherwise read as `unchanged`.
 * @throws {RangeError} for a negative or non-finite floor, or bad permutations or seed.
 */
export function comparePoint(before: readonly number[], after: readonly number[], options: ComparePointOptions): PointDecision {
  const { metric, unit, direction, floorPercent, seed } = options;
  const permutations = options.permutations ?? DEFAULT_PERMUTATIONS;
  if (!(Number.isFinite(floorPercent) && floorPercent >= 0)) throw new RangeError(`floor must be a percentage of 0 or more, got ${floorPercent}`);
  const sides = { before: side(before), after: side(after) };
  const notComparable = (cause: NotComparableCause, reason: string): PointDecision => ({ decision: 'not-comparable', cause, reason, metric, unit, ...sides });
  if (before.length < 2 || after.length < 2) {
    return notComparable('too-few-samples', `a test needs at least 2 samples a side (before ${before.length}, after ${after.length})`);
  }
  const floorP = smallestPValue(before.length, after.length);
  if (floorP >= SIGNIFICANCE) {
    return notComparable(
      'cannot-reach-significance',
      `with ${before.length} and ${after.length} samples the smallest p a permutation test can give is ${floorP.toPrecision(2)}, not below ${SIGNIFICANCE}: run at least 5 repetitions`,
    );
  }
  const beforeMean = sides.before.mean!;
  const afterMean = sides.after.mean!;
  if (!(beforeMean > 0 && afterMean > 0)) {
    return notComparable('non-positive-mean', `a ratio needs positive means (before ${beforeMean}, after ${afterMean})`);
  }
  const ratio = afterMean / beforeMean;
  const pValue = permutationPValue(before, after, permutations, seed);
  const changePercent = 100 * Math.abs(ratio - 1);
  const test: PointTest = {
    metric, unit, direction, ratio, pValue, floorPercent,
    before: { n: before.length, mean: beforeMean },
    after: { n: after.length, mean: afterMean },
  };
  const significant = pValue < SIGNIFICANCE;
  const beyondFloor = changePercent > floorPercent;
  if (!(significant && beyondFloor)) return { ...test, decision: 'unchanged', significant, beyondFloor };
  const better = direction === 'higher' ? ratio > 1 : ratio < 1;
  return { ...test, decision: 'changed', change: better ? 'better' : 'worse', changePercent };
}

function side(samples: readonly number[]): SideSummary {
  return { n: samples.length, mean: samples.length > 0 ? mean([...samples]) : null };
}

/**
 * The verdict over one sweep's points (see {@link SweepVerdict}): `holds` when every changed point
 * moved the same way and changed points are at least half of the decided ones.
 */
export function sweepVerdict(points: readonly PointComparison[]): SweepVerdict {
  const decided = points.filter((point) => point.decision.decision !== 'not-comparable');
  const changed = points.flatMap((point) =>
    point.decision.decision === 'changed' ? [{ pointId: point.pointId, change: point.decision.change, changePercent: point.decision.changePercent }] : [],
  );
  if (decided.length === 0) return { verdict: 'not-comparable', decided: 0 };
  if (changed.length === 0) return { verdict: 'no-change', decided: decided.length };
  const directions = new Set(changed.map((point) => point.change));
  if (directions.size === 1 && 2 * changed.length >= decided.length) {
    const percents = changed.map((point) => point.changePercent);
    return {
      verdict: 'holds',
      change: changed[0]!.change,
      changed: changed.length,
      decided: decided.length,
      changePercent: { min: Math.min(...percents), max: Math.max(...percents) },
    };
  }
  return { verdict: 'some-points', changed, decided: decided.length };
}

/** The host facts a reader must know differ (CPU model, kernel, core count); empty when all agree. */
export function hostDifferences(before: HostFacts, after: HostFacts): HostDifference[] {
  const fields = ['cpuModel', 'kernel', 'cores'] as const;
  return fields
    .filter((field) => before[field] !== after[field])
    .map((field) => ({ field, before: String(before[field]), after: String(after[field]) }));
}

/**
 * Compares two results files point by point: each point (same target configuration, suite and
 * pointId) on its declared headline metric and direction, from the raw per-trial samples (see
 * {@link comparePoint}), with the minimum effect max(AFTER's `plan.marginPercent`, AFTER's
 * `plan.noiseFloorPercent`). A point in one file only, without a declared headline (files from
 * before isobench 0.2), or with another headline metric or direction in the other file is
 * `not-comparable` with the reason. Then per target × suite, whether the change holds across the
 * sweep (see {@link sweepVerdict}). Every point uses the same seed, so the result is reproducible
 * from the two files alone. Does not change either file.
 * @throws {RangeError} for bad permutations or seed (see {@link permutationPValue}).
 */
export function compareBeforeAfter(before: ResultsFile, after: ResultsFile, options: BeforeAfterOptions = {}): BeforeAfter {
  const { marginPercent, noiseFloorPercent } = after.plan;
  const floorPercent = Math.max(marginPercent, noiseFloorPercent ?? 0);
  const permutations = options.permutations ?? DEFAULT_PERMUTATIONS;
  const seed = options.seed ?? after.plan.seed;

  const beforeByKey = new Map(before.points.map((point) => [pointKey(point), point]));
  const afterKeys = new Set(after.points.map(pointKey));
  const ordered: Array<{ before?: PointResult; after?: PointResult; identity: PointResult }> = [
    ...after.points.map((point) => {
      const previous = beforeByKey.get(pointKey(point));
      return { ...(previous ? { before: previous } : {}), after: point, identity: point };
    }),
    ...before.points.filter((point) => !afterKeys.has(pointKey(point))).map((point) => ({ before: point, identity: point })),
  ];

  const sweeps = new Map<string, SweepComparison>();
  for (const entry of ordered) {
    const { target, suite, pointId } = entry.identity;
    const decision = decide(entry.before, entry.after, { floorPercent, permutations, seed });
    const sweepKey = JSON.stringify([target, suite]);
    let sweep = sweeps.get(sweepKey);
    if (!sweep) {
      sweep = { target, suite, points: [], verdict: { verdict: 'not-comparable', decided: 0 }, notComparable: 0 };
      sweeps.set(sweepKey, sweep);
    }
    sweep.points.push({ key: `${target}/${suite}/${pointId}`, target, suite, pointId, decision });
  }
  for (const sweep of sweeps.values()) {
    sweep.verdict = sweepVerdict(sweep.points);
    sweep.notComparable = sweep.points.filter((point) => point.decision.decision === 'not-comparable').length;
  }

  return {
    before: { runId: before.runId, startedAt: before.startedAt },
    after: { runId: after.runId, startedAt: after.startedAt },
    marginPercent,
    noiseFloorPercent,
    floorPercent,
    significance: SIGNIFICANCE,
    permutations,
    seed,
    hostDifferences: hostDifferences(before.host, after.host),
    sweeps: [...sweeps.values()],
  };
}

function pointKey(point: PointResult): string {
  return JSON.stringify([point.target, point.suite, point.pointId]);
}

function decide(
  before: PointResult | undefined,
  after: PointResult | undefined,
  options: { floorPercent: number; permutations: number; seed: number },
): PointDecision {
  const none: SideSummary = { n: 0, mean: null };
  const samplesOf = (point: PointResult | undefined) => (point ? side(headlineSamples(point)) : none);
  const headline = after?.headline ?? before?.headline;
  const notComparable = (cause: NotComparableCause, reason: string): PointDecision => ({
    decision: 'not-comparable',
    cause,
    reason,
    metric: headline?.metric ?? null,
    unit: headline?.unit ?? null,
    before: samplesOf(before),
    after: samplesOf(after),
  });
  if (!before) return notComparable('missing', 'only in AFTER: BEFORE did not run this point');
  if (!after) return notComparable('missing', 'only in BEFORE: AFTER did not run this point');
  if (!before.headline || !after.headline) {
    const which = !before.headline && !after.headline ? 'neither file' : !before.headline ? 'BEFORE' : 'AFTER';
    return notComparable('no-headline', `${which} declares the point's headline metric (a file from before isobench 0.2)`);
  }
  if (before.headline.metric !== after.headline.metric || before.headline.direction !== after.headline.direction) {
    return notComparable(
      'different-headline',
      `different headline metrics: BEFORE ${before.headline.metric} (${before.headline.direction} is better), AFTER ${after.headline.metric} (${after.headline.direction} is better)`,
    );
  }
  return comparePoint(headlineSamples(before), headlineSamples(after), {
    metric: after.headline.metric,
    unit: after.headline.unit,
    direction: after.headline.direction,
    ...options,
  });
}

/** The decision on one point in words, e.g. `worse by 20.0 %`, `unchanged (p = 0.210)`, `not comparable: only in BEFORE: …`. */
export function describeDecision(decision: PointDecision): string {
  switch (decision.decision) {
    case 'changed':
      return `${decision.change} by ${decision.changePercent.toFixed(1)} %`;
    case 'unchanged': {
      const change = 100 * Math.abs(decision.ratio - 1);
      if (!decision.significant && !decision.beyondFloor) return `unchanged (p = ${formatP(decision.pValue)}, ${change.toFixed(1)} % within the ${formatPercent(decision.floorPercent)} floor)`;
      if (!decision.significant) return `unchanged (p = ${formatP(decision.pValue)}, not below ${SIGNIFICANCE})`;
      return `unchanged (${change.toFixed(1)} % is within the ${formatPercent(decision.floorPercent)} floor)`;
    }
    case 'not-comparable':
      return `not comparable: ${decision.reason}`;
  }
}

/**
 * A sweep's verdict in words, e.g. `holds across the sweep (2 of 2 points): worse by 19.8–20.3 %`.
 * @param maxListed The changed points `only at some points` names at most (default all), the rest counted.
 */
export function describeSweep(sweep: Pick<SweepComparison, 'verdict' | 'notComparable'>, maxListed = Infinity): string {
  const { verdict } = sweep;
  const rest = sweep.notComparable > 0 && verdict.verdict !== 'not-comparable' ? `; ${points(sweep.notComparable)} not comparable` : '';
  switch (verdict.verdict) {
    case 'holds': {
      const { min, max } = verdict.changePercent;
      const by = min.toFixed(1) === max.toFixed(1) ? `${min.toFixed(1)} %` : `${min.toFixed(1)}–${max.toFixed(1)} %`;
      return `holds across the sweep (${verdict.changed} of ${points(verdict.decided)}): ${verdict.change} by ${by}${rest}`;
    }
    case 'some-points': {
      const listed = verdict.changed.slice(0, maxListed).map((point) => `${point.pointId}: ${point.change} by ${point.changePercent.toFixed(1)} %`);
      if (verdict.changed.length > listed.length) listed.push(`${verdict.changed.length - listed.length} more`);
      return `only at some points (${listed.join(', ')}; ${verdict.changed.length} of ${points(verdict.decided)})${rest}`;
    }
    case 'no-change':
      return `no change (${points(verdict.decided)})${rest}`;
    case 'not-comparable':
      return `not comparable (${points(sweep.notComparable)})`;
  }
}

/** A p-value for people: three decimals, `< 0.001` below that. */
export function formatP(p: number): string {
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

function formatPercent(percent: number): string {
  return `${Number(percent.toFixed(2))} %`;
}

function points(count: number): string {
  return `${count} point${count === 1 ? '' : 's'}`;
}
