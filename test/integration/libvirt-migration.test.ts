import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BackgroundProcess } from '../../core/exec.js';
import { ResourceRegistry } from '../../core/ledger.js';
import { parseBenchOptions } from '../../harness/commands/bench.js';
import { cleanupLeftovers } from '../../harness/commands/cleanup.js';
import { runBench } from '../../harness/runner.js';
import { findIsobenchQemuProcesses } from '../../provisioning/kvm/leftovers.js';
import { DEFAULT_LIBVIRT_URI, isobenchDomains } from '../../provisioning/kvm/libvirt.js';
import { startSecondLibvirtd, type SecondLibvirtd } from '../../provisioning/kvm/libvirt-daemon.js';
import type { MigrationTrialDetail } from '../../results/migration.js';
import { readResultsFile } from '../../results/store.js';
import { isobenchLeftovers, REPO_ROOT, waitFor } from '../helpers.js';
import { ensureSystemLibvirtd, libvirtSkipReason } from './libvirt-fixture.js';

/*
 * `--suite migration --vm-manager libvirt --dest URI` for real: libvirt refuses to migrate a domain
 * to the host it runs on, so the destination is a second libvirtd in its own mount and UTS namespaces
 * (provisioning/kvm/libvirt-daemon.ts). A small TCG guest (384 MiB) moves from the system libvirtd
 * to the second one and, on the second repetition, back; both daemons hold no isobench domain
 * afterwards, and the second daemon, its directory and its ledger are gone once it is stopped.
 * There is no systemd here: the system libvirtd and virtlogd are started when none answers.
 */

const skip = await libvirtSkipReason('libvirt guests and a second libvirtd', [['unshare', 'util-linux']]);
const system: BackgroundProcess[] = [];
let second: SecondLibvirtd | undefined;
let fixtureResources: ResourceRegistry | undefined;

before(async () => {
  if (skip) return;
  system.push(...(await ensureSystemLibvirtd(DEFAULT_LIBVIRT_URI)));
});

after(async () => {
  await second?.stop();
  if (fixtureResources) await fixtureResources.undoAll();
  for (const daemon of system.reverse()) await daemon.stop(10_000);
});

test('a second libvirtd in its own namespaces answers with its own hostname and host UUID, and leaves nothing when stopped', { skip, timeout: 5 * 60_000 }, async () => {
  const state = await mkdtemp(join(tmpdir(), 'isobench-libvirtd-ledger-'));
  const resources = new ResourceRegistry('libvirtd-fixture-check', state);
  const daemon = await startSecondLibvirtd({ resources });
  try {
    assert.match(daemon.version, /^libvirt \d+\.\d+\.\d+/);
    const { runChecked } = await import('../../core/exec.js');
    const hostname = (await runChecked(['virsh', '-c', daemon.uri, 'hostname'], { timeoutMs: 15_000 })).stdout.trim();
    assert.equal(hostname, daemon.hostname, 'the daemon sees its own UTS namespace');
    const sysinfo = (await runChecked(['virsh', '-c', daemon.uri, 'capabilities'], { timeoutMs: 30_000 })).stdout;
    assert.match(sysinfo, new RegExp(`<uuid>${daemon.hostUuid}</uuid>`), 'the daemon reports the host UUID it was given');
    assert.ok((await isobenchLeftovers()).some((item) => item.startsWith('second libvirtd')), 'cleanup would find the running daemon');
  } finally {
    await daemon.stop();
  }
  assert.equal(existsSync(daemon.directory), false, 'its directory is gone');
  assert.equal(resources.size, 0, 'its ledger is empty');
  assert.equal(existsSync(`/proc/${daemon.pid}`), false, 'the daemon is gone');
});

test(
  'the kvm target\'s libvirt domain migrates to the second libvirtd and back: libvirt\'s job statistics, a running guest on the destination, no domain left on either side',
  { skip, timeout: 20 * 60_000 },
  async () => {
    // Other work on this shared host may have left things of its own: only what this run adds counts.
    const before = new Set(await isobenchLeftovers());
    fixtureResources = new ResourceRegistry('libvirt-migration-destination', await mkdtemp(join(tmpdir(), 'isobench-libvirtd-ledger-')));
    second = await startSecondLibvirtd({ resources: fixtureResources, log: console.log });
    const out = await mkdtemp(join(tmpdir(), 'isobench-libvirt-migration-'));
    const options = await parseBenchOptions([
      '--target', 'kvm', '--suite', 'migration', '--vm-manager', 'libvirt', '--dest', second.uri, '--workload', 'idle', '--bandwidth', '64',
      '--migration-time-limit', '60', '--memory', '384', '--vcpus', '1', '--accel', 'tcg', '--quick', '--reps', '2', '--no-until-decided', '--out', out, '--quiet-wait', '2',
    ]);
    const { results } = await runBench(options);
    assert.equal(results.status, 'completed');
    const point = results.points.find((candidate) => candidate.pointId === 'idle-bw64-dl300-precopy');
    assert.ok(point, results.points.map((candidate) => candidate.pointId).join(', '));
    assert.equal(point.trials.length, 2);
    const details: MigrationTrialDetail[] = [];
    for (const trial of point.trials) {
      assert.equal(trial.state, 'completed', trial.state === 'failed' || trial.state === 'skipped' ? trial.reason : '');
      assert.equal(trial.detail?.kind, 'migration');
      details.push(trial.detail);
    }
    // There, then back home.
    assert.deepEqual(details.map((detail) => detail.libvirt?.destinationUri), [second.uri, DEFAULT_LIBVIRT_URI]);
    for (const detail of details) {
      console.log(JSON.stringify({ outcome: detail.outcome, qemu: detail.qemu, probeGapMs: detail.probe?.migrationGapMs, health: detail.health, job: detail.libvirt?.job }));
      assert.equal(detail.figuresSource, 'libvirt domjobinfo');
      assert.deepEqual(detail.outcome, { kind: 'converged' });
      const job = detail.libvirt?.job;
      assert.ok(job, detail.libvirt?.jobProblem);
      assert.equal(job.jobType, 'Completed');
      assert.equal(job.operation, 'Outgoing migration');
      assert.equal(detail.libvirt?.keptCompleted, true, 'libvirt 9.0\'s virsh has --keep-completed');
      assert.ok(job.command.includes('--keep-completed'));
      assert.ok(job.timeElapsedMs! > 0 && job.timeElapsedMs! < 60_000, `elapsed ${job.timeElapsedMs} ms`);
      assert.ok(job.downtimeMs! > 0 && job.downtimeMs! < 5_000, `downtime ${job.downtimeMs} ms`);
      assert.ok(job.iterations! >= 2, `${job.iterations} iterations`);
      assert.ok(Math.abs(job.memoryTotalBytes! - 384 * 1_048_576) < 8 * 1_048_576, `memory total ${job.memoryTotalBytes}`);
      assert.ok(job.dataProcessedBytes! > 1_048_576 && job.dataProcessedBytes! <= job.dataTotalBytes! + 1_048_576, `processed ${job.dataProcessedBytes}`);
      assert.ok(job.memoryBandwidthBytesPerSecond! > 0);
      // The trial record takes libvirt's rows where the QEMU path has query-migrate's, and nothing libvirt does not give.
      assert.equal(detail.qemu.totalTimeMs, job.timeElapsedMs);
      assert.equal(detail.qemu.downtimeMs, job.downtimeMs);
      assert.equal(detail.qemu.syncCount, job.iterations);
      assert.equal(detail.qemu.eventDowntimeMs, null);
      assert.deepEqual([detail.samples, detail.rounds, detail.events, detail.selfTest], [[], [], [], null]);
      // The guest runs on the destination: libvirt says so, and the client's echoes came back after the switch.
      assert.equal(detail.health?.runState, 'running');
      assert.equal(detail.health?.serialProblem, null);
      assert.equal(detail.health?.workloadAnswered, true, detail.health?.detail);
      assert.ok(detail.probe && detail.probe.received > 1000, `${detail.probe?.received} echoes`);
    }
    const metrics = point.trials.flatMap((trial) => (trial.state === 'completed' ? trial.metrics : []));
    for (const name of ['migration_total_ms', 'downtime_qemu_ms', 'migration_rounds', 'migration_transferred_mib']) {
      const found = metrics.filter((metric) => metric.name === name);
      assert.equal(found.length, 2, name);
      assert.match(found[0]!.method ?? '', /libvirt domjobinfo/, name);
    }

    assert.deepEqual(await isobenchDomains(DEFAULT_LIBVIRT_URI), [], 'no domain on the system libvirtd');
    assert.deepEqual(await isobenchDomains(second.uri), [], 'no domain on the second libvirtd');
    assert.deepEqual(await findIsobenchQemuProcesses(), []);
    await second.stop();
    await fixtureResources.undoAll();
    second = undefined;
    assert.deepEqual((await isobenchLeftovers()).filter((item) => !before.has(item)), [], 'nothing is left once the second libvirtd is stopped');
    if (before.size === 0) assert.deepEqual(await cleanupLeftovers(() => {}), { removed: [], failed: [] });
  },
);

test(
  'a libvirt migration run killed with SIGKILL after its guest moved: `cleanup` removes the domains on both libvirtds, the taps, and the second libvirtd with its directory',
  { skip, timeout: 20 * 60_000 },
  async () => {
    const before = new Set(await isobenchLeftovers());
    const resources = new ResourceRegistry('libvirt-migration-crash', await mkdtemp(join(tmpdir(), 'isobench-libvirtd-ledger-')));
    const daemon = await startSecondLibvirtd({ resources });
    const out = await mkdtemp(join(tmpdir(), 'isobench-libvirt-migration-crash-'));
    const child = spawn(
      process.execPath,
      [
        '--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), 'bench', '--target', 'kvm', '--suite', 'migration', '--vm-manager', 'libvirt', '--dest', daemon.uri,
        '--workload', 'idle', '--bandwidth', '64', '--memory', '384', '--vcpus', '1', '--accel', 'tcg', '--quick', '--reps', '20', '--no-until-decided', '--out', out, '--quiet-wait', '2',
      ],
      { cwd: REPO_ROOT, stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      await waitFor(
        async () => {
          const files = (await readdir(out)).filter((name) => name.endsWith('.json'));
          const results = files[0] ? await readResultsFile(join(out, files[0])).catch(() => null) : null;
          return results !== null && results.points.some((point) => point.trials.some((trial) => trial.state === 'completed'));
        },
        10 * 60_000,
        'the first libvirt migration',
      );
      child.kill('SIGKILL');
      await exited;
      // The guest now runs on the second libvirtd; the first keeps the shut-off definition.
      assert.deepEqual((await isobenchDomains(daemon.uri)).map((domain) => domain.running), [true], 'the migrated domain outlives its killed run');
      assert.equal((await isobenchDomains(DEFAULT_LIBVIRT_URI)).length, 1);

      const report = await cleanupLeftovers(() => {});
      assert.deepEqual(report.failed, []);
      const removed = report.removed.join('\n');
      assert.match(removed, /tap ib-tap\d/);
      assert.match(removed, /second libvirtd \(pid \d+\)/);
      assert.match(removed, /second libvirtd directory \/var\/tmp\/isobench-libvirtd-/);
      assert.deepEqual(await isobenchDomains(DEFAULT_LIBVIRT_URI), [], 'the first libvirtd\'s definition is gone');
      assert.equal(existsSync(`/proc/${daemon.pid}`), false, 'the second libvirtd is gone');
      assert.equal(existsSync(daemon.directory), false, 'its directory is gone');
      assert.deepEqual(await findIsobenchQemuProcesses(), [], 'no QEMU is left on either side');
      assert.deepEqual((await isobenchLeftovers()).filter((item) => !before.has(item)), []);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await daemon.stop();
      await resources.undoAll();
    }
  },
);

test(
  'a dirtier past the link: the libvirt migration is aborted at the time limit (virsh domjobabort) as not converged, the guest runs on, no domain is left',
  { skip, timeout: 15 * 60_000 },
  async () => {
    const before = new Set(await isobenchLeftovers());
    const resources = new ResourceRegistry('libvirt-migration-abort', await mkdtemp(join(tmpdir(), 'isobench-libvirtd-ledger-')));
    const daemon = await startSecondLibvirtd({ resources });
    try {
      const out = await mkdtemp(join(tmpdir(), 'isobench-libvirt-migration-abort-'));
      const options = await parseBenchOptions([
        '--target', 'kvm', '--suite', 'migration', '--vm-manager', 'libvirt', '--dest', daemon.uri, '--workload', 'dirty', '--dirty-rate', '0', '--wws', '128',
        '--bandwidth', '16', '--migration-time-limit', '8', '--memory', '384', '--vcpus', '1', '--accel', 'tcg', '--quick', '--reps', '1', '--no-until-decided', '--out', out, '--quiet-wait', '2',
      ]);
      const { results } = await runBench(options);
      const trial = results.points[0]?.trials[0];
      assert.equal(trial?.state, 'completed', trial?.state === 'failed' || trial?.state === 'skipped' ? trial.reason : '');
      const detail = trial.detail!;
      assert.equal(detail.kind, 'migration', 'a VM migration\'s record');
      if (detail.kind !== 'migration') return;
      console.log(JSON.stringify({ outcome: detail.outcome, libvirt: detail.libvirt, metrics: trial.metrics }));
      assert.equal(detail.outcome.kind, 'not-converged');
      assert.ok(detail.libvirt?.migrateCommand.includes('--bandwidth'));
      // libvirt 9.0 keeps no statistics of a cancelled migration: none are claimed, and the old ones were drained.
      assert.equal(detail.libvirt?.job, null);
      assert.match(detail.libvirt?.jobProblem ?? '', /kept no statistics of this aborted migration/);
      assert.equal(detail.qemu.downtimeMs, null);
      const total = trial.metrics.find((metric) => metric.name === 'migration_total_ms');
      assert.ok(total && total.value >= 8_000 && total.value < 40_000, `${total?.value} ms`);
      assert.match(total.method ?? '', /wall time of virsh migrate until virsh domjobabort/);
      assert.ok(trial.commands.some((command) => command.includes('domjobabort')));
      assert.deepEqual(await isobenchDomains(DEFAULT_LIBVIRT_URI), []);
      assert.deepEqual(await isobenchDomains(daemon.uri), []);
      assert.deepEqual(await findIsobenchQemuProcesses(), []);
    } finally {
      await daemon.stop();
      await resources.undoAll();
    }
    assert.deepEqual((await isobenchLeftovers()).filter((item) => !before.has(item)), []);
  },
);
