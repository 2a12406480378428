import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBench, type BenchOptions } from '../../harness/runner.js';
import { DEFAULT_CV_THRESHOLD } from '../../harness/statistics.js';
import { DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET } from '../../provisioning/topology.js';
import { parseTargetConfiguration } from '../../provisioning/targets/configuration.js';
import type { ResultsFile } from '../../results/schema.js';
import { suiteByName } from '../../suites/index.js';
import { assertNoLeftovers } from '../helpers.js';
import { watchListeners } from './listeners.js';

// Each Docker target runs quick suites through the real runner, once. Run under
// `flock /tmp/isobench-heavy.lock`: the numbers only need to be plausible, not precise.

async function bench(targets: string[], suites: string[], storage: 'volume' | 'overlay'): Promise<ResultsFile> {
  const options: BenchOptions = {
    targets: targets.map(parseTargetConfiguration),
    suites: suites.map(suiteByName),
    quick: true,
    repetitions: 1,
    outDirectory: await mkdtemp(join(tmpdir(), 'isobench-docker-')),
    seed: 1,
    cvThreshold: DEFAULT_CV_THRESHOLD,
    subnet: DEFAULT_TEST_SUBNET,
    guardRange: DEFAULT_GUARD_RANGE,
    targetOptions: { storage, accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true },
    suiteOptions: new Map([['tcp-bulk', { streams: 1 }]]),
    quietHost: { maxWaitMs: 5_000 },
  };
  return (await runBench(options)).results;
}

function mean(results: ResultsFile, key: string, metric: string): number {
  const point = results.points.find((candidate) => candidate.key === key);
  assert.ok(point, `${key} exists`);
  assert.ok(point.status === 'ok' || point.status === 'noisy', `${key}: ${point.status} ${point.reason ?? ''}`);
  const summary = point.summaries.find((candidate) => candidate.metric === metric);
  assert.ok(summary, `${key} has ${metric}`);
  return summary.mean;
}

test('docker-host runs random-io on its volume, plausibly, and teardown leaves nothing', { timeout: 15 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  const results = await bench(['docker-host'], ['random-io'], 'volume');
  assert.equal(results.status, 'completed');
  const facts = results.targets.find((target) => target.target === 'docker-host');
  assert.equal(facts?.state, 'ready', facts?.reason);
  assert.equal(facts.labels.network, 'host');
  assert.equal(facts.labels.storage, 'volume');
  assert.match(facts.storage, /^Docker volume isobench-docker-host-.* at \/data/);
  assert.match(String(facts.labels.dataFilesystem), /^ext4$|^xfs$|^btrfs$/, 'a volume is the host file system, not the layered one');
  assert.equal(facts.serverAddress, '198.18.0.1');
  for (const key of ['dockerVersion', 'storageDriver', 'cgroupVersion', 'securityOptions', 'image', 'cpuAccounting']) assert.ok(facts.labels[key], key);
  assert.ok('userlandProxy' in facts.labels);

  assert.ok(mean(results, 'docker-host/random-io/randread', 'iops') > 100);
  assert.ok(mean(results, 'docker-host/random-io/randwrite', 'iops') > 100);
  assert.ok(mean(results, 'docker-host/random-io/seqread', 'bandwidth_mb_s') > 1);
  const p50 = mean(results, 'docker-host/random-io/randread-latency', 'clat_p50_us');
  const p99 = mean(results, 'docker-host/random-io/randread-latency', 'clat_p99_us');
  assert.ok(p50 > 0 && p99 >= p50);
  const trial = results.points.find((point) => point.key === 'docker-host/random-io/randread')!.trials[0]!;
  assert.match(trial.commands[0]!.join(' '), /^fio .*--filename=\/data\/isobench-fio\.dat/);

  await assertNoLeftovers('no container, volume, network, rule, proxy, ledger or run directory');
});

test('docker-nat runs tcp-bulk and tcp-rr through Docker\'s DNAT with overlay storage, and leaves nothing', { timeout: 15 * 60_000 }, async () => {
  await assertNoLeftovers();
  const listeners = await watchListeners();
  const results = await bench(['docker-nat'], ['tcp-bulk', 'tcp-rr'], 'overlay');
  const exposure = await listeners.stop();
  assert.equal(results.status, 'completed');
  const facts = results.targets.find((target) => target.target === 'docker-nat');
  assert.equal(facts?.state, 'ready', facts?.reason);
  assert.equal(facts.labels.storage, 'overlay');
  assert.equal(facts.labels.dataFilesystem, 'overlay');
  assert.equal(facts.labels.natPath, 'iptables DNAT');
  assert.equal(facts.labels.dockerProxyCarriedTraffic, false);
  assert.match(facts.networkPath, /iptables DNAT/);
  const address = facts.serverAddress!;
  assert.match(address, /^198\.1[89]\./, 'a test address, not loopback or 0.0.0.0');
  // Issue 13 §4: what Docker publishes on the host listens on the test address only. With the
  // userland proxy on, docker-proxy holds the published ports (so the watch has something to see).
  if (facts.labels.userlandProxy === true) {
    assert.ok(exposure.services.some((listener) => listener.address === address && listener.processes.some((owner) => owner.name === 'docker-proxy')), `docker-proxy seen on ${address} (${exposure.samples} samples)`);
  }
  assert.deepEqual(exposure.exposed.map((listener) => listener.line), [], 'no isobench service outside the test range and loopback');

  for (const direction of ['client-to-server', 'server-to-client']) {
    const key = `docker-nat/tcp-bulk/${direction}`;
    const throughput = mean(results, key, 'throughput_gbps');
    const host = mean(results, key, 'cpu_ns_per_byte');
    // Not a 0.5-500 Gbit/s range: ns/byte x Gbit/s / 8 is the cores busy during the stream, CPU-bound
    // through DNAT, and never more than the host has (see native-bench.test.ts).
    const busyCores = (host * throughput) / 8;
    assert.ok(busyCores >= 0.3 && busyCores <= 1.5 * results.host.cores, `${key}: ${throughput} Gbit/s at ${host} ns/byte is ${busyCores} busy cores of ${results.host.cores}`);
    const container = mean(results, key, 'cpu_ns_per_byte_container');
    assert.ok(container > 0 && container < host * 1.5, `${key}: the container's cgroup CPU (${container}) is part of the host's (${host})`);
    const proxy = mean(results, key, 'cpu_ns_per_byte_docker-proxy');
    assert.ok(proxy < host * 0.05, `${key}: docker-proxy carried nothing (${proxy} ns/byte)`);
    const commands = results.points.find((point) => point.key === key)!.trials[0]!.commands;
    assert.deepEqual(commands[0]!.slice(0, 2), ['docker', 'exec']);
    assert.ok(commands[1]!.includes(address), 'the client sends to the published test address');
  }
  for (const protocol of ['tcp', 'udp']) {
    const p50 = mean(results, `docker-nat/tcp-rr/${protocol}`, 'latency_p50_us');
    assert.ok(p50 > 1 && p50 < 10_000, `${protocol} RR p50 ${p50} µs`);
  }

  await assertNoLeftovers();
});
