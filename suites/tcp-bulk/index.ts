import type { CpuWindow } from '../../core/cpu-meter.js';
import type { MetricSample } from '../../results/schema.js';
import { failedTrial, outcomeFromTool } from '../trial-helpers.js';
import type { Suite, SuiteConfig, SuitePoint, TrialContext, TrialOutcome } from '../types.js';
import { parseIperf3, type Iperf3Result } from './iperf3.js';
import { parsePerfCycles, withCycleCounter } from './perf-stat.js';

export const IPERF3_PORT = 5201;
export const QUICK_SECONDS = 4;
export const FULL_SECONDS = 60;
/** The first second is TCP's slow start and is not recorded (iperf3 --omit). */
export const WARMUP_SECONDS = 1;

const DIRECTIONS = ['client-to-server', 'server-to-client'] as const;

export const tcpBulkSuite: Suite = {
  name: 'tcp-bulk',
  description: 'TCP bulk throughput both directions with iperf3, and CPU time per byte moved',
  figure: 'Felter et al. 2014, Fig. "TCP bulk transfer throughput" and "TCP bulk transfer efficiency"',
  hostTools: [{ command: 'iperf3', debianPackage: 'iperf3', why: 'for the tcp-bulk suite' }],

  points(config: SuiteConfig): SuitePoint[] {
    const streams = Number(config.options.streams ?? 1);
    const seconds = config.quick ? QUICK_SECONDS : FULL_SECONDS;
    return DIRECTIONS.map((direction) => ({ id: direction, params: { direction, streams, seconds } }));
  },

  async runTrial(point: SuitePoint, context: TrialContext): Promise<TrialOutcome> {
    const { target, client } = context;
    const commands: string[][] = [];
    let service;
    try {
      service = await target.startService({
        name: 'iperf3',
        port: IPERF3_PORT,
        protocols: ['tcp'],
        command: ({ address, port }) => ['iperf3', '--server', '--bind', address, '--port', String(port), '--one-off'],
        timeoutMs: (Number(point.params.seconds) + 60) * 1000,
      });
      commands.push([...service.command]);
      await context.verifyDestination(target.serverAddress);
      const clientCommand = [
        'iperf3', '--client', target.serverAddress, '--port', String(IPERF3_PORT),
        '--time', String(point.params.seconds), '--omit', String(WARMUP_SECONDS),
        '--parallel', String(point.params.streams), '--json',
        ...(point.params.direction === 'server-to-client' ? ['--reverse'] : []),
      ];
      // Where the host has hardware counters, perf counts cycles for exactly the client's lifetime.
      const countCycles = context.host.perfCounters;
      const measuredCommand = countCycles ? withCycleCounter(clientCommand) : clientCommand;
      commands.push(client.wrap(measuredCommand));
      const stop = await context.cpu.start(() => target.cpuCounters());
      const outcome = await client.exec(measuredCommand, { timeoutMs: (Number(point.params.seconds) + 30) * 1000 });
      const window = await stop();
      return outcomeFromTool(outcome, commands, (stdout) =>
        bulkMetrics(parseIperf3(stdout), window, context.host.cpuMHz, countCycles ? parsePerfCycles(outcome.stderr) : null),
      );
    } catch (error) {
      return failedTrial(error, commands);
    } finally {
      await service?.stop();
    }
  },
};

export function bulkMetrics(result: Iperf3Result, window: CpuWindow, cpuMHz: number | null, cycles: number | null): MetricSample[] {
  const nsPerByte = (seconds: number) => (seconds * 1e9) / result.bytesIncludingWarmup;
  const hostNsPerByte = nsPerByte(window.hostBusySeconds);
  const metrics: MetricSample[] = [
    { name: 'throughput_gbps', unit: 'Gbit/s', value: result.receivedBitsPerSecond / 1e9, method: 'iperf3 receiver' },
    { name: 'cpu_ns_per_byte', unit: 'ns/byte', value: hostNsPerByte, method: 'proc-stat: whole-host busy CPU time / bytes' },
  ];
  if (cycles !== null) {
    metrics.push({ name: 'cycles_per_byte', unit: 'cycles/byte', value: cycles / result.bytesIncludingWarmup, method: 'perf stat --all-cpus -e cycles' });
  } else if (cpuMHz !== null) {
    metrics.push({
      name: 'est_cycles_per_byte',
      unit: 'cycles/byte',
      value: (hostNsPerByte * cpuMHz) / 1000,
      method: 'estimated: proc-stat CPU time x nominal clock (no hardware counters)',
    });
  }
  for (const source of window.sources) {
    metrics.push({ name: `cpu_ns_per_byte_${source.source}`, unit: 'ns/byte', value: nsPerByte(source.seconds), method: source.source });
  }
  if (result.retransmits !== null) metrics.push({ name: 'retransmits', unit: 'segments', value: result.retransmits });
  return metrics;
}
