import type { TargetName } from '../provisioning/types.js';
import { suiteByName } from '../suites/index.js';
import type { SuiteConfig, SuiteName, SuitePoint } from '../suites/types.js';
import { seededRandom, shuffled } from './random.js';

export interface PlannedCell {
  key: string;
  target: TargetName;
  suite: SuiteName;
  point: SuitePoint;
}

export interface Plan {
  cells: PlannedCell[];
  /** The order of every round: all cells, shuffled anew each round from the recorded seed. */
  rounds: PlannedCell[][];
}

export function cellKey(target: string, suite: string, pointId: string): string {
  return `${target}/${suite}/${pointId}`;
}

/**
 * Interleaves targets and points (A B C A B C …, shuffled per round) so that drift of the host
 * during a run hits every target alike instead of the one measured last.
 */
export function buildPlan(
  targets: readonly TargetName[],
  suites: readonly SuiteName[],
  config: SuiteConfig,
  repetitions: number,
  seed: number,
): Plan {
  const cells: PlannedCell[] = [];
  for (const suite of suites) {
    for (const point of suiteByName(suite).points(config)) {
      for (const target of targets) cells.push({ key: cellKey(target, suite, point.id), target, suite, point });
    }
  }
  const random = seededRandom(seed);
  const rounds = Array.from({ length: repetitions }, () => shuffled(cells, random));
  return { cells, rounds };
}
