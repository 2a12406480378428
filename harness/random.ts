// The seeded generator lives in core/ so that results/ (verdicts) can use it too.
export { seededRandom } from '../core/random.js';

/** Fisher–Yates on a copy. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [copy[index], copy[other]] = [copy[other]!, copy[index]!];
  }
  return copy;
}

/**
 * A fresh seed for a run that was not given `--seed`: an integer in [0, 2^31), the range the flag
 * accepts, so the recorded seed can be passed back to reproduce the order.
 */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
