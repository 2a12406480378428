import { z } from 'zod';
import type { CpuWindow } from '../../core/cpu-meter.js';
import type { Suite, SuitePoint, TrialOutcome } from '../../contracts/suite.js';
import { cpuNsPerByteOf, hostCpuSource, TCP_BULK_METRICS as M } from '../../results/metrics.js';
import type { MetricSample } from '../../results/schema.js';
import { failedTrial, outcomeFromTool, sample } from '../trial-helpers.js';
import { parseIperf3, type Iperf3Result } from './iperf3.js';
import { parsePerfCycles, withCycleCounter, type PerfCycles } from './perf-stat.js';

/** iperf3's default port (iperf3(1), `--port`); the startup suite's probe server uses it too. */
export const IPERF3_PORT = 5201;
/** Timed seconds of one trial with `--quick` (after the warm-up second). */
export const QUICK_SECONDS = 4;
/** Timed seconds of one trial with `--full`: the papers' 60 s runs (README, "Quick start"). */
export const FULL_SECONDS = 60;
/** The first second is TCP's slow start and is not recorded (iperf3 --omit). */
export const WARMUP_SECONDS = 1;

const DIRECTIONS = ['client-to-server', 'server-to-client'] as const;

/** One direction of one iperf3 run: `seconds` of timed transfer after the warm-up, over `streams` connections. */
export const TcpBulkParams = z.object({
  direction: z.enum(DIRECTIONS),
  streams: z.number().int().min(1),
  seconds: z.number().positive(),
});
/** A parsed TcpBulkParams. */
export type TcpBulkParams = z.infer<typeof TcpBulkParams>;

// Worded to follow the flag: the usage error reads `--streams takes …`.
const STREAMS_ERROR = { error: 'takes a whole number from 1 to 128' };
/** `--streams N`: parallel TCP connections (iperf3 --parallel), 1 to 128, default 1 as in the paper. */
export const TcpBulkOptions = z.object({ streams: z.coerce.number(STREAMS_ERROR).int(STREAMS_ERROR).min(1, STREAMS_ERROR).max(128, STREAMS_ERROR).default(1) });
/** A parsed TcpBulkOptions. */
export type TcpBulkOptions = z.infer<typeof TcpBulkOptions>;

/** The iperf3 server port every target listens on (iperf3's default). */
export const IPERF3_SERVICE_PORT = { port: IPERF3_PORT, protocols: ['tcp'], why: 'iperf3 (tcp-bulk, startup)' } as const;

/**
 * Felter et al. 2014's TCP bulk throughput and efficiency: one iperf3 server per trial in the target
 * (`--one-off`), the client in the client namespace, one point per direction (server-to-client is
 * iperf3 `--reverse`). Headline: `throughput_gbps`. CPU cost is measured over the client's run,
 * with perf counting cycles where the host has hardware counters.
 */
export const tcpBulkSuite: Suite<TcpBulkParams, TcpBulkOptions> = {
  name: 'tcp-bulk',
  description: 'TCP bulk throughput both directions with iperf3, and CPU time per byte moved',
  figure: 'Felter et al. 2014, Fig. "TCP bulk transfer throughput" and "TCP bulk transfer efficiency"',
  firstLook: ['client-to-server'],
  hostTools: [{ command: 'iperf3', debianPackage: 'iperf3', why: 'for the tcp-bulk suite' }],
  ports: [IPERF3_SERVICE_PORT],
  flags: [{ name: 'streams', valueName: 'N', description: 'tcp-bulk: parallel TCP streams (iperf3 --parallel), default 1' }],
  options: TcpBulkOptions,
  params: TcpBulkParams,

  points(config) {
    const seconds = config.quick ? QUICK_SECONDS : FULL_SECONDS;
    return DIRECTIONS.map((direction) => ({ id: direction, params: { direction, streams: config.options.streams, seconds }, headline: M.throughput }));
  },

  async runTrial(point: SuitePoint<TcpBulkParams>, context) {
    const { target, client } = context;
    const commands: string[][] = [];
    let service;
    try {
      service = await target.startService({
        name: 'iperf3',
        port: IPERF3_PORT,
        protocols: ['tcp'],
        command: ({ address, port }) => ['iperf3', '--server', '--bind', address, '--port', String(port), '--one-off'],
        timeoutMs: (point.params.seconds + 60) * 1000,
      });
      commands.push([...service.command]);
      await context.verifyDestination(target.serverAddress);
      const clientCommand = [
        'iperf3', '--client', target.serverAddress, '--port', String(IPERF3_PORT),
        '--time', String(point.params.seconds), '--omit', String(WARMUP_SECONDS),
        '--parallel', String(point.params.streams), '--json',
        ...(point.params.direction === 'server-to-client' ? ['--reverse'] : []),
      ];
      // Where the host probe found hardware counters, perf counts cycles for exactly the client's
      // lifetime, in every trial of the run: the method is chosen once per host, never per trial.
      const countCycles = context.host.perfCounters;
      const measuredCommand = countCycles ? withCycleCounter(clientCommand) : clientCommand;
      commands.push(client.wrap(measuredCommand));
      const stop = await context.cpu.start(() => target.cpuCounters());
      const outcome = await client.exec(measuredCommand, { timeoutMs: (point.params.seconds + 30) * 1000 });
      const window = await stop();
      let cycles: PerfCycles | null = null;
      const trial = outcomeFromTool(outcome, commands, (stdout) => {
        cycles = countCycles ? parsePerfCycles(outcome.stderr) : null;
        return bulkMetrics(parseIperf3(stdout), window, context.host.cpuMHz, cycles);
      });
      return withCyclesDetail(trial, cycles);
    } catch (error) {
      return failedTrial(error, commands);
    } finally {
      await service?.stop();
    }
  },
};

/**
 * A completed trial whose perf run printed `<not counted>` or `<not supported>` keeps why it has no
 * cycles metric (a `cycles-not-measured` detail with perf's lines); any other outcome is returned as is.
 */
export function withCyclesDetail(trial: TrialOutcome, cycles: PerfCycles | null): TrialOutcome {
  if (trial.state !== 'completed' || cycles === null || cycles.state === 'counted') return trial;
  const reason = cycles.state === 'not-counted'
    ? 'perf printed <not counted>: the cycles counter exists but was never scheduled during the run (common in VMs, or counters in use by others); cycles not measured'
    : 'perf printed <not supported>: this host has no cycles counter; cycles not measured';
  return { ...trial, detail: { kind: 'cycles-not-measured', perf: cycles.state, reason, lines: cycles.lines } };
}

/**
 * One trial's samples:
 * - `throughput_gbps`: iperf3's receiver bits per second (warm-up omitted) / 1e9;
 * - `cpu_ns_per_byte`: whole-host busy CPU seconds × 1e9 / bytes moved. Bytes include the warm-up
 *   second because the CPU window spans the whole client run;
 * - in lab mode (the window's hosts are named) instead `cpu_ns_per_byte_host NAME` for each host, from
 *   its own /proc/stat: the two ends of the link are on two machines, so there is no one whole host;
 * - cycles (this machine only: the estimate needs its clock), by one method per host, so a point never mixes counted and estimated trials:
 *   - perf ran (`cycles` is not null, the host probe found counters): `cycles_per_byte` = perf's
 *     whole-host cycles / bytes when perf counted them; when perf printed `<not counted>` or
 *     `<not supported>` the trial's cycles are not measured and no cycles metric is stored — never
 *     the estimate, which would put another method into the same point;
 *   - perf did not run (`cycles` is null: the host has no counters): `est_cycles_per_byte` = ns per
 *     byte × `cpuMHz` / 1000 (cycles per ns at the nominal clock), labelled as an estimate, when the
 *     clock is known;
 * - `cpu_ns_per_byte_SOURCE` for each of the target's own CPU sources (cgroup, QEMU process);
 * - `retransmits` (segments, sender side) when iperf3 reports them.
 * @param cpuMHz The host's nominal clock (HostFacts.cpuMHz), or null.
 * @param cycles What perf stat said over the client's lifetime, or null when perf did not run.
 */
export function bulkMetrics(result: Iperf3Result, window: CpuWindow, cpuMHz: number | null, cycles: PerfCycles | null): MetricSample[] {
  const nsPerByte = (seconds: number) => (seconds * 1e9) / result.bytesIncludingWarmup;
  const metrics: MetricSample[] = [sample(M.throughput, result.receivedBitsPerSecond / 1e9, 'iperf3 receiver')];
  for (const host of window.hosts) {
    if (host.host !== null) {
      metrics.push(sample(cpuNsPerByteOf(hostCpuSource(host.host)), nsPerByte(host.busySeconds), `proc-stat of host ${host.host}: its busy CPU time / bytes`));
      continue;
    }
    const hostNsPerByte = nsPerByte(host.busySeconds);
    metrics.push(sample(M.cpuNsPerByte, hostNsPerByte, 'proc-stat: whole-host busy CPU time / bytes'));
    if (cycles?.state === 'counted') {
      metrics.push(sample(M.cyclesPerByte, cycles.cycles / result.bytesIncludingWarmup, 'perf stat --all-cpus -e cycles'));
    } else if (cycles === null && cpuMHz !== null) {
      metrics.push(sample(M.estimatedCyclesPerByte, (hostNsPerByte * cpuMHz) / 1000, 'estimated: proc-stat CPU time x nominal clock (no hardware counters)'));
    }
  }
  for (const source of window.sources) {
    metrics.push(sample(cpuNsPerByteOf(source.source), nsPerByte(source.seconds), source.source));
  }
  if (result.retransmits !== null) metrics.push(sample(M.retransmits, result.retransmits));
  return metrics;
}
