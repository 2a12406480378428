import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { epochMs } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { sleep } from '../../core/poll.js';
import type { ContainerMigrationHost, ContainerMigrationReport, ContainerPhase, ContainerWorkloadSpec, MigratableContainer } from '../../contracts/container-migration.js';
import type { ClientSide, TrialOutcome } from '../../contracts/suite.js';
import type { FreezeRecord } from '../../contracts/target.js';
import type { ContainerMigrationOutcome, ContainerMigrationTrialDetail, ContainerPhaseRecord } from '../../results/container-migration.js';
import { MIGRATION_METRICS as M } from '../../results/metrics.js';
import type { MetricSample } from '../../results/schema.js';
import { sample } from '../trial-helpers.js';
import {
  BASELINE_MS, type ClientProgram, SELF_TEST_SPACING_MS, SETTLE_MS, startEchoProbe, startWebLoad, waitForFile, WATCH_AFTER_MS,
} from './client-programs.js';
import { LoadReport, ProbeReport } from './client/reports.js';
import { ECHO_PORT, nginxConfig, NGINX_CONFIG, WEB_PORT } from './guest-workloads.js';
import { webMetrics } from './detail.js';
import { judgeSelfTest, longestGapWithin, probeRecord, SELF_TEST_PAUSES_MS } from './probe-analysis.js';
import { webTimeline } from './web-analysis.js';

/*
 * The container row of the migration suite (issue 12): one stop-and-copy migration of a running
 * container with CRIU — checkpoint, copy of the images, restore as a new container with the same
 * address — watched by the VM trials' client programs (the 1 ms UDP echo probe, and for `web` the
 * HTTP client against nginx), so the two rows compare field for field. There are no rounds: this
 * kernel has no soft-dirty tracking, so CRIU cannot pre-copy; the whole checkpoint-to-restore span is
 * downtime.
 */

// The probe's, self-test's, baseline's and web client's constants are the VM trials' (trial.ts): the rows compare field for field.
/** How long the container's servers and the clients may live, s: generously past the whole trial. */
const LIFETIME_S = 180;
const MIB = 1_048_576;

/**
 * nginx's worker runs as root in the container, unlike in the guest: CRIU reads every task's rlimits
 * (prlimit), which for a task of another user needs CAP_SYS_RESOURCE, and this host's capability
 * bounding set lacks it — the dump failed with "Can't get rlimit 0: Operation not permitted" while
 * the worker ran as nobody.
 */
export const CONTAINER_NGINX_USER = 'user root root;\n';

/** The servers the container runs for a workload: the echo server always, nginx for `web` (the VM trials' configuration, worker as root). */
export function containerWorkload(workload: 'idle' | 'web', address: string, udpEcho: string): ContainerWorkloadSpec {
  const echo = [udpEcho, address, String(ECHO_PORT)];
  if (workload === 'idle') return { files: [], servers: [echo] };
  return { files: [{ path: NGINX_CONFIG, content: CONTAINER_NGINX_USER + nginxConfig(address, WEB_PORT) }], servers: [echo, ['nginx', '-c', NGINX_CONFIG, '-g', 'daemon off;']] };
}

/**
 * One container migration trial: a fresh container with the workload, the probe (and the web
 * client) from the client namespace, the probe's self-test on cgroup-freezer pauses, a
 * pre-migration window, the migration, a watch after it; then the container is removed.
 * `skipped` with CRIU's own reason where the host cannot checkpoint; `dirty` is skipped (the row
 * compares the idle and web workloads).
 */
export async function runContainerMigrationTrial(
  workload: 'idle' | 'web' | 'dirty',
  host: ContainerMigrationHost,
  context: { client: ClientSide; verifyDestination(address: string): Promise<void> },
): Promise<TrialOutcome> {
  if (host.support.kind === 'unsupported') return { state: 'skipped', reason: `container migration is not supported on this host: ${host.support.reason}`, commands: [] };
  if (workload === 'dirty') return { state: 'skipped', reason: 'the container row runs the idle and web workloads only', commands: [] };
  const commands: string[][] = [];
  let container: MigratableContainer | undefined;
  let probe: ClientProgram<ProbeReport> | undefined;
  let load: ClientProgram<LoadReport> | undefined;
  let scratch: string | undefined;
  try {
    container = await host.launch(containerWorkload(workload, host.serverAddress, host.programs.udpEcho));
    commands.push(...container.commands);
    const address = container.serverAddress;
    await context.verifyDestination(address);
    scratch = await mkdtemp(join(tmpdir(), 'isobench-container-migration-'));
    probe = startEchoProbe(context.client, address, LIFETIME_S, join(scratch, 'probe-ready'));
    commands.push(probe.command);
    await waitForFile(join(scratch, 'probe-ready'), 'no echo came back from the container');
    await sleep(SETTLE_MS);
    const freezes: FreezeRecord[] = [];
    for (const ms of SELF_TEST_PAUSES_MS) {
      freezes.push(await container.freeze(ms));
      await sleep(SELF_TEST_SPACING_MS);
    }
    if (workload === 'web') {
      load = startWebLoad(context.client, address, LIFETIME_S, join(scratch, 'load-ready'));
      commands.push(load.command);
      await waitForFile(join(scratch, 'load-ready'), 'no web request completed');
      await sleep(SETTLE_MS);
    }
    const baseline = { fromMs: epochMs(), toMs: 0 };
    await sleep(BASELINE_MS);
    baseline.toMs = epochMs();

    const report = await container.migrate();
    for (const phase of [report.checkpoint, report.copy, report.network, report.restore]) if (phase && phase.command.length) commands.push(phase.command);
    await sleep(WATCH_AFTER_MS);
    const watchEndMs = epochMs();
    const probeReport = await probe.stop();
    probe = undefined;
    const loadReport = load ? await load.stop() : null;
    load = undefined;

    const detail = buildContainerDetail({ workload, host, report, freezes, probeReport, loadReport, baseline, watchEndMs, probeCommand: commands.find((c) => c.some((part) => part.endsWith('udp-probe.ts'))) ?? [], loadCommand: commands.find((c) => c.some((part) => part.endsWith('http-load.ts'))) ?? [] });
    const metrics = containerMigrationMetrics(detail);
    if (detail.outcome.kind === 'failed') return { state: 'failed', reason: `container migration failed at ${detail.outcome.step}: ${detail.outcome.error}`, commands, detail };
    if (metrics.length === 0) return { state: 'failed', reason: 'the container migration left no figure to record', commands, detail };
    return { state: 'completed', metrics, commands, detail };
  } catch (error) {
    return { state: 'failed', reason: errorMessage(error), commands };
  } finally {
    await probe?.stop().catch(() => {});
    await load?.stop().catch(() => {});
    await container?.teardown().catch(() => {});
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** What buildContainerDetail reads. All times epoch ms. */
export interface ContainerDetailInputs {
  workload: 'idle' | 'web';
  host: Pick<ContainerMigrationHost, 'method' | 'support'>;
  report: ContainerMigrationReport;
  freezes: readonly FreezeRecord[];
  probeReport: ProbeReport;
  loadReport: LoadReport | null;
  baseline: { fromMs: number; toMs: number };
  watchEndMs: number;
  probeCommand: string[];
  loadCommand: string[];
}

/**
 * The trial's record: phases relative to the checkpoint's start; the probe's longest gap from the
 * checkpoint's start to the end of the watch (the client-observed downtime; it covers the
 * switch-over when it begins inside the checkpoint and ends after the restore began); the web blackout and
 * brownout over the same span; the outcome, with `health` failing a restore after which the
 * workload never answered.
 */
export function buildContainerDetail(inputs: ContainerDetailInputs): ContainerMigrationTrialDetail {
  const { report } = inputs;
  const start = report.checkpoint?.startedAtMs ?? inputs.watchEndMs;
  const relative = (ms: number) => Math.round((ms - start) * 10) / 10;
  const phase = (value: ContainerPhase | undefined): ContainerPhaseRecord | undefined =>
    value && { startMs: relative(value.startedAtMs), endMs: relative(value.endedAtMs), ms: Math.round((value.endedAtMs - value.startedAtMs) * 10) / 10 };
  const restoredAt = report.outcome.kind === 'converged' ? (report.restore?.endedAtMs ?? null) : null;
  const probeReport = inputs.probeReport;
  const gap = longestGapWithin(probeReport.gaps, start, inputs.watchEndMs);
  // The container's switch-over: CRIU freezes the tasks during the checkpoint (about 100 ms after
  // it starts, here) and they run again during the restore (before runc returns). The gap covers
  // it when it begins inside the checkpoint and ends after the restore began.
  const coversSwitchover =
    gap !== null && restoredAt !== null && report.checkpoint !== undefined && report.restore !== undefined &&
      gap.fromMs >= start - 1 && gap.fromMs <= report.checkpoint.endedAtMs && gap.toMs >= report.restore.startedAtMs;
  const probe = probeRecord(probeReport, gap, start, coversSwitchover, inputs.probeCommand);
  const web = webTimeline(inputs.loadReport, inputs.baseline, { fromMs: start, toMs: inputs.watchEndMs }, inputs.loadCommand);
  let outcome: ContainerMigrationOutcome = report.outcome.kind === 'converged' ? { kind: 'converged' } : report.outcome;
  let health: string | null = null;
  if (restoredAt !== null) {
    const notes: string[] = [];
    const echoed = probeReport.lastEchoAtMs !== null && probeReport.lastEchoAtMs > restoredAt;
    notes.push(echoed ? 'echoes arrived after the restore' : 'no echo arrived after the restore');
    let answered = echoed;
    if (inputs.loadReport) {
      const loadReport = inputs.loadReport;
      const after = loadReport.completed.filter((_, index) => loadReport.startedAtMs + index * loadReport.bucketMs >= restoredAt).reduce((sum, value) => sum + value, 0);
      notes.push(`${after} web requests completed after the restore`);
      answered &&= after > 0;
    }
    health = notes.join('; ');
    if (!answered) outcome = { kind: 'failed', step: 'health', error: `the workload stopped answering: ${health}` };
  }
  const restore = phase(report.restore);
  return {
    kind: 'container-migration',
    method: inputs.host.method,
    workload: inputs.workload,
    dirtyTracking: inputs.host.support.kind === 'supported' ? inputs.host.support.dirtyTracking : { available: false, detail: 'not checked' },
    outcome,
    ...(report.checkpoint ? { checkpoint: phase(report.checkpoint)! } : {}),
    ...(report.copy ? { copy: { ...phase(report.copy)!, bytes: report.copy.bytes, files: report.copy.files } } : {}),
    ...(report.network ? { network: phase(report.network)! } : {}),
    ...(restore ? { restore } : {}),
    totalMs: restoredAt !== null && restore ? restore.endMs : null,
    probe,
    selfTest: judgeSelfTest(inputs.freezes, probeReport),
    ...(web ? { web } : {}),
    health,
  };
}

/**
 * The trial's metrics, in the VM trials' names where the quantity is the same: total time
 * (checkpoint start to restore end), the probe's downtime, the bytes moved, the probe's resolution,
 * the web figures. Anything not measured is left out, never 0.
 */
export function containerMigrationMetrics(detail: ContainerMigrationTrialDetail): MetricSample[] {
  const metrics: MetricSample[] = [];
  if (detail.totalMs !== null) metrics.push(sample(M.totalTime, detail.totalMs, 'host clock: runc checkpoint start to runc restore end (CRIU stop-and-copy)'));
  if (detail.probe?.coversSwitchover && detail.probe.migrationGapMs !== null) {
    metrics.push(sample(M.downtimeProbe, detail.probe.migrationGapMs, `longest gap in a ${detail.probe.intervalMs} ms UDP echo stream from the client netns, covering checkpoint to restore`));
  }
  if (detail.copy) metrics.push(sample(M.transferred, detail.copy.bytes / MIB, 'bytes of CRIU\'s image directory copied to the destination'));
  if (detail.selfTest?.resolutionMs != null) metrics.push(sample(M.probeResolution, detail.selfTest.resolutionMs, 'largest |error| reading cgroup-freezer pauses of 100, 200, 500 ms'));
  metrics.push(...webMetrics(detail.web));
  return metrics;
}

