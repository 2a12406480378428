import { predictMigrationTrial } from '../../models/precopy/index.js';
import type { FreezeRecord, MigrationRun, MigrationSnapshot } from '../../contracts/target.js';
import type { GuestHealth, MigrationSample, MigrationTrialDetail, WebTimeline } from '../../results/migration.js';
import { MIGRATION_METRICS as M } from '../../results/metrics.js';
import { measuredPrecopyRounds, PRECOPY_ROUNDS_DEFINITION } from '../../results/migration-predictions.js';
import type { MetricSample } from '../../results/schema.js';
import { sample } from '../trial-helpers.js';
import type { LoadReport, ProbeReport } from './client/reports.js';
import { achievedRate, type DirtierStats } from './guest-workloads.js';
import { POLL_INTERVAL_MS, type LoopResult } from './poll-loop.js';
import { gapCovering, judgeSelfTest, longestGapWithin, probeRecord } from './probe-analysis.js';
import { deriveRounds } from './rounds.js';
import type { MigrationTrialParams } from './trial.js';
import { webTimeline } from './web-analysis.js';

/*
 * What a migration trial keeps and measures: the stored samples, the guest's health after the
 * switch-over, the trial's detail record and its metrics, from what the trial gathered.
 */

const MIB = 1_048_576;

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

/**
 * The first fields of every migration trial's record (QEMU, libvirt and lab paths): the kind, how
 * the guest moved, the workload, variant and the settings it ran with.
 * @param pollIntervalMs How often the migration's status was read, ms (the time limit where it was read once, after the end).
 */
export function detailHead(params: MigrationTrialParams, method: string, pollIntervalMs: number): Pick<MigrationTrialDetail, 'kind' | 'method' | 'workload' | 'variant' | 'settings'> {
  return {
    kind: 'migration',
    method,
    workload: params.workload,
    variant: params.variant,
    settings: {
      maxBandwidthMiBs: params.bandwidthMiBs,
      downtimeLimitMs: params.downtimeLimitMs,
      timeLimitMs: params.timeLimitS * 1000,
      roundLimit: params.roundLimit,
      pollIntervalMs,
    },
  };
}

/** What buildDetail is built from: the trial's parameters, the run, what the poll loop and the clients saw. */
export interface DetailInputs {
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

/** Everything the trial keeps besides metrics (results/migration.ts, MigrationTrialDetail), Clark's and QEMU's predictions included. */
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
  const postcopy = timed.find((event) => event.side === 'source' && event.event === 'MIGRATION' && event.detail === 'postcopy-active');
  const rounds = deriveRounds(samples, passes, {
    tMs: finished ? relative(finished.atMs) : (samples.at(-1)?.tMs ?? 0),
    postcopyFromMs: postcopy ? relative(postcopy.atMs) : null,
  });
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
  const probe = probeRecord(report, gap, start, switchGap !== null, inputs.probeCommand);
  const web = webTimeline(inputs.loadReport, inputs.baseline, { fromMs: start, toMs: inputs.watchEndMs }, inputs.loadCommand);
  const detail: MigrationTrialDetail = {
    ...detailHead(params, inputs.method, POLL_INTERVAL_MS),
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
    ...dirtyRecord(params, inputs.dirtyAfter),
    health: inputs.health,
    destinationSerialLog: run.destinationSerialLog,
  };
  // Both models on what this trial measured (models/precopy/trial.ts): stored beside it.
  detail.predictions = predictMigrationTrial(detail);
  return detail;
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
  const precopyRounds = measuredPrecopyRounds(detail);
  if (precopyRounds !== null) metrics.push(sample(M.precopyRounds, precopyRounds, PRECOPY_ROUNDS_DEFINITION));
  if (qemu.transferredBytes !== null) metrics.push(sample(M.transferred, qemu.transferredBytes / MIB, 'QEMU ram.transferred'));
  if (detail.selfTest?.resolutionMs != null) metrics.push(sample(M.probeResolution, detail.selfTest.resolutionMs, 'largest |error| reading QMP stop/cont pauses of 100, 200, 500 ms'));
  metrics.push(...webMetrics(detail.web), ...dirtierMetrics(detail.dirty));
  return metrics;
}

/**
 * `--workload web`'s metrics, shared by the QEMU, libvirt and container trials: the pre-migration
 * request rate, blackout and brownout, each present only where it was measured.
 */
export function webMetrics(web: WebTimeline | undefined): MetricSample[] {
  if (!web) return [];
  const method = `requests completed per ${web.bucketMs} ms, ${web.connections} keep-alive connections from the client netns`;
  const metrics: MetricSample[] = [];
  if (web.baselinePerSecond !== null) metrics.push(sample(M.webBaseline, web.baselinePerSecond, method));
  if (web.blackoutMs !== null) metrics.push(sample(M.blackout, web.blackoutMs, method));
  if (web.brownoutMs !== null) metrics.push(sample(M.brownout, web.brownoutMs, method));
  return metrics;
}

/** `--workload dirty`'s rate as the dirtier reported it, where it did (QEMU and libvirt trials). */
export function dirtierMetrics(dirty: MigrationTrialDetail['dirty']): MetricSample[] {
  return dirty?.achievedMiBs != null ? [sample(M.dirtyRate, dirty.achievedMiBs, 'isobench-dirtier: pages written x page size / seconds')] : [];
}

/**
 * `--workload dirty`'s part of a trial's record (QEMU and libvirt trials): the set and rate asked
 * for, and what the dirtier reported it reached; nothing for the other workloads.
 */
export function dirtyRecord(params: MigrationTrialParams, dirtyAfter: DirtierStats | null): Pick<MigrationTrialDetail, 'dirty'> {
  if (params.workload !== 'dirty') return {};
  return {
    dirty: {
      wwsMiB: params.wwsMiB!,
      requestedMiBs: params.dirtyRateMiBs!,
      achievedMiBs: dirtyAfter ? achievedRate(dirtyAfter) : null,
      lateSlices: dirtyAfter?.late_slices ?? null,
    },
  };
}
