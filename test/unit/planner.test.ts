import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPlan } from '../../harness/planner.js';

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
