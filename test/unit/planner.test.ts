import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPlan, orderRound, type PlannedCell } from '../../harness/planner.js';
import { seededRandom } from '../../harness/random.js';

const config = { quick: true, cores: 2 };
const options = new Map([['tcp-bulk', { streams: 1 }]]);

test('every round runs every cell exactly once, targets interleaved', () => {
  const plan = buildPlan(['native', 'docker-host', 'kvm'], ['tcp-bulk', 'tcp-rr'], config, options, 4, 42);
  assert.equal(plan.cells.length, 3 * (2 + 2));
  assert.equal(plan.rounds.length, 4);
  for (const round of plan.rounds) assert.deepEqual(round.map((cell) => cell.key).sort(), plan.cells.map((cell) => cell.key).sort());
  const orders = new Set(plan.rounds.map((round) => round.map((cell) => cell.key).join()));
  assert.ok(orders.size > 1, 'rounds are shuffled anew');
  // Not run in blocks: the first round does not finish one target before starting the next.
  const firstRoundTargets = plan.rounds[0]!.map((cell) => cell.target);
  const blocks = firstRoundTargets.filter((target, index) => index === 0 || target !== firstRoundTargets[index - 1]).length;
  assert.ok(blocks > 3);
});

test('the same seed gives the same order; another seed another', () => {
  const order = (seed: number) => buildPlan(['native', 'kvm'], ['random-io'], config, options, 3, seed).rounds.flat().map((cell) => cell.key).join();
  assert.equal(order(7), order(7));
  assert.notEqual(order(7), order(8));
});

test('random-io scales fio jobs to the cores and shrinks in quick mode', () => {
  const quick = buildPlan(['native'], ['random-io'], config, options, 1, 1).cells.find((cell) => cell.point.id === 'randread')!;
  assert.equal(quick.point.params.numjobs, 2);
  assert.equal(quick.point.params.fileSize, '256M');
  const full = buildPlan(['native'], ['random-io'], { ...config, quick: false, cores: 16 }, options, 1, 1).cells.find((cell) => cell.point.id === 'randread')!;
  assert.equal(full.point.params.numjobs, 16);
  assert.equal(full.point.params.fileSize, '16G');
});

/** For every point and every ordered pair of targets (X, Y): rounds in which X ran before Y, minus those with Y before X. */
function orderImbalance(rounds: readonly PlannedCell[][]): Map<string, number> {
  const imbalance = new Map<string, number>();
  for (const round of rounds) {
    const position = new Map(round.map((cell, index) => [cell.key, index]));
    for (const first of round) {
      for (const second of round) {
        if (first.suite !== second.suite || first.point.id !== second.point.id || first.target >= second.target) continue;
        const key = `${first.suite}/${first.point.id}: ${first.target} before ${second.target}`;
        imbalance.set(key, (imbalance.get(key) ?? 0) + (position.get(first.key)! < position.get(second.key)! ? 1 : -1));
      }
    }
  }
  return imbalance;
}

test('counterbalanced: over an even number of rounds every pair of targets runs in both orders equally often at every point', () => {
  const targets = ['native', 'docker-host', 'docker-nat', 'kvm'];
  for (const seed of [1, 2, 42, 1234]) {
    const plan = buildPlan(targets, ['tcp-bulk', 'tcp-rr'], config, options, 6, seed);
    const imbalance = orderImbalance(plan.rounds);
    assert.equal(imbalance.size, 4 * 6, 'every point x pair of targets is counted');
    for (const [pair, count] of imbalance) assert.equal(count, 0, `seed ${seed}, ${pair}`);
    // ABBA: round 2k+1 is round 2k reversed, so every cell's mean position over a pair of rounds is the middle.
    for (let round = 0; round < plan.rounds.length; round += 2) {
      const first = plan.rounds[round]!.map((cell) => cell.key);
      assert.deepEqual(plan.rounds[round + 1]!.map((cell) => cell.key), [...first].reverse());
      assert.notDeepEqual(plan.rounds[round + 2]?.map((cell) => cell.key) ?? [], first, 'the next pair starts from a fresh shuffle');
    }
  }
  // Without the reversal, shuffles alone leave pairs unbalanced: the test can tell.
  const random = seededRandom(42);
  const cells = buildPlan(targets, ['tcp-rr'], config, options, 1, 42).cells;
  const unpaired = Array.from({ length: 6 }, (_, index) => orderRound(cells, 2 * index, undefined, random));
  assert.ok([...orderImbalance(unpaired).values()].some((count) => count !== 0));
});

test('counterbalanced: an odd number of rounds is off by at most one, the last round', () => {
  const plan = buildPlan(['native', 'docker-host', 'kvm'], ['tcp-bulk'], config, options, 5, 9);
  const imbalance = [...orderImbalance(plan.rounds).values()];
  assert.equal(imbalance.length, 3 * 2, 'every pair of the 3 targets at each of the 2 points is counted');
  assert.ok(imbalance.every((count) => Math.abs(count) === 1), 'one unpaired round decides each pair');
  assert.ok(orderImbalance(plan.rounds.slice(0, 4)).size > 0);
  assert.ok([...orderImbalance(plan.rounds.slice(0, 4)).values()].every((count) => count === 0));
});

test('an adaptive odd round reverses the previous order restricted to its cells, and places a new cell by the seed', () => {
  const cells = buildPlan(['native', 'kvm'], ['tcp-bulk', 'tcp-rr'], config, options, 1, 3).cells;
  const previous = orderRound(cells, 2, undefined, seededRandom(5));
  const subset = previous.filter((cell) => cell.suite === 'tcp-rr');
  const next = orderRound(subset, 3, previous, seededRandom(5));
  assert.deepEqual(next.map((cell) => cell.key), [...subset].reverse().map((cell) => cell.key));
  // A cell the previous round did not run still runs once, and the others keep their reversed order.
  const narrowPrevious = previous.filter((cell) => cell.key !== subset[0]!.key);
  const withNew = orderRound(subset, 3, narrowPrevious, seededRandom(5));
  assert.deepEqual([...withNew.map((cell) => cell.key)].sort(), subset.map((cell) => cell.key).sort());
  assert.deepEqual(withNew.filter((cell) => cell.key !== subset[0]!.key).map((cell) => cell.key), [...subset.slice(1)].reverse().map((cell) => cell.key));
  assert.deepEqual(orderRound(subset, 3, narrowPrevious, seededRandom(5)), withNew, 'the placement comes from the seed');
});
