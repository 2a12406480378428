import type { PointResult, ResultsFile, TrialRecord } from '../results/schema.js';
import { formatDuration } from './progress.js';

/*
 * Adaptive repetitions (`--until-decided`): after the run's `--reps` rounds, rounds are added for
 * the points whose verdict against the baseline is still `undecided`, with their baseline points,
 * until every point is decided or a limit says stop. Pure functions over the results file, so the
 * runner's loop is a few lines and the decisions are unit-tested without running anything.
 */

/** Rounds an adaptive run needs before its first verdict is trusted: verdicts want 2 samples a side, 3 gives a spread. */
export const MIN_ADAPTIVE_REPETITIONS = 3;
/** `--max-reps` when not given. */
export const DEFAULT_MAX_REPETITIONS = { quick: 10, full: 20 } as const;

/** The limits of adaptive repetitions, as `plan.adaptive` stores them. */
export interface AdaptiveLimits {
  /** Trials per point at most (`--max-reps`). */
  maxRepetitions: number;
  /**
   * Wall-clock seconds the measurement loop may take (`--budget`; the first look's default 300), or
   * null for none. It bounds the planned rounds after the first (harness/runner.ts) and every added one.
   */
  budgetSeconds: number | null;
}

/** What {@link nextAdaptiveRound} decided. */
export interface AdaptiveDecision {
  /** Keys of the points the next round runs: the chased candidates and their baseline points, in file order. Empty when the loop stops. */
  keys: string[];
  /** Candidate keys being chased (undecided, decidable within the limits). */
  chased: string[];
  /** Candidate points whose verdict is `undecided` now. */
  undecided: number;
  /** Estimated wall-clock ms of the next round, from the past trials of its points; 0 when it stops. */
  estimatedMs: number;
  /** One line saying why the loop stops; null when another round runs. */
  stopReason: string | null;
}

/** How many of the latest trials say how long the host makes a trial wait now (the quiet-host wait). */
export const RECENT_WAIT_TRIALS = 4;

/**
 * Estimated ms of a round that runs each of `keys` once: each point's mean trial time without its
 * quiet-host wait (else that mean over every trial in the file, else 0: no trial ran yet), plus,
 * per trial, the mean wait of the file's {@link RECENT_WAIT_TRIALS} latest trials. The wait is the
 * host's state, not the point's: right after provisioning a guest still settling made every trial
 * of a first round wait up to 20 s (measured here, 2026-11-30: a round of 12 trials took 2m35s,
 * its last 4 waited 0 s), and charging that to every later round stopped a first look after one.
 */
export function estimateRoundMs(file: ResultsFile, keys: readonly string[]): number {
  const work = (trial: TrialRecord) => Math.max(0, trial.durationMs - (trial.quietHost?.waitedMs ?? 0));
  const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const trials = file.points.flatMap((point) => point.trials);
  const fallback = trials.length > 0 ? mean(trials.map(work)) : 0;
  const latest = [...trials].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt)).slice(-RECENT_WAIT_TRIALS);
  const wait = latest.length > 0 ? mean(latest.map((trial) => trial.quietHost?.waitedMs ?? 0)) : 0;
  const byKey = new Map(file.points.map((point) => [point.key, point]));
  return keys.reduce((sum, key) => {
    const own = byKey.get(key)?.trials ?? [];
    return sum + (own.length > 0 ? mean(own.map(work)) : fallback) + wait;
  }, 0);
}

/**
 * Decides the next adaptive round from the file's current verdicts (`plan.baseline`).
 *
 * A candidate point is chased when its verdict is `undecided` with a `repetitionsNeeded` of at most
 * `maxRepetitions`, it and its baseline point have run fewer than `maxRepetitions` trials, both can
 * run (`runnable`), and the baseline point has not failed. The round runs the chased points and their
 * baseline points. It stops, saying why, when no candidate is undecided, when none can be chased
 * (at `--max-reps`, needing more than it, a failed baseline), or when `elapsedMs` plus the next
 * round's estimate ({@link estimateRoundMs}) would pass the budget: a round is never started that
 * would overrun it.
 * @param runnable Whether a point's target is provisioned and its suite prepared.
 * @param elapsedMs Wall-clock ms the measurement loop has run so far.
 */
export function nextAdaptiveRound(file: ResultsFile, limits: AdaptiveLimits, runnable: (key: string) => boolean, elapsedMs: number): AdaptiveDecision {
  const baseline = file.plan.baseline;
  const baselineOf = new Map<string, PointResult>();
  for (const point of file.points) if (point.target === baseline) baselineOf.set(`${point.suite}/${point.pointId}`, point);
  const candidates = file.points.filter((point) => point.target !== baseline && point.verdict !== undefined);
  const undecided = candidates.filter((point) => point.verdict?.verdict === 'undecided');
  const stop = (stopReason: string): AdaptiveDecision => ({ keys: [], chased: [], undecided: undecided.length, estimatedMs: 0, stopReason });
  if (candidates.length === 0) return stop(`no point to decide: no candidate point has a verdict against ${baseline}`);
  if (undecided.length === 0) return stop(`all ${candidates.length} compared point(s) decided`);

  const max = limits.maxRepetitions;
  const left = { atMax: 0, needMore: 0, baselineFailed: 0, cannotRun: 0 };
  const chased: PointResult[] = [];
  const baselines = new Set<string>();
  for (const point of undecided) {
    const reference = baselineOf.get(`${point.suite}/${point.pointId}`);
    const needed = point.verdict?.verdict === 'undecided' ? point.verdict.repetitionsNeeded : null;
    if (!reference || reference.status === 'failed') left.baselineFailed++;
    else if (!runnable(point.key) || !runnable(reference.key)) left.cannotRun++;
    else if (point.trials.length >= max || reference.trials.length >= max) left.atMax++;
    else if (needed === null || needed > max) left.needMore++;
    else {
      chased.push(point);
      baselines.add(reference.key);
    }
  }
  if (chased.length === 0) {
    if (left.atMax === undecided.length) return stop(`--max-reps ${max} reached with ${undecided.length} point(s) undecided`);
    const parts = [
      left.atMax > 0 ? `${left.atMax} at --max-reps ${max}` : '',
      left.needMore > 0 ? `${left.needMore} would need more than ${max} repetitions` : '',
      left.baselineFailed > 0 ? `${left.baselineFailed} whose baseline failed` : '',
      left.cannotRun > 0 ? `${left.cannotRun} whose target cannot run` : '',
    ].filter(Boolean);
    return stop(`nothing more can decide: ${undecided.length} point(s) undecided (${parts.join(', ')})`);
  }
  const wanted = new Set([...chased.map((point) => point.key), ...baselines]);
  const keys = file.points.filter((point) => wanted.has(point.key)).map((point) => point.key);
  const estimatedMs = estimateRoundMs(file, keys);
  if (limits.budgetSeconds !== null && elapsedMs + estimatedMs > limits.budgetSeconds * 1000) {
    return stop(
      `budget ${formatDuration(limits.budgetSeconds * 1000)}: ${formatDuration(elapsedMs)} used, the next round (~${formatDuration(estimatedMs)}) would end past it; ${undecided.length} point(s) undecided`,
    );
  }
  return { keys, chased: chased.map((point) => point.key), undecided: undecided.length, estimatedMs, stopReason: null };
}

/**
 * One line counting the verdicts against the baseline, e.g.
 * `verdicts vs native: 5 decided (3 equivalent, 1 slower, 1 faster), 2 undecided, 1 not comparable`;
 * null when no point carries a verdict (a run of the baseline alone).
 */
export function verdictSummaryLine(file: ResultsFile): string | null {
  const counts = new Map<string, number>();
  for (const point of file.points) if (point.verdict) counts.set(point.verdict.verdict, (counts.get(point.verdict.verdict) ?? 0) + 1);
  if (counts.size === 0) return null;
  const count = (verdict: string) => counts.get(verdict) ?? 0;
  const decidedKinds = ['equivalent', 'slower', 'faster'].filter((verdict) => count(verdict) > 0);
  const decided = decidedKinds.reduce((sum, verdict) => sum + count(verdict), 0);
  const parts = [`${decided} decided${decided > 0 ? ` (${decidedKinds.map((verdict) => `${count(verdict)} ${verdict}`).join(', ')})` : ''}`, `${count('undecided')} undecided`];
  if (count('not-comparable') > 0) parts.push(`${count('not-comparable')} not comparable`);
  return `verdicts vs ${file.plan.baseline}: ${parts.join(', ')}`;
}
