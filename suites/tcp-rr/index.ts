import type { MetricSample } from '../../results/schema.js';
import { failedTrial, outcomeFromTool } from '../trial-helpers.js';
import type { Suite, SuiteConfig, SuitePoint, TrialContext, TrialOutcome } from '../types.js';
import { parseSockperfPingPong, type SockperfResult } from './sockperf.js';

export const SOCKPERF_PORT = 11111;
export const QUICK_SECONDS = 3;
export const FULL_SECONDS = 60;
/**
 * The paper's netperf RR used a 100-byte request and a 200-byte response. netperf is not in Debian
 * main, and sockperf's ping-pong echoes the request's size: isobench sends 100 bytes both ways.
 */
export const MESSAGE_BYTES = 100;

const PROTOCOLS = ['tcp', 'udp'] as const;
const REPORTED_PERCENTILES: ReadonlyArray<[number, string]> = [
  [50, 'latency_p50_us'],
  [90, 'latency_p90_us'],
  [99, 'latency_p99_us'],
  [99.9, 'latency_p999_us'],
];

export const tcpRrSuite: Suite = {
  name: 'tcp-rr',
  description: 'request/response round-trip latency, TCP and UDP, with sockperf ping-pong',
  figure: 'Felter et al. 2014, Fig. "Network round-trip latency"',
  hostTools: [{ command: 'sockperf', debianPackage: 'sockperf', why: 'for the tcp-rr suite' }],

  points(config: SuiteConfig): SuitePoint[] {
    const seconds = config.quick ? QUICK_SECONDS : FULL_SECONDS;
    return PROTOCOLS.map((protocol) => ({ id: protocol, params: { protocol, messageBytes: MESSAGE_BYTES, seconds } }));
  },

  async runTrial(point: SuitePoint, context: TrialContext): Promise<TrialOutcome> {
    const { target, client } = context;
    const protocol = point.params.protocol === 'tcp' ? 'tcp' : 'udp';
    const protocolFlag = protocol === 'tcp' ? ['--tcp'] : [];
    const commands: string[][] = [];
    let service;
    try {
      service = await target.startService({
        name: `sockperf-${protocol}`,
        port: SOCKPERF_PORT,
        protocols: [protocol],
        command: ({ address, port }) => ['sockperf', 'server', '--ip', address, '--port', String(port), ...protocolFlag],
        timeoutMs: (Number(point.params.seconds) + 60) * 1000,
      });
      commands.push([...service.command]);
      await context.verifyDestination(target.serverAddress);
      const clientCommand = [
        'sockperf', 'ping-pong', '--ip', target.serverAddress, '--port', String(SOCKPERF_PORT), ...protocolFlag,
        '--msg-size', String(point.params.messageBytes), '--time', String(point.params.seconds), '--full-rtt',
      ];
      commands.push(client.wrap(clientCommand));
      const outcome = await client.exec(clientCommand, { timeoutMs: (Number(point.params.seconds) + 30) * 1000 });
      return outcomeFromTool(outcome, commands, (stdout) => latencyMetrics(parseSockperfPingPong(stdout)));
    } catch (error) {
      return failedTrial(error, commands);
    } finally {
      await service?.stop();
    }
  },
};

export function latencyMetrics(result: SockperfResult): MetricSample[] {
  const method = 'sockperf ping-pong --full-rtt';
  const metrics: MetricSample[] = [{ name: 'latency_mean_us', unit: 'µs', value: result.meanRttUs, method }];
  for (const [percentile, name] of REPORTED_PERCENTILES) {
    const value = result.percentilesUs.get(percentile);
    if (value !== undefined) metrics.push({ name, unit: 'µs', value, method });
  }
  metrics.push({ name: 'transactions_per_s', unit: 'tx/s', value: result.roundTrips / result.validSeconds, method });
  return metrics;
}
