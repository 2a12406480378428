import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { seededRandom } from '../../core/random.js';
import { injectKill, type KillOutcome, type KillPlan } from '../../bench-tools/fault-injection/inject.js';
import { runCli } from '../helpers.js';

// SIGKILL of the bench's CLI process at seeded moments inside three short runs, then `npm run
// cleanup`: the host must look as it did before (bench-tools/fault-injection). Run under
// `flock /tmp/isobench-heavy.lock`; with Docker running; the kvm run boots a TCG guest (about 1 min).

/**
 * Each kill lands between `from` and `to` seconds after the start: on the development machine that
 * is inside the trials (native and docker-nat, after provisioning) or the guest's boot and first
 * trial (kvm), measured from uncut runs of the same settings (README of bench-tools).
 */
const WINDOWS: ReadonlyArray<{ target: string; suite: string; from: number; to: number }> = [
  { target: 'native', suite: 'tcp-rr', from: 6, to: 10 },
  { target: 'docker-nat', suite: 'tcp-bulk', from: 8, to: 14 },
  { target: 'kvm', suite: 'startup', from: 20, to: 40 },
];
const SEED = 13;

function describe(outcome: KillOutcome): string {
  if (outcome.kind === 'missed') return `missed after ${outcome.runMs} ms: ${outcome.lastLines}`;
  return `killed at ${outcome.killedAtMs} ms (${outcome.lastLine}); cleanup: ${outcome.cleanup?.output ?? 'skipped'}; leaks: ${outcome.leaks.map((leak) => `${leak.category}: ${leak.item}`).join('; ')}`;
}

test('runs killed mid-run (native, docker-nat, kvm) leave nothing once cleanup ran', { timeout: 20 * 60_000 }, async () => {
  const out = await mkdtemp('/tmp/isobench-fault-injection-test-');
  const random = seededRandom(SEED);
  for (const window of WINDOWS) {
    const plan: KillPlan = { ...window, seed: SEED, delayMs: Math.round((window.from + random() * (window.to - window.from)) * 1000), outDirectory: join(out, `${window.target}-${window.suite}`) };
    const outcome = await injectKill(plan, () => {});
    assert.equal(outcome.kind, 'killed', describe(outcome));
    if (outcome.kind !== 'killed') continue;
    assert.equal(outcome.cleanup?.exitCode, 0, describe(outcome));
    assert.deepEqual(outcome.leaks, [], describe(outcome));
    // The check looked: the categories a leak would show in were read on both sides.
    for (const category of ['netns', 'links', 'iptables', 'processes', 'files', 'docker-containers']) {
      assert.ok(!outcome.unverified.some((entry) => entry.category === category), `${category} was compared`);
    }
  }
});

test('the check can fail: the same kill without cleanup is found leaking, named', { timeout: 10 * 60_000 }, async () => {
  const out = await mkdtemp('/tmp/isobench-fault-injection-test-');
  const outcome = await injectKill({ target: 'native', suite: 'tcp-rr', seed: SEED, delayMs: 8_000, outDirectory: out, skipCleanup: true }, () => {});
  try {
    assert.equal(outcome.kind, 'killed', describe(outcome));
    if (outcome.kind !== 'killed') return;
    const leaks = outcome.leaks.map((leak) => `${leak.category}: ${leak.item}`);
    assert.ok(leaks.includes('netns: isobench-client'), leaks.join('\n'));
    assert.ok(leaks.some((leak) => leak.startsWith('files: /var/tmp/isobench/ledger-')), leaks.join('\n'));
    assert.ok(leaks.includes(`results-file: results file in ${out} still says running`), leaks.join('\n'));
  } finally {
    const cleanup = await runCli(['cleanup']);
    assert.equal(cleanup.code, 0, cleanup.stderr);
  }
});
