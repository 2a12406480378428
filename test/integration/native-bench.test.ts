import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResultsFile } from '../../results/store.js';
import type { ResultsFile } from '../../results/schema.js';
import { assertNoLeftovers, runCli } from '../helpers.js';
import { watchListeners } from './listeners.js';

function mean(results: ResultsFile, pointKey: string, metric: string): number {
  const point = results.points.find((candidate) => candidate.key === pointKey);
  const summary = point?.summaries.find((candidate) => candidate.metric === metric);
  assert.ok(summary, `${pointKey} has a ${metric} summary`);
  return summary.mean;
}

test('the quick native suites run end to end, plausibly, and leave nothing behind', { timeout: 15 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  const out = await mkdtemp(join(tmpdir(), 'isobench-results-'));
  const listeners = await watchListeners();
  const outcome = await runCli(['bench', '--target', 'native', '--suite', 'all', '--quick', '--reps', '2', '--out', out, '--quiet-wait', '5']);
  const exposure = await listeners.stop();
  assert.equal(outcome.code, 0, outcome.stderr);
  // Issue 13 §4: the servers listened on the test address, never on 0.0.0.0 or a public address.
  // The watch saw them (it can fail): iperf3 and sockperf on the bridge's address.
  for (const name of ['iperf3', 'sockperf']) {
    assert.ok(exposure.services.some((listener) => listener.address === '198.18.0.1' && listener.processes.some((owner) => owner.name === name)), `${name} seen listening on 198.18.0.1 (${exposure.samples} samples)`);
  }
  assert.deepEqual(exposure.exposed.map((listener) => listener.line), [], 'no isobench service outside the test range and loopback');
  const files = (await readdir(out)).filter((name) => name.endsWith('.json'));
  assert.equal(files.length, 1, `one results file in ${out}`);
  const report = join(out, files[0]!.replace(/\.json$/, '.html'));
  assert.match(outcome.stdout, new RegExp(`report: ${report}`), 'bench ends by writing the report of its run');
  assert.match(await readFile(report, 'utf8'), /TCP bulk throughput/);
  const results = await readResultsFile(join(out, files[0]!));

  assert.equal(results.status, 'completed');
  assert.equal(results.plan.repetitions, 2);
  assert.equal(results.targets[0]?.state, 'ready');
  assert.equal(results.points.length, 2 + 2 + 6 + 3 + 1, 'tcp-bulk, tcp-rr, random-io, mysql and startup points');
  for (const point of results.points) {
    assert.ok(point.status === 'ok' || point.status === 'noisy', `${point.key}: ${point.status} ${point.reason ?? ''}`);
    assert.equal(point.trials.length, 2);
    for (const trial of point.trials) {
      assert.equal(trial.state, 'completed');
      assert.ok(trial.commands.length > 0 && trial.commands.every((command) => command.length > 0), 'the exact commands are kept');
      assert.ok(trial.quietHost, 'the quiet-host check ran');
    }
  }

  // Throughput and CPU per byte checked against each other and the host, not against a range as wide
  // as 0.5-500 Gbit/s: ns/byte x Gbit/s / 8 is the CPU cores busy while the stream ran. A TCP stream
  // over a veth is CPU-bound (the sender alone keeps about one core busy; 1.4-1.7 of 2 cores here), and
  // no host is busier than all its cores. The bound has slack above the cores because CPU per byte
  // counts the warm-up's bytes and throughput does not (2.03 of 2 seen for docker-nat). A bits/bytes
  // mix-up (x8) or a Mbit/Gbit one (x1000) in either metric lands outside [0.3, 1.5 x cores] (x8 on
  // hosts of up to 6 cores).
  for (const direction of ['client-to-server', 'server-to-client']) {
    const key = `native/tcp-bulk/${direction}`;
    const throughput = mean(results, key, 'throughput_gbps');
    const cpuPerByte = mean(results, key, 'cpu_ns_per_byte');
    const busyCores = (cpuPerByte * throughput) / 8;
    assert.ok(busyCores >= 0.3 && busyCores <= 1.5 * results.host.cores, `${key}: ${throughput} Gbit/s at ${cpuPerByte} ns/byte is ${busyCores} busy cores of ${results.host.cores}`);
  }
  const rtt = mean(results, 'native/tcp-rr/tcp', 'latency_p50_us');
  assert.ok(rtt > 1 && rtt < 10_000, `TCP RR p50 ${rtt} µs`);
  assert.ok(mean(results, 'native/tcp-rr/udp', 'latency_mean_us') > 1);
  assert.ok(mean(results, 'native/random-io/randread', 'iops') > 100);
  assert.ok(mean(results, 'native/random-io/seqwrite', 'bandwidth_mb_s') > 1);
  const p50 = mean(results, 'native/random-io/randread-latency', 'clat_p50_us');
  const p99 = mean(results, 'native/random-io/randread-latency', 'clat_p99_us');
  assert.ok(p50 > 0 && p99 >= p50, 'the latency CDF rises');
  const tps = mean(results, 'native/mysql/threads-2', 'transactions_per_s');
  assert.ok(tps > 10 && tps < 1e6, `MySQL ${tps} transactions/s`);
  const ready = mean(results, 'native/startup/cold-start', 'ready_ms');
  assert.ok(ready > 0.5 && ready < 10_000, `a fresh server answers in ${ready} ms`);

  const table = await runCli(['results', join(out, files[0]!), '--format', 'csv']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^target,suite,point,metric,params,unit,n,mean,sd,ci95_low,ci95_high,cv,status,reason,ratio,ratio_low,ratio_high,verdict\n/);
  assert.match(table.stdout, /\nnative,random-io,randread,iops,[^\n]*,IOPS,2,/);

  await assertNoLeftovers('teardown removed every netns, link, route, rule, ledger and run directory');
});
