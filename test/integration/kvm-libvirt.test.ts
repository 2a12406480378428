import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseBenchOptions } from '../../harness/commands/bench.js';
import { cleanupLeftovers } from '../../harness/commands/cleanup.js';
import type { BackgroundProcess } from '../../core/exec.js';
import { runBench } from '../../harness/runner.js';
import { findIsobenchQemuProcesses } from '../../provisioning/kvm/leftovers.js';
import { isobenchDomains } from '../../provisioning/kvm/libvirt.js';
import { readResultsFile } from '../../results/store.js';
import { assertNoLeftovers, REPO_ROOT, waitFor } from '../helpers.js';
import { ensureSystemLibvirtd, libvirtSkipReason } from './libvirt-fixture.js';

/**
 * `--vm-manager libvirt` against a real libvirtd. There is no systemd here, so the test starts
 * virtlogd and libvirtd itself when none answers, and stops what it started.
 */
const skip = await libvirtSkipReason('libvirt guests');
const started: BackgroundProcess[] = [];

before(async () => {
  if (skip) return;
  started.push(...(await ensureSystemLibvirtd()));
});

after(async () => {
  for (const daemon of started.reverse()) await daemon.stop(10_000);
});

test('a libvirt-managed guest runs the quick tcp-rr suite, labelled with what libvirt really ran, and leaves no domain', { skip, timeout: 20 * 60_000 }, async () => {
  await assertNoLeftovers();
  const out = await mkdtemp(join(tmpdir(), 'isobench-libvirt-results-'));
  const options = await parseBenchOptions(['--target', 'kvm', '--suite', 'tcp-rr', '--vm-manager', 'libvirt', '--quick', '--reps', '1', '--out', out, '--quiet-wait', '5']);
  const { results } = await runBench(options);
  const facts = results.targets.find((target) => target.target === 'kvm');
  assert.equal(facts?.state, 'ready', facts?.reason);
  const labels = facts.labels;
  assert.equal(labels['vmManager'], 'libvirt');
  assert.match(String(labels['libvirtVersion']), /^libvirt \d+\.\d+\.\d+/);
  assert.equal(labels['libvirtDomainType'], labels['accel'] === 'kvm' ? 'kvm' : 'qemu');
  if (labels['kvmUsable'] === false) assert.equal(labels['accel'], 'tcg');
  assert.equal(labels['vhost'], false, 'no vhost without /dev/vhost-net, and never with type=qemu');
  for (const point of results.points) {
    assert.ok(point.status === 'ok' || point.status === 'noisy', `${point.key}: ${point.status} ${point.reason ?? ''}`);
    const p50 = point.summaries.find((summary) => summary.metric === 'latency_p50_us')?.mean ?? 0;
    assert.ok(p50 > 1 && p50 < 100_000, `${point.key} p50 ${p50} µs`);
  }
  assert.deepEqual(await isobenchDomains(), [], 'the domain was destroyed and undefined');
  assert.deepEqual(await findIsobenchQemuProcesses(), []);
  await assertNoLeftovers();
  assert.deepEqual(await cleanupLeftovers(() => {}), { removed: [], failed: [] });
});

test('a libvirt run killed with SIGKILL: `cleanup` destroys and undefines its domain and removes the tap', { skip, timeout: 20 * 60_000 }, async () => {
  await assertNoLeftovers();
  const out = await mkdtemp(join(tmpdir(), 'isobench-libvirt-crash-'));
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), 'bench', '--target', 'kvm', '--suite', 'tcp-rr', '--vm-manager', 'libvirt',
      '--quick', '--reps', '50', '--out', out, '--quiet-wait', '2',
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
      'the first trial in the libvirt guest',
    );
    child.kill('SIGKILL');
    await exited;
    assert.equal((await isobenchDomains()).filter((domain) => domain.running).length, 1, 'the domain outlives its killed run');

    const report = await cleanupLeftovers(() => {});
    assert.deepEqual(report.failed, []);
    assert.ok(report.removed.some((item) => /libvirt domain isobench-kvm-.* \(running\)/.test(item)), report.removed.join('\n'));
    assert.ok(report.removed.some((item) => /tap ib-tap\d/.test(item)), report.removed.join('\n'));
    assert.deepEqual(await isobenchDomains(), []);
    assert.deepEqual(await findIsobenchQemuProcesses(), []);
    await assertNoLeftovers();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
