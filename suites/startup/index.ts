import { Bench } from 'tinybench';
import { z } from 'zod';
import type { Suite } from '../../contracts/suite.js';
import type { ProvisionedTarget, TargetService } from '../../contracts/target.js';
import { STARTUP_METRICS as M } from '../../results/metrics.js';
import type { MetricSample } from '../../results/schema.js';
import { IPERF3_PORT, IPERF3_SERVICE_PORT } from '../tcp-bulk/index.js';
import { failedTrial, sample } from '../trial-helpers.js';

/**
 * How long tinybench keeps starting fresh instances in one trial: a process starts many times in
 * it, a container a few, a TCG guest (15-20 s to boot) once.
 */
export const QUICK_BUDGET_MS = 3_000;
/** The budget with `--full`, in ms (QUICK_BUDGET_MS says why it is a budget, not a count). */
export const FULL_BUDGET_MS = 30_000;
/** The service that must answer: the same iperf3 server tcp-bulk uses, asked to move one kilobyte. */
export const PROBE_BYTES = '1K';

/** One cold-start point: tinybench starts fresh instances for `budgetMs` and waits for `service` to answer. */
export const StartupParams = z.object({ service: z.literal('iperf3'), budgetMs: z.number().positive() });
/** A parsed StartupParams. */
export type StartupParams = z.infer<typeof StartupParams>;

/**
 * The lecture's "faster deployment": how long from asking for a fresh instance of the target (a
 * process, a container, a booted guest) until its iperf3 server answers a 1 KiB exchange from the
 * client namespace. Each instance is torn down before the next. Skipped when the runner gives no
 * `launchFresh`; the instance under test is paused meanwhile. Headline: `ready_ms`.
 */
export const startupSuite: Suite<StartupParams, Record<string, never>> = {
  name: 'startup',
  description: 'time from "start" to a service that answers: a process, a container, a booted guest (tinybench)',
  figure: 'the lecture\'s "faster deployment, faster restart" (no published numbers)',
  hostTools: [{ command: 'iperf3', debianPackage: 'iperf3', why: 'as the service the startup suite waits for' }],

  ports: [IPERF3_SERVICE_PORT],
  flags: [],
  options: z.object({}),
  params: StartupParams,

  points(config) {
    return [{ id: 'cold-start', params: { service: 'iperf3', budgetMs: config.quick ? QUICK_BUDGET_MS : FULL_BUDGET_MS }, headline: M.readyMean }];
  },

  async runTrial(point, context) {
    const { launchFresh } = context;
    if (!launchFresh) return { state: 'skipped', reason: context.freshUnavailable ?? 'this runner cannot start fresh instances of the target', commands: [] };
    const commands: string[][] = [];
    let fresh: ProvisionedTarget | undefined;
    let service: TargetService | undefined;
    const stopFresh = async () => {
      await service?.stop().catch(() => {});
      await fresh?.teardown().catch(() => {});
      service = undefined;
      fresh = undefined;
    };
    // The instance under test would idle beside the fresh one (a TCG guest burns CPU doing so).
    await context.target.pause();
    try {
      const bench = new Bench({ time: point.params.budgetMs, iterations: 1, warmup: false, throws: false });
      bench.add(
        'cold start',
        async () => {
          fresh = await launchFresh();
          service = await fresh.startService({
            name: 'iperf3',
            port: IPERF3_PORT,
            protocols: ['tcp'],
            command: ({ address, port }) => ['iperf3', '--server', '--bind', address, '--port', String(port), '--one-off'],
            timeoutMs: 120_000,
          });
          await context.verifyDestination(fresh.serverAddress);
          const probe = ['iperf3', '--client', fresh.serverAddress, '--port', String(IPERF3_PORT), '--bytes', PROBE_BYTES, '--json'];
          if (commands.length === 0) commands.push([...service.command], context.client.wrap(probe));
          const outcome = await context.client.exec(probe, { timeoutMs: 30_000 });
          // iperf3 exits non-zero unless the exchange completed; a one-kilobyte test is too short for
          // its receiver statistics to mean anything, so only the answer counts.
          if (!outcome.ok) throw new Error(`the fresh ${fresh.name}'s service did not answer: ${outcome.stderr.trim() || outcome.stdout.trim()}`);
        },
        { afterEach: stopFresh },
      );
      await bench.run();
      const result = bench.tasks[0]?.result;
      if (!result || result.state !== 'completed') {
        const reason = result && 'error' in result && result.error instanceof Error ? result.error.message : `tinybench ended in state ${result?.state ?? 'unknown'}`;
        return { state: 'failed', reason, commands };
      }
      return { state: 'completed', metrics: startupMetrics(result.latency), commands };
    } catch (error) {
      return failedTrial(error, commands);
    } finally {
      await stopFresh();
      await context.target.resume();
    }
  },
};

interface LatencyStatistics {
  mean: number;
  p50: number;
  min: number;
  max: number;
  samplesCount: number;
}

/**
 * One trial's samples from tinybench's latency statistics (ms): mean, median, min and max time to a
 * first answer, and `starts`, how many fresh instances the budget allowed.
 */
export function startupMetrics(latency: LatencyStatistics): MetricSample[] {
  const method = 'tinybench: provision, start the service, first answer from the client netns';
  return [
    sample(M.readyMean, latency.mean, method),
    sample(M.readyP50, latency.p50, method),
    sample(M.readyMin, latency.min, method),
    sample(M.readyMax, latency.max, method),
    sample(M.starts, latency.samplesCount, method),
  ];
}
