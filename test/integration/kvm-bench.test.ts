import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBenchOptions } from '../../harness/commands/bench.js';
import { cleanupLeftovers } from '../../harness/commands/cleanup.js';
import { runBench } from '../../harness/runner.js';
import { findExecutable } from '../../core/tools.js';
import { findIsobenchQemuProcesses } from '../../provisioning/kvm/leftovers.js';
import { NO_VHOST_DEGRADED } from '../../provisioning/targets/kvm.js';
import { TCG_DEGRADED } from '../../provisioning/kvm/accel-probe.js';
import { assertNoLeftovers } from '../helpers.js';

async function whyNot(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'the kvm target needs root (taps, the bridge, the image)';
  if (!(await findExecutable('qemu-system-x86_64'))) return 'qemu-system-x86_64 is not installed (Debian package qemu-system-x86)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return undefined;
}

function mean(results: Awaited<ReturnType<typeof runBench>>['results'], key: string, metric: string): number {
  const summary = results.points.find((point) => point.key === key)?.summaries.find((candidate) => candidate.metric === metric);
  assert.ok(summary, `${key} has ${metric}`);
  return summary.mean;
}

test('a real guest boots (TCG here), runs the quick random-io suite on its virtio disk, is labelled, and leaves nothing', { skip: await whyNot(), timeout: 20 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  const out = await mkdtemp(join(tmpdir(), 'isobench-kvm-results-'));
  const options = await parseBenchOptions(['--target', 'kvm', '--suite', 'random-io', '--quick', '--reps', '1', '--out', out, '--quiet-wait', '5']);
  const { results, resultsPath } = await runBench(options);

  assert.equal(results.status, 'completed');
  const facts = results.targets.find((target) => target.target === 'kvm');
  assert.ok(facts, 'the kvm target was provisioned');
  assert.equal(facts.state, 'ready', facts.reason);
  const labels = facts.labels;
  // Never a claim of KVM or vhost that did not run: the labels follow the probe and QEMU's own answers.
  if (labels['kvmUsable'] === false) {
    assert.equal(labels['accel'], 'tcg');
    assert.ok(facts.degraded.includes(TCG_DEGRADED), 'TCG is a degraded, emulated row');
  } else {
    assert.equal(labels['accel'], 'kvm');
  }
  assert.equal(labels['vhost'], existsSync('/dev/vhost-net'));
  if (!existsSync('/dev/vhost-net')) assert.ok(facts.degraded.includes(NO_VHOST_DEGRADED));
  assert.equal(labels['disk'], 'raw');
  assert.equal(labels['cacheMode'], 'none');
  assert.equal(labels['aio'], 'native');
  assert.equal(labels['virtioDevices'], 'virtio-blk-pci,virtio-net-pci,virtio-serial-pci');
  assert.equal(labels['vmManager'], 'qemu');
  assert.match(String(labels['qemuVersion']), /^\d+\.\d+\.\d+/);
  assert.match(facts.storage, /virtio-blk \/dev\/vda/);

  // The serial console is kept beside the results.
  const serialLog = String(labels['serialLog']);
  assert.equal(join(serialLog, '..'), out);
  assert.match(await readFile(serialLog, 'utf8'), /ISOBENCH-GUEST-READY network=eth0=198\.18\.0\.\d+\/24 agent=\/dev\/vport/);

  for (const point of results.points) {
    assert.ok(point.status === 'ok' || point.status === 'noisy', `${point.key}: ${point.status} ${point.reason ?? ''}`);
  }
  // Plausible for a guest disk, emulated or not: real IOPS, a rising latency CDF, MB/s of sequential I/O.
  const iops = mean(results, 'kvm/random-io/randread', 'iops');
  assert.ok(iops > 100 && iops < 5_000_000, `randread ${iops} IOPS`);
  assert.ok(mean(results, 'kvm/random-io/seqwrite', 'bandwidth_mb_s') > 1);
  const p50 = mean(results, 'kvm/random-io/randread-latency', 'clat_p50_us');
  const p99 = mean(results, 'kvm/random-io/randread-latency', 'clat_p99_us');
  assert.ok(p50 > 0 && p99 >= p50, 'the latency CDF rises');
  assert.ok(results.points.every((point) => point.trials.every((trial) => trial.commands.flat().every((word) => !word.includes(out)))), 'fio ran on the guest\'s disk');
  assert.ok(resultsPath.startsWith(out));

  assert.deepEqual(await findIsobenchQemuProcesses(), [], 'teardown stopped QEMU');
  await assertNoLeftovers('teardown removed the tap, the disk copy, the run directory and the ledger');
  const cleanup = await cleanupLeftovers(() => {});
  assert.deepEqual(cleanup, { removed: [], failed: [] }, 'cleanup finds nothing left to remove');
});
