import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import { findExecutable } from '../../core/tools.js';
import { parseBenchOptions } from '../../harness/commands/bench.js';
import { cleanupLeftovers } from '../../harness/commands/cleanup.js';
import { runBench } from '../../harness/runner.js';
import { findIsobenchQemuProcesses } from '../../provisioning/kvm/leftovers.js';
import { readResultsFile } from '../../results/store.js';
import { assertNoLeftovers, REPO_ROOT, waitFor } from '../helpers.js';

/*
 * Real migrations of a small TCG guest (512 MiB) between two QEMU processes on this host: an idle
 * one that converges, a dirtier too fast for the link that must end as not converged, and a Ctrl-C
 * in the middle of a migration. Each run boots its own guest (about 20 s here).
 */

async function whyNot(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'the kvm target needs root (taps, the bridge, the image)';
  if (!(await findExecutable('qemu-system-x86_64'))) return 'qemu-system-x86_64 is not installed (Debian package qemu-system-x86)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return undefined;
}

async function assertClean(): Promise<void> {
  assert.deepEqual(await findIsobenchQemuProcesses(), [], 'neither QEMU is left');
  await assertNoLeftovers('no tap, socket, disk copy, run directory or ledger is left');
  assert.deepEqual(await cleanupLeftovers(() => {}), { removed: [], failed: [] }, 'cleanup finds nothing to remove');
}

test(
  'an idle guest migrates for real: rounds from query-migrate, QEMU\'s downtime, the client\'s gap, a verified probe, a healthy guest; a dirtier past the link ends not converged with both QEMUs gone',
  { skip: await whyNot(), timeout: 15 * 60_000 },
  async () => {
    await assertNoLeftovers('the host is clean before the run');
    const out = await mkdtemp(join(tmpdir(), 'isobench-migration-'));
    const options = await parseBenchOptions([
      '--target', 'kvm', '--suite', 'migration', '--workload', 'idle,dirty', '--dirty-rate', '0', '--wws', '128', '--bandwidth', '32,128',
      '--migration-time-limit', '10', '--memory', '512', '--accel', 'tcg', '--quick', '--reps', '2', '--no-until-decided', '--out', out, '--quiet-wait', '5',
    ]);
    const { results } = await runBench(options);
    assert.equal(results.status, 'completed');

    // The TCG guest itself sometimes crashes after a switch-over (here 2 of 20 migrations with
    // multi-threaded TCG and 2 of 11 with thread=single, on idle and dirty guests alike: slab
    // corruption in the guest's kernel). isobench must classify such a trial as guest-unhealthy, with
    // the console's line, and the next trial gets a fresh guest; so the idle points run twice each,
    // every idle trial is either converged or so classified, and the checks below read the first
    // converged one.
    const idleTrials = results.points.filter((point) => point.pointId.startsWith('idle-')).flatMap((point) => point.trials);
    assert.equal(idleTrials.length, 4, 'two idle points, two repetitions each');
    for (const trial of idleTrials) {
      const outcome = trial.detail?.kind === 'migration' ? trial.detail.outcome : undefined;
      // At 32 MiB/s the idle guest's first pass alone takes 7.6-9.5 s here, so the 10 s limit may
      // end it: not converged, a result. At 128 MiB/s it converges in about 2 s.
      if (trial.state === 'completed') assert.ok(outcome?.kind === 'converged' || (outcome?.kind === 'not-converged' && outcome.limit === 'time'), JSON.stringify(outcome));
      else assert.ok(trial.state === 'failed' && outcome?.kind === 'guest-unhealthy' && /guest unhealthy after the migration: \S/.test(trial.reason), `an idle trial either converges or is judged guest-unhealthy with its reason: ${JSON.stringify({ state: trial.state, outcome, reason: trial.state === 'failed' ? trial.reason : undefined })}`);
    }
    // Every converged trial's probe was checked against pauses of known length, and says how well it
    // resolved them. A guest just booted under TCG can answer the echo late for a second or more (a
    // self-test read 1,676 ms for all three pauses in the first trial after a boot here): that trial's
    // probe is flagged, not trusted, and the checks below read a trial whose probe resolved the pauses.
    const converged = idleTrials.flatMap((trial) => (trial.state === 'completed' && trial.detail?.kind === 'migration' && trial.detail.outcome.kind === 'converged' ? [{ trial, detail: trial.detail }] : []));
    assert.ok(converged.length > 0, 'at least one idle trial of four converged with a healthy guest');
    for (const { detail } of converged) {
      assert.ok(detail.selfTest, 'the probe was self-tested');
      assert.deepEqual(detail.selfTest.pauses.map((pause) => pause.requestedMs), [100, 200, 500]);
      for (const pause of detail.selfTest.pauses) {
        assert.ok(Math.abs(pause.pausedMs - pause.requestedMs) < 50, `QEMU stamped a ${pause.pausedMs} ms pause for ${pause.requestedMs} ms asked`);
        assert.ok(pause.probeGapMs !== null, `the probe saw the ${pause.requestedMs} ms pause`);
      }
      assert.ok(detail.selfTest.resolutionMs !== null);
      assert.equal(detail.selfTest.passed, detail.selfTest.resolutionMs <= 10, 'passed means within 10 ms');
      // A failed first self-test is run once more on a steady stream; the first stays in the record.
      if (detail.selfTestRetry) {
        assert.equal(detail.selfTestRetry.first.passed, false, 'only a failed self-test is run again');
        assert.deepEqual(detail.selfTestRetry.first.pauses.map((pause) => pause.requestedMs), [100, 200, 500]);
        assert.ok(detail.selfTestRetry.first.pauses.every((pause) => pause.probeGapMs === null || pause.errorMs !== null), 'the first readings are kept');
        assert.match(detail.selfTestRetry.reason, /^the first self-test failed /);
      }
    }
    const chosen = converged.find(({ detail }) => detail.selfTest!.resolutionMs! < 100);
    assert.ok(chosen, `a converged idle trial's probe resolved its pauses within 100 ms (resolutions: ${converged.map(({ detail }) => detail.selfTest?.resolutionMs).join(', ')} ms)`);
    const { trial: idleTrial, detail: idle } = chosen;
    assert.deepEqual(idle.outcome, { kind: 'converged' });
    assert.ok(idle.samples.length >= 10, `query-migrate was polled (${idle.samples.length} polls)`);
    const gaps = idle.samples.slice(1).map((sample, index) => sample.tMs - idle.samples[index]!.tMs);
    assert.ok(gaps.filter((gap) => gap > 200).length <= 2, `polled about every 50 ms (gaps ${gaps.map(Math.round).join(', ')})`);
    assert.ok(idle.rounds.length >= 2 && idle.rounds.at(-1)!.phase === 'stop-and-copy', 'pre-copy rounds, then the stop-and-copy');
    const ram = idle.qemu.ramBytes!;
    const sent = idle.rounds.reduce((sum, round) => sum + round.sentBytes, 0);
    assert.ok(Math.abs(sent - idle.qemu.transferredBytes!) < 2 * 1_048_576, 'the rounds add up to what QEMU transferred');
    assert.ok(idle.qemu.transferredBytes! > 0.05 * ram && idle.qemu.transferredBytes! < 3 * ram, 'a plausible amount of memory moved');
    // Downtime twice: QEMU's, and the gap the client saw, which covers the switch-over and is longer.
    const qemuDowntime = idle.qemu.downtimeMs ?? idle.qemu.eventDowntimeMs;
    assert.ok(qemuDowntime !== null && qemuDowntime > 0 && qemuDowntime < 5_000, `QEMU's downtime ${qemuDowntime} ms`);
    assert.ok(idle.probe?.coversSwitchover, 'the client saw a gap at the switch-over');
    assert.ok(idle.probe.migrationGapMs! >= qemuDowntime - 10, `the client's gap (${idle.probe.migrationGapMs} ms) is not shorter than the switch-over (${qemuDowntime} ms)`);
    assert.ok(idle.probe.migrationGapMs! < 10_000);
    const resolution = idleTrial.state === 'completed' ? idleTrial.metrics.find((metric) => metric.name === 'probe_resolution_ms') : undefined;
    assert.ok(resolution, 'the resolution is stored with the result');
    assert.deepEqual(idle.health, { ...idle.health!, runState: 'running', serialProblem: null, workloadAnswered: true });
    assert.ok(idle.events.some((event) => event.side === 'destination' && event.event === 'RESUME'), 'the destination resumed');
    // Clark's and QEMU's predictions are stored beside what happened (issue 12).
    assert.equal(idle.predictions?.kind, 'predicted', JSON.stringify(idle.predictions));
    if (idle.predictions?.kind === 'predicted') assert.equal(idle.predictions.inputs.memoryBytes, Math.floor(ram / 4096) * 4096, 'the models ran on the guest\'s memory');

    // Judged at 32 MiB/s: a first pass of the 512 MiB guest takes about 8 s there, so even a dirtier that
    // stalls under TCG after dirtying its 128 MiB set once (seen twice at 64 MiB/s) leaves a second round
    // that cannot end inside the 10 s limit. At 64 MiB/s such a stall let the migration converge.
    const dirtyPoint = results.points.find((point) => point.pointId === 'dirty0-wws128-bw32-dl300-precopy')!;
    assert.equal(dirtyPoint.trials.length, 2);
    for (const trial of dirtyPoint.trials) {
      assert.ok(trial.detail?.kind === 'migration', 'the dirty trial kept its migration record');
      const dirty = trial.detail;
      assert.equal(dirty.outcome.kind, 'not-converged', JSON.stringify(dirty.outcome));
      assert.equal(trial.state, 'completed', 'not converging is a result, not an error');
      // At 32 MiB/s the 10 s limit may fall inside the first pass: one round or more, all pre-copy.
      assert.ok(dirty.rounds.length >= 1 && dirty.rounds.every((round) => round.phase === 'pre-copy'), 'pre-copy rounds, and no stop-and-copy');
      assert.equal(dirty.qemu.downtimeMs, null, 'no switch-over, no downtime (null, not 0)');
      assert.ok(dirty.samples.at(-1)!.status === 'cancelled', 'cancelled cleanly');
      assert.ok(dirty.events.some((event) => event.side === 'source' && event.event === 'MIGRATION' && event.detail === 'cancelled'));
      assert.ok((dirty.dirty?.achievedMiBs ?? 0) > 32, `the dirtier outran the 32 MiB/s link (${dirty.dirty?.achievedMiBs} MiB/s)`);
      assert.equal(dirty.predictions?.kind === 'predicted' ? dirty.predictions.trace.source : dirty.predictions?.kind, 'dirtier', 'the dirty trial was predicted from the dirtier\'s own account');
      if (trial.state === 'completed') assert.ok(!trial.metrics.some((metric) => metric.name.startsWith('downtime')), 'no downtime metric without a switch-over');
    }

    await assertClean();
  },
);

test('Ctrl-C while a migration runs leaves neither QEMU running, no tap and no socket', { skip: await whyNot(), timeout: 10 * 60_000 }, async () => {
  await assertNoLeftovers();
  const out = await mkdtemp(join(tmpdir(), 'isobench-migration-interrupt-'));
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), 'bench', '--target', 'kvm', '--suite', 'migration', '--workload', 'dirty', '--dirty-rate', '0', '--wws', '128',
      '--bandwidth', '16', '--migration-time-limit', '120', '--memory', '512', '--accel', 'tcg', '--quick', '--reps', '1', '--out', out, '--quiet-wait', '2',
    ],
    { cwd: REPO_ROOT, stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // The destination QEMU is named after the source with -m1: once it runs, a migration is under way.
  await waitFor(async () => (await runCommand(['pgrep', '-f', 'isobench-kvm-.*-m1,debug-threads'])).ok, 240_000, 'the destination QEMU');
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  const file = (await readdir(out)).find((name) => name.endsWith('.json'))!;
  assert.equal((await readResultsFile(join(out, file))).status, 'interrupted');
  await assertClean();
});
