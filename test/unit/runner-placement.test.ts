/**
 * runBench with a placement (lab mode's seam, harness/placement.ts), all test doubles: no root, no
 * network, no SSH. The lock and the ledger live in a temporary ISOBENCH_STATE_DIR.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import type { AnySuite, ClientSide, PointParams } from '../../contracts/suite.js';
import type { ProvisionedTarget } from '../../contracts/target.js';
import { HostSet, type Host } from '../../hosts/host.js';
import { hostProcStat } from '../../hosts/proc-stat.js';
import { fakeHost } from '../fake-host.js';
import { labPlacement } from '../../harness/lab.js';
import type { Placement } from '../../harness/placement.js';
import { Progress } from '../../harness/progress.js';
import { runBench, type BenchOptions } from '../../harness/runner.js';
import { nativeDriver } from '../../provisioning/targets/native.js';
import { MYSQL_METRICS, TCP_BULK_METRICS, TCP_RR_METRICS, cpuNsPerByteOf, cpuUsPerTransactionOf, hostCpuSource } from '../../results/metrics.js';
import { ParamValue, type HostFacts, type LabHost } from '../../results/schema.js';
import { readResultsFile, writeResultsFile } from '../../results/store.js';

const HOST: HostFacts = {
  hostname: 'controller', cpuModel: 'fake', cores: 2, cpuMHz: 2000, memoryBytes: 2 ** 31, kernel: '6.1.0', distro: 'test',
  nodeVersion: process.version, tools: [], perfCounters: true, kvmDevice: false, kvmUsable: null, vhostNet: false, docker: null,
};

const silent = new Progress({ isTTY: false, write: () => true } as unknown as NodeJS.WriteStream);
let scratch = '';
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'isobench-placement-test-'));
  process.env.ISOBENCH_STATE_DIR = join(scratch, 'state');
});
after(async () => {
  delete process.env.ISOBENCH_STATE_DIR;
  await rm(scratch, { recursive: true, force: true });
});

/** A suite with two points whose trials return a throughput and a local-CPU metric, or fail when `fails` says so. */
function suite(seen: { host?: HostFacts; client?: ClientSide; addresses: string[]; cores?: number; targetHost?: string }, fails: (point: string) => boolean = () => false): AnySuite {
  const record: z.ZodType<PointParams> = z.record(z.string(), ParamValue);
  return {
    name: 'fake-net', description: 'a test double', figure: 'none', hostTools: [{ command: 'iperf3', debianPackage: 'iperf3', why: 'test' }], ports: [], flags: [],
    options: record, params: record,
    // As fio's numjobs: the points scale to the cores they are given.
    points: (config) => [
      { id: 'p1', params: { cores: config.cores }, headline: TCP_BULK_METRICS.throughput },
      { id: 'p2', params: { cores: config.cores }, headline: TCP_BULK_METRICS.throughput },
    ],
    runTrial: async (point, context) => {
      // The window a real suite takes around its client program (tcp-bulk, mysql).
      const stop = await context.cpu.start();
      const window = await stop();
      seen.host = context.host;
      seen.client = context.client;
      seen.cores = context.config.cores;
      if (context.targetHost) seen.targetHost = context.targetHost.name;
      await context.verifyDestination(context.target.serverAddress);
      seen.addresses.push(context.target.serverAddress);
      if (fails(point.id)) return { state: 'failed', reason: 'iperf3: ssh exited 255', commands: [] };
      return {
        state: 'completed',
        commands: [['iperf3', point.id]],
        metrics: [
          { name: 'throughput_gbps', unit: 'Gbit/s', value: 10 },
          { name: 'cpu_ns_per_byte', unit: 'ns/byte', value: 0.4 },
          { name: 'est_cycles_per_byte', unit: 'cycles/byte', value: 0.8 },
          ...window.hosts.map((host) => ({ name: `cpu_ns_per_byte_host ${host.host ?? 'here'}`, unit: 'ns/byte', value: host.busySeconds })),
        ],
      };
    },
  };
}

const LAB_HOSTS: LabHost[] = [
  { name: 'sut', via: 'ssh root@198.18.1.2', roles: ['server'], testAddress: '198.18.1.2', facts: null, clockOffset: { offsetMs: 0.2, uncertaintyMs: 0.5, roundTripMs: 1, samples: 8 } },
  { name: 'peer', via: 'ssh root@198.18.1.3', roles: ['client'], testAddress: '198.18.1.3', facts: null, clockOffset: { offsetMs: 0.1, uncertaintyMs: 0.5, roundTripMs: 1, samples: 8 } },
];

/**
 * A host double whose /proc/stat advances by the given ticks at every `cat` (user, idle, steal),
 * so any two consecutive readings differ by exactly that: busy (user + steal) and steal shares are
 * the same over every window however many readings fall inside it. Counts the readings.
 */
function ticking(name: string, step: { user: number; idle: number; steal: number }, reads: string[]) {
  let [user, idle, steal] = [100_000, 500_000, 1_000];
  return fakeHost(name, (command) => {
    assert.deepEqual(command, ['cat', '/proc/stat']);
    reads.push(name);
    [user, idle, steal] = [user + step.user, idle + step.idle, steal + step.steal];
    return { stdout: `cpu  ${user} 0 0 ${idle} 0 0 0 ${steal} 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\nintr 1\n` };
  });
}

/** A placement double: records what the runner asked of it; its hosts' /proc/stat advance as `ticking` says. */
function fakePlacement(journal: string[], lost: () => string | null = () => null, hosts: Host[] = [ticking('sut', { user: 60, idle: 20, steal: 20 }, []), ticking('peer', { user: 10, idle: 90, steal: 0 }, [])]): Placement {
  const measuredHosts = hosts.map((host) => hostProcStat(host));
  const target: ProvisionedTarget = {
    name: 'native', serverAddress: '198.18.1.2', dataDirectory: '/srv',
    facts: { target: 'native', state: 'ready', networkPath: 'lab', storage: 'lab', labels: { host: 'sut' }, degraded: ['CPU cost not measured'] },
    exec: () => Promise.reject(new Error('unused')), startService: () => Promise.reject(new Error('unused')),
    cpuCounters: async () => [], pause: async () => {}, resume: async () => {},
    teardown: async () => void journal.push('teardown native'),
  };
  return {
    description: 'fake lab',
    pinning: { oversubscribed: false, cpuSets: null, reason: 'lab mode: nothing is pinned' },
    client: { exec: () => Promise.reject(new Error('unused')), wrap: (command) => ['ssh', 'peer', ...command] },
    targetHost: { name: 'sut', exec: () => Promise.reject(new Error('unused')) },
    check: async (suites) => void journal.push(`check ${suites.map((one) => one.name).join(',')}`),
    serverCores: () => 4,
    freshUnavailable: () => 'the fake lab starts nothing fresh',
    describeHosts: async () => LAB_HOSTS,
    availability: async () => null,
    provision: async (configuration) => {
      journal.push(`provision ${configuration.id} on sut`);
      return target;
    },
    verifyDestination: async (address) => {
      if (address !== '198.18.1.2') throw new Error(`refusing ${address}`);
    },
    suiteHost: (local) => ({ ...local, perfCounters: false, cpuMHz: null }),
    keepsMetric: (name) => !/cpu|cycles/.test(name) || /_host (sut|peer)$/.test(name),
    measuredHosts,
    quietHost: measuredHosts[0]!,
    hostFailure: async () => lost(),
    close: async () => void journal.push('close'),
  };
}

function options(suites: AnySuite[], placement: Placement): BenchOptions {
  return {
    targets: [{ id: 'native', driver: nativeDriver, overrides: {} }],
    suites, quick: true, repetitions: 2, outDirectory: join(scratch, `results-${Math.random().toString(16).slice(2)}`), seed: 3, cvThreshold: 0.1,
    subnet: '198.18.0.0/24', guardRange: '198.18.0.0/15',
    targetOptions: { storage: 'volume', accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true },
    suiteOptions: new Map(), quietHost: { maxWaitMs: 0, sampleMs: 5 }, progress: silent,
    placement,
    seams: {
      host: HOST,
      createTopology: () => Promise.reject(new Error('a placement run must not build the local topology')),
      readRoutes: async () => [],
      readSteal: async () => ({ stealTicks: 1, totalTicks: 100 }),
      tools: { install: false },
    },
  };
}

test("a placement run: provisioned and driven through the placement, hosts recorded, CPU time, steal and the quiet-host wait read on the hosts, this machine's dropped, closed", async () => {
  const journal: string[] = [];
  const seen: { host?: HostFacts; client?: ClientSide; addresses: string[]; cores?: number; targetHost?: string } = { addresses: [] };
  const reads: string[] = [];
  // sut: 80 of every 100 ticks busy, 20 of them steal; peer: 10 busy of 100, no steal.
  const hosts = [ticking('sut', { user: 60, idle: 20, steal: 20 }, reads), ticking('peer', { user: 10, idle: 90, steal: 0 }, reads)];
  const { resultsPath } = await runBench(options([suite(seen)], fakePlacement(journal, () => null, hosts)));
  const results = await readResultsFile(resultsPath);
  assert.equal(results.status, 'completed');
  assert.deepEqual(journal, ['check fake-net', 'provision native on sut', 'teardown native', 'close']);
  assert.deepEqual(results.hosts, LAB_HOSTS);
  assert.equal(results.plan.pinning.reason, 'lab mode: nothing is pinned');
  assert.equal(seen.host?.perfCounters, false, 'the suite is not told to count cycles here');
  assert.equal(seen.host?.cpuMHz, null);
  assert.deepEqual(seen.client?.wrap(['x']), ['ssh', 'peer', 'x']);
  // The server host's 4 cores, not this machine's 2: the plan's points and every trial's config.
  assert.equal(seen.cores, 4);
  assert.deepEqual(results.points.map((point) => point.params.cores), [4, 4]);
  assert.equal(seen.targetHost, 'sut', 'suites read the host beside the target on the server host');
  assert.ok(seen.addresses.every((address) => address === '198.18.1.2'));
  for (const point of results.points) {
    assert.equal(point.status, 'ok', point.reason);
    for (const trial of point.trials) {
      assert.equal(trial.state, 'completed');
      if (trial.state === 'completed') {
        assert.deepEqual(trial.metrics.map((metric) => metric.name), ['throughput_gbps', 'cpu_ns_per_byte_host sut', 'cpu_ns_per_byte_host peer']);
        // One reading apart: 80 busy ticks of sut's, 10 of peer's, in seconds (USER_HZ 100).
        assert.deepEqual(trial.metrics.slice(1).map((metric) => Number(metric.value.toFixed(9))), [0.8, 0.1]);
      }
      assert.equal(trial.steal, undefined, "this machine's steal is not stored as the lab host's");
      assert.deepEqual(trial.hostSteal, [{ host: 'sut', fraction: 0.2, flagged: true }, { host: 'peer', fraction: 0, flagged: false }]);
      // sut is 80 % busy: the wait (0 s here) gives up and flags the trial, naming the host it sampled.
      assert.deepEqual({ ...trial.quietHost, waitedMs: 0, busyFraction: Number(trial.quietHost?.busyFraction.toFixed(9)) }, { busyFraction: 0.8, waitedMs: 0, flagged: true, host: 'sut' });
    }
    assert.match(point.reason ?? '', /2 trial\(s\) lost CPU time to the hypervisor above the steal limit on host sut \(up to 20\.0 % steal\)/);
  }
  // Per trial: the quiet-host wait's two readings of sut, then steal, CPU start, CPU stop, steal on both.
  assert.equal(reads.filter((host) => host === 'sut').length, 4 * 6);
  assert.equal(reads.filter((host) => host === 'peer').length, 4 * 4);
  assert.deepEqual(existsSync(join(scratch, 'state')) ? await readdir(join(scratch, 'state')) : [], []);
});

test('a host that stops answering: its target runs no more trials, the points and the host say which host', async () => {
  const journal: string[] = [];
  const seen = { addresses: [] as string[] };
  let failed = false;
  const lost = 'host sut: the connection was lost (the host died, rebooted or the link went down): Timeout, server not responding (ssh root@198.18.1.2)';
  const placement = fakePlacement(journal, () => (failed ? lost : null));
  const faulty = suite(seen, () => (failed = true));
  const { resultsPath } = await runBench(options([faulty], placement));
  const results = await readResultsFile(resultsPath);
  assert.equal(seen.addresses.length, 1, 'one trial ran, then the target was abandoned');
  assert.equal(results.hosts?.find((host) => host.name === 'sut')?.error, lost);
  assert.equal(results.hosts?.find((host) => host.name === 'peer')?.error, undefined);
  for (const point of results.points) {
    assert.equal(point.status, 'failed');
    if (point.trials.length === 0) assert.equal(point.reason, lost);
  }
  assert.ok(journal.includes('teardown native') && journal.at(-1) === 'close');
});

test("a placement run whose host's /proc/stat does not parse: failed trials naming the host, nothing measured stored", async () => {
  const journal: string[] = [];
  const broken = fakeHost('sut', () => ({ stdout: 'cpu  1 2 3\n' }));
  const { resultsPath } = await runBench(options([suite({ addresses: [] })], fakePlacement(journal, () => null, [broken, ticking('peer', { user: 1, idle: 1, steal: 0 }, [])])));
  const results = await readResultsFile(resultsPath);
  for (const point of results.points) {
    assert.equal(point.status, 'failed');
    for (const trial of point.trials) {
      assert.equal(trial.state, 'failed');
      if (trial.state === 'failed') assert.match(trial.reason, /^host sut: \/proc\/stat's cpu line has an unexpected shape: cpu {2}1 2 3/);
    }
  }
});

test("labPlacement keeps what the hosts measure and drops the CPU cost read from this machine's /proc/stat", async () => {
  const entries = [
    { name: 'sut', ssh: { user: 'root', address: '198.18.1.2' }, testAddress: '198.18.1.2', roles: ['server' as const] },
    { name: 'peer', ssh: { user: 'root', address: '198.18.1.3' }, testAddress: '198.18.1.3', roles: ['client' as const] },
  ];
  const hosts = await HostSet.open(entries);
  try {
    const placement = labPlacement({ kind: 'load', inventory: { source: 'lab.yaml', hosts: entries }, server: entries[0]!, client: entries[1]!, leftOut: [] }, hosts);
    const dropped = [TCP_BULK_METRICS.cpuNsPerByte, TCP_BULK_METRICS.cyclesPerByte, TCP_BULK_METRICS.estimatedCyclesPerByte, cpuNsPerByteOf('qemu pid 12'), MYSQL_METRICS.cpuUsPerTransaction, MYSQL_METRICS.cpuBusyPercent];
    const kept = [TCP_BULK_METRICS.throughput, TCP_BULK_METRICS.retransmits, TCP_RR_METRICS.latencyMean, TCP_RR_METRICS.transactionsPerSecond, cpuNsPerByteOf(hostCpuSource('sut')), cpuNsPerByteOf(hostCpuSource('peer')), cpuUsPerTransactionOf(hostCpuSource('sut'))];
    dropped.push(cpuNsPerByteOf(hostCpuSource('other')), cpuNsPerByteOf('host sutx'));
    for (const metric of dropped) assert.equal(placement.keepsMetric(metric.name), false, metric.name);
    for (const metric of kept) assert.equal(placement.keepsMetric(metric.name), true, metric.name);
    assert.equal(placement.pinning.cpuSets, null);
    assert.deepEqual(placement.measuredHosts.map((host) => host.name), ['sut', 'peer']);
    assert.equal(placement.quietHost.name, 'sut', 'the quiet-host wait samples the server host');
    await assert.rejects(placement.verifyDestination('198.18.1.3'), /not host sut's test address 198\.18\.1\.2/);
    await placement.verifyDestination('198.18.1.2');
  } finally {
    await hosts.close();
  }
});

test('--resume of a placement run: continues on the placement without describing the hosts again; a host error of the last session is dropped', async () => {
  const journal: string[] = [];
  const first = options([suite({ addresses: [] })], fakePlacement(journal));
  const { resultsPath } = await runBench(first);
  // The file as a run killed after round 0 leaves it (one trial per point), peer's loss recorded.
  const whole = await readResultsFile(resultsPath);
  const stopped = structuredClone(whole);
  stopped.status = 'interrupted';
  stopped.finishedAt = null;
  for (const point of stopped.points) point.trials = point.trials.filter((trial) => trial.round === 0);
  stopped.order = stopped.order.slice(0, 1);
  stopped.hosts = LAB_HOSTS.map((host) => (host.name === 'peer' ? { ...host, error: 'host peer: the connection was lost' } : host));
  await writeResultsFile(resultsPath, stopped);

  journal.length = 0;
  const placement = fakePlacement(journal);
  const described = { count: 0 };
  const resumed = await runBench({ ...options([suite({ addresses: [] })], { ...placement, describeHosts: async () => (described.count++, LAB_HOSTS) }), outDirectory: first.outDirectory, seed: first.seed, resume: { path: resultsPath, results: stopped } });
  assert.equal(resumed.resultsPath, resultsPath);
  const results = await readResultsFile(resultsPath);
  assert.equal(results.status, 'completed');
  assert.equal(described.count, 0, 'the recorded hosts are kept, not probed again');
  assert.deepEqual(results.hosts, LAB_HOSTS, "peer's error of the last session is gone");
  assert.deepEqual(journal, ['check fake-net', 'provision native on sut', 'teardown native', 'close']);
  assert.deepEqual(results.order, whole.order);
  for (const point of results.points) {
    assert.deepEqual(point.trials.map((trial) => trial.round), [0, 1], point.key);
    assert.deepEqual(point.trials[1]?.hostSteal?.map((check) => check.host), ['sut', 'peer'], 'the resumed trials read the hosts too');
  }
});

test('the quiet-host wait samples the host while the target is paused: a guest\'s own load is not taken for another job on the host', async () => {
  const journal: string[] = [];
  const states: string[] = [];
  let running = false;
  const placement = fakePlacement(journal);
  const provision = placement.provision.bind(placement);
  const sampled = placement.quietHost;
  const watched: Placement = {
    ...placement,
    provision: async (configuration, resources, context) => {
      const target = await provision(configuration, resources, context);
      return { ...target, pause: async () => void (running = false), resume: async () => void (running = true) };
    },
    quietHost: { ...sampled, name: sampled.name, cpuTimes: () => (states.push(running ? 'running' : 'paused'), sampled.cpuTimes()), stealTicks: () => sampled.stealTicks() },
  };
  const { resultsPath } = await runBench(options([suite({ addresses: [] })], watched));
  assert.equal((await readResultsFile(resultsPath)).status, 'completed');
  // Two readings per trial (the wait's window), two points of two repetitions.
  assert.equal(states.length, 8);
  assert.deepEqual([...new Set(states)], ['paused']);
});
