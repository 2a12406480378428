/**
 * Lab mode through the real CLI (issue 14): `bench --hosts … --server sut --client peer --target
 * native --suite tcp-bulk`, hosts being network namespaces with their own sshd (lab-hosts.ts). The
 * results file must be a normal one (`results` and `report` read it) with the hosts' facts, CPU cost
 * and steal read from each host's own /proc/stat over its SSH connection (none of this machine's
 * presented as the target's), and nothing left on the hosts or here. The namespace hosts share this
 * machine's kernel, so their /proc/stat is this machine's: the figures are, the reading path is not. Root;
 * about a minute. Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertNoLeftovers, completedRun, runCli } from '../helpers.js';
import { createLab, strangersIn, sweepLabLeftovers } from './lab-hosts.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';

/** isobench's SSH control-socket directories in the temp directory. */
async function sshSocketDirectories(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith('isobench-ssh-'));
}

test('bench --hosts: native × tcp-bulk on sut, driven from peer, through the runner, into a normal results file', { skip, timeout: 10 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  // Another checkout's or an earlier killed run's socket directory is not this run's to remove: compare with before.
  const socketsBefore = await sshSocketDirectories();
  const lab = await createLab([{ name: 'sut', roles: ['server'] }, { name: 'peer', roles: ['client'] }]);
  const out = await mkdtemp(join(tmpdir(), 'isobench-lab-results-'));
  try {
    const [sut, peer] = lab.hosts;
    const outcome = await runCli(['bench', '--hosts', lab.inventoryPath, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'tcp-bulk,startup', '--reps', '1', '--quick', '--out', out, '--quiet-wait', '5']);
    const { path, results } = await completedRun(out, outcome);
    assert.equal(results.status, 'completed');
    assert.equal(results.plan.pinning.cpuSets, null, 'nothing pinned on lab hosts');

    // startup: skipped, saying why (timed over SSH, a fresh start would measure the remote control path).
    const [cold] = results.points.find((point) => point.suite === 'startup')?.trials ?? [];
    assert.equal(cold?.state, 'skipped', JSON.stringify(cold));
    assert.match(cold?.state === 'skipped' ? cold.reason : '', /^lab mode does not time fresh starts yet: started over SSH, each would time isobench's remote control of sut/);

    // Every tcp-bulk point completed, over the lab link, at a throughput a veth and a bridge can carry.
    const bulk = results.points.filter((point) => point.suite === 'tcp-bulk');
    assert.equal(bulk.length, 2);
    for (const point of bulk) {
      assert.equal(point.status === 'ok' || point.status === 'noisy', true, `${point.key}: ${point.status} ${point.reason ?? ''}`);
      const [trial] = point.trials;
      assert.equal(trial?.state, 'completed');
      if (trial?.state !== 'completed') continue;
      const gbps = trial.metrics.find((metric) => metric.name === 'throughput_gbps')?.value;
      assert.ok(gbps !== undefined && gbps > 0.1 && gbps < 400, `${point.key}: ${gbps} Gbit/s`);
      console.log(`# ${point.key}: ${gbps.toFixed(2)} Gbit/s, peer ${peer!.address} -> sut ${sut!.address}`);
      // CPU cost per host, read over SSH; never this machine's whole-host figure or cycles.
      const cpu = trial.metrics.filter((metric) => /cpu|cycles/.test(metric.name));
      assert.deepEqual(cpu.map((metric) => metric.name), ['cpu_ns_per_byte_host sut', 'cpu_ns_per_byte_host peer'], `${point.key}: CPU per named host only`);
      // One kernel moving gigabits through veths: each host's (= this machine's) busy time is far from 0, and below 2 cores' worth.
      for (const metric of cpu) assert.ok(metric.value > 0.01 && metric.value < 100, `${point.key}: ${metric.name} ${metric.value}`);
      assert.equal(trial.steal, undefined, 'steal of this machine is not recorded as the lab host\'s');
      assert.deepEqual(trial.hostSteal?.map((check) => check.host), ['sut', 'peer']);
      assert.ok(trial.hostSteal?.every((check) => check.fraction >= 0 && check.fraction <= 1));
      assert.equal(trial.quietHost?.host, 'sut', 'the quiet-host wait sampled the server host');
      console.log(`# ${point.key}: ${cpu.map((metric) => `${metric.name} ${metric.value.toFixed(3)} ns/byte`).join(', ')}; steal ${trial.hostSteal?.map((check) => `${check.host} ${(check.fraction * 100).toFixed(2)} %`).join(', ')}; quiet-host ${trial.quietHost?.host} busy ${((trial.quietHost?.busyFraction ?? 0) * 100).toFixed(0)} %`);
      // Provenance: the server on sut, the client on peer, each through ssh.
      const [server, client] = trial.commands.map((command) => command.join(' '));
      assert.ok(server!.includes(`root@${sut!.address}`) && server!.includes(`iperf3 --server --bind ${sut!.address}`), server);
      assert.ok(client!.includes(`root@${peer!.address}`) && client!.includes(`iperf3 --client ${sut!.address}`), client);
    }
    const target = results.targets.find((facts) => facts.target === 'native');
    assert.equal(target?.state, 'ready');
    assert.ok(target?.degraded.some((line) => /cycles per byte not measured on lab hosts/.test(line)), 'the absence of cycles is labelled');
    assert.ok(!target?.degraded.some((line) => /CPU cost not measured/.test(line)), 'CPU cost is measured now');

    // The hosts field: both hosts, facts and clock offsets, no error.
    assert.deepEqual(results.hosts?.map((host) => host.name).sort(), ['peer', 'sut']);
    for (const host of results.hosts ?? []) {
      assert.equal(host.error, undefined, host.error);
      assert.ok(host.facts && host.facts.cores !== null, `${host.name} has facts`);
      assert.ok(host.clockOffset && Math.abs(host.clockOffset.offsetMs) <= host.clockOffset.uncertaintyMs + 5, `${host.name}: ${JSON.stringify(host.clockOffset)}`);
      console.log(`# ${host.name}: clock offset ${host.clockOffset.offsetMs.toFixed(2)} ms ± ${host.clockOffset.uncertaintyMs.toFixed(2)} ms`);
    }

    // The normal readers take it.
    const table = await runCli(['results', path]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /tcp-bulk/);
    const report = await runCli(['report', path, '--out', join(out, 'again.html')]);
    assert.equal(report.code, 0, report.stderr);

    // Nothing left on the hosts (only each sshd) nor here.
    assert.deepEqual(await strangersIn(lab), []);
    await assertNoLeftovers();
    const sockets = (await sshSocketDirectories()).filter((name) => !socketsBefore.includes(name));
    assert.deepEqual(sockets, [], 'the SSH control socket directory is removed');
  } finally {
    await lab.teardown();
    await rm(out, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});

test('bench --hosts: native × tcp-rr on sut, driven from peer: sockperf latency over the lab link, nothing left', { skip, timeout: 10 * 60_000 }, async () => {
  const lab = await createLab([{ name: 'sut', roles: ['server'] }, { name: 'peer', roles: ['client'] }]);
  const out = await mkdtemp(join(tmpdir(), 'isobench-lab-results-'));
  try {
    const [sut, peer] = lab.hosts;
    const outcome = await runCli(['bench', '--hosts', lab.inventoryPath, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'tcp-rr', '--reps', '1', '--quick', '--out', out, '--quiet-wait', '5']);
    const { results } = await completedRun(out, outcome);
    assert.equal(results.status, 'completed');
    assert.deepEqual(results.points.map((point) => point.pointId).sort(), ['tcp', 'udp']);
    for (const point of results.points) {
      const [trial] = point.trials;
      assert.equal(trial?.state, 'completed', `${point.key}: ${point.reason ?? ''}`);
      if (trial?.state !== 'completed') continue;
      const mean = trial.metrics.find((metric) => metric.name === 'latency_mean_us')?.value;
      // A round trip through two namespaces' stacks and a bridge: tens of µs here, never below 1 µs or above 100 ms.
      assert.ok(mean !== undefined && mean > 1 && mean < 100_000, `${point.key}: ${mean} µs`);
      console.log(`# ${point.key}: mean round trip ${mean.toFixed(1)} µs, peer ${peer!.address} -> sut ${sut!.address}`);
      const [server, client] = trial.commands.map((command) => command.join(' '));
      assert.ok(server!.includes(`root@${sut!.address}`) && server!.includes(`sockperf server --ip ${sut!.address}`), server);
      assert.ok(client!.includes(`root@${peer!.address}`) && client!.includes(`sockperf ping-pong --ip ${sut!.address}`), client);
    }
    assert.equal(results.hosts?.length, 2);
    // sockperf's server does not end by itself: it must have been stopped on sut.
    assert.deepEqual(await strangersIn(lab), []);
    await assertNoLeftovers();
  } finally {
    await lab.teardown();
    await rm(out, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});
