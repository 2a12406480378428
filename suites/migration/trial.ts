import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { epochMs } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { pollUntil, sleep } from '../../core/poll.js';
import type { TrialContext, TrialOutcome } from '../../contracts/suite.js';
import type { FreezeRecord, MigrationRun, MigrationSnapshot, TargetService } from '../../contracts/target.js';
import type { GuestHealth, MigrationSample, MigrationTrialDetail, MigrationVariant, ProbeRecord, WebTimeline } from '../../results/migration.js';
import { MIGRATION_METRICS as M } from '../../results/metrics.js';
import type { MetricSample } from '../../results/schema.js';
import { sample } from '../trial-helpers.js';
import { clientProgramCommand, PROBE_PRIORITY, startClientProgram, type ClientProgram } from './client-programs.js';
import { LoadReport, ProbeReport } from './client/reports.js';
import { achievedRate, ECHO_PORT, startDirtier, startEcho, startWeb, WEB_PORT, type Dirtier, type DirtierStats } from './guest-workloads.js';
import { classifyOutcome, type LoopEnd } from './outcome.js';
import { gapCovering, judgeSelfTest, longestGapWithin, SELF_TEST_PAUSES_MS } from './probe-analysis.js';
import { deriveRounds } from './rounds.js';
import { webImpact } from './web-analysis.js';

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
}

/** `query-migrate` about every 50 ms, as QEMU's guestperf does (tests/migration-stress/guestperf/engine.py). */
export const POLL_INTERVAL_MS = 50;
/** The echo probe sends every 1 ms (issue 11). */
export const PROBE_INTERVAL_MS = 1;
/** A pause between two echoes this long or longer is listed as a gap by the probe, ms. */
export const PROBE_GAP_MS = 5;
/** How long the client programs may take to start and get a first answer (Node and tsx take about a second here), ms. */
export const CLIENT_READY_TIMEOUT_MS = 30_000;
/** ms of running after the first answers, before the self-test: the stream settles. */
export const SETTLE_MS = 500;
/** ms of running between the self-test's pauses, so each pause's gap stands alone. */
export const SELF_TEST_SPACING_MS = 400;
/** ms of the pre-migration window: the web workload's baseline rate is measured over it. */
export const BASELINE_MS = 2_000;
/** ms the client keeps watching after the migration ended: recovery (TCP retransmits, ARP) shows here. */
export const WATCH_AFTER_MS = 2_000;
/** Keep-alive connections of the web client: a closed loop each, so the guest sets the pace. */
export const WEB_CONNECTIONS = 4;
/** Clark's web figure counted requests per 100 ms (issue 11). */
export const WEB_BUCKET_MS = 100;
/** A web request unanswered this long is counted failed and retried, ms. */
export const WEB_REQUEST_TIMEOUT_MS = 5_000;
/** Past the time limit, a post-copy migration (which cannot be cancelled) may run this much longer before the trial fails, ms. */
export const POSTCOPY_GRACE_MS = 120_000;
const MIB = 1_048_576;

/** What the poll loop saw. */
interface LoopResult {
  end: LoopEnd;
  snapshots: MigrationSnapshot[];
  maxThrottlePercent: number | null;
  postcopyStarted: boolean;
}

/**
 * Polls the source until the migration completes or fails, or a limit is reached (then it cancels:
 * a cancel that races a completion counts as completed). The post-copy variant switches to post-copy
 * once the first pass is done (the count of dirty-bitmap syncs reaches 2), as guestperf's
 * `post-copy-iters 1` does; a post-copy migration cannot be cancelled, so only a grace past the time
 * limit fails it.
 */
export async function pollMigration(run: MigrationRun, params: Pick<MigrationTrialParams, 'variant' | 'timeLimitS' | 'roundLimit'>): Promise<LoopResult> {
  const snapshots: MigrationSnapshot[] = [];
  let maxThrottlePercent: number | null = null;
  let postcopyStarted = false;
  const deadline = run.startedAtMs + params.timeLimitS * 1000;
  const result = (end: LoopEnd): LoopResult => ({ end, snapshots, maxThrottlePercent, postcopyStarted });
  for (;;) {
    const tick = performance.now();
    let snapshot: MigrationSnapshot;
    try {
      snapshot = await run.poll();
    } catch (error) {
      return result({ kind: 'failed', error: `query-migrate failed: ${errorMessage(error)}` });
    }
    snapshots.push(snapshot);
    if (snapshot.throttlePercent !== null) maxThrottlePercent = Math.max(maxThrottlePercent ?? 0, snapshot.throttlePercent);
    if (snapshot.status === 'completed') {
      await settleCompletedFigures(run, snapshots);
      return result({ kind: 'completed' });
    }
    if (snapshot.status === 'failed') return result({ kind: 'failed', error: snapshot.error ?? 'QEMU reported the migration failed without a reason' });
    if (snapshot.status === 'cancelled' || snapshot.status === 'cancelling') return result({ kind: 'failed', error: 'the migration was cancelled by someone other than isobench' });
    const now = epochMs();
    if (snapshot.status === 'postcopy-active' || snapshot.status === 'postcopy-paused' || snapshot.status === 'postcopy-recover') {
      if (now > deadline + POSTCOPY_GRACE_MS) return result({ kind: 'failed', error: `post-copy did not finish within ${params.timeLimitS} s plus ${POSTCOPY_GRACE_MS / 1000} s` });
    } else {
      const rounds = snapshot.syncCount ?? 0;
      if (params.variant === 'postcopy' && !postcopyStarted && snapshot.status === 'active' && rounds >= 2) {
        try {
          await run.startPostcopy();
          postcopyStarted = true;
        } catch (error) {
          return result({ kind: 'failed', error: `migrate-start-postcopy failed: ${errorMessage(error)}` });
        }
      }
      const limit = rounds > params.roundLimit ? 'rounds' : now >= deadline ? 'time' : null;
      if (limit) {
        let last: MigrationSnapshot;
        try {
          last = await run.cancel();
        } catch (error) {
          return result({ kind: 'failed', error: `cancelling at the ${limit} limit failed: ${errorMessage(error)}` });
        }
        snapshots.push(last);
        if (last.status === 'completed') {
          await settleCompletedFigures(run, snapshots);
          return result({ kind: 'completed' });
        }
        const seconds = ((now - run.startedAtMs) / 1000).toFixed(1);
        const detail = limit === 'rounds' ? `cancelled in round ${rounds} (limit ${params.roundLimit}) after ${seconds} s` : `cancelled at the ${params.timeLimitS} s limit in round ${rounds}`;
        return result({ kind: 'limit', limit, detail });
      }
    }
    await sleep(POLL_INTERVAL_MS - (performance.now() - tick));
  }
}

/** Asks after a completion this many times, 20 ms apart, for QEMU's final figures (see settleCompletedFigures). */
const SETTLE_POLLS = 25;

/**
 * QEMU 7.2 sets the status to `completed` a moment before its migration thread computes
 * `total-time` and `downtime`: a query in between reads both as 0 (seen here, with the MIGRATION
 * completed event 1 ms before the query). Asks again until total-time is non-zero, for up to half a
 * second; the answer replaces the last snapshot. A 0 that stays is kept as QEMU said it, and
 * buildDetail treats a completed migration's 0 total-time as "not reported".
 */
async function settleCompletedFigures(run: MigrationRun, snapshots: MigrationSnapshot[]): Promise<void> {
  for (let attempt = 0; attempt < SETTLE_POLLS && !(snapshots.at(-1)!.totalTimeMs! > 0); attempt++) {
    await sleep(20);
    const again = await run.poll().catch(() => null);
    if (again?.status === 'completed') snapshots[snapshots.length - 1] = again;
  }
}

/** A snapshot as a stored sample, its time relative to the migration's start. */
export function toSample(snapshot: MigrationSnapshot, startedAtMs: number): MigrationSample {
  return {
    tMs: Math.round((snapshot.atMs - startedAtMs) * 10) / 10,
    status: snapshot.status,
    syncCount: snapshot.syncCount,
    transferredBytes: snapshot.transferredBytes,
    remainingBytes: snapshot.remainingBytes,
    dirtyPagesRate: snapshot.dirtyPagesRate,
    mbps: snapshot.mbps,
    expectedDowntimeMs: snapshot.expectedDowntimeMs,
    throttlePercent: snapshot.throttlePercent,
    downtimeBytes: snapshot.downtimeBytes,
  };
}

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
  const lifetimeS = Math.ceil((CLIENT_READY_TIMEOUT_MS * 2 + SETTLE_MS + SELF_TEST_PAUSES_MS.length * 1500 + BASELINE_MS + WATCH_AFTER_MS + POSTCOPY_GRACE_MS) / 1000 + params.timeLimitS + 60);
  const services: TargetService[] = [];
  let dirtier: Dirtier | undefined;
  let probe: ClientProgram<ProbeReport> | undefined;
  let load: ClientProgram<LoadReport> | undefined;
  let run: MigrationRun | undefined;
  let settled = false;
  let scratch: string | undefined;
  try {
    const recoveredBefore = await recoverIfGone(context);
    await context.verifyDestination(target.serverAddress);
    const echo = await startEcho(target, migration.programs.udpEcho, lifetimeS * 1000);
    services.push(echo);
    commands.push([...echo.command]);
    scratch = await mkdtemp(join(tmpdir(), 'isobench-migration-'));
    const probeReady = join(scratch, 'probe-ready');
    const loadReady = join(scratch, 'load-ready');
    const probeFlags = { address: target.serverAddress, port: ECHO_PORT, 'interval-ms': PROBE_INTERVAL_MS, 'gap-ms': PROBE_GAP_MS, 'max-seconds': lifetimeS, 'ready-file': probeReady };
    probe = startClientProgram(client, clientProgramCommand('udp-probe', probeFlags, PROBE_PRIORITY), ProbeReport, lifetimeS);
    commands.push(probe.command);
    await waitForFile(probeReady, 'no echo came back from the guest');
    await sleep(SETTLE_MS);

    // The self-test checks the measuring chain (client, bridge, tap, guest, echo server) before the
    // workload starts: a loaded TCG guest can take longer than a pause to answer again (a 500 ms pause
    // read as 963 ms here under the dirtier), which is the workload's doing, not the probe's.
    const freezes: FreezeRecord[] = [];
    for (const ms of SELF_TEST_PAUSES_MS) {
      freezes.push(await migration.freeze(ms));
      await sleep(SELF_TEST_SPACING_MS);
    }

    if (params.workload === 'web') {
      const web = await startWeb(target, lifetimeS * 1000);
      services.push(web.service);
      commands.push(...web.commands);
      const loadFlags = {
        address: target.serverAddress, port: WEB_PORT, connections: WEB_CONNECTIONS, 'bucket-ms': WEB_BUCKET_MS, 'timeout-ms': WEB_REQUEST_TIMEOUT_MS, 'max-seconds': lifetimeS, 'ready-file': loadReady,
      };
      load = startClientProgram(client, clientProgramCommand('http-load', loadFlags), LoadReport, lifetimeS);
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
    if (recoveredBefore) detail.recoveredBefore = recoveredBefore;
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

/**
 * Waits until a client program created its ready file (its first answer came back).
 * @throws DeadlineError "`what` within 30000 ms".
 */
async function waitForFile(path: string, what: string): Promise<void> {
  await pollUntil(
    async () =>
      access(path).then(
        () => true,
        () => false,
      ),
    { timeoutMs: CLIENT_READY_TIMEOUT_MS, intervalMs: 50, what },
  );
}

/** What judgeHealth reads from the workload after the switch-over. */
interface WorkloadEvidence {
  probe: ProbeReport;
  load: LoadReport | null;
  dirtyAtSwitch: DirtierStats | null;
  dirtyAfter: DirtierStats | null;
}

/**
 * The guest after the switch-over: running (QMP), a clean console, and the workload answering
 * after the switch: echoes arrived, web requests completed, the dirtier wrote more pages.
 */
export function judgeHealth(
  workload: MigrationTrialParams['workload'],
  report: { runState: string; serialProblem: string | null; agentProblem: string | null },
  switchedAtMs: number,
  evidence: WorkloadEvidence,
): GuestHealth {
  const notes: string[] = [];
  const echoed = evidence.probe.lastEchoAtMs !== null && evidence.probe.lastEchoAtMs > switchedAtMs;
  notes.push(echoed ? 'echoes arrived after the switch-over' : 'no echo arrived after the switch-over');
  let answered = echoed && report.agentProblem === null;
  if (report.agentProblem) notes.push(report.agentProblem);
  if (workload === 'web') {
    const load = evidence.load;
    const after = load ? load.completed.filter((_, index) => load.startedAtMs + (index + 1) * load.bucketMs > switchedAtMs).reduce((sum, value) => sum + value, 0) : 0;
    notes.push(`${after} web requests completed after the switch-over`);
    answered &&= after > 0;
  }
  if (workload === 'dirty') {
    const before = evidence.dirtyAtSwitch?.pages_written ?? null;
    const after = evidence.dirtyAfter?.pages_written ?? null;
    const progressed = before !== null && after !== null && after > before;
    notes.push(progressed ? `the dirtier wrote ${after - before} more pages after the switch-over` : 'the dirtier showed no progress after the switch-over');
    answered &&= progressed;
  }
  return { runState: report.runState, serialProblem: report.serialProblem, workloadAnswered: answered, detail: notes.join('; ') };
}

interface DetailInputs {
  params: MigrationTrialParams;
  run: MigrationRun;
  loop: LoopResult;
  outcome: MigrationTrialDetail['outcome'];
  health: GuestHealth | null;
  method: string;
  freezes: FreezeRecord[];
  probeReport: ProbeReport;
  probeCommand: string[];
  loadReport: LoadReport | null;
  loadCommand: string[];
  baseline: { fromMs: number; toMs: number };
  endedAtMs: number;
  watchEndMs: number;
  dirtyAfter: DirtierStats | null;
}

/** Everything the trial keeps besides metrics (results/migration.ts, MigrationTrialDetail). */
export function buildDetail(inputs: DetailInputs): MigrationTrialDetail {
  const { params, run, loop } = inputs;
  const start = run.startedAtMs;
  const relative = (ms: number) => Math.round((ms - start) * 10) / 10;
  const samples = loop.snapshots.map((snapshot) => toSample(snapshot, start));
  const last = loop.snapshots.at(-1) ?? null;
  // A cancelled or failed migration's last answer is its status alone: QEMU's figures are those of
  // the last answer that had them (QEMU 7.2 here).
  const latest = <K extends keyof MigrationSnapshot>(key: K): MigrationSnapshot[K] | null =>
    [...loop.snapshots].reverse().find((snapshot) => snapshot[key] !== null)?.[key] ?? null;
  const timed = run.events();
  const passes = timed.flatMap((event) => (event.side === 'source' && event.event === 'MIGRATION_PASS' && typeof event.detail === 'number' ? [{ pass: event.detail, tMs: relative(event.atMs) }] : []));
  const finished = [...timed].reverse().find((event) => event.side === 'source' && event.event === 'MIGRATION' && ['completed', 'cancelled', 'failed'].includes(String(event.detail)));
  const rounds = deriveRounds(samples, passes, { tMs: finished ? relative(finished.atMs) : (samples.at(-1)?.tMs ?? 0) });
  const events = timed.map((event) => ({
    tMs: relative(event.atMs),
    side: event.side,
    event: event.event,
    ...(event.detail !== undefined ? { detail: event.detail } : {}),
  }));
  const completed = inputs.outcome.kind !== 'failed' && inputs.outcome.kind !== 'not-converged' && last?.status === 'completed';
  // The switch-over: the source's STOP that precedes the destination's RESUME.
  const resume = timed.find((event) => event.side === 'destination' && event.event === 'RESUME');
  const stop = resume ? timed.filter((event) => event.side === 'source' && event.event === 'STOP' && event.atMs <= resume.atMs).at(-1) : undefined;
  // QEMU 7.2 may report a completed migration's total-time and downtime as 0 (settleCompletedFigures): never a real 0.
  const reported = (value: number | null | undefined) => (value === null || value === undefined || (completed && value === 0) ? null : value);
  const report = inputs.probeReport;
  const switchGap = completed && stop && resume ? gapCovering(report.gaps, stop.atMs, resume.atMs) : null;
  const longest = longestGapWithin(report.gaps, start, inputs.watchEndMs);
  const gap = switchGap ?? longest;
  const probe: ProbeRecord = {
    intervalMs: report.intervalMs,
    sent: report.sent,
    received: report.received,
    migrationGapMs: gap ? Math.round((gap.toMs - gap.fromMs) * 100) / 100 : null,
    migrationGapStartMs: gap ? relative(gap.fromMs) : null,
    migrationGapEndMs: gap ? relative(gap.toMs) : null,
    coversSwitchover: switchGap !== null,
    maxSendLateMs: Math.round(report.maxSendLateMs * 100) / 100,
    command: inputs.probeCommand,
  };
  let web: WebTimeline | undefined;
  if (inputs.loadReport) {
    const impact = webImpact(inputs.loadReport, inputs.baseline, { fromMs: start, toMs: inputs.watchEndMs });
    web = {
      bucketMs: inputs.loadReport.bucketMs,
      firstBucketMs: relative(inputs.loadReport.startedAtMs),
      completed: inputs.loadReport.completed,
      failed: inputs.loadReport.failed,
      connections: inputs.loadReport.connections,
      ...impact,
      command: inputs.loadCommand,
    };
  }
  return {
    kind: 'migration',
    method: inputs.method,
    workload: params.workload,
    variant: params.variant,
    settings: {
      maxBandwidthMiBs: params.bandwidthMiBs,
      downtimeLimitMs: params.downtimeLimitMs,
      timeLimitMs: params.timeLimitS * 1000,
      roundLimit: params.roundLimit,
      pollIntervalMs: POLL_INTERVAL_MS,
    },
    outcome: inputs.outcome,
    qemu: {
      totalTimeMs: completed ? reported(last?.totalTimeMs) : latest('totalTimeMs'),
      setupTimeMs: latest('setupTimeMs'),
      downtimeMs: completed ? reported(last?.downtimeMs) : null,
      eventDowntimeMs: completed && stop && resume ? Math.round((resume.atMs - stop.atMs) * 100) / 100 : null,
      transferredBytes: latest('transferredBytes'),
      syncCount: latest('syncCount'),
      ramBytes: latest('totalBytes'),
    },
    samples,
    rounds,
    events,
    probe,
    selfTest: judgeSelfTest(inputs.freezes, report),
    ...(web ? { web } : {}),
    ...(params.workload === 'dirty'
      ? {
          dirty: {
            wwsMiB: params.wwsMiB!,
            requestedMiBs: params.dirtyRateMiBs!,
            achievedMiBs: inputs.dirtyAfter ? achievedRate(inputs.dirtyAfter) : null,
            lateSlices: inputs.dirtyAfter?.late_slices ?? null,
          },
        }
      : {}),
    health: inputs.health,
    destinationSerialLog: run.destinationSerialLog,
  };
}

/**
 * The trial's metrics from its detail; a figure it could not measure is left out, never 0:
 * QEMU's downtime and the probe's switch-over gap only when the guest switched over, the web
 * figures only with a pre-migration rate, the probe's resolution only when every pause was seen.
 */
export function migrationMetrics(detail: MigrationTrialDetail): MetricSample[] {
  const metrics: MetricSample[] = [];
  const { qemu } = detail;
  if (qemu.totalTimeMs !== null) {
    const stopped = detail.outcome.kind === 'not-converged' || detail.outcome.kind === 'failed';
    metrics.push(sample(M.totalTime, qemu.totalTimeMs, stopped ? 'QEMU query-migrate total-time at the last answer before the migration stopped' : 'QEMU query-migrate total-time'));
  }
  if (qemu.setupTimeMs !== null) metrics.push(sample(M.setupTime, qemu.setupTimeMs, 'QEMU query-migrate setup-time'));
  if (qemu.downtimeMs !== null) metrics.push(sample(M.downtimeQemu, qemu.downtimeMs, 'QEMU query-migrate downtime'));
  else if (qemu.eventDowntimeMs !== null) metrics.push(sample(M.downtimeQemu, qemu.eventDowntimeMs, 'QEMU events: the destination\'s RESUME minus the source\'s STOP (query-migrate gave no downtime)'));
  if (detail.probe?.coversSwitchover && detail.probe.migrationGapMs !== null) {
    metrics.push(sample(M.downtimeProbe, detail.probe.migrationGapMs, `longest gap in a ${detail.probe.intervalMs} ms UDP echo stream from the client netns, covering the switch-over`));
  }
  if (qemu.syncCount !== null) metrics.push(sample(M.rounds, qemu.syncCount, 'QEMU ram.dirty-sync-count at the end'));
  if (qemu.transferredBytes !== null) metrics.push(sample(M.transferred, qemu.transferredBytes / MIB, 'QEMU ram.transferred'));
  if (detail.selfTest?.resolutionMs != null) metrics.push(sample(M.probeResolution, detail.selfTest.resolutionMs, 'largest |error| reading QMP stop/cont pauses of 100, 200, 500 ms'));
  if (detail.web) {
    const method = `requests completed per ${detail.web.bucketMs} ms, ${detail.web.connections} keep-alive connections from the client netns`;
    if (detail.web.baselinePerSecond !== null) metrics.push(sample(M.webBaseline, detail.web.baselinePerSecond, method));
    if (detail.web.blackoutMs !== null) metrics.push(sample(M.blackout, detail.web.blackoutMs, method));
    if (detail.web.brownoutMs !== null) metrics.push(sample(M.brownout, detail.web.brownoutMs, method));
  }
  if (detail.dirty?.achievedMiBs != null) metrics.push(sample(M.dirtyRate, detail.dirty.achievedMiBs, 'isobench-dirtier: pages written x page size / seconds'));
  return metrics;
}
