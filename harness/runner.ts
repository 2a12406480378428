import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { probeHost } from '../provisioning/host-probe.js';
import { driverFor } from '../provisioning/targets/index.js';
import { Topology } from '../provisioning/topology.js';
import type { ProvisionContext, ProvisionedTarget, TargetName, TargetOptions } from '../provisioning/types.js';
import { RESULTS_SCHEMA_ID, RESULTS_SCHEMA_VERSION, type HostFacts, type ResultsFile, type TargetFacts, type TrialRecord } from '../results/schema.js';
import { ResultsStore } from '../results/store.js';
import { suiteByName } from '../suites/index.js';
import type { ClientSide, SuiteConfig, SuiteName, TrialContext } from '../suites/types.js';
import { CpuMeter } from '../core/cpu-meter.js';
import { acquireRunLock } from '../core/lock.js';
import { buildPlan, type PlannedCell } from './planner.js';
import { summarizePoint } from './point-summary.js';
import { formatDuration, Progress } from './progress.js';
import { waitForQuietHost, type QuietHostOptions } from './quiet-host.js';
import { findStaleLedgers, ResourceRegistry } from '../core/ledger.js';
import { UsageError } from '../core/errors.js';
import { ensureTools } from '../core/tools.js';
import { ISOBENCH_VERSION } from './version.js';

export interface BenchOptions {
  targets: TargetName[];
  suites: SuiteName[];
  quick: boolean;
  repetitions: number;
  outDirectory: string;
  seed: number;
  cvThreshold: number;
  subnet: string;
  guardRange: string;
  targetOptions: TargetOptions;
  suiteOptions: SuiteConfig['options'];
  quietHost: QuietHostOptions;
  progress?: Progress;
}

export interface BenchOutcome {
  resultsPath: string;
  results: ResultsFile;
}

const RUN_DIRECTORY_PARENT = '/var/tmp';

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${Math.random().toString(16).slice(2, 6)}`;
}

/** Provisions the targets, runs the interleaved plan and writes the results file after every trial. */
export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const progress = options.progress ?? new Progress();
  const log = (line: string) => progress.log(line);
  const drivers = options.targets.map((name) => ({ name, driver: driverFor(name) }));
  await ensureTools(
    [...drivers.flatMap(({ driver }) => driver?.hostTools ?? []), ...options.suites.flatMap((name) => suiteByName(name).hostTools)],
    log,
  );
  const stale = await findStaleLedgers();
  if (stale.length > 0) {
    throw new UsageError(`a crashed isobench run (pid ${stale[0]!.pid}) left ${stale[0]!.resources.length} resource(s) behind: run \`npm run cleanup\` first`);
  }
  const releaseLock = await acquireRunLock();
  const host = await probeHost();
  const runId = newRunId();
  const resources = new ResourceRegistry(runId);
  const targets = new Map<TargetName, ProvisionedTarget>();
  let store: ResultsStore | undefined;

  const interrupt = async (signal: NodeJS.Signals) => {
    progress.log(`\n${signal}: stopping, tearing down what this run created…`);
    await store?.update((draft) => {
      draft.status = 'interrupted';
      draft.reason = `stopped by ${signal}`;
      draft.finishedAt = new Date().toISOString();
    }).catch(() => {});
    await teardownTargets(targets);
    await resources.teardownAll();
    await releaseLock();
    if (store) progress.log(`partial results: ${store.path}`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  const onSignal = (signal: NodeJS.Signals) => void interrupt(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const suiteConfig: SuiteConfig = { quick: options.quick, cores: host.cores, options: options.suiteOptions };
    const plan = buildPlan(options.targets, options.suites, suiteConfig, options.repetitions, options.seed);
    store = await ResultsStore.create(options.outDirectory, initialResults(runId, host, options, plan.cells));
    log(`run ${runId}: ${plan.cells.length} points x ${options.repetitions} repetitions, seed ${options.seed}; results: ${store.path}`);

    const runDirectory = await mkdtemp(join(RUN_DIRECTORY_PARENT, 'isobench-run-'));
    await resources.register(`run directory ${runDirectory}`, { kind: 'path', path: runDirectory });
    const topology = await Topology.create({ subnet: options.subnet, guardRange: options.guardRange }, resources);
    const client: ClientSide = { exec: (command, execOptions) => topology.clientExec(command, execOptions), wrap: (command) => topology.wrapClient(command) };

    const provisionContext: ProvisionContext = { topology, resources, options: options.targetOptions, host, runDirectory, logDirectory: options.outDirectory, log };
    for (const { name, driver } of drivers) {
      const facts = await provisionTarget(name, driver, provisionContext, targets);
      await store.update((draft) => {
        draft.targets.push(facts);
        if (facts.state !== 'ready') markTargetPoints(draft, name, facts.state === 'failed' ? 'failed' : 'skipped', facts.reason ?? 'not provisioned');
      });
    }

    const cpu = new CpuMeter();
    const contextFor = (target: ProvisionedTarget): TrialContext => ({
      target,
      client,
      config: suiteConfig,
      host,
      cpu,
      verifyDestination: (address) => topology.verifyDestination(address),
      launchFresh: () => driverFor(target.name)!.provision({ ...provisionContext, log: () => {} }),
    });

    const prepared = new Set<string>();
    for (const [name, target] of targets) {
      for (const suiteName of options.suites) {
        const suite = suiteByName(suiteName);
        await target.resume();
        try {
          progress.update(`preparing ${suiteName} on ${name}…`);
          await suite.prepare?.(contextFor(target));
          prepared.add(`${name}/${suiteName}`);
        } catch (error) {
          await store.update((draft) => markTargetPoints(draft, name, 'failed', `preparing ${suiteName} failed: ${(error as Error).message}`, suiteName));
        } finally {
          await target.pause();
        }
      }
    }

    const runnable = (cell: PlannedCell) => targets.has(cell.target) && prepared.has(`${cell.target}/${cell.suite}`);
    const total = plan.rounds.flat().filter(runnable).length;
    let done = 0;
    const started = performance.now();
    for (const [roundIndex, round] of plan.rounds.entries()) {
      for (const cell of round.filter(runnable)) {
        const target = targets.get(cell.target)!;
        const left = done === 0 ? '' : ` · ~${formatDuration(((performance.now() - started) / done) * (total - done))} left`;
        progress.update(`round ${roundIndex + 1}/${plan.rounds.length} · ${cell.target} · ${cell.suite} · ${cell.point.id} · trial ${done + 1}/${total}${left}`);
        const trial = await runTrial(cell, roundIndex, target, contextFor(target), options.quietHost);
        await store.update((draft) => {
          const index = draft.points.findIndex((point) => point.key === cell.key);
          const point = draft.points[index]!;
          point.trials.push(trial);
          draft.points[index] = summarizePoint(point, options.cvThreshold);
        });
        done++;
      }
    }
    progress.clear();

    for (const [name, target] of targets) {
      await target.resume();
      for (const suiteName of options.suites) {
        if (prepared.has(`${name}/${suiteName}`)) await suiteByName(suiteName).finish?.(contextFor(target)).catch(() => {});
      }
    }
    await store.update((draft) => {
      draft.status = 'completed';
      draft.finishedAt = new Date().toISOString();
    });
    return { resultsPath: store.path, results: store.snapshot };
  } catch (error) {
    await store
      ?.update((draft) => {
        draft.status = 'failed';
        draft.reason = (error as Error).message;
        draft.finishedAt = new Date().toISOString();
      })
      .catch(() => {});
    throw error;
  } finally {
    progress.clear();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardownTargets(targets);
    const teardown = await resources.teardownAll();
    for (const failure of teardown.failed) log(`teardown: could not remove ${failure.description}: ${failure.error} (run \`npm run cleanup\`)`);
    await releaseLock();
  }
}

async function provisionTarget(
  name: TargetName,
  driver: ReturnType<typeof driverFor>,
  context: ProvisionContext,
  targets: Map<TargetName, ProvisionedTarget>,
): Promise<TargetFacts> {
  const unavailable = (state: 'failed' | 'skipped', reason: string): TargetFacts => ({
    target: name,
    state,
    reason,
    networkPath: 'n/a',
    storage: 'n/a',
    labels: {},
    degraded: [],
  });
  if (!driver) return unavailable('skipped', `the ${name} target is not implemented in this version of isobench`);
  try {
    context.log(`provisioning ${name}…`);
    const target = await driver.provision(context);
    targets.set(name, target);
    await target.pause();
    return target.facts;
  } catch (error) {
    context.log(`${name}: provisioning failed: ${(error as Error).message}`);
    return unavailable('failed', `provisioning failed: ${(error as Error).message}`);
  }
}

async function runTrial(
  cell: PlannedCell,
  repetition: number,
  target: ProvisionedTarget,
  context: TrialContext,
  quietHostOptions: QuietHostOptions,
): Promise<TrialRecord> {
  const startedAt = new Date().toISOString();
  await target.resume();
  const begin = performance.now();
  try {
    const quietHost = await waitForQuietHost(quietHostOptions);
    const outcome = await suiteByName(cell.suite).runTrial(cell.point, context);
    return { ...outcome, repetition, startedAt, durationMs: performance.now() - begin, quietHost };
  } catch (error) {
    return { state: 'failed', reason: (error as Error).message, commands: [], repetition, startedAt, durationMs: performance.now() - begin };
  } finally {
    await target.pause();
  }
}

function initialResults(runId: string, host: HostFacts, options: BenchOptions, cells: PlannedCell[]): ResultsFile {
  return {
    schema: RESULTS_SCHEMA_ID,
    version: RESULTS_SCHEMA_VERSION,
    runId,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    status: 'running',
    isobenchVersion: ISOBENCH_VERSION,
    host,
    plan: {
      targets: options.targets,
      suites: options.suites,
      quick: options.quick,
      repetitions: options.repetitions,
      seed: options.seed,
      cvThreshold: options.cvThreshold,
      options: { ...options.targetOptions, ...options.suiteOptions, subnet: options.subnet, guardRange: options.guardRange },
    },
    targets: [],
    points: cells.map((cell) => ({
      key: cell.key,
      target: cell.target,
      suite: cell.suite,
      pointId: cell.point.id,
      params: cell.point.params,
      trials: [],
      summaries: [],
      status: 'pending',
    })),
  };
}

function markTargetPoints(draft: ResultsFile, target: string, status: 'failed' | 'skipped', reason: string, suite?: string): void {
  for (const point of draft.points) {
    if (point.target === target && (suite === undefined || point.suite === suite)) {
      point.status = status;
      point.reason = reason;
    }
  }
}

/**
 * Drivers register every resource they create in the registry (a crash leaves a ledger `cleanup`
 * can replay); teardown() is their orderly way out first (stop a guest cleanly, then remove it).
 */
async function teardownTargets(targets: Map<TargetName, ProvisionedTarget>): Promise<void> {
  for (const target of [...targets.values()].reverse()) {
    await target.teardown().catch(() => {});
  }
  targets.clear();
}
