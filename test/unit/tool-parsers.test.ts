import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseFio } from '../../suites/random-io/fio.js';
import { ioMetrics } from '../../suites/random-io/index.js';
import { ToolOutputError } from '../../suites/parse-error.js';
import { bulkMetrics } from '../../suites/tcp-bulk/index.js';
import { parseIperf3 } from '../../suites/tcp-bulk/iperf3.js';
import { parsePerfCycles, withCycleCounter } from '../../suites/tcp-bulk/perf-stat.js';
import { latencyMetrics } from '../../suites/tcp-rr/index.js';
import { parseSockperfPingPong } from '../../suites/tcp-rr/sockperf.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/tools/${name}`, import.meta.url), 'utf8');

test('iperf3: client-to-server report gives receiver goodput and bytes including the omitted warm-up', () => {
  const result = parseIperf3(fixture('iperf3-client-to-server.json'));
  assert.equal(result.reverse, false);
  assert.equal(result.streams, 1);
  assert.equal(Math.round(result.receivedBitsPerSecond), 25236205123);
  assert.equal(result.retransmits, 12);
  // Three 1-second intervals, the first one omitted: more bytes than the measured 2 s alone.
  assert.ok(result.bytesIncludingWarmup > 6316883968);
});

test('iperf3: --reverse run is recognised', () => {
  const result = parseIperf3(fixture('iperf3-server-to-client.json'));
  assert.equal(result.reverse, true);
  assert.ok(result.receivedBitsPerSecond > 1e9);
});

test('iperf3: an error report and non-JSON are clear errors', () => {
  assert.throws(() => parseIperf3('{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}'), {
    name: 'ToolOutputError',
    message: /unable to connect to server/,
  });
  assert.throws(() => parseIperf3('iperf3: error - unable to connect'), ToolOutputError);
  assert.throws(() => parseIperf3('{"start":{"test_start":{}}}'), /unexpected iperf3 output/);
});

test('tcp-bulk metrics: CPU per byte is busy CPU time over bytes moved', () => {
  const result = parseIperf3(fixture('iperf3-client-to-server.json'));
  const metrics = bulkMetrics(result, { elapsedSeconds: 3, hostBusySeconds: 3, hostBusyFraction: 0.5, sources: [{ source: 'container', seconds: 1.5 }], harnessSeconds: 0.01 }, 2000, null);
  const byName = new Map(metrics.map((metric) => [metric.name, metric]));
  const nsPerByte = 3e9 / result.bytesIncludingWarmup;
  assert.equal(byName.get('throughput_gbps')?.value, result.receivedBitsPerSecond / 1e9);
  assert.equal(byName.get('cpu_ns_per_byte')?.value, nsPerByte);
  assert.equal(byName.get('est_cycles_per_byte')?.value, nsPerByte * 2);
  assert.equal(byName.get('cpu_ns_per_byte_container')?.value, nsPerByte / 2);
  assert.match(byName.get('est_cycles_per_byte')?.method ?? '', /estimated/);
  assert.equal(byName.get('cycles_per_byte'), undefined, 'no counted cycles are claimed without perf');
});

test('tcp-bulk metrics: counted cycles replace the estimate', () => {
  const result = parseIperf3(fixture('iperf3-client-to-server.json'));
  const window = { elapsedSeconds: 3, hostBusySeconds: 3, hostBusyFraction: 0.5, sources: [], harnessSeconds: 0.01 };
  const byName = new Map(bulkMetrics(result, window, 2000, 6e9).map((metric) => [metric.name, metric]));
  assert.equal(byName.get('cycles_per_byte')?.value, 6e9 / result.bytesIncludingWarmup);
  assert.equal(byName.get('est_cycles_per_byte'), undefined);
});

test('perf stat: a host without counters says so, and the command is wrapped whole', () => {
  assert.equal(parsePerfCycles(fixture('perf-stat-cycles-not-supported.txt')), null);
  assert.throws(() => parsePerfCycles('perf: command not found'), /no cycles line/);
  assert.deepEqual(withCycleCounter(['iperf3', '--client', '198.18.0.1']).slice(-4), ['--', 'iperf3', '--client', '198.18.0.1']);
});

test('sockperf: TCP ping-pong with --full-rtt, ANSI colours stripped', () => {
  const result = parseSockperfPingPong(fixture('sockperf-pp-tcp.txt'));
  assert.equal(result.meanRttUs, 54.96);
  assert.equal(result.percentilesUs.get(50), 53.078);
  assert.equal(result.percentilesUs.get(99.9), 247.546);
  assert.equal(result.roundTrips, 28192);
  assert.equal(result.validSeconds, 1.55);
  const metrics = latencyMetrics(result);
  assert.deepEqual(metrics.map((metric) => metric.name), [
    'latency_mean_us', 'latency_p50_us', 'latency_p90_us', 'latency_p99_us', 'latency_p999_us', 'transactions_per_s',
  ]);
});

test('sockperf: UDP ping-pong parses', () => {
  const result = parseSockperfPingPong(fixture('sockperf-pp-udp.txt'));
  assert.ok(result.meanRttUs > 0);
  assert.ok(result.percentilesUs.has(99));
});

test('sockperf: one-way latency output is refused, garbage is a clear error', () => {
  const oneWay = fixture('sockperf-pp-tcp.txt').replace('avg-rtt', 'avg-lat');
  assert.throws(() => parseSockperfPingPong(oneWay), /--full-rtt/);
  assert.throws(() => parseSockperfPingPong('sockperf: ERROR: connect failed'), /no avg-rtt line/);
});

test('fio: random read job with the full percentile list', () => {
  const result = parseFio(fixture('fio-randread.json'));
  assert.equal(result.version, 'fio-3.33');
  assert.equal(result.write, null);
  assert.equal(Math.round(result.read!.iops), 93060);
  assert.equal(result.read!.clatPercentilesUs.get(99), 493.568);
  const metrics = ioMetrics(result, true);
  assert.ok(metrics.some((metric) => metric.name === 'clat_p99.9_us' && metric.value === 4014.08));
});

test('fio: mixed job sums both directions and keeps each', () => {
  const result = parseFio(fixture('fio-randrw70.json'));
  const metrics = new Map(ioMetrics(result, false).map((metric) => [metric.name, metric.value]));
  assert.equal(metrics.get('iops'), result.read!.iops + result.write!.iops);
  assert.equal(metrics.get('read_iops'), result.read!.iops);
  assert.ok(result.read!.iops > result.write!.iops, '70/30 mix reads more than it writes');
});

test('fio: job errors, empty output and notes before the JSON', () => {
  const report = JSON.parse(fixture('fio-randread.json'));
  report.jobs[0].error = 5;
  assert.throws(() => parseFio(JSON.stringify(report)), /ended with error 5/);
  assert.throws(() => parseFio(''), /unexpected fio output/);
  const noted = `fio: note: both iodepth >= 1 and synchronous I/O engine are selected\n${fixture('fio-randread.json')}`;
  assert.equal(parseFio(noted).jobName, 'randread');
});
