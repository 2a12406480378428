import { z } from 'zod';
import type { Suite } from '../../contracts/suite.js';
import { TCP_RR_METRICS as M, type MetricDefinition } from '../../results/metrics.js';
import type { MetricSample } from '../../results/schema.js';
import { failedTrial, outcomeFromTool, sample } from '../trial-helpers.js';
import { parseSockperfPingPong, type SockperfResult } from './sockperf.js';

/** The sockperf server's port, tcp and udp alike. */
export const SOCKPERF_PORT = 11111;
/** Seconds of one ping-pong trial with `--quick` (sockperf's warm-up included: it discards it itself). */
export const QUICK_SECONDS = 3;
/** Seconds of one trial with `--full`: the papers' 60 s runs (README, "Quick start"). */
export const FULL_SECONDS = 60;
/**
 * The paper's netperf RR used a 100-byte request and a 200-byte response. netperf is not in Debian
 * main, and sockperf's ping-pong echoes the request's size: isobench sends 100 bytes both ways.
 */
export const MESSAGE_BYTES = 100;

const PROTOCOLS = ['tcp', 'udp'] as const;
const REPORTED_PERCENTILES: ReadonlyArray<[number, MetricDefinition]> = [
  [50, M.latencyP50],
  [90, M.latencyP90],
  [99, M.latencyP99],
  [99.9, M.latencyP999],
];

/** One sockperf ping-pong run: `messageBytes` each way for `seconds`. */
export const TcpRrParams = z.object({
  protocol: z.enum(PROTOCOLS),
  messageBytes: z.number().int().positive(),
  seconds: z.number().positive(),
});
/** A parsed TcpRrParams. */
export type TcpRrParams = z.infer<typeof TcpRrParams>;

/**
 * Felter et al. 2014's network round-trip latency: a sockperf server in the target per trial and
 * `sockperf ping-pong --full-rtt` from the client namespace, one point per protocol (TCP, UDP).
 * Headline: `latency_mean_us`. No options of its own.
 */
export const tcpRrSuite: Suite<TcpRrParams, Record<string, never>> = {
  name: 'tcp-rr',
  description: 'request/response round-trip latency, TCP and UDP, with sockperf ping-pong',
  figure: 'Felter et al. 2014, Fig. "Network round-trip latency"',
  firstLook: ['tcp'],
  hostTools: [{ command: 'sockperf', debianPackage: 'sockperf', why: 'for the tcp-rr suite' }],
  ports: [{ port: SOCKPERF_PORT, protocols: ['tcp', 'udp'], why: 'sockperf (tcp-rr)' }],
  flags: [],
  options: z.object({}),
  params: TcpRrParams,

  points(config) {
    const seconds = config.quick ? QUICK_SECONDS : FULL_SECONDS;
    return PROTOCOLS.map((protocol) => ({ id: protocol, params: { protocol, messageBytes: MESSAGE_BYTES, seconds }, headline: M.latencyMean }));
  },

  async runTrial(point, context) {
    const { target, client } = context;
    const protocol = point.params.protocol;
    const protocolFlag = protocol === 'tcp' ? ['--tcp'] : [];
    const commands: string[][] = [];
    let service;
    try {
      service = await target.startService({
        name: `sockperf-${protocol}`,
        port: SOCKPERF_PORT,
        protocols: [protocol],
        command: ({ address, port }) => ['sockperf', 'server', '--ip', address, '--port', String(port), ...protocolFlag],
        timeoutMs: (point.params.seconds + 60) * 1000,
      });
      commands.push([...service.command]);
      await context.verifyDestination(target.serverAddress);
      const clientCommand = [
        'sockperf', 'ping-pong', '--ip', target.serverAddress, '--port', String(SOCKPERF_PORT), ...protocolFlag,
        '--msg-size', String(point.params.messageBytes), '--time', String(point.params.seconds), '--full-rtt',
      ];
      commands.push(client.wrap(clientCommand));
      const outcome = await client.exec(clientCommand, { timeoutMs: (point.params.seconds + 30) * 1000 });
      return outcomeFromTool(outcome, commands, (stdout) => latencyMetrics(parseSockperfPingPong(stdout)));
    } catch (error) {
      return failedTrial(error, commands);
    } finally {
      await service?.stop();
    }
  },
};

/**
 * One trial's samples: mean round trip and the 50th, 90th, 99th and 99.9th percentiles that sockperf
 * printed (µs), and `transactions_per_s` = round trips / seconds of sockperf's valid duration (its
 * warm-up excluded).
 */
export function latencyMetrics(result: SockperfResult): MetricSample[] {
  const method = 'sockperf ping-pong --full-rtt';
  const metrics: MetricSample[] = [sample(M.latencyMean, result.meanRttUs, method)];
  for (const [percentile, definition] of REPORTED_PERCENTILES) {
    const value = result.percentilesUs.get(percentile);
    if (value !== undefined) metrics.push(sample(definition, value, method));
  }
  metrics.push(sample(M.transactionsPerSecond, result.roundTrips / result.validSeconds, method));
  return metrics;
}
