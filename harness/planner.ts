import type { SuiteConfig, SuiteOptions, SuitePoint } from '../contracts/suite.js';
import type { AnySuite } from '../contracts/suite.js';
import { formatZodIssues } from '../core/zod-text.js';
import { suiteByName } from '../suites/index.js';
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
  /** The order of every round: all cells, shuffled anew each round from the recorded seed. */
  rounds: PlannedCell[][];
}

/** The key of a point in a run: `target/suite/pointId`. */
export function cellKey(target: string, suite: string, pointId: string): string {
  return `${target}/${suite}/${pointId}`;
}

/**
 * Interleaves targets and points (A B C A B C …, shuffled per round) so that drift of the host
 * during a run hits every target alike instead of the one measured last.
 *
 * @param targets Configuration ids, e.g. `native`, `docker-nat:overlay`.
 * @param suites Registered suite names.
 * @param config The run's mode and host; `options` is replaced by each suite's own from `suiteOptions`.
 * @param suiteOptions Each suite's parsed options, by suite name.
 * @param registry Suites by name, for suites not in the registry (test doubles); default: `suites/index.ts`.
 * @throws Error when a suite yields a point its own `params` schema rejects (a bug in the suite).
 */
export function buildPlan(
  targets: readonly string[],
  suites: readonly string[],
  config: Omit<SuiteConfig, 'options'>,
  suiteOptions: ReadonlyMap<string, SuiteOptions>,
  repetitions: number,
  seed: number,
  registry: ReadonlyMap<string, AnySuite> = new Map(),
): Plan {
  const cells: PlannedCell[] = [];
  for (const name of suites) {
    const suite = registry.get(name) ?? suiteByName(name);
    for (const point of suite.points({ ...config, options: suiteOptions.get(name) ?? {} })) {
      const checked = suite.params.safeParse(point.params);
      if (!checked.success) throw new Error(`suite ${name} planned point ${point.id} with parameters its schema rejects: ${formatZodIssues(checked.error)}`);
      for (const target of targets) cells.push({ key: cellKey(target, name, point.id), target, suite: name, point });
    }
  }
  const random = seededRandom(seed);
  const rounds = Array.from({ length: repetitions }, () => shuffled(cells, random));
  return { cells, rounds };
}
