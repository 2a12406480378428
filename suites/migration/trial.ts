import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { epochMs } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { sleep } from '../../core/poll.js';
import type { TrialContext, TrialOutcome } from '../../contracts/suite.js';
import type { MigrationRun, TargetService } from '../../contracts/target.js';
import type { MigrationVariant } from '../../results/migration.js';
import {
  BASELINE_MS, CLIENT_READY_TIMEOUT_MS, type ClientProgram, type ReportingClientProgram, SELF_TEST_SPACING_MS, SETTLE_MS, SNAPSHOT_TIMEOUT_MS, startEchoProbe, startWebLoad, waitForFile, WATCH_AFTER_MS,
} from './client-programs.js';
import { LoadReport, ProbeReport } from './client/reports.js';
import { buildDetail, judgeHealth, migrationMetrics } from './detail.js';
import { startDirtier, startEcho, startWeb, type Dirtier } from './guest-workloads.js';
import { classifyOutcome } from './outcome.js';
import { pollMigration, POSTCOPY_GRACE_MS } from './poll-loop.js';
import { SELF_TEST_PAUSES_MS } from './probe-analysis.js';
import { runSelfTest, STEADY_TIMEOUT_MS } from './self-test.js';
import { traceWws, WWS_CURVE_INTERVALS_S } from './wws-trace.js';

/*
 * One migration trial's timeline (runMigrationTrial). The poll loop is poll-loop.ts, what the trial
 * keeps and measures detail.ts.
 */

/** One migration point's parameters (suites/migration/index.ts declares the schema). */
export interface MigrationTrialParams {
  workload: 'idle' | 'web' | 'dirty';
  variant: MigrationVariant;
  bandwidthMiBs: number;
  downtimeLimitMs: number;
  /** `dirty` only. */
  wwsMiB?: number | undefined;
  /** `dirty` only; 0 = as fast as the guest can. */
  dirtyRateMiBs?: number | undefined;
  timeLimitS: number;
  roundLimit: number;
  /** `--wws-trace`: seconds of 1 s dirty-rate samples before the migration; absent: no trace. */
  wwsTraceS?: number | undefined;
}

const MIB = 1_048_576;

/**
 * One migration trial (README: "The migration suite"): the echo server and the workload start in
 * the guest, the probe (and for `web` the load) in the client namespace; the probe's self-test
 * pauses the guest three times; after a pre-migration window the migration starts and is polled
 * until it completes, fails or reaches a limit; the client keeps watching for WATCH_AFTER_MS; then
 * the guest's health is judged and everything is stopped. The guest keeps running on the
 * destination for the next trial.
 */
export async function runMigrationTrial(params: MigrationTrialParams, context: TrialContext): Promise<TrialOutcome> {
  const { target, client } = context;
  const migration = target.migration;
  if (!migration) return { state: 'skipped', reason: `${target.name} cannot live-migrate (the kvm target with --vm-manager qemu can)`, commands: [] };
  const commands: string[][] = [];
  // The self-test's pauses, twice, and the wait for a steady stream between them (self-test.ts).
  const selfTestMs = 2 * SELF_TEST_PAUSES_MS.length * 1500 + STEADY_TIMEOUT_MS + 2 * SNAPSHOT_TIMEOUT_MS;
  const lifetimeS = Math.ceil((CLIENT_READY_TIMEOUT_MS * 2 + SETTLE_MS + selfTestMs + BASELINE_MS + WATCH_AFTER_MS + POSTCOPY_GRACE_MS) / 1000 + params.timeLimitS + wwsTraceSeconds(params) + 60);
  const services: TargetService[] = [];
  let dirtier: Dirtier | undefined;
  let probe: ReportingClientProgram<ProbeReport> | undefined;
  let load: ClientProgram<LoadReport> | undefined;
  let run: MigrationRun | undefined;
  let settled = false;
  let scratch: string | undefined;
  try {
    let recoveredBefore = await recoverIfGone(context);
    await context.verifyDestination(target.serverAddress);
    scratch = await mkdtemp(join(tmpdir(), 'isobench-migration-'));
    const probeReady = join(scratch, 'probe-ready');
    const loadReady = join(scratch, 'load-ready');
    const startProbeChain = async () => {
      const echo = await startEcho(target, migration.programs.udpEcho, lifetimeS * 1000);
      services.push(echo);
      commands.push([...echo.command]);
      probe = startEchoProbe(client, target.serverAddress, lifetimeS, probeReady);
      commands.push(probe.command);
      await waitForFile(probeReady, 'no echo came back from the guest');
    };
    try {
      await startProbeChain();
    } catch (error) {
      // A guest whose agent answers but whose network did not come back after the last switch-over
      // (seen here after a TCG migration judged unhealthy: every later trial of the run failed so):
      // a fresh guest from the disk, once, and the trial says so.
      if (recoveredBefore) throw error;
      await probe?.stop().catch(() => {});
      probe = undefined;
      for (const service of services.splice(0).reverse()) await service.stop().catch(() => {});
      const bootSeconds = await migration.recover();
      recoveredBefore = { reason: `the guest did not answer the echo probe before this trial (${errorMessage(error)}); a fresh guest was booted from its disk`, bootSeconds };
      await startProbeChain();
    }
    if (!probe) throw new Error('the echo probe did not start');
    await sleep(SETTLE_MS);

    // The self-test checks the measuring chain (client, bridge, tap, guest, echo server) before the
    // workload starts: a loaded TCG guest can take longer than a pause to answer again (a 500 ms pause
    // read as 963 ms here under the dirtier), which is the workload's doing, not the probe's. A fresh
    // guest still busy with its boot can too: a failed self-test runs once more on a steady stream.
    const echoProbe = probe;
    const selfTest = await runSelfTest(
      { freeze: (ms) => migration.freeze(ms), snapshot: () => echoProbe.snapshot(), sleep, now: () => performance.now() },
      { spacingMs: SELF_TEST_SPACING_MS },
    );
    const freezes = selfTest.freezes;

    if (params.workload === 'web') {
      const web = await startWeb(target, lifetimeS * 1000);
      services.push(web.service);
      commands.push(...web.commands);
      load = startWebLoad(client, target.serverAddress, lifetimeS, loadReady);
      commands.push(load.command);
      await waitForFile(loadReady, 'no web request completed');
      await sleep(SETTLE_MS);
    }
    if (params.workload === 'dirty') {
      dirtier = await startDirtier(target, migration.programs.dirtier, params.wwsMiB!, params.dirtyRateMiBs!, lifetimeS);
      commands.push([...dirtier.command]);
    }
    const baselineFrom = epochMs();
    await sleep(BASELINE_MS);
    const baselineTo = epochMs();
    // --wws-trace: the workload's writable working set, tracked with the workload on and no migration under way.
    const wwsTrace = params.wwsTraceS
      ? migration.dirtyRate
        ? await traceWws(migration.dirtyRate, params.wwsTraceS)
        : ({ kind: 'failed', reason: `${target.name} has no dirty-rate measurement (QMP calc-dirty-rate)` } as const)
      : undefined;

    run = await migration.start({ variant: params.variant, maxBandwidthBytesPerSecond: params.bandwidthMiBs * MIB, downtimeLimitMs: params.downtimeLimitMs });
    const loop = await pollMigration(run, params);
    let end = loop.end;
    let switchedAtMs: number | null = null;
    let switchOver: Awaited<ReturnType<MigrationRun['switchOver']>> | null = null;
    if (end.kind === 'completed') {
      try {
        switchOver = await run.switchOver();
        switchedAtMs = epochMs();
      } catch (error) {
        end = { kind: 'failed', error: errorMessage(error) };
      }
    } else if (end.kind === 'failed') {
      await run.abandon();
    }
    settled = true;
    const endedAtMs = epochMs();
    const dirtyAtSwitch = dirtier && switchedAtMs !== null ? await dirtier.read() : null;
    await sleep(WATCH_AFTER_MS);
    const watchEndMs = epochMs();
    const probeReport = await probe.stop();
    probe = undefined;
    const loadReport = load ? await load.stop() : null;
    load = undefined;
    const dirtyAfter = dirtier ? await dirtier.stop() : null;
    dirtier = undefined;

    const health =
      switchOver && switchedAtMs !== null
        ? judgeHealth(params.workload, switchOver, switchedAtMs, { probe: probeReport, load: loadReport, dirtyAtSwitch, dirtyAfter })
        : null;
    const outcome = classifyOutcome(end, { variant: params.variant, maxThrottlePercent: loop.maxThrottlePercent, postcopyStarted: loop.postcopyStarted, health });
    const detail = buildDetail({
      params, run, loop, outcome, health, method: migration.method, freezes, probeReport, probeCommand: commands.find((command) => command.some((part) => part.endsWith('udp-probe.ts'))) ?? [],
      loadReport, loadCommand: commands.find((command) => command.some((part) => part.endsWith('http-load.ts'))) ?? [], baseline: { fromMs: baselineFrom, toMs: baselineTo },
      endedAtMs, watchEndMs, dirtyAfter,
    });
    if (selfTest.retry) detail.selfTestRetry = selfTest.retry;
    if (recoveredBefore) detail.recoveredBefore = recoveredBefore;
    if (wwsTrace) detail.wwsTrace = wwsTrace;
    const metrics = migrationMetrics(detail);
    if (outcome.kind === 'failed') return { state: 'failed', reason: `migration failed: ${outcome.error}`, commands, detail };
    if (outcome.kind === 'guest-unhealthy') return { state: 'failed', reason: `guest unhealthy after the migration: ${outcome.reason}`, commands, detail };
    if (metrics.length === 0) return { state: 'failed', reason: 'the migration left no figure to record (no query-migrate answered)', commands, detail };
    return { state: 'completed', metrics, commands, detail };
  } catch (error) {
    if (run && !settled) await run.cancel().catch(() => run?.abandon());
    return { state: 'failed', reason: errorMessage(error), commands };
  } finally {
    await probe?.stop().catch(() => {});
    await load?.stop().catch(() => {});
    await dirtier?.stop().catch(() => {});
    for (const service of services.reverse()) await service.stop().catch(() => {});
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Seconds a `--wws-trace` adds before the migration, at most: three 1 s mode probes, the series, the
 * curve's intervals, and up to 2 s of QMP and hashing per measurement (page sampling under TCG).
 */
function wwsTraceSeconds(params: MigrationTrialParams): number {
  if (!params.wwsTraceS) return 0;
  const measurements = 3 + params.wwsTraceS + WWS_CURVE_INTERVALS_S.length;
  return 3 + params.wwsTraceS + WWS_CURVE_INTERVALS_S.reduce((sum, seconds) => sum + seconds, 0) + 2 * measurements;
}

/** How long the liveness check at a trial's start may take, ms (a guest-exec round trip is ~100 ms here). */
const LIVENESS_TIMEOUT_MS = 15_000;

/**
 * A trial starts on a guest that answers: when the agent cannot run `true` (an earlier migration
 * left the guest dead — a TCG guest's kernel panicked on the destination once in this host's first
 * 20 migrations), the target boots a fresh guest from its disk first, and the trial says so.
 * @throws the recovery's error when the fresh guest does not boot.
 */
async function recoverIfGone(context: TrialContext): Promise<{ reason: string; bootSeconds: number } | null> {
  const alive = await context.target.exec(['true'], { timeoutMs: LIVENESS_TIMEOUT_MS }).then(
    (outcome) => (outcome.ok ? null : `\`true\` failed in the guest: ${outcome.stderr.trim() || `exit code ${outcome.exitCode}`}`),
    (error: unknown) => errorMessage(error),
  );
  if (alive === null) return null;
  const bootSeconds = await context.target.migration!.recover();
  return { reason: `the guest did not answer before this trial (${alive}); a fresh guest was booted from its disk`, bootSeconds };
}

