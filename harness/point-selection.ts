import type { AnySuite, SuiteConfig } from '../contracts/suite.js';
import { UsageError } from '../core/errors.js';

/*
 * Which points of the chosen suites a run measures: every one (the default), the ones `--points`
 * names, or, for a bare `npm run bench`, the first look (each suite's `firstLook`). A selection is a
 * list of `suite/pointId` keys; the plan stores it, so `--resume` rebuilds the same points.
 */

/** The budget of the first look when `--budget` is not given, in s: the quick matrix's time goal (issue 13, §5). */
export const FIRST_LOOK_BUDGET_SECONDS = 300;

/** The key of a point in a selection: `suite/pointId`. */
export function selectionKey(suite: string, pointId: string): string {
  return `${suite}/${pointId}`;
}

/**
 * The first look: the `firstLook` points of every suite that declares them, in registry order.
 * @param suites The candidate suites (`--suite all`'s).
 * @returns The suites in the first look and their selection keys.
 */
export function firstLook(suites: readonly AnySuite[]): { suites: AnySuite[]; points: string[] } {
  const chosen = suites.filter((suite) => suite.firstLook !== undefined && suite.firstLook.length > 0);
  return { suites: chosen, points: chosen.flatMap((suite) => suite.firstLook!.map((id) => selectionKey(suite.name, id))) };
}

/**
 * Parses `--points` (`suite/pointId,…`) against the suites' points as this run would plan them.
 * The order of the suites' own points is kept by the plan, not this list's.
 * @param text The flag's text.
 * @param candidates The suites the run may use: those of `--suite`, or every default one when
 *   `named` is false (then the run's suites become those the list names).
 * @param named Whether `--suite` was given: a point of a suite it leaves out is then refused.
 * @param configOf The suite's config for `points()` (quick or full, cores, its options).
 * @returns The suites that hold a chosen point, in `candidates` order, and the selection keys.
 * @throws UsageError naming the item and the fix: not `suite/point`, an unknown suite, a suite
 *   `--suite` leaves out, a point the suite does not have (its points listed), an empty list, a
 *   point named twice (dropping it would leave the recorded command line naming it twice).
 */
export function parsePointList(
  text: string,
  candidates: readonly AnySuite[],
  named: boolean,
  configOf: (suite: AnySuite) => SuiteConfig,
): { suites: AnySuite[]; points: string[] } {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  const twice = items.find((item, index) => items.indexOf(item) !== index);
  if (twice !== undefined) throw new UsageError(`--points names ${twice} twice: name each point once`);
  if (items.length === 0) throw new UsageError(`--points "${text}" names nothing: name points as SUITE/POINT, e.g. --points tcp-bulk/client-to-server,random-io/randread`);
  const keys: string[] = [];
  const used = new Set<string>();
  for (const item of items) {
    const slash = item.indexOf('/');
    if (slash <= 0 || slash === item.length - 1) throw new UsageError(`--points ${item}: write each point as SUITE/POINT, e.g. random-io/randread`);
    const suiteName = item.slice(0, slash);
    const pointId = item.slice(slash + 1);
    const suite = candidates.find((candidate) => candidate.name === suiteName);
    if (!suite) {
      throw new UsageError(named
        ? `--points ${item} is a point of ${suiteName}, which --suite leaves out: add ${suiteName} to --suite, or drop the point`
        : `--points ${item}: no suite "${suiteName}" in this run (suites: ${candidates.map(({ name }) => name).join(', ')}); name an opt-in suite with --suite`);
    }
    const ids = suite.points(configOf(suite)).map((point) => point.id);
    if (!ids.includes(pointId)) throw new UsageError(`--points ${item}: ${suiteName} has no point "${pointId}" in this run; its points: ${ids.join(', ')}`);
    keys.push(selectionKey(suiteName, pointId));
    used.add(suiteName);
  }
  if (named) {
    const idle = candidates.filter((suite) => !used.has(suite.name)).map(({ name }) => name);
    if (idle.length > 0) throw new UsageError(`--points names no point of ${idle.join(', ')}, which --suite names: add one of its points, or drop it from --suite`);
  }
  return { suites: candidates.filter((suite) => used.has(suite.name)), points: keys };
}
