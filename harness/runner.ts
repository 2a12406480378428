import { mkdtemp } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { AnySuite, ClientSide, SuiteContext, SuiteOptions } from '../contracts/suite.js';
import type { ProvisionedTarget, ServicePort, TargetOptions } from '../contracts/target.js';
import { probeHost } from '../provisioning/host-probe.js';
import { optionsFor, type TargetConfiguration } from '../provisioning/targets/configuration.js';
import { Topology, type TopologyConfig } from '../provisioning/topology.js';
import type { ProvisionContext } from '../provisioning/types.js';
import { RESULTS_SCHEMA_ID, RESULTS_SCHEMA_VERSION, type HostFacts, type ResultsFile, type TargetFacts, type TrialRecord } from '../results/schema.js';
import { ResultsStore } from '../results/store.js';
import { withVerdicts } from '../results/verdict.js';
import { CpuMeter } from '../core/cpu-meter.js';
import { acquireRunLock } from '../core/lock.js';
import { buildPlan, type PlannedCell } from './planner.js';
import { summarizePoint } from './point-summary.js';
import { formatDuration, Progress } from './progress.js';
import { waitForQuietHost, type QuietHostOptions } from './quiet-host.js';
import { findStaleLedgers, ResourceRegistry } from '../core/ledger.js';
import { errorMessage } from '../core/errors.js';
import { UsageError } from '../core/errors.js';
import { ensureTools } from '../core/tools.js';
import { ISOBENCH_VERSION } from './version.js';

/** A parsed `npm run bench` command line: what to run and how. */
export interface BenchOptions {
  /** Target configurations, one row each, in the order given. */
  targets: TargetConfiguration[];
  /** Registered suites (or test doubles) to run, in the order given. */
  suites: AnySuite[];
  quick: boolean;
  repetitions: number;
  outDirectory: string;
  seed: number;
  cvThreshold: number;
  subnet: string;
  guardRange: string;
  /** Run-wide target options; a configuration's own values override them. */
  targetOptions: TargetOptions;
  /** Each suite's parsed options, by suite name. */
  suiteOptions: ReadonlyMap<string, SuiteOptions>;
  quietHost: QuietHostOptions;
  progress?: Progress;
  /**
   * Test seams: the host facts (default: probe this host), the network (default: build the real
   * topology) and how an interrupted run ends the process (default: `process.exit`). `exit` is called
   * once with 130 (SIGINT) or 143 (SIGTERM) after the results file is marked `interrupted`, the targets
   * and resources are torn down and the lock is released. The real one does not return; a test double
   * that does leaves `runBench` carrying on against torn-down targets, so a test should judge only
   * what had happened by the time `exit` was called.
   */
  seams?: {
    host?: HostFacts;
    createTopology?: (config: TopologyConfig, resources: ResourceRegistry) => Promise<Topology>;
    exit?: (code: number) => void;
  };
}

/** What a finished run left: the results file's path and its final content (status `completed`). */
export interface BenchOutcome {
  /** `DIR/<run-id>.json`, absolute. */
  resultsPath: string;
  results: ResultsFile;
}

const RUN_DIRECTORY_PARENT = '/var/tmp';

/**
 * A run id that sorts by start time and stays unique when two runs start in the same second:
 * `20261130T022230Z-7d8c` (UTC, seconds, 4 random hex digits). Names results files, ledgers and
 * every resource a run creates.
 */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${Math.random().toString(16).slice(2, 6)}`;
}

/**
 * Provisions the target configurations, prepares the suites on each, runs the interleaved plan and
 * writes the results file after every trial; tears everything down on success, failure and
 * SIGINT, SIGTERM and SIGHUP (then the file says `interrupted` and the process exits 128 + the signal number).
 *
 * @throws UsageError when a crashed run's leftovers remain or another run holds the lock; a failure
 *   to build the network or write the results file is rethrown after the file is marked `failed`.
 *   A target that fails to provision, prepare or run is recorded in the file, not thrown.
 */
export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const progress = options.progress ?? new Progress();
  const log = (line: string) => progress.log(line);
  await ensureTools([...options.targets.flatMap(({ driver }) => driver.hostTools), ...options.suites.flatMap((suite) => suite.hostTools)], log);
  const stale = await findStaleLedgers();
  if (stale.length > 0) {
    throw new UsageError(`a crashed isobench run (pid ${stale[0]!.pid}) left ${stale[0]!.resources.length} resource(s) behind: run \`npm run cleanup\` first`);
  }
  const releaseLock = await acquireRunLock();
  const host = options.seams?.host ?? (await probeHost());
  const runId = newRunId();
  const resources = new ResourceRegistry(runId);
  const targets = new Map<string, ProvisionedTarget>();
  let store: ResultsStore | undefined;

  const exit = options.seams?.exit ?? ((code: number) => process.exit(code));
  const interrupt = async (signal: NodeJS.Signals) => {
    progress.log(`\n${signal}: stopping, tearing down what this run created…`);
    await store?.update((draft) => {
      draft.status = 'interrupted';
      draft.reason = `stopped by ${signal}`;
      draft.finishedAt = new Date().toISOString();
    }).catch(() => {});
    await teardownTargets(targets);
    await resources.undoAll();
    await releaseLock();
    if (store) progress.log(`partial results: ${store.path}`);
    // 128 + the signal's number, as a shell reports it: SIGHUP 129, SIGINT 130, SIGTERM 143.
    exit(128 + (osConstants.signals[signal] ?? 2));
  };
  // `on`, not `once`: execa's signal-exit re-raises a signal when it finds itself the last listener,
  // and a `once` handler has removed itself by then, so the process died mid-teardown and left the
  // namespace, containers and a `running` file behind (seen with a real Ctrl-C during a trial). A
  // second Ctrl-C while tearing down is ignored: the teardown is what makes the host clean again.
  let interruption: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interruption ??= interrupt(signal);
  };
  /**
   * The main flow's writes to the results file. Once a signal arrived the file belongs to the
   * interrupt handler: a trial that fails because its target was just torn down, or the end of the
   * loop, must not write `completed` over `interrupted`.
   */
  const record = async (change: (draft: ResultsFile) => void) => {
    if (interruption === undefined) await store!.update(change);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed terminal (SIGHUP) must not leave the host dirty either.
  process.on('SIGHUP', onSignal);

  try {
    const suites = new Map(options.suites.map((suite) => [suite.name, suite]));
    const configFor = (suite: string) => ({ quick: options.quick, cores: host.cores, options: options.suiteOptions.get(suite) ?? {} });
    const plan = buildPlan(options.targets.map(({ id }) => id), [...suites.keys()], { quick: options.quick, cores: host.cores }, options.suiteOptions, options.repetitions, options.seed, suites);
    store = await ResultsStore.create(options.outDirectory, initialResults(runId, host, options, plan.cells));
    log(`run ${runId}: ${plan.cells.length} points x ${options.repetitions} repetitions, seed ${options.seed}; results: ${store.path}`);

    const runDirectory = await mkdtemp(join(RUN_DIRECTORY_PARENT, 'isobench-run-'));
    await resources.register(`run directory ${runDirectory}`, { kind: 'path', path: runDirectory });
    const createTopology = options.seams?.createTopology ?? ((config, registry) => Topology.create(config, registry));
    const topology = await createTopology({ subnet: options.subnet, guardRange: options.guardRange }, resources);
    const client: ClientSide = { exec: (command, execOptions) => topology.clientExec(command, execOptions), wrap: (command) => topology.wrapClient(command) };

    const servicePorts: ServicePort[] = options.suites.flatMap((suite) => suite.ports);
    const contexts = new Map<string, ProvisionContext>();
    for (const configuration of options.targets) {
      if (interruption) break;
      const context: ProvisionContext = {
        configuration: configuration.id,
        servicePorts,
        topology,
        resources,
        options: optionsFor(configuration, options.targetOptions),
        host,
        runDirectory,
        logDirectory: options.outDirectory,
        log,
      };
      contexts.set(configuration.id, context);
      const facts = await provisionTarget(configuration, context, targets);
      await record((draft) => {
        draft.targets.push(facts);
        if (facts.state !== 'ready') markTargetPoints(draft, configuration.id, facts.state === 'failed' ? 'failed' : 'skipped', facts.reason ?? 'not provisioned');
      });
    }

    const cpu = new CpuMeter();
    const drivers = new Map(options.targets.map((configuration) => [configuration.id, configuration.driver]));
    const contextFor = (target: ProvisionedTarget, suite: string): SuiteContext => ({
      target,
      client,
      config: configFor(suite),
      host,
      cpu,
      verifyDestination: (address) => topology.verifyDestination(address),
      logDirectory: options.outDirectory,
      launchFresh: () => drivers.get(target.name)!.provision({ ...contexts.get(target.name)!, log: () => {} }),
    });

    /** What each suite's `prepare` returned, by `configuration/suite`; present only where it succeeded. */
    const prepared = new Map<string, unknown>();
    for (const [name, target] of targets) {
      for (const suite of options.suites) {
        if (interruption) break;
        await target.resume();
        try {
          progress.update(`preparing ${suite.name} on ${name}…`);
          prepared.set(`${name}/${suite.name}`, await suite.prepare?.(contextFor(target, suite.name)));
        } catch (error) {
          await record((draft) => markTargetPoints(draft, name, 'failed', `preparing ${suite.name} failed: ${errorMessage(error)}`, suite.name));
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
        if (interruption) break;
        const target = targets.get(cell.target)!;
        const left = done === 0 ? '' : ` · ~${formatDuration(((performance.now() - started) / done) * (total - done))} left`;
        progress.update(`round ${roundIndex + 1}/${plan.rounds.length} · ${cell.target} · ${cell.suite} · ${cell.point.id} · trial ${done + 1}/${total}${left}`);
        const context = { ...contextFor(target, cell.suite), state: prepared.get(`${cell.target}/${cell.suite}`) };
        const trial = await runTrial(suites.get(cell.suite)!, cell, roundIndex, target, context, options.quietHost, log);
        await record((draft) => {
          const index = draft.points.findIndex((point) => point.key === cell.key);
          const point = draft.points[index]!;
          point.trials.push({ ...trial, round: roundIndex });
          draft.points[index] = summarizePoint(point, options.cvThreshold);
          (draft.order[roundIndex] ??= []).push(cell.key);
          draft.points = withVerdicts(draft).points;
        });
        done++;
      }
    }
    progress.clear();
    if (interruption) {
      await interruption;
      return { resultsPath: store.path, results: store.snapshot };
    }

    for (const [name, target] of targets) {
      await target.resume();
      for (const suite of options.suites) {
        const key = `${name}/${suite.name}`;
        if (prepared.has(key)) await suite.finish?.(contextFor(target, suite.name), prepared.get(key)).catch(() => {});
      }
    }
    await record((draft) => {
      draft.status = 'completed';
      draft.finishedAt = new Date().toISOString();
    });
    return { resultsPath: store.path, results: store.snapshot };
  } catch (error) {
    // Interrupted while provisioning or preparing: what failed failed because of the teardown.
    if (interruption && store) {
      await interruption;
      return { resultsPath: store.path, results: store.snapshot };
    }
    await store
      ?.update((draft) => {
        draft.status = 'failed';
        draft.reason = errorMessage(error);
        draft.finishedAt = new Date().toISOString();
      })
      .catch(() => {});
    throw error;
  } finally {
    progress.clear();
    // Never tear down beside the interrupt handler's own teardown.
    if (interruption) await interruption;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await teardownTargets(targets);
    const teardown = await resources.undoAll();
    for (const failure of teardown.failed) log(`teardown: could not remove ${failure.description}: ${failure.error} (run \`npm run cleanup\`)`);
    await releaseLock();
  }
}

async function provisionTarget(
  configuration: TargetConfiguration,
  context: ProvisionContext,
  targets: Map<string, ProvisionedTarget>,
): Promise<TargetFacts> {
  const name = configuration.id;
  const unavailable = (state: 'failed' | 'skipped', reason: string): TargetFacts => ({
    target: name,
    state,
    reason,
    networkPath: 'n/a',
    storage: 'n/a',
    labels: {},
    degraded: [],
  });
  try {
    context.log(`provisioning ${name}…`);
    const target = await configuration.driver.provision(context);
    targets.set(name, target);
    await target.pause();
    return target.facts;
  } catch (error) {
    context.log(`${name}: provisioning failed: ${(error as Error).message}`);
    return unavailable('failed', `provisioning failed: ${(error as Error).message}`);
  }
}

async function runTrial(
  suite: AnySuite,
  cell: PlannedCell,
  repetition: number,
  target: ProvisionedTarget,
  context: SuiteContext & { state: unknown },
  quietHostOptions: QuietHostOptions,
  log: (line: string) => void,
): Promise<TrialRecord> {
  const startedAt = new Date().toISOString();
  const begin = performance.now();
  let record: TrialRecord;
  // A target that will not resume fails this trial, not the run.
  try {
    await target.resume();
    const quietHost = await waitForQuietHost(quietHostOptions);
    const outcome = await suite.runTrial(cell.point, context);
    record = { ...outcome, repetition, startedAt, durationMs: performance.now() - begin, quietHost };
  } catch (error) {
    record = { state: 'failed', reason: errorMessage(error), commands: [], repetition, startedAt, durationMs: performance.now() - begin };
  }
  try {
    await target.pause();
  } catch (error) {
    // The measurement stands; the next trials on other targets may run beside a target left running.
    log(`${target.name}: pausing after a trial failed: ${errorMessage(error)}`);
  }
  return record;
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
      targets: options.targets.map(({ id }) => id),
      suites: options.suites.map(({ name }) => name),
      quick: options.quick,
      repetitions: options.repetitions,
      seed: options.seed,
      cvThreshold: options.cvThreshold,
      options: { ...options.targetOptions, ...(Object.assign({}, ...options.suiteOptions.values()) as SuiteOptions), subnet: options.subnet, guardRange: options.guardRange },
      // Filled from the command line by the adaptive-repetitions work (issue 9); fixed defaults until then.
      mode: 'compare',
      baseline: 'native',
      marginPercent: 5,
      noiseFloorPercent: null,
      adaptive: null,
      pinning: { oversubscribed: host.cores < 4, cpuSets: null, reason: host.cores < 4 ? `${host.cores} cores: client, server and targets share them` : 'not pinned' },
      command: [],
    },
    order: [],
    targets: [],
    points: cells.map((cell) => ({
      key: cell.key,
      target: cell.target,
      suite: cell.suite,
      pointId: cell.point.id,
      params: cell.point.params,
      headline: { metric: cell.point.headline.name, unit: cell.point.headline.unit, direction: cell.point.headline.direction },
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
async function teardownTargets(targets: Map<string, ProvisionedTarget>): Promise<void> {
  for (const target of [...targets.values()].reverse()) {
    await target.teardown().catch(() => {});
  }
  targets.clear();
}
