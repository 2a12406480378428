import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { errorFunction, mean, probit, quantileSorted, sampleVariance } from 'simple-statistics';
import { seededRandom } from '../core/random.js';
import type { MetricDirection } from './metrics.js';
import type { PointResult, ResultsFile, StoredVerdict } from './schema.js';

/*
 * Verdicts against a baseline (issue 9, item 1): is a candidate target's headline metric equivalent
 * to the baseline's (native by default), slower, faster, or can the samples not tell yet?
 *
 * Everything is on the ratio R = mean(candidate) / mean(baseline), and every interval is computed on
 * log R, so an interval of a positive quantity never has a non-positive bound.
 *
 * Libraries: simple-statistics for means, variances, quantiles of the bootstrap distribution, the
 * normal CDF (through its error function) and normal quantiles (probit); @stdlib's Student-t quantile
 * for the small-sample expansion and the repetitions estimate (simple-statistics has no t quantile).
 * Neither offers a two-sample bootstrap, so the resampling loop is written here, driven by the seeded
 * mulberry32 generator of core/random.ts.
 */

/** The equivalence margin when none is given: ±5 %, `--margin`'s default. */
export const DEFAULT_MARGIN_PERCENT = 5;
/** Bootstrap resamples when none is given. */
export const DEFAULT_RESAMPLES = 10_000;
/** The power `repetitionsNeeded` aims for (1 − β). */
export const TARGET_POWER = 0.8;

/** An interval on the ratio candidate / baseline: `[low, high]`, both > 0, dimensionless. */
export type RatioInterval = [low: number, high: number];

/** What every decided or undecided verdict carries: the ratio and its intervals. */
export interface RatioEstimate {
  /** mean(candidate) / mean(baseline), dimensionless (1 = no difference). */
  ratio: number;
  /** 95 % interval of the ratio: expanded percentile bootstrap on log R, at least as wide as the Welch t interval (see {@link judgePoint}). */
  ci95: RatioInterval;
  /** 90 % interval of the ratio, the one the equivalence test (TOST at α = 0.05) reads. */
  ci90: RatioInterval;
  /**
   * Minimum detectable effect in percent at the current n and CVs: the ratio distance from 1 that a
   * two-sided test at α = 0.05 would detect with power {@link TARGET_POWER},
   * 100·(exp((t(0.975, ν) + t(0.8, ν))·√(CV_b²/n_b + CV_c²/n_c)) − 1), ν the Welch degrees of
   * freedom (the same normal-approximation formula as `repetitionsNeeded`, solved for the effect).
   * Null when both sides have no spread.
   */
  mdePercent: number | null;
}

/**
 * The verdict on one point, a union on `verdict`:
 * - `equivalent`: the 90 % interval lies inside [1/(1+m), 1+m];
 * - `slower` / `faster`: the 95 % interval excludes 1 and the ratio lies outside [1/(1+m), 1+m];
 *   `effectPercent` = 100·|ratio − 1| (e.g. 10 for a throughput ratio of 0.9 or a latency ratio of 1.1);
 * - `undecided`: neither; `repetitionsNeeded` is the per-side number of trials the current variance
 *   says would decide it (null when the ratio sits exactly on the margin, where no n decides);
 * - `not-comparable`: the samples cannot give a ratio with an interval (`reason` says why); `ratio`
 *   is there when both sides are positive, the intervals are null.
 */
export type Verdict =
  | (RatioEstimate & { verdict: 'equivalent' })
  | (RatioEstimate & { verdict: 'slower' | 'faster'; effectPercent: number })
  | (RatioEstimate & { verdict: 'undecided'; repetitionsNeeded: number | null })
  | { verdict: 'not-comparable'; reason: string; ratio: number | null; ci95: null; ci90: null };

/** How {@link judgePoint} decides. */
export interface JudgeOptions {
  /** Which way is better for the metric: `higher` (throughput) or `lower` (latency, cost). */
  direction: MetricDirection;
  /** The margin m in percent (default {@link DEFAULT_MARGIN_PERCENT}): the band [1/(1+m), 1+m] counts as no difference. */
  marginPercent?: number;
  /** Seed of the bootstrap's generator: the same samples and seed give the same verdict. */
  seed: number;
  /** Bootstrap resamples (default {@link DEFAULT_RESAMPLES}); at least 1,000. */
  resamples?: number;
  /**
   * The smallest difference in percent `slower`/`faster` may be called for (e.g. a noise floor an
   * A/A run measured); the margin when absent or smaller.
   */
  floorPercent?: number;
}

/**
 * Judges a candidate against the baseline from their raw samples (one number per independent trial,
 * in the metric's unit; both sides must be positive).
 *
 * **Ratio interval.** A two-sample percentile bootstrap (Efron & Tibshirani 1993, *An Introduction to
 * the Bootstrap*, ch. 13): each side is resampled independently with replacement, keeping its size,
 * and each resample gives log(mean(c*) / mean(b*)); the interval is exp() of that distribution's
 * percentiles. The plain percentile interval is too narrow at isobench's small n (its spread is the
 * plug-in one, a factor (n − 1)/n of the variance, and it uses normal rather than t tails: at n = 5
 * a nominal 95 % interval covers about 88 %), so its percentiles are *expanded* (Hesterberg 2015,
 * "What Teachers Should Know About the Bootstrap", The American Statistician 69(4)): the tail
 * probability α′/2 used is Φ(−k · t(1 − α/2, ν)), where, with the delta-method variances
 * w = CV²/n of each side's log mean (CV = sample sd / mean),
 * k = √((w_b + w_c) / (w_b·(n_b − 1)/n_b + w_c·(n_c − 1)/n_c)) (the one-sample √(n/(n − 1)) of
 * Hesterberg, for two samples) and ν is the Welch–Satterthwaite degrees of freedom
 * (w_b + w_c)² / (w_b²/(n_b − 1) + w_c²/(n_c − 1)). With n = 5 a side this uses the 0.5 % and
 * 99.5 % percentiles for the 95 % interval. At n ≤ 4 a side even that is too narrow: there are only
 * a handful of distinct resamples and no percentile reaches past the data's range (simulated A/A
 * coverage of the expanded bootstrap's 95 % interval alone: 67 % at n = 2, 90 % at n = 3, 93.5 %
 * at n = 4, 95 % from n = 5).
 * So each interval is the hull of the expanded bootstrap interval and the Welch t interval of ln R,
 * ln R ± t(1 − α/2, ν)·√(w_b + w_c) (delta method): never narrower than the t interval, and still
 * as asymmetric as the bootstrap says for skewed samples.
 *
 * **Rules**, with m = marginPercent / 100 and the band B = [1/(1+m), 1+m]:
 * equivalent when ci90 ⊆ B (two one-sided tests at α = 0.05, Schuirmann 1987, J. Pharmacokinet.
 * Biopharm. 15(6)); slower/faster when ci95 excludes 1 and the ratio lies outside B (for `higher`,
 * ratio < 1 is slower; for `lower`, ratio > 1 is slower); undecided otherwise.
 *
 * **repetitionsNeeded** (undecided only): with σ² = CV_b² + CV_c² (the variance of one trial's log,
 * by the delta method, of both sides), d = |ln ratio| and δ = ln(1+m), the per-side n of the
 * two-sample normal-approximation formulas of Chow, Shao & Wang (2008), *Sample Size Calculations in
 * Clinical Research*, 2nd ed., §3.2, at power 1 − β = {@link TARGET_POWER}:
 * equivalence (d < δ): n = (t(0.95, ν) + t(1 − β, ν))² σ² / (δ − d)²;
 * a difference (d > δ): n = max((t(0.975, ν) + t(1 − β, ν))² σ² / d², t(1 − β, ν)² σ² / (d − δ)²), the
 * first for the 95 % interval to exclude 1, the second for the estimated ratio to stay outside the
 * band; with t quantiles at ν = 2n − 2, iterated from the normal quantiles until n settles, and never
 * fewer than one more trial than the larger side has now. It assumes the current ratio and CVs are
 * the true ones: an estimate, not a promise.
 *
 * @throws {RangeError} for a margin that is not a positive finite number, a non-integer seed or
 *   fewer than 1,000 resamples.
 */
export function judgePoint(baseline: readonly number[], candidate: readonly number[], options: JudgeOptions): Verdict {
  const marginPercent = options.marginPercent ?? DEFAULT_MARGIN_PERCENT;
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  if (!(Number.isFinite(marginPercent) && marginPercent > 0)) throw new RangeError(`margin must be a positive percentage, got ${marginPercent}`);
  if (!Number.isInteger(options.seed)) throw new RangeError(`seed must be an integer, got ${options.seed}`);
  if (!(Number.isInteger(resamples) && resamples >= 1000)) throw new RangeError(`resamples must be an integer of at least 1000, got ${resamples}`);
  const floorPercent = Math.max(marginPercent, options.floorPercent ?? 0);
  if (!Number.isFinite(floorPercent)) throw new RangeError(`floor must be a finite percentage, got ${options.floorPercent}`);

  const notComparable = (reason: string, ratio: number | null): Verdict => ({ verdict: 'not-comparable', reason, ratio, ci95: null, ci90: null });
  const bad = (samples: readonly number[]) => samples.find((value) => !(Number.isFinite(value) && value > 0));
  const badBaseline = bad(baseline);
  const badCandidate = bad(candidate);
  if (badBaseline !== undefined || badCandidate !== undefined) {
    const [side, value] = badBaseline !== undefined ? ['baseline', badBaseline] : ['candidate', badCandidate];
    return notComparable(`the ${side} has a sample of ${value}: a ratio needs positive numbers`, null);
  }
  if (baseline.length < 2 || candidate.length < 2) {
    const ratio = baseline.length > 0 && candidate.length > 0 ? mean([...candidate]) / mean([...baseline]) : null;
    return notComparable(
      `an interval needs at least 2 samples a side (baseline ${baseline.length}, candidate ${candidate.length})`,
      ratio !== null && Number.isFinite(ratio) && ratio > 0 ? ratio : null,
    );
  }

  const spreadB = spread(baseline);
  const spreadC = spread(candidate);
  const ratio = spreadC.mean / spreadB.mean;
  const { ci95, ci90 } = bootstrapIntervals(baseline, candidate, spreadB, spreadC, resamples, options.seed);
  const mdePercent = minimumDetectableEffect(spreadB, spreadC);

  const margin = marginPercent / 100;
  const band = (limit: number) => (value: number) => value >= 1 / (1 + limit) && value <= 1 + limit;
  const inBand = band(margin);
  const inFloor = band(floorPercent / 100);
  if (inBand(ci90[0]) && inBand(ci90[1])) return { verdict: 'equivalent', ratio, ci95, ci90, mdePercent };
  if ((ci95[1] < 1 || ci95[0] > 1) && !inFloor(ratio)) {
    const worse = options.direction === 'higher' ? ratio < 1 : ratio > 1;
    return { verdict: worse ? 'slower' : 'faster', ratio, ci95, ci90, mdePercent, effectPercent: 100 * Math.abs(ratio - 1) };
  }
  const repetitionsNeeded = repetitionsToDecide(
    Math.abs(Math.log(ratio)),
    Math.log(1 + margin),
    spreadB.cv ** 2 + spreadC.cv ** 2,
    Math.max(baseline.length, candidate.length),
  );
  return { verdict: 'undecided', ratio, ci95, ci90, mdePercent, repetitionsNeeded };
}

function minimumDetectableEffect(b: Spread, c: Spread): number | null {
  const wb = b.cv ** 2 / b.n;
  const wc = c.cv ** 2 / c.n;
  const variance = wb + wc;
  if (!(variance > 0)) return null;
  const degrees = variance ** 2 / (wb ** 2 / (b.n - 1) + wc ** 2 / (c.n - 1));
  const effect = (tQuantile(0.975, degrees) + tQuantile(TARGET_POWER, degrees)) * Math.sqrt(variance);
  return 100 * (Math.exp(effect) - 1);
}

interface Spread {
  n: number;
  mean: number;
  /** Sample sd / mean. */
  cv: number;
}

function spread(samples: readonly number[]): Spread {
  const values = [...samples];
  const average = mean(values);
  return { n: values.length, mean: average, cv: Math.sqrt(sampleVariance(values)) / average };
}

/** Φ, the standard normal CDF, through the error function. */
function normalCdf(z: number): number {
  return 0.5 * (1 + errorFunction(z / Math.SQRT2));
}

function bootstrapIntervals(
  baseline: readonly number[],
  candidate: readonly number[],
  b: Spread,
  c: Spread,
  resamples: number,
  seed: number,
): { ci95: RatioInterval; ci90: RatioInterval } {
  const random = seededRandom(seed);
  const resampledMean = (samples: readonly number[]) => {
    let sum = 0;
    for (let draw = 0; draw < samples.length; draw++) sum += samples[Math.floor(random() * samples.length)]!;
    return sum / samples.length;
  };
  const logRatios = new Array<number>(resamples);
  for (let index = 0; index < resamples; index++) logRatios[index] = Math.log(resampledMean(candidate) / resampledMean(baseline));
  logRatios.sort((left, right) => left - right);

  // Hesterberg's expansion, two-sample form (see judgePoint).
  const wb = b.cv ** 2 / b.n;
  const wc = c.cv ** 2 / c.n;
  const unbiased = wb + wc;
  const plugIn = (wb * (b.n - 1)) / b.n + (wc * (c.n - 1)) / c.n;
  const expansion = plugIn > 0 ? Math.sqrt(unbiased / plugIn) : 1;
  const degrees = unbiased > 0 ? unbiased ** 2 / (wb ** 2 / (b.n - 1) + wc ** 2 / (c.n - 1)) : b.n + c.n - 2;
  // The Welch t interval of ln R (delta method), the floor of the bootstrap's width.
  const logRatio = Math.log(c.mean / b.mean);
  const standardError = Math.sqrt(unbiased);
  const interval = (confidence: number): RatioInterval => {
    const t = tQuantile(1 - (1 - confidence) / 2, degrees);
    const tail = normalCdf(-expansion * t);
    return [
      Math.exp(Math.min(quantileSorted(logRatios, tail), logRatio - t * standardError)),
      Math.exp(Math.max(quantileSorted(logRatios, 1 - tail), logRatio + t * standardError)),
    ];
  };
  return { ci95: interval(0.95), ci90: interval(0.9) };
}

/**
 * Per-side n at which a true log ratio `effect` (≥ 0) with per-trial log variance `variance` would be
 * decided at power TARGET_POWER (see judgePoint for the formulas); null when no n decides it.
 */
function repetitionsToDecide(effect: number, margin: number, variance: number, currentN: number): number | null {
  if (effect === margin || variance === 0) return null;
  const beta = 1 - TARGET_POWER;
  const nFor = (quantile: (probability: number) => number) => {
    const needed =
      effect < margin
        ? (quantile(0.95) + quantile(1 - beta)) ** 2 / (margin - effect) ** 2
        : Math.max((quantile(0.975) + quantile(1 - beta)) ** 2 / effect ** 2, quantile(1 - beta) ** 2 / (effect - margin) ** 2);
    return Math.max(2, Math.ceil(needed * variance));
  };
  let n = nFor(probit);
  for (let iteration = 0; iteration < 50 && Number.isFinite(n); iteration++) {
    const degrees = 2 * n - 2;
    const next = nFor((probability) => tQuantile(probability, degrees));
    if (next === n) break;
    n = next;
  }
  return Number.isFinite(n) ? Math.max(n, currentN + 1) : null;
}

/** The baseline target verdicts are judged against when none is named. */
export const DEFAULT_BASELINE = 'native';

/** The verdict on one candidate point, with what names it. */
export interface PointVerdict {
  /** The candidate point's `target/suite/pointId`. */
  key: string;
  /** The candidate target, e.g. `docker-host`. */
  target: string;
  suite: string;
  pointId: string;
  /** The headline metric judged, e.g. `throughput_gbps`. */
  metric: string;
  verdict: Verdict;
}

/** {@link JudgeOptions} less the direction, which each point's headline declares; `seed` defaults to the run's. */
export type VerdictsOptions = Partial<Omit<JudgeOptions, 'direction'>>;

/**
 * The headline metric's value of each completed trial of a point that measured it, in trial order.
 * Empty when the point declares no headline.
 */
export function headlineSamples(point: Pick<PointResult, 'headline' | 'trials'>): number[] {
  const name = point.headline?.metric;
  if (name === undefined) return [];
  return point.trials.flatMap((trial) =>
    trial.state === 'completed' ? trial.metrics.filter((metric) => metric.name === name).map((metric) => metric.value) : [],
  );
}

/**
 * Judges every point of a results file against the baseline target's point of the same suite and
 * pointId, on the point's declared headline metric and its direction (see {@link judgePoint}).
 * Considered: points of another target with at least one completed trial and a declared headline
 * (files from before headlines were declared have none, and give no verdicts). A candidate whose
 * baseline point is missing, or has fewer than 2 samples, is `not-comparable` with the reason.
 * Every point is judged with the same seed (default: the run's `plan.seed`), so the list is
 * reproducible from the file alone. In the file's point order.
 * @param baseline The baseline target, default {@link DEFAULT_BASELINE}.
 */
export function verdictsFor(file: ResultsFile, baseline: string = DEFAULT_BASELINE, options: VerdictsOptions = {}): PointVerdict[] {
  const baselinePoints = new Map<string, PointResult>();
  for (const point of file.points) if (point.target === baseline) baselinePoints.set(`${point.suite}/${point.pointId}`, point);
  const seed = options.seed ?? file.plan.seed;
  const verdicts: PointVerdict[] = [];
  for (const point of file.points) {
    const headline = point.headline;
    if (point.target === baseline || !headline || !point.trials.some((trial) => trial.state === 'completed')) continue;
    const reference = baselinePoints.get(`${point.suite}/${point.pointId}`);
    const verdict: Verdict = reference
      ? judgePoint(headlineSamples({ headline, trials: reference.trials }), headlineSamples(point), { ...options, seed, direction: headline.direction })
      : { verdict: 'not-comparable', reason: `the baseline ${baseline} has no point ${point.suite}/${point.pointId}`, ratio: null, ci95: null, ci90: null };
    verdicts.push({ key: point.key, target: point.target, suite: point.suite, pointId: point.pointId, metric: headline.metric, verdict });
  }
  return verdicts;
}

/**
 * The file with every candidate point's `verdict` recomputed from its raw trials (see
 * {@link verdictsFor}) against `plan.baseline`, at `plan.marginPercent`, calling no difference
 * smaller than `plan.noiseFloorPercent`; baseline points and points with no completed trial carry
 * none. Does not change `file`.
 */
export function withVerdicts(file: ResultsFile): ResultsFile {
  const { baseline, marginPercent, noiseFloorPercent } = file.plan;
  const options: VerdictsOptions = { marginPercent, ...(noiseFloorPercent !== null ? { floorPercent: noiseFloorPercent } : {}) };
  const byKey = new Map(verdictsFor(file, baseline, options).map((entry) => [entry.key, entry]));
  const floorPercent = Math.max(marginPercent, noiseFloorPercent ?? 0);
  return {
    ...file,
    points: file.points.map((point) => {
      const rest = { ...point };
      delete rest.verdict;
      const entry = byKey.get(point.key);
      if (!entry) return rest;
      const n = { baseline: baselineCount(file, baseline, point), candidate: headlineSamples(point).length };
      const stored: StoredVerdict = { ...entry.verdict, baseline, metric: entry.metric, marginPercent, floorPercent, n };
      return { ...rest, verdict: stored };
    }),
  };
}

function baselineCount(file: ResultsFile, baseline: string, point: PointResult): number {
  const reference = file.points.find((other) => other.target === baseline && other.suite === point.suite && other.pointId === point.pointId);
  return reference ? headlineSamples({ headline: point.headline, trials: reference.trials }).length : 0;
}
