import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { acquireRunLock } from '../../core/lock.js';
import { ResourceRegistry } from '../../core/ledger.js';
import { runCommand } from '../../core/exec.js';
import { findExecutable } from '../../core/tools.js';
import type { ContainerMigrationHost } from '../../contracts/container-migration.js';
import type { TrialContext } from '../../contracts/suite.js';
import type { ProvisionedTarget, TargetOptions } from '../../contracts/target.js';
import { newRunId } from '../../harness/runner.js';
import { probeHost } from '../../provisioning/host-probe.js';
import { RunImage } from '../../provisioning/image/index.js';
import { runcCriuDriver } from '../../provisioning/targets/runc-criu.js';
import { DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET, Topology } from '../../provisioning/topology.js';
import type { ContainerMigrationTrialDetail } from '../../results/container-migration.js';
import { migrationSuite, type MigrationParams } from '../../suites/migration/index.js';

/*
 * The migration suite's container row on this host: CRIU built from Debian's source (cached after
 * the first run), `criu check`, then real stop-and-copy migrations of a runc container running the
 * echo server (idle) and nginx (web), watched by the VM trials' client programs. Where `criu check`
 * fails, the trial must skip with CRIU's own line. ISOBENCH_CONTAINER_REPS repeats each workload
 * (default 1). Run under `flock /tmp/isobench-heavy.lock`.
 */

async function whyNot(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'runc, CRIU and the test network need root';
  if (!(await findExecutable('runc'))) return 'runc is not installed (Debian package runc)';
  return undefined;
}

const REPS = Number(process.env.ISOBENCH_CONTAINER_REPS ?? '1');
let release: (() => Promise<void>) | undefined;
let resources: ResourceRegistry;
let topology: Topology;
let runDirectory: string;
let host: ContainerMigrationHost;
let target: ProvisionedTarget;
const OPTIONS: TargetOptions = { storage: 'volume', accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true };
const skip = await whyNot();

before(async () => {
  if (skip) return;
  release = await acquireRunLock();
  const runId = newRunId();
  resources = new ResourceRegistry(runId);
  runDirectory = await mkdtemp('/var/tmp/isobench-run-');
  topology = await Topology.create({ subnet: DEFAULT_TEST_SUBNET, guardRange: DEFAULT_GUARD_RANGE }, resources);
  target = await runcCriuDriver.provision({
    configuration: 'runc-criu', servicePorts: migrationSuite.ports, topology, resources, options: OPTIONS, host: await probeHost(), runDirectory, image: new RunImage(), log: (line) => console.log(`# ${line}`),
  });
  host = target.containerMigration!;
});

after(async () => {
  if (skip) return;
  const report = await resources?.undoAll();
  await rm(runDirectory, { recursive: true, force: true });
  await release?.();
  assert.deepEqual(report?.failed ?? [], [], 'every container, namespace and mount was removed');
  const netns = await runCommand(['ip', 'netns', 'list'], { timeoutMs: 10_000 });
  assert.doesNotMatch(netns.stdout, /isobench-criu-/, 'no container namespace is left');
});

/** The parts of a trial context the migration suite's container row reads. */
const context = () =>
  ({
    target,
    client: { exec: topology.clientExec.bind(topology), wrap: topology.wrapClient.bind(topology) },
    verifyDestination: (address: string) => topology.verifyDestination(address),
  }) as unknown as TrialContext;
/** Through the suite's own dispatch, as a bench run calls it; the QEMU knobs do not apply to the container row. */
const runTrial = (workload: 'idle' | 'web') => {
  const params: MigrationParams = { workload, variant: 'precopy', bandwidthMiBs: 32, downtimeLimitMs: 300, timeLimitS: 30, roundLimit: 30 };
  return migrationSuite.runTrial({ id: `${workload}-bw32-dl300-precopy`, params, headline: { name: 'migration_total_ms', unit: 'ms', direction: 'lower' } } as never, context() as never);
};

function line(detail: ContainerMigrationTrialDetail): string {
  const ms = (value: number | undefined | null) => (value === undefined || value === null ? '-' : value.toFixed(0));
  return `# ${detail.workload}: checkpoint ${ms(detail.checkpoint?.ms)} ms, copy ${ms(detail.copy?.ms)} ms (${detail.copy?.bytes ?? '-'} B, ${detail.copy?.files ?? '-'} files), network ${ms(detail.network?.ms)} ms, restore ${ms(detail.restore?.ms)} ms, total ${ms(detail.totalMs)} ms; probe gap ${detail.probe?.migrationGapMs ?? '-'} ms from ${detail.probe?.migrationGapStartMs ?? '-'} to ${detail.probe?.migrationGapEndMs ?? '-'} ms (covers ${detail.probe?.coversSwitchover}), self-test resolution ${detail.selfTest?.resolutionMs?.toFixed(1) ?? '-'} ms${detail.web ? `; web ${detail.web.baselinePerSecond?.toFixed(0)} req/s before, blackout ${detail.web.blackoutMs} ms, brownout ${detail.web.brownoutMs} ms, failed ${detail.web.failed.reduce((a, b) => a + b, 0)}` : ''}`;
}

test('a running container migrates by CRIU stop-and-copy, idle and web: phases, the client\'s gap covering checkpoint to restore, web blackout; or the trial says exactly why not', { skip, timeout: 20 * 60_000 }, async () => {
  if (host.support.kind === 'unsupported') {
    assert.equal(target.facts.state, 'skipped');
    const outcome = await runTrial('idle');
    assert.equal(outcome.state, 'skipped');
    assert.match(outcome.reason, /^container migration is not supported on this host: `criu check` \(CRIU .*\): \S/);
    console.log(`# skipped: ${outcome.reason}`);
    return;
  }
  assert.equal(target.facts.state, 'ready');
  await assert.rejects(target.exec(['true']), /runs only the migration suite/);
  assert.equal(host.support.dirtyTracking.available, false, 'this kernel has no soft-dirty tracking (if it now has, the row could pre-copy)');
  for (const workload of ['idle', 'web'] as const) {
    for (let rep = 0; rep < REPS; rep++) {
      const outcome = await runTrial(workload);
      assert.equal(outcome.state, 'completed', outcome.state === 'completed' ? '' : outcome.reason);
      const detail = outcome.detail;
      assert.ok(detail?.kind === 'container-migration');
      console.log(line(detail));
      // ISOBENCH_CONTAINER_DETAILS=FILE keeps each trial's record as a JSON line (how test/fixtures/criu/*.jsonl were captured).
      if (process.env.ISOBENCH_CONTAINER_DETAILS) appendFileSync(process.env.ISOBENCH_CONTAINER_DETAILS, `${JSON.stringify({ state: outcome.state, metrics: outcome.metrics, commands: outcome.commands, detail })}\n`);
      assert.deepEqual(detail.outcome, { kind: 'converged' });
      const { checkpoint, copy, network, restore } = detail;
      assert.ok(checkpoint && copy && network && restore, 'every phase ran');
      assert.ok(checkpoint.ms > 0 && restore.ms > 0 && copy.bytes > 10_000, 'CRIU dumped and restored something');
      assert.ok(checkpoint.endMs <= copy.startMs && copy.endMs <= network.startMs && network.endMs <= restore.startMs, 'phases in order');
      assert.ok(detail.totalMs !== null && detail.totalMs < 20_000);
      // The service is down from the dump's freeze (inside the checkpoint) until the restored tasks run
      // (inside the restore): at least from the checkpoint's end to the restore's start, when no process exists.
      const probe = detail.probe!;
      assert.ok(probe.coversSwitchover, `the probe's longest gap (${probe.migrationGapStartMs}..${probe.migrationGapEndMs} ms) begins in the checkpoint (0..${checkpoint.endMs} ms) and ends after the restore began (${restore.startMs} ms)`);
      assert.ok(probe.migrationGapMs! >= restore.startMs - checkpoint.endMs && probe.migrationGapMs! < detail.totalMs + 5_000);
      assert.ok(detail.selfTest?.pauses.every((pause) => pause.probeGapMs !== null), 'the probe saw every freezer pause');
      if (workload === 'web') {
        assert.ok(detail.web && detail.web.baselinePerSecond! > 0, 'requests completed before the migration');
        assert.ok(detail.web.blackoutMs! >= 100, 'a blackout at least one bucket long');
        assert.ok(outcome.metrics.some((metric) => metric.name === 'blackout_ms'));
      }
      assert.ok(outcome.metrics.some((metric) => metric.name === 'downtime_probe_ms'));
    }
  }
});
