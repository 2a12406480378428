import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { epochMs } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { sleep } from '../../core/poll.js';
import type { TrialContext, TrialOutcome } from '../../contracts/suite.js';
import type { LibvirtMigrationReport, TargetService } from '../../contracts/target.js';
import type { LibvirtJobInfo } from '../../results/libvirt-jobinfo.js';
import type { MigrationTrialDetail } from '../../results/migration.js';
import { MIGRATION_METRICS as M } from '../../results/metrics.js';
import type { MetricSample } from '../../results/schema.js';
import { sample } from '../trial-helpers.js';
import {
  BASELINE_MS, CLIENT_READY_TIMEOUT_MS, type ClientProgram, SETTLE_MS, startEchoProbe, startWebLoad, waitForFile, WATCH_AFTER_MS,
} from './client-programs.js';
import { LoadReport, ProbeReport } from './client/reports.js';
import { detailHead, dirtierMetrics, dirtyRecord, judgeHealth, webMetrics } from './detail.js';
import { achievedRate, startDirtier, startEcho, startWeb, type Dirtier } from './guest-workloads.js';
import { classifyOutcome, type LoopEnd } from './outcome.js';
import { longestGapWithin, probeRecord } from './probe-analysis.js';
import { type MigrationTrialParams } from './trial.js';
import { webTimeline } from './web-analysis.js';

/*
 * One migration trial with `--vm-manager libvirt` (the target's `libvirtMigration`): the same
 * workloads and client probe as trial.ts, but libvirt moves the guest (`virsh migrate --live`) and
 * its figures are the job statistics `virsh domjobinfo --completed` prints once afterwards. libvirt
 * gives no rounds, no per-poll samples and no STOP/RESUME stamps, so those are empty, there is no
 * probe self-test (it needs the stamps), and the probe's figure is the longest gap during the
 * migration rather than the one covering the switch-over. Only plain pre-copy is offered.
 */

const MIB = 1_048_576;
/** What a libvirt migration's figures are labelled with in the trial's record and its metrics. */
const SOURCE = 'libvirt domjobinfo';

/**
 * One libvirt migration trial (see the module comment): skipped without `--dest` or for a variant
 * other than precopy; the guest keeps running on the destination for the next trial, which moves it back.
 */
export async function runLibvirtMigrationTrial(params: MigrationTrialParams, context: TrialContext, destinationUri: string | undefined): Promise<TrialOutcome> {
  const { target, client } = context;
  const migration = target.libvirtMigration;
  if (!migration) return { state: 'skipped', reason: `${target.name} has no libvirt domain to migrate (the kvm target with --vm-manager libvirt has)`, commands: [] };
  if (!destinationUri) return { state: 'skipped', reason: 'a libvirt migration needs the destination libvirtd: --dest URI (e.g. qemu+ssh://lab2/system)', commands: [] };
  if (params.variant !== 'precopy') return { state: 'skipped', reason: `the libvirt path migrates with plain pre-copy only, not ${params.variant}`, commands: [] };
  const commands: string[][] = [];
  const lifetimeS = Math.ceil((CLIENT_READY_TIMEOUT_MS * 2 + SETTLE_MS + BASELINE_MS + WATCH_AFTER_MS) / 1000 + params.timeLimitS + 90);
  const services: TargetService[] = [];
  let dirtier: Dirtier | undefined;
  let probe: ClientProgram<ProbeReport> | undefined;
  let load: ClientProgram<LoadReport> | undefined;
  let scratch: string | undefined;
  try {
    await context.verifyDestination(target.serverAddress);
    const echo = await startEcho(target, migration.programs.udpEcho, lifetimeS * 1000);
    services.push(echo);
    commands.push([...echo.command]);
    scratch = await mkdtemp(join(tmpdir(), 'isobench-migration-'));
    const probeReady = join(scratch, 'probe-ready');
    const loadReady = join(scratch, 'load-ready');
    probe = startEchoProbe(client, target.serverAddress, lifetimeS, probeReady);
    const probeCommand = probe.command;
    commands.push(probeCommand);
    await waitForFile(probeReady, 'no echo came back from the guest');
    await sleep(SETTLE_MS);
    let loadCommand: string[] = [];
    if (params.workload === 'web') {
      const web = await startWeb(target, lifetimeS * 1000);
      services.push(web.service);
      commands.push(...web.commands);
      load = startWebLoad(client, target.serverAddress, lifetimeS, loadReady);
      loadCommand = load.command;
      commands.push(loadCommand);
      await waitForFile(loadReady, 'no web request completed');
      await sleep(SETTLE_MS);
    }
    if (params.workload === 'dirty') {
      dirtier = await startDirtier(target, migration.programs.dirtier, params.wwsMiB!, params.dirtyRateMiBs!, lifetimeS);
      commands.push([...dirtier.command]);
    }
    const baseline = { fromMs: epochMs(), toMs: 0 };
    await sleep(BASELINE_MS);
    baseline.toMs = epochMs();

    const report = await migration.migrate({
      destinationUri, maxBandwidthMiBs: params.bandwidthMiBs, downtimeLimitMs: params.downtimeLimitMs, timeLimitMs: params.timeLimitS * 1000,
    });
    commands.push(...report.commands);
    const dirtyAtSwitch = dirtier && report.switchOver ? await dirtier.read() : null;
    await sleep(WATCH_AFTER_MS);
    const watchEndMs = epochMs();
    const probeReport = await probe.stop();
    probe = undefined;
    const loadReport = load ? await load.stop() : null;
    load = undefined;
    const dirtyAfter = dirtier ? await dirtier.stop() : null;
    dirtier = undefined;

    const health = report.switchOver ? judgeHealth(params.workload, report.switchOver, report.endedAtMs, { probe: probeReport, load: loadReport, dirtyAtSwitch, dirtyAfter }) : null;
    const end: LoopEnd =
      report.end.kind === 'completed' ? { kind: 'completed' } : report.end.kind === 'aborted' ? { kind: 'limit', limit: 'time', detail: report.end.detail } : { kind: 'failed', error: report.end.error };
    const outcome = classifyOutcome(end, { variant: params.variant, maxThrottlePercent: report.record.job?.autoConvergeThrottlePercent ?? null, postcopyStarted: false, health });
    const detail = buildLibvirtDetail({ params, report, outcome, health, method: migration.method, probeReport, probeCommand, loadReport, loadCommand, baseline, watchEndMs, dirtyAfter });
    const metrics = libvirtMigrationMetrics(detail, report.record.job, report.end.kind === 'aborted' ? Math.round(report.endedAtMs - report.startedAtMs) : null);
    if (outcome.kind === 'failed') return { state: 'failed', reason: `migration failed: ${outcome.error}`, commands, detail };
    if (outcome.kind === 'guest-unhealthy') return { state: 'failed', reason: `guest unhealthy after the migration: ${outcome.reason}`, commands, detail };
    if (metrics.length === 0) return { state: 'failed', reason: `the migration left no figure to record (${report.record.jobProblem ?? 'domjobinfo printed none'})`, commands, detail };
    return { state: 'completed', metrics, commands, detail };
  } catch (error) {
    return { state: 'failed', reason: errorMessage(error), commands };
  } finally {
    await probe?.stop().catch(() => {});
    await load?.stop().catch(() => {});
    await dirtier?.stop().catch(() => {});
    for (const service of services.reverse()) await service.stop().catch(() => {});
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** What buildLibvirtDetail is built from. */
export interface LibvirtDetailInputs {
  params: MigrationTrialParams;
  report: LibvirtMigrationReport;
  outcome: MigrationTrialDetail['outcome'];
  health: MigrationTrialDetail['health'];
  method: string;
  probeReport: ProbeReport;
  probeCommand: string[];
  loadReport: LoadReport | null;
  loadCommand: string[];
  baseline: { fromMs: number; toMs: number };
  watchEndMs: number;
  dirtyAfter: Parameters<typeof achievedRate>[0] | null;
}

/**
 * The trial's record in the QEMU path's shape (results/migration.ts), `figuresSource: libvirt
 * domjobinfo`: `qemu`'s figures are libvirt's rows (Time elapsed, Setup time, Total downtime, Data
 * processed, Iteration, Memory total), null where virsh printed none; a downtime only after a
 * switch-over; no samples, rounds or events; the probe's longest gap during the migration.
 */
export function buildLibvirtDetail(inputs: LibvirtDetailInputs): MigrationTrialDetail {
  const { params, report } = inputs;
  const start = report.startedAtMs;
  const job = report.record.job;
  const switched = report.switchOver !== null;
  const gap = longestGapWithin(inputs.probeReport.gaps, start, inputs.watchEndMs);
  // libvirt says how long the guest was stopped, not when: no gap is known to cover the switch-over.
  const probe = probeRecord(inputs.probeReport, gap, start, false, inputs.probeCommand);
  const web = webTimeline(inputs.loadReport, inputs.baseline, { fromMs: start, toMs: inputs.watchEndMs }, inputs.loadCommand);
  return {
    // libvirt is not polled: the statistics are read once, after the job ended.
    ...detailHead(params, inputs.method, params.timeLimitS * 1000),
    outcome: inputs.outcome,
    qemu: {
      totalTimeMs: job?.timeElapsedMs ?? null,
      setupTimeMs: job?.setupTimeMs ?? null,
      downtimeMs: switched ? (job?.downtimeMs ?? null) : null,
      eventDowntimeMs: null,
      transferredBytes: job?.dataProcessedBytes ?? null,
      syncCount: job?.iterations ?? null,
      ramBytes: job?.memoryTotalBytes ?? null,
    },
    samples: [],
    rounds: [],
    events: [],
    probe,
    selfTest: null,
    ...(web ? { web } : {}),
    ...dirtyRecord(params, inputs.dirtyAfter),
    health: inputs.health,
    ...(report.destinationSerialLog ? { destinationSerialLog: report.destinationSerialLog } : {}),
    figuresSource: SOURCE,
    libvirt: report.record,
  };
}

/**
 * The trial's metrics, each labelled with the domjobinfo row it comes from; a row virsh did not
 * print gives no metric (never 0). The downtime only after a switch-over. `abortedAfterMs`: for a
 * migration aborted at the time limit, virsh migrate's own wall time, the total time when libvirt
 * kept no statistics.
 */
export function libvirtMigrationMetrics(detail: MigrationTrialDetail, job: LibvirtJobInfo | null, abortedAfterMs: number | null = null): MetricSample[] {
  const metrics: MetricSample[] = [];
  const stopped = detail.outcome.kind === 'not-converged' || detail.outcome.kind === 'failed';
  if (job?.timeElapsedMs !== undefined) metrics.push(sample(M.totalTime, job.timeElapsedMs, `${SOURCE} Time elapsed${stopped ? ' (of the aborted or failed job, --anystats)' : ''}`));
  else if (abortedAfterMs !== null) {
    metrics.push(sample(M.totalTime, abortedAfterMs, 'wall time of virsh migrate until virsh domjobabort took effect (libvirt keeps no statistics of a cancelled migration)'));
  }
  if (job?.setupTimeMs !== undefined) metrics.push(sample(M.setupTime, job.setupTimeMs, `${SOURCE} Setup time`));
  if (detail.qemu.downtimeMs !== null) metrics.push(sample(M.downtimeQemu, detail.qemu.downtimeMs, `${SOURCE} Total downtime (QEMU's downtime as libvirt reports it)`));
  if (detail.health && detail.probe?.migrationGapMs != null) {
    metrics.push(sample(M.downtimeProbe, detail.probe.migrationGapMs, `longest gap in a ${detail.probe.intervalMs} ms UDP echo stream from the client netns during the migration (libvirt gives no switch-over time)`));
  }
  if (job?.iterations !== undefined) metrics.push(sample(M.rounds, job.iterations, `${SOURCE} Iteration (memory_iteration)`));
  if (job?.dataProcessedBytes !== undefined) metrics.push(sample(M.transferred, job.dataProcessedBytes / MIB, `${SOURCE} Data processed`));
  metrics.push(...webMetrics(detail.web), ...dirtierMetrics(detail.dirty));
  return metrics;
}

