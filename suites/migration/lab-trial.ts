import { pollUntil, sleep } from '../../core/poll.js';
import { errorMessage } from '../../core/errors.js';
import type { TrialContext, TrialOutcome } from '../../contracts/suite.js';
import type { LabMigrationReport } from '../../contracts/lab-migration.js';
import type { TargetService } from '../../contracts/target.js';
import type { GuestHealth, MigrationTrialDetail } from '../../results/migration.js';
import { MIGRATION_METRICS as M } from '../../results/metrics.js';
import type { ClockOffset, MetricSample } from '../../results/schema.js';
import { sample } from '../trial-helpers.js';
import { BASELINE_MS, CLIENT_READY_TIMEOUT_MS, clientProgramCommand, PROBE_GAP_MS, PROBE_INTERVAL_MS, PROBE_PRIORITY, type ReportingClientProgram, SETTLE_MS, startClientProgram, WATCH_AFTER_MS } from './client-programs.js';
import { ProbeReport } from './client/reports.js';
import { detailHead, dirtierMetrics, dirtyRecord } from './detail.js';
import { ECHO_PORT, startDirtier, startEcho, type Dirtier, type DirtierStats } from './guest-workloads.js';
import { judgeLabWatch, type LabWatchOutcome } from './lab-watch.js';
import { classifyOutcome, type LoopEnd } from './outcome.js';
import { probeRecord } from './probe-analysis.js';
import type { MigrationTrialParams } from './trial.js';

/*
 * One migration trial between two lab hosts (issue 14, the target's `labMigration`): the guest runs
 * on one host with its disk on the hosts' shared-dir, QEMU moves it to the other over their test
 * addresses, and the next trial moves it back. QEMU's own figures come from query-migrate on the
 * source. With a third host (`--client`), the suite's echo probe runs there against the guest's echo
 * server across the lab link: the client-observed downtime is the longest gap it saw in the
 * migration's window (lab-watch.ts), the window moved into the watch host's clock by its offset,
 * measured after each trial. Without one, the downtime is QEMU's alone and the
 * guest's health after the switch-over is its agent answering. Plain pre-copy, idle and dirty
 * workloads; no self-test (its pauses need the QMP stamps read here and the probe's clock there).
 */

const MIB = 1_048_576;

/** Runs one lab migration trial (see the module comment); the guest keeps running where the migration left it. */
export async function runLabMigrationTrial(params: MigrationTrialParams, context: TrialContext): Promise<TrialOutcome> {
  const { target } = context;
  const migration = target.labMigration;
  if (!migration) return { state: 'skipped', reason: `${target.name} is not a guest on a lab host`, commands: [] };
  if (params.variant !== 'precopy') return { state: 'skipped', reason: `lab mode migrates with plain pre-copy only so far, not ${params.variant}`, commands: [] };
  if (params.workload === 'web') return { state: 'skipped', reason: 'lab mode runs the idle and dirty workloads so far: the web load across the lab link is not built', commands: [] };
  const commands: string[][] = [];
  const lifetimeS = Math.ceil((CLIENT_READY_TIMEOUT_MS + SETTLE_MS + BASELINE_MS + WATCH_AFTER_MS) / 1000 + params.timeLimitS + 60);
  const services: TargetService[] = [];
  let dirtier: Dirtier | undefined;
  let probe: ReportingClientProgram<ProbeReport> | undefined;
  const watch = migration.watch;
  const readyFile = `/tmp/isobench-lab-probe-ready-${process.pid}-${Date.now().toString(36)}`;
  try {
    // A guest kernel that panicked after the last switch-over ended its QEMU (seen under TCG on a loaded host).
    const recoveredBefore = (await migration.alive()) ? undefined : await migration.recover();
    await context.verifyDestination(target.serverAddress);
    const from = migration.where();
    let probeCommand: string[] = [];
    if (watch) {
      const echo = await startEcho(target, migration.programs.udpEcho, lifetimeS * 1000);
      services.push(echo);
      commands.push([...echo.command]);
      const flags = { address: target.serverAddress, port: ECHO_PORT, 'interval-ms': PROBE_INTERVAL_MS, 'gap-ms': PROBE_GAP_MS, 'max-seconds': lifetimeS, 'ready-file': readyFile };
      probe = startClientProgram(context.client, clientProgramCommand('udp-probe', flags, PROBE_PRIORITY), ProbeReport, lifetimeS, watch.host);
      probeCommand = probe.command;
      commands.push(probeCommand);
      const running = probe;
      await pollUntil(async () => ((await running.snapshot()).firstEchoAtMs !== null ? true : undefined), {
        timeoutMs: CLIENT_READY_TIMEOUT_MS,
        intervalMs: 250,
        what: `no echo came back from the guest to host ${watch.name}`,
      });
      await sleep(SETTLE_MS);
    }
    if (params.workload === 'dirty') {
      dirtier = await startDirtier(target, migration.programs.dirtier, params.wwsMiB!, params.dirtyRateMiBs!, lifetimeS);
      commands.push([...dirtier.command]);
    }
    await sleep(BASELINE_MS);

    const report = await migration.migrate({ maxBandwidthBytesPerSecond: params.bandwidthMiBs * MIB, downtimeLimitMs: params.downtimeLimitMs, timeLimitMs: params.timeLimitS * 1000 });
    const dirtyAtSwitch = dirtier && report.switchOver ? await dirtier.read() : null;
    await sleep(WATCH_AFTER_MS);
    const probeReport = probe ? await probe.stop() : null;
    probe = undefined;
    const dirtyAfter = dirtier ? await dirtier.stop() : null;
    dirtier = undefined;

    const { outcome } = report;
    // The probe stamps echoes with the watch host's clock: a real lab's hosts differ by ms, as much as a short gap.
    const clockOffset = probeReport && watch ? await watch.clockOffset() : null;
    const watched = probeReport && watch && clockOffset && outcome.kind === 'completed'
      ? judgeLabWatch(probeReport, { startedAtMs: outcome.startedAtMs, completedAtMs: outcome.last.atMs, afterMs: WATCH_AFTER_MS }, watch.name, clockOffset.offsetMs)
      : null;
    const health = report.switchOver ? labHealth(params.workload, report, watched, dirtyAtSwitch, dirtyAfter) : null;
    const end: LoopEnd = outcome.kind === 'completed'
      ? { kind: 'completed' }
      : outcome.kind === 'not-converged'
        ? { kind: 'limit', limit: 'time', detail: `not completed within ${outcome.timeLimitMs} ms, cancelled (the guest stays on ${from})` }
        : { kind: 'failed', error: `${outcome.stage}: ${outcome.reason}` };
    const classified = classifyOutcome(end, { variant: params.variant, maxThrottlePercent: null, postcopyStarted: false, health });
    const detail = { ...buildLabDetail(params, report, classified, health, migration.method, { probeReport, probeCommand, watched, clockOffset, dirtyAfter }), ...(recoveredBefore ? { recoveredBefore } : {}) };
    if (classified.kind === 'failed') return { state: 'failed', reason: `migration ${from} -> ${outcome.destination.host} failed: ${classified.error}`, commands, detail };
    if (classified.kind === 'guest-unhealthy') return { state: 'failed', reason: `guest unhealthy on ${outcome.destination.host} after the migration: ${classified.reason}`, commands, detail };
    const metrics = labMigrationMetrics(report, watched, detail);
    if (metrics.length === 0) return { state: 'failed', reason: 'the migration left no figure to record (QEMU reported no total-time)', commands, detail };
    return { state: 'completed', metrics, commands, detail };
  } catch (error) {
    return { state: 'failed', reason: errorMessage(error), commands };
  } finally {
    await probe?.stop().catch(() => {});
    await dirtier?.stop().catch(() => {});
    for (const service of services.reverse()) await service.stop().catch(() => {});
    if (watch) await watch.host.run(['rm', '-f', readyFile], { timeoutMs: 10_000 }).catch(() => {});
  }
}

/**
 * The guest's health on the destination: QEMU runs it, its console shows no panic, and the workload
 * answered after the switch-over: the watch host's echoes (when there is one), else the guest agent;
 * for `dirty`, the dirtier's progress.
 */
export function labHealth(
  workload: MigrationTrialParams['workload'],
  report: Pick<LabMigrationReport, 'switchOver'>,
  watched: LabWatchOutcome | null,
  dirtyAtSwitch: DirtierStats | null,
  dirtyAfter: DirtierStats | null,
): GuestHealth {
  const switchOver = report.switchOver!;
  const notes: string[] = [];
  let answered = switchOver.agentProblem === null;
  notes.push(answered ? 'the guest agent answered on the destination' : `the guest agent did not answer on the destination: ${switchOver.agentProblem}`);
  if (watched) {
    const echoed = watched.kind !== 'lost';
    notes.push(echoed ? `echoes reached host ${watched.host} after the switch-over` : watched.reason);
    answered &&= echoed;
  }
  if (workload === 'dirty') {
    const before = dirtyAtSwitch?.pages_written ?? null;
    const after = dirtyAfter?.pages_written ?? null;
    const progressed = before !== null && after !== null && after > before;
    notes.push(progressed ? `the dirtier wrote ${after - before} more pages after the switch-over` : 'the dirtier showed no progress after the switch-over');
    answered &&= progressed;
  }
  return { runState: switchOver.runState, serialProblem: switchOver.serialProblem, workloadAnswered: answered, detail: notes.join('; ') };
}

/** What the watch host saw, for buildLabDetail. */
interface WatchInputs {
  probeReport: ProbeReport | null;
  probeCommand: string[];
  watched: LabWatchOutcome | null;
  /** The watch host's clock offset the window was moved by; null without a watch host or its report. */
  clockOffset: Pick<ClockOffset, 'offsetMs' | 'uncertaintyMs'> | null;
  dirtyAfter: DirtierStats | null;
}

/**
 * The trial's record in the migration suite's shape (results/migration.ts) with its `lab` part: the
 * two hosts, the URI, the watch host's verdict. QEMU's figures from the source's last query-migrate;
 * no samples, rounds or events (the source is polled for its status only), no self-test.
 */
export function buildLabDetail(
  params: MigrationTrialParams,
  report: LabMigrationReport,
  outcome: MigrationTrialDetail['outcome'],
  health: GuestHealth | null,
  method: string,
  watch: WatchInputs,
): MigrationTrialDetail {
  const end = report.outcome;
  const completed = end.kind === 'completed' ? end : null;
  const last = end.last;
  const startMs = completed?.startedAtMs ?? last?.atMs ?? 0;
  const gap = watch.watched?.kind === 'observed' ? { fromMs: watch.watched.fromMs, toMs: watch.watched.toMs } : null;
  return {
    // provisioning/kvm/lab/lab-migration.ts asks query-migrate every 100 ms.
    ...detailHead(params, method, 100),
    outcome,
    qemu: {
      totalTimeMs: completed?.figures.totalTimeMs ?? last?.totalTimeMs ?? null,
      setupTimeMs: completed?.figures.setupTimeMs ?? last?.setupTimeMs ?? null,
      downtimeMs: completed?.figures.downtimeMs ?? null,
      eventDowntimeMs: null,
      transferredBytes: completed?.figures.transferredBytes ?? last?.transferredBytes ?? null,
      syncCount: completed?.figures.dirtySyncCount ?? last?.syncCount ?? null,
      ramBytes: completed?.figures.ramBytes ?? last?.totalBytes ?? null,
    },
    samples: [],
    rounds: [],
    events: [],
    probe: watch.probeReport ? probeRecord(watch.probeReport, gap, startMs, gap !== null, watch.probeCommand) : null,
    selfTest: null,
    ...dirtyRecord(params, watch.dirtyAfter),
    health,
    ...(report.destinationSerialLog ? { destinationSerialLog: report.destinationSerialLog } : {}),
    ...(report.libvirt ? { figuresSource: 'libvirt domjobinfo' as const, libvirt: report.libvirt } : {}),
    lab: {
      source: end.source.host,
      destination: end.destination.host,
      uri: end.uri,
      watch: watch.watched,
      watchClockOffset: watch.clockOffset ? { offsetMs: watch.clockOffset.offsetMs, uncertaintyMs: watch.clockOffset.uncertaintyMs } : null,
    },
  };
}

/**
 * What each figure is called where it comes from. libvirt's `Iteration` is QEMU's dirty-sync-count
 * (libvirt reads `memory_iteration` from query-migrate's `ram.dirty-sync-count`), and `Data
 * processed` its `ram.transferred` plus the disk's, 0 on a shared disk.
 */
const FIGURE_NAMES = {
  qemu: { from: 'QEMU query-migrate on the source', total: 'total-time', setup: 'setup-time', downtime: 'downtime', syncs: 'ram.dirty-sync-count', transferred: 'ram.transferred' },
  libvirt: { from: 'libvirt domjobinfo --completed on the source', total: 'Time elapsed', setup: 'Setup time', downtime: 'Total downtime', syncs: 'Iteration', transferred: 'Data processed' },
} as const;

/**
 * The trial's metrics, each labelled with its source: QEMU's total time, setup, downtime and
 * dirty-sync-count, the bytes sent, and the watch host's observed gap (`downtime_probe_ms`) when it
 * saw one; nothing QEMU did not report (never 0). A cancelled migration has its time to the cancel.
 */
export function labMigrationMetrics(report: LabMigrationReport, watched: LabWatchOutcome | null, detail: MigrationTrialDetail): MetricSample[] {
  const { outcome } = report;
  // The same words for both directions: a point's mean spans trials there and back (the record's `lab` has each one's).
  const hosts = [outcome.source.host, outcome.destination.host].sort().join(' and ');
  const qemu = detail.qemu;
  const metrics: MetricSample[] = [];
  const names = FIGURE_NAMES[report.figuresFrom];
  const from = `${names.from}, between lab hosts ${hosts},`;
  if (qemu.totalTimeMs !== null) metrics.push(sample(M.totalTime, qemu.totalTimeMs, `${from} ${names.total}${outcome.kind === 'not-converged' ? ' until the cancel' : ''}`));
  if (qemu.setupTimeMs !== null) metrics.push(sample(M.setupTime, qemu.setupTimeMs, `${from} ${names.setup}`));
  if (qemu.downtimeMs !== null) metrics.push(sample(M.downtimeQemu, qemu.downtimeMs, `${from} ${names.downtime}`));
  if (qemu.syncCount !== null) {
    metrics.push(sample(M.rounds, qemu.syncCount, `${from} ${names.syncs}`));
    // After a switch-over: the setup sync and the completion's are not pre-copy rounds (results/metrics.ts).
    if (outcome.kind === 'completed' && qemu.syncCount >= 2) metrics.push(sample(M.precopyRounds, qemu.syncCount - 2, `${from} ${names.syncs} - 2`));
  }
  if (qemu.transferredBytes !== null) metrics.push(sample(M.transferred, qemu.transferredBytes / MIB, `${from} ${names.transferred}`));
  if (watched?.kind === 'observed') metrics.push(sample(M.downtimeProbe, Math.round(watched.gapMs * 100) / 100, `longest gap in the 1 ms UDP echo stream seen at lab host ${watched.host}, in the migration's window`));
  metrics.push(...dirtierMetrics(detail.dirty));
  return metrics;
}
