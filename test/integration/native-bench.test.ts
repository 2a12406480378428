import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResultsFile } from '../../results/store.js';
import type { ResultsFile } from '../../results/schema.js';
import { isobenchLeftovers, runCli } from '../helpers.js';

function mean(results: ResultsFile, pointKey: string, metric: string): number {
  const point = results.points.find((candidate) => candidate.key === pointKey);
  const summary = point?.summaries.find((candidate) => candidate.metric === metric);
  assert.ok(summary, `${pointKey} has a ${metric} summary`);
  return summary.mean;
}

test('the quick native suites run end to end, plausibly, and leave nothing behind', { timeout: 15 * 60_000 }, async () => {
  assert.deepEqual(await isobenchLeftovers(), [], 'the host is clean before the run');
  const out = await mkdtemp(join(tmpdir(), 'isobench-results-'));
  const outcome = await runCli(['bench', '--target', 'native', '--suite', 'all', '--quick', '--reps', '2', '--out', out, '--quiet-wait', '5']);
  assert.equal(outcome.code, 0, outcome.stderr);
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

  // Plausible on any machine that can run the suite: loopback-class TCP, microseconds of RTT, real IOPS.
  const throughput = mean(results, 'native/tcp-bulk/client-to-server', 'throughput_gbps');
  assert.ok(throughput > 0.5 && throughput < 500, `TCP ${throughput} Gbit/s`);
  assert.ok(mean(results, 'native/tcp-bulk/server-to-client', 'throughput_gbps') > 0.5);
  const cpuPerByte = mean(results, 'native/tcp-bulk/client-to-server', 'cpu_ns_per_byte');
  assert.ok(cpuPerByte > 0.01 && cpuPerByte < 100, `CPU ${cpuPerByte} ns/byte`);
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
  assert.match(table.stdout, /^target,suite,point,metric,params,unit,n,mean,sd,ci95_low,ci95_high,cv,status,reason\n/);
  assert.match(table.stdout, /\nnative,random-io,randread,iops,[^\n]*,IOPS,2,/);

  assert.deepEqual(await isobenchLeftovers(), [], 'teardown removed every netns, link, route, rule, ledger and run directory');
});
