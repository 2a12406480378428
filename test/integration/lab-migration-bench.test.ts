/**
 * Lab mode's live migration through the real CLI (issue 14): `bench --hosts … --target kvm --suite
 * migration --source sut --dest peer --client watch`, hosts being network namespaces with their own
 * sshd (lab-hosts.ts); sut's and peer's lab links on a bridge the guest's taps join, a shared-dir
 * both see (namespaces share this machine's file system; the marker check runs all the same). The
 * guest boots on sut, the first trial migrates it to peer over the test addresses, the second back;
 * watch runs the echo probe across the lab link. About 2 minutes on TCG once the image is in
 * /var/tmp/isobench-lab-shared (the first run copies 2.5 GB there). Root. Run under
 * `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import { MigrationTrialDetail } from '../../results/migration.js';
import { assertNoLeftovers, completedRun, runCli } from '../helpers.js';
import { createLab, LAB_GUEST_BRIDGE, LAB_SHARED_DIR, labQemuSkipReason, strangersIn, sweepLabLeftovers } from './lab-hosts.js';

const SHARED = LAB_SHARED_DIR;
const GUEST_BRIDGE = LAB_GUEST_BRIDGE;
const skip = await labQemuSkipReason();

test('bench --hosts --target kvm --suite migration: the guest migrates sut -> peer and back over the lab link, watched from a third host; nothing left', { skip, timeout: 20 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  await mkdir(SHARED, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'isobench-labmig-'));
  const lab = await createLab([
    { name: 'sut', roles: ['migration-source'], dataDir: join(work, 'sut'), sharedDir: SHARED, linkBridge: GUEST_BRIDGE, guestHost: 50 },
    { name: 'peer', roles: ['migration-dest'], dataDir: join(work, 'peer'), sharedDir: SHARED, linkBridge: GUEST_BRIDGE },
    { name: 'watch', roles: ['client'] },
  ]);
  const out = join(work, 'out');
  try {
    await mkdir(join(work, 'sut'));
    await mkdir(join(work, 'peer'));
    const outcome = await runCli([
      'bench', '--hosts', lab.inventoryPath, '--target', 'kvm', '--suite', 'migration', '--source', 'sut', '--dest', 'peer', '--client', 'watch',
      '--workload', 'idle,dirty', '--wws', '32', '--dirty-rate', '8', '--bandwidth', '128', '--accel', 'tcg', '--vcpus', '1', '--memory', '256',
      '--reps', '1', '--quick', '--out', out, '--quiet-wait', '5',
    ]);
    const { path, results } = await completedRun(out, outcome);
    assert.equal(results.status, 'completed');
    assert.deepEqual(results.points.map((point) => point.key).sort(), ['kvm/migration/dirty8-wws32-bw128-dl300-precopy', 'kvm/migration/idle-bw128-dl300-precopy']);

    const directions: string[] = [];
    for (const point of results.points) {
      const [trial] = point.trials;
      assert.equal(trial?.state, 'completed', `${point.key}: ${JSON.stringify(trial)}`);
      if (trial?.state !== 'completed') continue;
      const value = (name: string) => trial.metrics.find((metric) => metric.name === name)?.value;
      const detail = MigrationTrialDetail.parse(trial.detail);
      assert.ok(detail.lab, 'the trial records its lab hosts');
      directions.push(`${detail.lab.source}->${detail.lab.destination}`);
      assert.match(detail.lab.uri ?? '', new RegExp(`^tcp:${lab.hosts[detail.lab.destination === 'sut' ? 0 : 1]!.address.replaceAll('.', '\\.')}:\\d+$`), 'the stream went to the destination\'s test address');
      assert.equal(detail.outcome.kind, 'converged', JSON.stringify(detail.outcome));
      assert.equal(detail.health?.workloadAnswered, true, detail.health?.detail);
      const total = value('migration_total_ms');
      const downtime = value('downtime_qemu_ms');
      const observed = value('downtime_probe_ms');
      const syncs = value('migration_rounds');
      const mib = value('migration_transferred_mib');
      // A 256 MiB TCG guest over a bridge at 128 MiB/s: QEMU's figures, from query-migrate on the source.
      assert.ok(total !== undefined && total > 0 && total < 120_000, `${point.key}: total ${total} ms`);
      assert.ok(downtime !== undefined && downtime >= 0 && downtime < 10_000, `${point.key}: downtime ${downtime} ms`);
      assert.ok(syncs !== undefined && syncs >= 2, `${point.key}: dirty-sync-count ${syncs}`);
      assert.ok(mib !== undefined && mib > 1 && mib < 2_048, `${point.key}: ${mib} MiB`);
      // watch saw the switch-over as a gap in the echoes, and echoes after it from the guest's new host.
      assert.equal(detail.lab.watch?.kind, 'observed', JSON.stringify(detail.lab.watch));
      assert.ok(observed !== undefined && observed > 0 && observed < 10_000, `${point.key}: gap seen at watch ${observed} ms`);
      if (detail.workload === 'dirty') assert.ok((value('dirty_rate_mib_s') ?? 0) > 0, 'the dirtier ran in the guest');
      // Namespace hosts share this kernel's clock: the offset measured is 0 within its uncertainty (plus a little for the ssh hop's asymmetry).
      const offset = detail.lab.watchClockOffset;
      assert.ok(offset && Math.abs(offset.offsetMs) <= offset.uncertaintyMs + 2, `watch's clock offset ${JSON.stringify(offset)}`);
      console.log(`# ${point.key} ${detail.lab.source} -> ${detail.lab.destination}: total ${total} ms, QEMU downtime ${downtime} ms, seen at watch ${observed} ms (clock offset ${offset.offsetMs.toFixed(2)} ± ${offset.uncertaintyMs.toFixed(2)} ms), dirty-sync-count ${syncs}, ${mib?.toFixed(1)} MiB`);
    }
    assert.deepEqual(directions.sort(), ['peer->sut', 'sut->peer'], 'there, then back');

    const target = results.targets.find((facts) => facts.target === 'kvm');
    assert.equal(target?.state, 'ready');
    assert.equal(target?.labels.accel, 'tcg');
    assert.ok(target?.degraded.some((line) => /TCG/.test(line)), 'TCG is labelled');
    assert.deepEqual(results.hosts?.map((host) => host.name).sort(), ['peer', 'sut', 'watch']);

    const report = await runCli(['report', path, '--out', join(work, 'again.html')]);
    assert.equal(report.code, 0, report.stderr);

    // Nothing left: on the hosts (only each sshd), here, in the shared dir (only the image) and the data-dirs.
    assert.deepEqual(await strangersIn(lab), []);
    await assertNoLeftovers();
    assert.deepEqual((await readdir(SHARED)).filter((name) => name !== 'image' && name !== 'isobench-image.lock').sort(), [], 'only the image stays in the shared dir');
    for (const name of ['sut', 'peer']) assert.deepEqual(await readdir(join(work, name)), [], `${name}'s data-dir is empty`);
  } finally {
    await lab.teardown();
    await rm(work, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});

test('bench --hosts --suite migration --vm-manager libvirt: each end\'s own libvirtd over qemu+ssh:// moves the domain sut -> peer and back, watched from a third host; nothing left', { skip, timeout: 20 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  await mkdir(SHARED, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'isobench-labvirt-'));
  const lab = await createLab([
    { name: 'sut', roles: ['migration-source'], sharedDir: SHARED, linkBridge: GUEST_BRIDGE, guestHost: 50, libvirt: true },
    { name: 'peer', roles: ['migration-dest'], sharedDir: SHARED, linkBridge: GUEST_BRIDGE, libvirt: true },
    { name: 'watch', roles: ['client'] },
  ]);
  const out = join(work, 'out');
  try {
    const outcome = await runCli([
      'bench', '--hosts', lab.inventoryPath, '--target', 'kvm', '--suite', 'migration', '--source', 'sut', '--dest', 'peer', '--client', 'watch', '--vm-manager', 'libvirt',
      '--workload', 'idle', '--bandwidth', '128', '--accel', 'tcg', '--vcpus', '1', '--memory', '256',
      '--reps', '2', '--no-until-decided', '--quick', '--out', out, '--quiet-wait', '5',
    ]);
    const { results } = await completedRun(out, outcome);
    assert.equal(results.status, 'completed');
    const [point] = results.points;
    assert.equal(point?.key, 'kvm/migration/idle-bw128-dl300-precopy');
    const directions: string[] = [];
    for (const trial of point.trials) {
      assert.equal(trial.state, 'completed', JSON.stringify(trial));
      if (trial.state !== 'completed') continue;
      const detail = MigrationTrialDetail.parse(trial.detail);
      assert.ok(detail.lab && detail.libvirt, 'the trial records its lab hosts and libvirt\'s job');
      directions.push(`${detail.lab.source}->${detail.lab.destination}`);
      const destination = lab.hosts[detail.lab.destination === 'sut' ? 0 : 1]!.address;
      assert.equal(detail.lab.uri, `tcp://${destination}`, 'the stream went to the destination\'s test address');
      assert.equal(detail.libvirt.destinationUri, `qemu+ssh://root@${destination}/system`, 'the URI as a user would type it, no helper path');
      assert.ok(detail.libvirt.migrateCommand.includes('--listen-address'));
      assert.equal(detail.figuresSource, 'libvirt domjobinfo');
      assert.equal(detail.outcome.kind, 'converged', JSON.stringify(detail.outcome));
      assert.equal(detail.health?.workloadAnswered, true, detail.health?.detail);
      const job = detail.libvirt.job;
      assert.ok(job, detail.libvirt.jobProblem);
      assert.equal(job.jobType, 'Completed');
      const value = (name: string) => trial.metrics.find((metric) => metric.name === name);
      const total = value('migration_total_ms');
      assert.equal(total?.value, job.timeElapsedMs);
      assert.match(total?.method ?? '', /libvirt domjobinfo --completed on the source, between lab hosts peer and sut, Time elapsed/);
      assert.equal(value('downtime_qemu_ms')?.value, job.downtimeMs);
      assert.equal(value('migration_rounds')?.value, job.iterations);
      const observed = value('downtime_probe_ms')?.value;
      assert.equal(detail.lab.watch?.kind, 'observed', JSON.stringify(detail.lab.watch));
      assert.ok(observed !== undefined && observed > 0 && observed < 10_000, `gap seen at watch ${observed} ms`);
      console.log(`# ${detail.lab.source} -> ${detail.lab.destination} (libvirt): time elapsed ${job.timeElapsedMs} ms, downtime ${job.downtimeMs} ms, seen at watch ${observed} ms, ${job.iterations} iterations, ${((job.dataProcessedBytes ?? 0) / 1_048_576).toFixed(1)} MiB`);
    }
    assert.deepEqual(directions, ['sut->peer', 'peer->sut'], 'there, then back');
    const target = results.targets.find((facts) => facts.target === 'kvm');
    assert.equal(target?.labels.vmManager, 'libvirt');
    assert.match(String(target?.labels.libvirt), /^libvirt \d+\.\d+\.\d+/);

    // Nothing left: no domain on either libvirtd, nothing but sshd and libvirtd on the hosts, only the image in the shared dir.
    for (const host of lab.hosts.slice(0, 2)) {
      assert.equal((await runCommand(['virsh', '-c', host.libvirtd!.uri, 'list', '--all', '--name'], { timeoutMs: 30_000 })).stdout.trim(), '', `no domain on ${host.name}`);
    }
    assert.deepEqual(await strangersIn(lab, ['libvirtd']), []);
    await assertNoLeftovers();
    assert.deepEqual((await readdir(SHARED)).filter((name) => name !== 'image' && name !== 'isobench-image.lock').sort(), [], 'only the image stays in the shared dir');
  } finally {
    await lab.teardown();
    await rm(work, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});
