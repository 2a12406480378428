import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import { acquireRunLock } from '../../core/lock.js';
import { ResourceRegistry } from '../../core/ledger.js';
import { newRunId } from '../../harness/runner.js';
import { createDockerClient } from '../../provisioning/docker/client.js';
import { findDockerProxies, readDnatRules } from '../../provisioning/docker/nat.js';
import { probeHost } from '../../provisioning/host-probe.js';
import { RunImage } from '../../provisioning/image/index.js';
import { dockerNatDriver } from '../../provisioning/targets/docker-nat.js';
import { BRIDGE, DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET, Topology } from '../../provisioning/topology.js';
import type { ProvisionedTarget, ServicePort, TargetOptions } from '../../contracts/target.js';
import { SUITES } from '../../suites/index.js';

// One docker-nat container with overlay storage, driven through the ProvisionedTarget interface the
// suites use. Run under `flock /tmp/isobench-heavy.lock`.

const OPTIONS: TargetOptions = { storage: 'overlay', accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true };

let servicePorts: ServicePort[];
let release: () => Promise<void>;
let resources: ResourceRegistry;
let topology: Topology;
let target: ProvisionedTarget;
let runDirectory: string;

before(async () => {
  release = await acquireRunLock();
  resources = new ResourceRegistry(newRunId());
  runDirectory = await mkdtemp('/var/tmp/isobench-run-');
  topology = await Topology.create({ subnet: DEFAULT_TEST_SUBNET, guardRange: DEFAULT_GUARD_RANGE }, resources);
  // Every registered suite's ports (the mysql suite's are MariaDB's 3306-3309).
  servicePorts = SUITES.flatMap((suite) => suite.ports);
  target = await dockerNatDriver.provision({ configuration: 'docker-nat:overlay', servicePorts, topology, resources, options: OPTIONS, host: await probeHost(), runDirectory, image: new RunImage(), log: () => {} });
});

after(async () => {
  await target?.teardown();
  await resources?.undoAll();
  await rm(runDirectory, { recursive: true, force: true });
  await release?.();
});

test('docker-nat publishes on its own bridge address and proved the DNAT path', async () => {
  const labels = target.facts.labels;
  assert.equal(labels.network, 'nat');
  assert.equal(labels.storage, 'overlay');
  assert.equal(labels.natPath, 'iptables DNAT');
  assert.match(String(labels.natProbe), /counted by the DNAT rule .* refused by the container/);
  assert.equal(labels.dockerProxyCarriedTraffic, false);
  assert.match(String(labels.storageDriver), /overlay/);
  assert.equal(labels.dataFilesystem, 'overlay', 'with --storage overlay, /data is on the container\'s layered fs');
  for (const key of ['dockerVersion', 'cgroupVersion', 'securityOptions', 'cpuAccounting']) assert.ok(labels[key], key);
  assert.notEqual(target.serverAddress, topology.hostAddress, 'not the address native and docker-host servers listen on');
  await topology.verifyDestination(target.serverAddress);
  const addresses = await runCommand(['ip', '-o', '-4', 'addr', 'show', 'dev', BRIDGE]);
  assert.match(addresses.stdout, new RegExp(`inet ${target.serverAddress.replaceAll('.', '\\.')}/32`));
  const rules = (await readDnatRules()).filter((rule) => rule.destination === target.serverAddress);
  // One DNAT rule per port and protocol the registered suites declare: iperf3, sockperf tcp+udp,
  // MariaDB 3306-3309, the migration suite's echo (udp) and nginx (tcp).
  const declared = new Set(servicePorts.flatMap((entry) => entry.protocols.map((protocol) => `${entry.port}/${protocol}`)));
  assert.ok(declared.size >= 9, `the suites declare ${declared.size} port/protocol pairs`);
  assert.equal(rules.length, declared.size, [...declared].join(', '));
  assert.ok((await readDnatRules()).every((rule) => rule.destination !== '0.0.0.0' && !rule.destination.startsWith('0.0.0.0')));
});

test('exec runs programs in the container with input, environment, directory and exit codes', async () => {
  const echoed = await target.exec(['cat'], { input: 'through stdin\n' });
  assert.equal(echoed.ok, true, echoed.stderr);
  assert.equal(echoed.stdout, 'through stdin\n');
  assert.deepEqual(echoed.command.slice(0, 3), ['docker', 'exec', '-i']);
  assert.equal((await target.exec(['printenv', 'ISOBENCH_X'], { env: { ISOBENCH_X: 'y' } })).stdout, 'y\n');
  assert.equal((await target.exec(['pwd'], { cwd: '/tmp' })).stdout, '/tmp\n');
  const failed = await target.exec(['ls', '/no-such-path']);
  assert.equal(failed.ok, false);
  assert.equal(failed.exitCode, 2);
  assert.match(failed.stderr, /No such file or directory/);
  const written = await target.exec(['dd', 'if=/dev/zero', `of=${target.dataDirectory}/probe`, 'bs=4k', 'count=4', 'oflag=direct']);
  assert.equal(written.ok, true, `O_DIRECT on the overlay /data: ${written.stderr}`);
});

test('exec kills a program that outlives its timeout, children included', async () => {
  const begin = performance.now();
  const outcome = await target.exec(['timeout', '60', 'sleep', '47'], { timeoutMs: 700 });
  assert.equal(outcome.timedOut, true);
  assert.equal(outcome.ok, false);
  assert.ok(performance.now() - begin < 10_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const left = await target.exec(['pgrep', '-f', 'sleep 47']);
  assert.equal(left.stdout.trim(), '', 'nothing of it is left in the container');
});

test('a service binds to the container\'s own address and is reached from the client namespace through DNAT', async () => {
  const service = await target.startService({
    name: 'sockperf-tcp',
    port: 11111,
    protocols: ['tcp'],
    command: ({ address, port }) => ['sockperf', 'server', '--ip', address, '--port', String(port), '--tcp'],
    timeoutMs: 60_000,
  });
  try {
    assert.equal(service.command[0], 'docker');
    const bound = service.command[service.command.indexOf('--ip') + 1]!;
    assert.match(bound, /^172\.\d+\.\d+\.\d+$/, 'the container\'s bridge address, not 0.0.0.0');
    const before = (await readDnatRules()).find((rule) => rule.destination === target.serverAddress && rule.port === 11111 && rule.protocol === 'tcp')!;
    await topology.verifyDestination(target.serverAddress);
    const ping = await topology.clientExec(['sockperf', 'ping-pong', '--ip', target.serverAddress, '--port', '11111', '--tcp', '--time', '1'], { timeoutMs: 30_000 });
    assert.equal(ping.ok, true, ping.stderr);
    assert.match(ping.stdout, /avg-(lat|rtt)/);
    const afterRule = (await readDnatRules()).find((rule) => rule.port === 11111 && rule.protocol === 'tcp' && rule.destination === target.serverAddress)!;
    assert.ok(afterRule.packets > before.packets, 'the connection passed Docker\'s DNAT rule');
  } finally {
    await service.stop();
  }
  assert.equal((await target.exec(['pgrep', '-x', 'sockperf'])).stdout.trim(), '', 'stop() killed the server');
});

test('a port docker-nat does not publish is refused with the fix named', async () => {
  await assert.rejects(
    target.startService({ name: 'nope', port: 9, protocols: ['tcp'], command: () => ['sleep', '1'], timeoutMs: 5_000 }),
    /docker-nat does not publish 9\/tcp: the suite must declare it in its `ports`/,
  );
});

test('cpuCounters reads the container\'s cgroup CPU time, and docker-proxy\'s', async () => {
  const before = await target.cpuCounters();
  const burn = await target.exec(['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64k', 'count=400000']);
  assert.equal(burn.ok, true, burn.stderr);
  const afterBurn = await target.cpuCounters();
  const seconds = (counters: typeof before, source: string) => counters.find((counter) => counter.source === source)?.seconds ?? NaN;
  assert.ok(seconds(afterBurn, 'container') - seconds(before, 'container') > 0.1, `the container burned CPU: ${JSON.stringify({ before, afterBurn })}`);
  assert.ok(seconds(afterBurn, 'docker-proxy') >= 0);
});

test('pause freezes the container and resume thaws it', async () => {
  const client = createDockerClient();
  const id = String(target.facts.labels.containerId);
  await target.pause();
  await target.pause();
  assert.equal((await client.getContainer(id).inspect()).State.Paused, true);
  await assert.rejects(target.exec(['true']), /could not start: .*paused/i);
  await target.resume();
  await target.resume();
  assert.equal((await client.getContainer(id).inspect()).State.Paused, false);
  assert.equal((await target.exec(['true'])).ok, true);
});

test('teardown removes the container, its rules and proxies, and the published address; twice is fine', async () => {
  const address = target.serverAddress;
  const id = String(target.facts.labels.containerId);
  await target.pause();
  await target.teardown();
  await target.teardown();
  const client = createDockerClient();
  await assert.rejects(client.getContainer(id).inspect(), /no such container/i);
  assert.deepEqual((await readDnatRules()).filter((rule) => rule.destination === address), []);
  assert.deepEqual(await findDockerProxies((proxy) => proxy.hostIp === address), []);
  const addresses = await runCommand(['ip', '-o', '-4', 'addr', 'show', 'dev', BRIDGE]);
  assert.doesNotMatch(addresses.stdout, new RegExp(`inet ${address.replaceAll('.', '\\.')}/`));
  assert.equal(resources.size > 0, true, 'the topology itself is still registered');
});

