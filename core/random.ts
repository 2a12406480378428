/**
 * A small seeded generator (mulberry32, Tommy Ettinger's 32-bit generator): uniform in [0, 1).
 * Anything that must be reproducible from a recorded seed uses it: the run order (harness/planner.ts)
 * and the bootstrap of verdicts (results/verdict.ts).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
