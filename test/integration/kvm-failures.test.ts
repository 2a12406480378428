import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBenchOptions } from '../../harness/commands/bench.js';
import { cleanupLeftovers } from '../../harness/commands/cleanup.js';
import { runCommand } from '../../core/exec.js';
import { ResourceRegistry } from '../../core/ledger.js';
import { runBench } from '../../harness/runner.js';
import { readResultsFile } from '../../results/store.js';
import { findExecutable } from '../../core/tools.js';
import { cloneDiskImage, ensureDiskImage, ensureRootfs, guestKernelCommandLine } from '../../provisioning/image/index.js';
import { probeKvm } from '../../provisioning/kvm/accel-probe.js';
import { Guest, GuestStepError } from '../../provisioning/kvm/guest.js';
import { findIsobenchQemuProcesses } from '../../provisioning/kvm/leftovers.js';
import { TAP_PREFIX } from '../../provisioning/kvm/tap.js';
import { qemuVersionLine } from '../../provisioning/targets/kvm.js';
import { assertNoLeftovers, REPO_ROOT, waitFor } from '../helpers.js';

async function whyNot(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'the kvm target needs root (taps, the bridge, the image)';
  if (!(await findExecutable('qemu-system-x86_64'))) return 'qemu-system-x86_64 is not installed (Debian package qemu-system-x86)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return undefined;
}
const skip = await whyNot();

async function taps(): Promise<string[]> {
  const outcome = await runCommand(['ip', '-j', 'link', 'show']);
  return (JSON.parse(outcome.stdout || '[]') as Array<{ ifname: string }>).map((link) => link.ifname).filter((name) => name.startsWith(TAP_PREFIX));
}

/** A guest of the real image, on a private disk copy, with a kernel command line of the test's choosing. */
async function launchWith(append: string, work: string, resources: ResourceRegistry): Promise<Guest> {
  const rootfs = await ensureRootfs();
  const image = await ensureDiskImage(rootfs.tree, rootfs.recipeHash, 'qcow2');
  const disk = await cloneDiskImage(image, join(work, 'disk.qcow2'));
  return Guest.launch({
    spec: {
      name: `isobench-test-${process.pid}`,
      accel: 'tcg',
      cpuModel: 'max',
      vcpus: 1,
      memoryMiB: 1024,
      kernel: image.kernel,
      initrd: image.initrd,
      append,
      disk: { path: disk, format: 'qcow2', cache: 'none', aio: 'native' },
      qmpSocket: join(work, 'qmp.sock'),
      agentSocket: join(work, 'qga.sock'),
      serialLog: join(work, 'serial.log'),
    },
    resources,
    cwd: work,
    bootTimeoutMs: 120_000,
  });
}

test('a guest that does not boot: the error names the step and the panic, the serial log stays, QEMU is gone', { skip, timeout: 10 * 60_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'isobench-kvm-noboot-'));
  const resources = new ResourceRegistry(`test-${process.pid}`, join(work, 'state'));
  try {
    // No initramfs init: the kernel mounts the root itself, cannot (virtio_blk is a module) and panics.
    const append = guestKernelCommandLine({ extra: ['panic=-1', 'rdinit=/no/such/init'] });
    await assert.rejects(launchWith(append, work, resources), (error: unknown) => {
      assert.ok(error instanceof GuestStepError, String(error));
      assert.equal(error.step, 'booting the guest');
      assert.match(error.message, /booting the guest: .*(panicked|exited|killed).*serial log kept at .*serial\.log/);
      return true;
    });
    assert.match(await readFile(join(work, 'serial.log'), 'utf8'), /Kernel panic/);
    assert.deepEqual(await findIsobenchQemuProcesses(), []);
    assert.equal(resources.size, 0, 'the QEMU it registered is forgotten once it is gone');
  } finally {
    await resources.undoAll();
    await rm(work, { recursive: true, force: true });
  }
});

test('a QEMU that dies while the guest boots: a clear error naming the step, nothing left running', { skip, timeout: 10 * 60_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'isobench-kvm-dies-'));
  const resources = new ResourceRegistry(`test-${process.pid}`, join(work, 'state'));
  try {
    const launching = launchWith(guestKernelCommandLine({ extra: ['panic=-1'] }), work, resources);
    const outcome = launching.then(
      () => null,
      (error: unknown) => error,
    );
    await waitFor(async () => (await findIsobenchQemuProcesses()).length > 0, 60_000, 'QEMU to start');
    const [qemu] = await findIsobenchQemuProcesses();
    process.kill(qemu!.pid, 'SIGKILL');
    const error = await outcome;
    assert.ok(error instanceof GuestStepError, `launch failed as it should: ${String(error)}`);
    assert.match(error.message, /^(connecting to QMP|booting the guest): QEMU was killed by SIGKILL/);
    assert.deepEqual(await findIsobenchQemuProcesses(), []);
  } finally {
    await resources.undoAll();
    await rm(work, { recursive: true, force: true });
  }
});

test('--accel kvm where KVM does not work: the target fails with the probe\'s reason, never hangs', { skip, timeout: 10 * 60_000 }, async (context) => {
  const rootfs = await ensureRootfs();
  const image = await ensureDiskImage(rootfs.tree, rootfs.recipeHash, 'raw');
  const work = await mkdtemp(join(tmpdir(), 'isobench-kvm-probe-'));
  const probe = await probeKvm({ kernel: image.kernel, initrd: image.initrd, workDirectory: work, qemuVersion: await qemuVersionLine() });
  await rm(work, { recursive: true, force: true });
  if (probe.works) {
    context.skip('KVM works on this host');
    return;
  }
  await assertNoLeftovers();
  const out = await mkdtemp(join(tmpdir(), 'isobench-kvm-results-'));
  const options = await parseBenchOptions(['--target', 'kvm', '--suite', 'tcp-rr', '--quick', '--reps', '1', '--accel', 'kvm', '--out', out]);
  const started = performance.now();
  const { results } = await runBench(options);
  assert.ok(performance.now() - started < 5 * 60_000);
  const facts = results.targets.find((target) => target.target === 'kvm');
  assert.equal(facts?.state, 'failed');
  assert.match(facts?.reason ?? '', /step "choosing the accelerator": --accel kvm: KVM does not work on this host \(.+\); use --accel auto or --accel tcg/);
  assert.ok(results.points.length > 0);
  assert.ok(results.points.every((point) => point.status === 'failed'));
  assert.deepEqual(await findIsobenchQemuProcesses(), []);
  await assertNoLeftovers();
});

test('a run killed with SIGKILL while its guest runs: `cleanup` stops the QEMU and removes the tap', { skip, timeout: 15 * 60_000 }, async () => {
  await assertNoLeftovers();
  const out = await mkdtemp(join(tmpdir(), 'isobench-kvm-crash-'));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), 'bench', '--target', 'kvm', '--suite', 'tcp-rr', '--quick', '--reps', '50', '--out', out, '--quiet-wait', '2'],
    { cwd: REPO_ROOT, stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    const firstTrial = async () => {
      const files = (await readdir(out)).filter((name) => name.endsWith('.json'));
      if (!files[0]) return false;
      const results = await readResultsFile(join(out, files[0])).catch(() => null);
      return results !== null && results.points.some((point) => point.trials.some((trial) => trial.state === 'completed'));
    };
    await waitFor(firstTrial, 10 * 60_000, 'the first trial in the guest');
    assert.equal((await findIsobenchQemuProcesses()).length, 1);
    assert.ok((await taps()).length > 0);
    child.kill('SIGKILL');
    await exited;
    assert.equal((await findIsobenchQemuProcesses()).length, 1, 'the guest outlives its killed run');

    const report = await cleanupLeftovers(() => {});
    assert.deepEqual(report.failed, []);
    assert.ok(report.removed.some((item) => /^QEMU isobench-kvm-/.test(item)), report.removed.join('\n'));
    assert.ok(report.removed.some((item) => /tap ib-tap\d/.test(item)), report.removed.join('\n'));
    assert.deepEqual(await findIsobenchQemuProcesses(), []);
    assert.deepEqual(await taps(), []);
    await assertNoLeftovers();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
