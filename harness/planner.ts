import type { SuiteConfig, SuiteOptions, SuitePoint } from '../contracts/suite.js';
import type { AnySuite } from '../contracts/suite.js';
import { formatZodIssues } from '../core/zod-text.js';
import { suiteByName } from '../suites/index.js';
import { selectionKey } from './point-selection.js';
import { seededRandom, shuffled } from './random.js';

/** One target configuration × suite × point: one row of the results file. */
export interface PlannedCell {
  /** `configuration/suite/pointId`, unique in a run. */
  key: string;
  /** The target configuration id, e.g. `docker-nat:overlay`. */
  target: string;
  suite: string;
  point: SuitePoint;
}

/** The cells of a run and the order every round runs them in. */
export interface Plan {
  cells: PlannedCell[];
  /** The order of every round of the run's `--reps`: all cells, counterbalanced (see {@link orderRound}). */
  rounds: PlannedCell[][];
  /**
   * The seeded generator, left where the planned rounds left it, so rounds added by adaptive
   * repetitions ({@link orderRound}) continue the same reproducible sequence.
   */
  random: () => number;
}

/** The key of a point in a run: `target/suite/pointId`. */
export function cellKey(target: string, suite: string, pointId: string): string {
  return `${target}/${suite}/${pointId}`;
}

/**
 * Interleaves targets and points (A B C A B C …, shuffled per round) so that drift of the host
 * during a run hits every target alike instead of the one measured last, and counterbalances the
 * order across rounds ({@link orderRound}).
 *
 * @param targets Configuration ids, e.g. `native`, `docker-nat:overlay` (in an A/A run, the two arms).
 * @param suites Registered suite names.
 * @param config The run's mode and host; `options` is replaced by each suite's own from `suiteOptions`.
 * @param suiteOptions Each suite's parsed options, by suite name.
 * @param repetitions Rounds to plan, each running every cell once.
 * @param registry Suites by name, for suites not in the registry (test doubles); default: `suites/index.ts`.
 * @param selection The `suite/pointId` keys to plan (`--points`, the first look: harness/point-selection.ts);
 *   null: every point of every suite.
 * @throws Error when a suite yields a point its own `params` schema rejects (a bug in the suite), or
 *   when the selection names a point no suite yields (the CLI checks the list first; this is the backstop).
 */
export function buildPlan(
  targets: readonly string[],
  suites: readonly string[],
  config: Omit<SuiteConfig, 'options'>,
  suiteOptions: ReadonlyMap<string, SuiteOptions>,
  repetitions: number,
  seed: number,
  registry: ReadonlyMap<string, AnySuite> = new Map(),
  selection: readonly string[] | null = null,
): Plan {
  const cells: PlannedCell[] = [];
  const wanted = selection === null ? null : new Set(selection);
  for (const name of suites) {
    const suite = registry.get(name) ?? suiteByName(name);
    for (const point of suite.points({ ...config, options: suiteOptions.get(name) ?? {} })) {
      if (wanted !== null && !wanted.delete(selectionKey(name, point.id))) continue;
      const checked = suite.params.safeParse(point.params);
      if (!checked.success) throw new Error(`suite ${name} planned point ${point.id} with parameters its schema rejects: ${formatZodIssues(checked.error)}`);
      for (const target of targets) cells.push({ key: cellKey(target, name, point.id), target, suite: name, point });
    }
  }
  if (wanted !== null && wanted.size > 0) throw new Error(`the point selection names ${[...wanted].join(', ')}, which no suite of this run plans`);
  const random = seededRandom(seed);
  const rounds: PlannedCell[][] = [];
  for (let index = 0; index < repetitions; index++) rounds.push(orderRound(cells, index, rounds[index - 1], random));
  return { cells, rounds, random };
}

/**
 * The order of round `roundIndex` (0-based) over `cells`, ABBA-counterbalanced: an even round is a
 * fresh seeded shuffle; an odd round runs the previous round's order reversed (Shaughnessy,
 * Zechmeister & Zechmeister, *Research Methods in Psychology*, ch. 7, "ABBA counterbalancing":
 * A B C, then C B A). Over each pair of rounds every two cells therefore run once in each order, and
 * every cell's mean position in the pair is the same, so a drift of the host that is linear over
 * the pair adds the same to every target. Over a run of an even number of rounds each pair of
 * targets runs in both orders equally often at every point; an odd number leaves the last round
 * unpaired (off by one at most). Adaptive rounds run a subset of the cells: an odd one reverses the
 * previous round's order restricted to its cells, and places a cell the previous round did not run
 * at a seeded random position (its pairs with the others are unbalanced by that one round).
 *
 * @param previous The order round `roundIndex − 1` ran in; ignored for an even round.
 * @param random The seeded generator (advanced by the shuffle or the placements).
 */
export function orderRound(
  cells: readonly PlannedCell[],
  roundIndex: number,
  previous: readonly PlannedCell[] | undefined,
  random: () => number,
): PlannedCell[] {
  if (roundIndex % 2 === 0 || previous === undefined) return shuffled(cells, random);
  const wanted = new Set(cells.map((cell) => cell.key));
  const reversed = previous.filter((cell) => wanted.has(cell.key)).reverse();
  const kept = new Set(reversed.map((cell) => cell.key));
  for (const cell of cells) {
    if (kept.has(cell.key)) continue;
    reversed.splice(Math.floor(random() * (reversed.length + 1)), 0, cell);
  }
  return reversed;
}
