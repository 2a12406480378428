/**
 * The parsers of the workload tools' output, on the fixtures in test/fixtures/tools/ (README.md
 * there says which were captured and which reconstructed, per tool version). Every expected value
 * is a literal read from the fixture (or, for a metric, worked out from the fixture's numbers by
 * hand and written down), never recomputed with the code under test.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import type { TrialContext } from '../../contracts/suite.js';
import type { ProvisionedTarget, ServiceSpec } from '../../contracts/target.js';
import type { CommandOutcome } from '../../core/exec.js';
import type { HostFacts } from '../../results/schema.js';
import { firstJsonDocument, parseJsonOutput, ToolOutputError } from '../../suites/parse-error.js';
import { parseFio } from '../../suites/random-io/fio.js';
import { ioMetrics, randomIoSuite } from '../../suites/random-io/index.js';
import { bulkMetrics, tcpBulkSuite } from '../../suites/tcp-bulk/index.js';
import { parseIperf3 } from '../../suites/tcp-bulk/iperf3.js';
import { parsePerfCycles, withCycleCounter } from '../../suites/tcp-bulk/perf-stat.js';
import { latencyMetrics, tcpRrSuite } from '../../suites/tcp-rr/index.js';
import { parseSockperfPingPong } from '../../suites/tcp-rr/sockperf.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/tools/${name}`, import.meta.url), 'utf8');

/** Equal to 12 significant digits: for values derived by division, where the last bit may differ. */
function assertNear(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined, `${what} is missing`);
  assert.ok(Math.abs(actual - expected) <= Math.abs(expected) * 1e-12, `${what}: ${actual} is not ${expected}`);
}

/** The same names in the same order, each value equal to 12 significant digits. */
function assertPairs(actual: ReadonlyArray<readonly [string | number, number]>, expected: ReadonlyArray<readonly [string | number, number]>): void {
  assert.deepEqual(actual.map(([key]) => key), expected.map(([key]) => key));
  for (const [index, [key, value]] of expected.entries()) assertNear(actual[index]![1], value, String(key));
}

// ---------------------------------------------------------------- JSON streams

test('first JSON document: notes before it and a second copy after it are not read', () => {
  const span = firstJsonDocument('tool', 'fio: note: something\n{"a": "}{", "b": [1, {"c": "\\"}"}]}\n{"a": 2}\n');
  assert.deepEqual(span, { json: '{"a": "}{", "b": [1, {"c": "\\"}"}]}', start: 21, trailing: '{"a": 2}' });
  assert.equal(firstJsonDocument('tool', 'no json here { not at a line start'), null);
});

test('first JSON document: a cut-short stream, invalid JSON and a schema mismatch quote what did not fit', () => {
  assert.throws(() => firstJsonDocument('iperf3', '{\n "start": {"version": "iperf 3.17"'), {
    name: 'ToolOutputError',
    message: 'unexpected iperf3 output: JSON cut short after 36 characters, ending: { "start": {"version": "iperf 3.17"',
  });
  assert.throws(() => parseJsonOutput('iperf3', '{"lost_percent": -nan}', z.object({})), {
    name: 'ToolOutputError',
    message: 'unexpected iperf3 output: not JSON: No number after minus sign in JSON at position 18 near: {"lost_percent": -nan}',
  });
  assert.throws(() => parseJsonOutput('fio', '{"jobs": [{"read": {"iops": "93k"}}]}', z.object({ jobs: z.array(z.object({ read: z.object({ iops: z.number() }) })) })), {
    name: 'ToolOutputError',
    message: 'unexpected fio output: jobs.0.read.iops: Invalid input: expected number, received string (found "93k")',
  });
});

// ---------------------------------------------------------------- iperf3

test('iperf3 3.12: client-to-server report gives receiver goodput and bytes including the omitted warm-up', () => {
  const result = parseIperf3(fixture('iperf3-client-to-server.json'));
  assert.deepEqual(result, {
    reverse: false,
    streams: 1,
    receivedBitsPerSecond: 25236205123.33938,
    measuredSeconds: 2.002483,
    retransmits: 12,
    // The three intervals' sum.bytes, the first (omitted) one included.
    bytesIncludingWarmup: 9383444480,
  });
});

test('iperf3 3.12: a --reverse run is recognised', () => {
  const result = parseIperf3(fixture('iperf3-server-to-client.json'));
  assert.equal(result.reverse, true);
  assert.equal(result.receivedBitsPerSecond, 25389281132.0283);
  assert.equal(result.bytesIncludingWarmup, 9545187328);
  assert.equal(result.retransmits, 8);
});

test('iperf3 3.16-3.17: the --json document printed twice is judged on its first copy', () => {
  const once = parseIperf3(fixture('iperf3-3.12-loopback.json'));
  const twice = parseIperf3(fixture('iperf3-json-twice-as-3.17.json'));
  assert.deepEqual(twice, {
    reverse: false,
    streams: 1,
    receivedBitsPerSecond: 14983832948.040182,
    measuredSeconds: 1.00443,
    retransmits: 0,
    bytesIncludingWarmup: 1884815360,
  });
  assert.deepEqual(twice, once);
});

test('iperf3: an error report, non-JSON and a missing field are clear errors', () => {
  assert.throws(() => parseIperf3('{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}'), {
    name: 'ToolOutputError',
    message: 'unexpected iperf3 output: unable to connect to server: Connection refused',
  });
  assert.throws(() => parseIperf3('iperf3: error - unable to connect'), {
    name: 'ToolOutputError',
    message: 'unexpected iperf3 output: not JSON: iperf3: error - unable to connect',
  });
  assert.throws(() => parseIperf3('{"start":{"test_start":{}}}'), {
    name: 'ToolOutputError',
    message: 'unexpected iperf3 output: start.test_start.reverse: Invalid input: expected number, received undefined (found nothing)',
  });
});

test('iperf3: a receiver that got nothing is refused, quoting its sum', () => {
  const report = JSON.parse(fixture('iperf3-3.12-loopback.json'));
  report.end.sum_received = { start: 0, end: 0, seconds: 0, bytes: 0, bits_per_second: 0, sender: true };
  assert.throws(() => parseIperf3(JSON.stringify(report)), {
    message: 'unexpected iperf3 output: the receiver got no data: end.sum_received is {"seconds":0,"bytes":0,"bits_per_second":0}',
  });
});

// ---------------------------------------------------------------- tcp-bulk metrics

const WINDOW = { elapsedSeconds: 3, hosts: [{ host: null, busySeconds: 3, busyFraction: 0.5 }], sources: [{ source: 'container', seconds: 1.5 }], harnessSeconds: 0.01 };

test('tcp-bulk metrics, host without counters: CPU per byte, and cycles estimated from a 2000 MHz clock', () => {
  const metrics = bulkMetrics(parseIperf3(fixture('iperf3-client-to-server.json')), WINDOW, 2000, null);
  assert.deepEqual(metrics.map((metric) => metric.name), [
    'throughput_gbps', 'cpu_ns_per_byte', 'est_cycles_per_byte', 'cpu_ns_per_byte_container', 'retransmits',
  ]);
  const byName = new Map(metrics.map((metric) => [metric.name, metric]));
  // 25236205123.33938 bit/s; 3 s busy over 9383444480 bytes = 0.31971202114471 ns/byte; x 2 cycles/ns; 1.5 s for the container.
  assertNear(byName.get('throughput_gbps')?.value, 25.23620512333938, 'throughput_gbps');
  assertNear(byName.get('cpu_ns_per_byte')?.value, 0.3197120211447129, 'cpu_ns_per_byte');
  assertNear(byName.get('est_cycles_per_byte')?.value, 0.6394240422894258, 'est_cycles_per_byte');
  assertNear(byName.get('cpu_ns_per_byte_container')?.value, 0.15985601057235646, 'cpu_ns_per_byte_container');
  assert.equal(byName.get('retransmits')?.value, 12);
  assert.equal(byName.get('est_cycles_per_byte')?.method, 'estimated: proc-stat CPU time x nominal clock (no hardware counters)');
});

test('tcp-bulk metrics in lab mode: CPU per byte of each named host, no whole-host figure and no estimate', () => {
  const lab = { ...WINDOW, hosts: [{ host: 'sut', busySeconds: 3, busyFraction: 0.5 }, { host: 'peer', busySeconds: 1.5, busyFraction: 0.2 }], sources: [] };
  const metrics = bulkMetrics(parseIperf3(fixture('iperf3-client-to-server.json')), lab, 2000, null);
  assert.deepEqual(metrics.map((metric) => metric.name), ['throughput_gbps', 'cpu_ns_per_byte_host sut', 'cpu_ns_per_byte_host peer', 'retransmits']);
  const byName = new Map(metrics.map((metric) => [metric.name, metric]));
  assertNear(byName.get('cpu_ns_per_byte_host sut')?.value, 0.3197120211447129, 'sut');
  assertNear(byName.get('cpu_ns_per_byte_host peer')?.value, 0.15985601057235646, 'peer');
  assert.equal(byName.get('cpu_ns_per_byte_host sut')?.method, 'proc-stat of host sut: its busy CPU time / bytes');
});

test('tcp-bulk metrics, host with counters: counted cycles, never the estimate', () => {
  const result = parseIperf3(fixture('iperf3-client-to-server.json'));
  const counted = bulkMetrics(result, WINDOW, 2000, parsePerfCycles(fixture('perf-stat-cycles-counted.txt')));
  const byName = new Map(counted.map((metric) => [metric.name, metric]));
  // 21873456912 cycles over 9383444480 bytes.
  assertNear(byName.get('cycles_per_byte')?.value, 2.3310690395857705, 'cycles_per_byte');
  assert.equal(byName.get('cycles_per_byte')?.method, 'perf stat --all-cpus -e cycles');
  assert.equal(byName.has('est_cycles_per_byte'), false);
});

test('tcp-bulk metrics: <not counted> and <not supported> under perf leave cycles not measured, with no estimate in their place', () => {
  const result = parseIperf3(fixture('iperf3-client-to-server.json'));
  for (const name of ['perf-stat-cycles-not-counted.txt', 'perf-stat-cycles-not-supported.txt']) {
    const metrics = bulkMetrics(result, WINDOW, 2000, parsePerfCycles(fixture(name)));
    assert.deepEqual(metrics.map((metric) => metric.name), ['throughput_gbps', 'cpu_ns_per_byte', 'cpu_ns_per_byte_container', 'retransmits'], name);
  }
});

// ---------------------------------------------------------------- perf stat

test('perf stat: a counted cycles line, and a hybrid CPU whose two PMUs are summed', () => {
  assert.deepEqual(parsePerfCycles(fixture('perf-stat-cycles-counted.txt')), {
    state: 'counted',
    cycles: 21873456912,
    lines: ['21873456912,,cycles,10012345678,100.00,,'],
  });
  const hybrid = parsePerfCycles(fixture('perf-stat-cycles-hybrid.txt'));
  assert.equal(hybrid.state, 'counted');
  // 9634012877 (cpu_core) + 1423980512 (cpu_atom).
  assert.equal(hybrid.state === 'counted' && hybrid.cycles, 11057993389);
});

test('perf stat: <not counted> (counter never scheduled) and <not supported> (no counter) are told apart', () => {
  assert.deepEqual(parsePerfCycles(fixture('perf-stat-cycles-not-counted.txt')), { state: 'not-counted', lines: ['<not counted>,,cycles,0,0.00,,'] });
  assert.deepEqual(parsePerfCycles(fixture('perf-stat-cycles-not-supported.txt')), { state: 'not-supported', lines: ['<not supported>,,cycles,0,100.00,,'] });
  // One PMU of a hybrid CPU not counted: the sum would be short, so the run's cycles are not measured.
  const partly = '9634012877,,cpu_core/cycles/,8010234561,100.00,,\n<not counted>,,cpu_atom/cycles/,0,0.00,,\n';
  assert.equal(parsePerfCycles(partly).state, 'not-counted');
});

test('perf stat: the measured command\'s own stderr lines and event modifiers do not get in the way', () => {
  const stderr = 'iperf3: interrupt - the client has terminated\n21873456912,,cycles:u,10012345678,100.00,,\n';
  assert.equal(parsePerfCycles(stderr).state === 'counted' && parsePerfCycles(stderr).lines[0], '21873456912,,cycles:u,10012345678,100.00,,');
  assert.deepEqual(parsePerfCycles('4000,,cpu-cycles,1000,100.00,,').state, 'counted');
});

test('perf stat: no cycles line or a value that is not a count quotes the line', () => {
  assert.throws(() => parsePerfCycles('perf: command not found\n'), {
    name: 'ToolOutputError',
    message: 'unexpected perf stat output: no cycles line; the output ends: perf: command not found',
  });
  assert.throws(() => parsePerfCycles('1,234,cycles,1000,100.00,,\n12e9,,cycles,1000,100.00,,'), {
    message: 'unexpected perf stat output: cycles is not a count: 12e9,,cycles,1000,100.00,,',
  });
  assert.deepEqual(withCycleCounter(['iperf3', '--client', '198.18.0.1']), [
    'perf', 'stat', '--all-cpus', '--field-separator', ',', '--event', 'cycles', '--', 'iperf3', '--client', '198.18.0.1',
  ]);
});

// ---------------------------------------------------------------- sockperf

test('sockperf 3.7 (Debian 12): TCP ping-pong with --full-rtt, ANSI colours stripped', () => {
  const result = parseSockperfPingPong(fixture('sockperf-3.7-pp-tcp.txt'));
  assert.equal(result.meanRttUs, 16.384);
  assert.equal(result.sdRttUs, 15.367);
  assert.deepEqual([...result.percentilesUs], [
    [99.999, 1754.198], [99.99, 607.993], [99.9, 77.233], [99, 30.244], [90, 18.827], [75, 15.933], [50, 15.192], [25, 15.082],
  ]);
  assert.equal(result.roundTrips, 94469);
  assert.equal(result.validSeconds, 1.55);
  assert.equal(result.dropped, 0);
});

test('sockperf 3.7: UDP ping-pong', () => {
  const result = parseSockperfPingPong(fixture('sockperf-3.7-pp-udp.txt'));
  assert.equal(result.meanRttUs, 14.353);
  assert.equal(result.sdRttUs, 35.199);
  assert.equal(result.percentilesUs.get(99), 42.082);
  assert.equal(result.roundTrips, 38285);
  assert.equal(result.validSeconds, 0.55);
});

test('sockperf 3.8-3.10: the avg-rtt line with mean-ad, median-ad, siqr, cv, std-error and ci reads as mean 54.960 us, sd 33.842', () => {
  const result = parseSockperfPingPong(fixture('sockperf-3.10-pp-tcp.txt'));
  assert.equal(result.meanRttUs, 54.96);
  assert.equal(result.sdRttUs, 33.842);
  assert.equal(result.percentilesUs.get(50), 53.078);
  assert.equal(result.percentilesUs.get(99.9), 247.546);
  assert.equal(result.roundTrips, 28192);
  assert.equal(result.validSeconds, 1.55);
  const metrics = latencyMetrics(result);
  assertPairs(metrics.map((metric) => [metric.name, metric.value]), [
    ['latency_mean_us', 54.96],
    ['latency_p50_us', 53.078],
    ['latency_p90_us', 60.149],
    ['latency_p99_us', 87.549],
    ['latency_p999_us', 247.546],
    // 28192 round trips in 1.550 s.
    ['transactions_per_s', 18188.387096774193],
  ]);
});

test('sockperf: no round trips is sockperf\'s own words, never a measurement', () => {
  assert.throws(() => parseSockperfPingPong(fixture('sockperf-3.7-pp-udp-no-server.txt')), {
    name: 'ToolOutputError',
    message: 'unexpected sockperf output: no round trips were measured: No messages were received from the server. Is the server down?',
  });
  const noValid = fixture('sockperf-3.7-pp-tcp.txt').replace(/sockperf: \[Valid Duration\][^]*$/, 'sockperf: No valid observations found. Try tune parameters: --time/--mps/--reply-every\n');
  assert.throws(() => parseSockperfPingPong(noValid), {
    message: 'unexpected sockperf output: no round trips were measured: No valid observations found. Try tune parameters: --time/--mps/--reply-every',
  });
});

test('sockperf: one-way latency, an unreadable avg-rtt line and garbage quote the line', () => {
  const oneWay = fixture('sockperf-3.7-pp-tcp.txt').replace('avg-rtt', 'avg-latency');
  assert.throws(() => parseSockperfPingPong(oneWay), {
    message: 'unexpected sockperf output: latency is one-way (avg-latency=16.384 (std-dev=15.367)): the client must run with --full-rtt',
  });
  const garbled = fixture('sockperf-3.10-pp-tcp.txt').replace('std-dev=33.842', 'stddev=33.842');
  assert.throws(() => parseSockperfPingPong(garbled), {
    message: /^unexpected sockperf output: avg-rtt line does not read as a mean and std-dev: avg-rtt=54\.960 \(stddev=33\.842, mean-ad=12\.400/,
  });
  assert.throws(() => parseSockperfPingPong('sockperf: ERROR: Can`t connect socket (errno=111 Connection refused)'), {
    message: 'unexpected sockperf output: no avg-rtt line; the output ends: sockperf: ERROR: Can`t connect socket (errno=111 Connection refused)',
  });
});

// ---------------------------------------------------------------- fio

test('fio 3.33: random read job with the full percentile list', () => {
  const result = parseFio(fixture('fio-randread.json'));
  assert.equal(result.version, 'fio-3.33');
  assert.equal(result.jobName, 'randread');
  assert.equal(result.write, null);
  assert.equal(result.read!.iops, 93059.970015);
  assert.equal(result.read!.bytesPerSecond, 381235046);
  assert.equal(result.read!.totalIos, 186213);
  assertNear(result.read!.clatMeanUs, 339.759655783, 'clatMeanUs');
  assertPairs([...result.read!.clatPercentilesUs], [
    [1, 222.208], [5, 232.448], [10, 236.544], [50, 317.44], [90, 411.648], [99, 493.568], [99.9, 4014.08],
  ]);
  const metrics = ioMetrics(result, true);
  assertPairs(metrics.map((metric) => [metric.name, metric.value]), [
    ['iops', 93059.970015],
    ['bandwidth_mb_s', 381.235046],
    ['clat_mean_us', 339.759655783],
    ['clat_p1_us', 222.208],
    ['clat_p5_us', 232.448],
    ['clat_p10_us', 236.544],
    ['clat_p50_us', 317.44],
    ['clat_p90_us', 411.648],
    ['clat_p99_us', 493.568],
    ['clat_p99.9_us', 4014.08],
  ]);
});

test('fio 3.33: the randread-latency point as isobench runs it', () => {
  const result = parseFio(fixture('fio-3.33-randread-latency.json'));
  assert.equal(result.jobName, 'randread-latency');
  assert.equal(result.read!.totalIos, 55572);
  assert.equal(result.read!.iops, 55516.483516);
  assertNear(result.read!.clatMeanUs, 282.127929768, 'clatMeanUs');
  assert.equal(result.read!.clatPercentilesUs.size, 17);
  assertNear(result.read!.clatPercentilesUs.get(99.99), 41156.608, 'p99.99');
});

test('fio: a mixed job sums both directions, keeps each, and takes latency from the reads', () => {
  const metrics = new Map(ioMetrics(parseFio(fixture('fio-randrw70.json')), false).map((metric) => [metric.name, metric.value]));
  // 59780.21978 + 25641.358641 IOPS; (244953894 + 105055648) bytes/s.
  assertNear(metrics.get('iops'), 85421.578421, 'iops');
  assertNear(metrics.get('bandwidth_mb_s'), 350.009542, 'bandwidth_mb_s');
  assert.equal(metrics.get('read_iops'), 59780.21978);
  assert.equal(metrics.get('write_iops'), 25641.358641);
  assertNear(metrics.get('clat_mean_us'), 359.09574592, 'clat_mean_us');
  assertNear(metrics.get('clat_p99_us'), 1073.152, 'clat_p99_us');
});

test('fio: I/O done with every clat_ns statistic 0 is refused, never stored as 0 us', () => {
  // fio-3.33-randread-latency-no-clat.json is the real capture above with only read.clat_ns zeroed
  // the way fio prints a latency it recorded no sample of (no percentile object): see the fixtures' README.
  assert.throws(() => parseFio(fixture('fio-3.33-randread-latency-no-clat.json')), {
    name: 'ToolOutputError',
    message: 'unexpected fio output: job randread-latency read did 55572 I/Os (read.total_ios) but recorded no completion latency: read.clat_ns is {"min":0,"max":0,"mean":0,"stddev":0,"N":0}',
  });
  // The same with fio's percentiles printed as zeros and no N (older fio).
  const report = JSON.parse(fixture('fio-randread.json'));
  report.jobs[0].read.clat_ns = { min: 0, max: 0, mean: 0, stddev: 0, percentile: { '50.000000': 0, '99.000000': 0 } };
  assert.throws(() => parseFio(JSON.stringify(report)), /job randread read did 186213 I\/Os \(read\.total_ios\) but recorded no completion latency/);
  // One percentile of 0 ns beside real ones.
  const oneZero = JSON.parse(fixture('fio-randread.json'));
  oneZero.jobs[0].read.clat_ns.percentile['1.000000'] = 0;
  assert.throws(() => parseFio(JSON.stringify(oneZero)), {
    message: 'unexpected fio output: job randread read: read.clat_ns.percentile["1.000000"] is 0 ns with 186213 I/Os done',
  });
});

test('fio: job errors, no I/O, empty output, notes before the JSON and text after it', () => {
  const report = JSON.parse(fixture('fio-randread.json'));
  report.jobs[0].error = 5;
  assert.throws(() => parseFio(JSON.stringify(report)), { message: 'unexpected fio output: job randread ended with error 5' });
  const idle = JSON.parse(fixture('fio-randread.json'));
  idle.jobs[0].read.total_ios = 0;
  assert.throws(() => parseFio(JSON.stringify(idle)), { message: 'unexpected fio output: job randread completed no I/O: read.total_ios 0, write.total_ios 0' });
  assert.throws(() => parseFio(''), { message: 'unexpected fio output: not JSON: (empty)' });
  const noted = `fio: note: both iodepth >= 1 and synchronous I/O engine are selected\n${fixture('fio-randread.json')}fio: file hash not empty on exit\n`;
  assert.equal(parseFio(noted).read!.totalIos, 186213);
});

test('every parse error is a ToolOutputError', () => {
  assert.throws(() => parseFio('{'), ToolOutputError);
  assert.throws(() => parseSockperfPingPong(''), ToolOutputError);
  assert.throws(() => parsePerfCycles(''), ToolOutputError);
  assert.throws(() => parseIperf3(''), ToolOutputError);
});

// ---------------------------------------------------------------- what a suite makes of it

/**
 * A trial context whose client and target replay fixtures: the one client command's stdout and
 * stderr, a fixed CPU window, and a host with or without counters.
 */
function replayContext(output: { stdout: string; stderr?: string }, perfCounters: boolean): TrialContext<never, undefined> {
  const outcome = (command: readonly string[]): CommandOutcome => ({
    command, ok: true, exitCode: 0, signal: null, timedOut: false, stdout: output.stdout, stderr: output.stderr ?? '', durationMs: 1,
  });
  const target = {
    name: 'native',
    serverAddress: '198.18.0.1',
    dataDirectory: '/var/tmp/isobench-unit',
    exec: async (command: readonly string[]) => outcome(command),
    startService: async (spec: ServiceSpec) => ({ spec, command: spec.command({ address: '198.18.0.1', port: spec.port }), stop: async () => {} }),
    cpuCounters: async () => [],
  } as unknown as ProvisionedTarget;
  return {
    target,
    client: { exec: async (command: readonly string[]) => outcome(command), wrap: (command: readonly string[]) => ['netns', ...command] },
    config: { quick: true, cores: 2, options: undefined as never },
    host: { perfCounters, cpuMHz: 2000 } as HostFacts,
    cpu: { start: async () => async () => ({ ...WINDOW, sources: [] }) },
    verifyDestination: async () => {},
    state: undefined,
  };
}

test('tcp-bulk trial on a host with counters: <not counted> completes without cycles and without the estimate', async () => {
  const [point] = tcpBulkSuite.points({ quick: true, cores: 2, options: { streams: 1 } });
  const context = replayContext({ stdout: fixture('iperf3-json-twice-as-3.17.json'), stderr: fixture('perf-stat-cycles-not-counted.txt') }, true);
  const outcome = await tcpBulkSuite.runTrial(point!, context);
  assert.equal(outcome.state, 'completed');
  assert.deepEqual(outcome.state === 'completed' && outcome.metrics.map((metric) => metric.name), ['throughput_gbps', 'cpu_ns_per_byte', 'retransmits']);
  assert.deepEqual(outcome.commands[1]!.slice(0, 9), ['netns', 'perf', 'stat', '--all-cpus', '--field-separator', ',', '--event', 'cycles', '--']);
});

test('tcp-bulk trial on a host without counters: perf does not run and cycles are estimated', async () => {
  const [point] = tcpBulkSuite.points({ quick: true, cores: 2, options: { streams: 1 } });
  const context = replayContext({ stdout: fixture('iperf3-3.12-loopback.json') }, false);
  const outcome = await tcpBulkSuite.runTrial(point!, context);
  assert.deepEqual(outcome.state === 'completed' && outcome.metrics.map((metric) => metric.name), ['throughput_gbps', 'cpu_ns_per_byte', 'est_cycles_per_byte', 'retransmits']);
  assert.equal(outcome.commands[1]![1], 'iperf3');
});

test('tcp-rr trial: sockperf 3.10 completes with its mean; no round trips is a failed trial with sockperf\'s words', async () => {
  const [point] = tcpRrSuite.points({ quick: true, cores: 2, options: {} });
  const measured = await tcpRrSuite.runTrial(point!, replayContext({ stdout: fixture('sockperf-3.10-pp-tcp.txt') }, false));
  assert.equal(measured.state === 'completed' && measured.metrics[0]!.value, 54.96);
  const empty = await tcpRrSuite.runTrial(point!, replayContext({ stdout: fixture('sockperf-3.7-pp-udp-no-server.txt') }, false));
  assert.deepEqual(empty.state === 'failed' && empty.reason, 'unexpected sockperf output: no round trips were measured: No messages were received from the server. Is the server down?');
});

test('random-io trial: I/O with no recorded completion latency is a failed trial naming the fields, not 0 us', async () => {
  const point = randomIoSuite.points({ quick: true, cores: 2, options: {} }).find((candidate) => candidate.id === 'randread-latency')!;
  const outcome = await randomIoSuite.runTrial(point, replayContext({ stdout: fixture('fio-3.33-randread-latency-no-clat.json') }, false));
  assert.equal(outcome.state, 'failed');
  assert.match(outcome.state === 'failed' ? outcome.reason : '', /^unexpected fio output: job randread-latency read did 55572 I\/Os \(read\.total_ios\) but recorded no completion latency: read\.clat_ns is \{"min":0/);
});
