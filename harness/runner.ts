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
import { DEFAULT_BASELINE, DEFAULT_MARGIN_PERCENT, withVerdicts } from '../results/verdict.js';
import { CpuMeter } from '../core/cpu-meter.js';
import { acquireRunLock } from '../core/lock.js';
import { readStealTicks, stealFractionBetween, type StealTicks } from '../core/proc.js';
import { aaArm, armConfiguration } from './aa.js';
import { MIN_ADAPTIVE_REPETITIONS, nextAdaptiveRound, type AdaptiveLimits } from './adaptive.js';
import { pinClientCommand, planPinning, type PinningPlan } from './pinning.js';
import { buildPlan, orderRound, type PlannedCell } from './planner.js';
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
  /**
   * `compare` (default): every target against the baseline. `aa`: exactly one target, provisioned and
   * prepared once and measured as two interleaved arms, `T` and `T~aa` (harness/aa.ts); the second
   * arm's verdicts against the first are the A/A verdicts.
   */
  mode?: 'compare' | 'aa';
  /** The configuration verdicts are judged against; default `native` when it runs, else the first target (`--baseline`). Ignored with `aa`. */
  baseline?: string;
  /** The equivalence margin in percent (`--margin`); default 5. */
  marginPercent?: number;
  /** A measured noise floor in percent no verdict may call a difference below (`--noise-floor`); default none. */
  noiseFloorPercent?: number | null;
  /** Adaptive repetitions (`--until-decided`) and their limits; default off. Needs `repetitions` ≥ 3. */
  adaptive?: AdaptiveLimits | null;
  /** Steal time in percent of a trial's CPU time above which the trial is flagged (`--max-steal`); default 10. */
  maxStealPercent?: number;
  /** The arguments after `npm run bench --`, as given, for the results file; default none. */
  command?: string[];
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
    /** Reads /proc/stat's steal and total ticks before and after each trial; default {@link readStealTicks}. */
    readSteal?: () => Promise<StealTicks>;
  };
}

/** `--max-steal` when not given: a trial that lost more than 10 % of the host's CPU time to the hypervisor is flagged. */
export const DEFAULT_MAX_STEAL_PERCENT = 10;

/** The baseline when none is named: `native` when the run has it, else the first configuration. */
export function defaultBaseline(configurations: readonly string[]): string {
  return configurations.includes(DEFAULT_BASELINE) ? DEFAULT_BASELINE : configurations[0] ?? DEFAULT_BASELINE;
}

/** The run's settings that go into `plan` beyond the command line's basics, with defaults filled in. */
interface RunSettings {
  mode: 'compare' | 'aa';
  /** Configuration ids as the plan's rows: the targets, or in an A/A run the two arms. */
  arms: string[];
  baseline: string;
  marginPercent: number;
  noiseFloorPercent: number | null;
  adaptive: AdaptiveLimits | null;
  maxStealPercent: number;
  command: string[];
}

/**
 * Checks and completes the options' run settings.
 * @throws UsageError for an A/A run without exactly one target, a baseline that is not one of the
 *   run's targets, or adaptive repetitions with fewer than 3 rounds or a `maxRepetitions` below them.
 */
function runSettings(options: BenchOptions): RunSettings {
  const mode = options.mode ?? 'compare';
  const ids = options.targets.map(({ id }) => id);
  if (mode === 'aa' && ids.length !== 1) throw new UsageError(`--aa measures one target against itself: name exactly one with --target, not ${ids.length}`);
  const arms = mode === 'aa' ? [ids[0]!, aaArm(ids[0]!)] : ids;
  const baseline = mode === 'aa' ? arms[0]! : options.baseline ?? defaultBaseline(ids);
  if (!arms.includes(baseline)) throw new UsageError(`--baseline ${baseline} is not one of this run's targets (${ids.join(', ')}): name one of them`);
  const adaptive = options.adaptive ?? null;
  if (adaptive && options.repetitions < MIN_ADAPTIVE_REPETITIONS) {
    throw new UsageError(`--until-decided needs at least ${MIN_ADAPTIVE_REPETITIONS} rounds before it judges: raise --reps to ${MIN_ADAPTIVE_REPETITIONS} or add --no-until-decided`);
  }
  if (adaptive && adaptive.maxRepetitions < options.repetitions) {
    throw new UsageError(`--max-reps ${adaptive.maxRepetitions} is below --reps ${options.repetitions}: raise --max-reps`);
  }
  return {
    mode,
    arms,
    baseline,
    marginPercent: options.marginPercent ?? DEFAULT_MARGIN_PERCENT,
    noiseFloorPercent: options.noiseFloorPercent ?? null,
    adaptive,
    maxStealPercent: options.maxStealPercent ?? DEFAULT_MAX_STEAL_PERCENT,
    command: options.command ?? [],
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
 * With `adaptive`, rounds are added after the planned ones for the points still undecided against the
 * baseline (harness/adaptive.ts) until a limit stops them; the file's `stopReason` says which.
 * Steal time is read around every trial and flagged above `maxStealPercent`.
 *
 * @throws UsageError for inconsistent run settings (see {@link BenchOptions}: `aa` with other than
 *   one target, a baseline not in the run, adaptive with fewer than 3 rounds), before anything is
 *   created; when a crashed run's leftovers remain or another run holds the lock; a failure
 *   to build the network or write the results file is rethrown after the file is marked `failed`.
 *   A target that fails to provision, prepare or run is recorded in the file, not thrown.
 */
export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const settings = runSettings(options);
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
    const plan = buildPlan(settings.arms, [...suites.keys()], { quick: options.quick, cores: host.cores }, options.suiteOptions, options.repetitions, options.seed, suites);
    const pinning = planPinning(host.cores, settings.arms);
    if (pinning.cpuSets) await ensureTools([TASKSET], log);
    store = await ResultsStore.create(options.outDirectory, initialResults(runId, host, options, settings, pinning, plan.cells));
    const adaptive = settings.adaptive;
    const repetitionsText = adaptive
      ? `${options.repetitions} repetitions, then until decided (up to ${adaptive.maxRepetitions}${adaptive.budgetSeconds !== null ? `, budget ${formatDuration(adaptive.budgetSeconds * 1000)}` : ''})`
      : `${options.repetitions} repetitions`;
    log(`run ${runId}: ${plan.cells.length} points x ${repetitionsText}, seed ${options.seed}, baseline ${settings.baseline}${settings.mode === 'aa' ? ' (A/A)' : ''}; results: ${store.path}`);
    log(`pinning: ${pinning.reason}`);

    const runDirectory = await mkdtemp(join(RUN_DIRECTORY_PARENT, 'isobench-run-'));
    await resources.register(`run directory ${runDirectory}`, { kind: 'path', path: runDirectory });
    const createTopology = options.seams?.createTopology ?? ((config, registry) => Topology.create(config, registry));
    const topology = await createTopology({ subnet: options.subnet, guardRange: options.guardRange }, resources);
    // The client's CPU set, where planned, is applied here and nowhere else (harness/pinning.ts).
    const client: ClientSide = {
      exec: (command, execOptions) => topology.clientExec(pinClientCommand(pinning, command), execOptions),
      wrap: (command) => topology.wrapClient(pinClientCommand(pinning, command)),
    };
    /** The rows a configuration's points are keyed by: itself, and in an A/A run its second arm too. */
    const armsOf = (configuration: string) => (settings.mode === 'aa' ? [configuration, aaArm(configuration)] : [configuration]);
    /** The provisioned configuration a row runs on. */
    const configurationOf = (arm: string) => (settings.mode === 'aa' ? armConfiguration(arm) : arm);

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
        // An A/A run's second arm is the same provisioned target under another name.
        for (const arm of armsOf(configuration.id)) {
          draft.targets.push({ ...facts, target: arm });
          if (facts.state !== 'ready') markTargetPoints(draft, arm, facts.state === 'failed' ? 'failed' : 'skipped', facts.reason ?? 'not provisioned');
        }
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
          await record((draft) => {
            for (const arm of armsOf(name)) markTargetPoints(draft, arm, 'failed', `preparing ${suite.name} failed: ${errorMessage(error)}`, suite.name);
          });
        } finally {
          await target.pause();
        }
      }
    }

    const runnable = (cell: PlannedCell) => targets.has(configurationOf(cell.target)) && prepared.has(`${configurationOf(cell.target)}/${cell.suite}`);
    const cellByKey = new Map(plan.cells.map((cell) => [cell.key, cell]));
    const readSteal = options.seams?.readSteal ?? readStealTicks;
    const started = performance.now();
    /** Runs one round's runnable cells in order; `status` continues the progress line after `round N`. */
    const runRound = async (round: readonly PlannedCell[], roundIndex: number, status: (index: number, count: number) => string) => {
      const cells = round.filter(runnable);
      for (const [index, cell] of cells.entries()) {
        if (interruption) return;
        const configuration = configurationOf(cell.target);
        const target = targets.get(configuration)!;
        progress.update(`round ${roundIndex + 1}${status(index, cells.length)} · ${cell.target} · ${cell.suite} · ${cell.point.id}`);
        const context = { ...contextFor(target, cell.suite), state: prepared.get(`${configuration}/${cell.suite}`) };
        const repetition = store!.snapshot.points.find((point) => point.key === cell.key)!.trials.length;
        const trial = await runTrial(suites.get(cell.suite)!, cell, repetition, target, context, options.quietHost, settings.maxStealPercent, readSteal, log);
        await record((draft) => {
          const pointIndex = draft.points.findIndex((point) => point.key === cell.key);
          const point = draft.points[pointIndex]!;
          point.trials.push({ ...trial, round: roundIndex });
          draft.points[pointIndex] = summarizePoint(point, options.cvThreshold);
          while (draft.order.length <= roundIndex) draft.order.push([]);
          draft.order[roundIndex]!.push(cell.key);
          draft.points = withVerdicts(draft).points;
        });
      }
    };

    const total = plan.rounds.flat().filter(runnable).length;
    let done = 0;
    for (const [roundIndex, round] of plan.rounds.entries()) {
      await runRound(round, roundIndex, (index) => {
        const trial = done + index;
        const left = trial === 0 ? '' : ` · ~${formatDuration(((performance.now() - started) / trial) * (total - trial))} left`;
        return `/${plan.rounds.length}${adaptive ? ' then until decided' : ''} · trial ${trial + 1}/${total}${left}`;
      });
      done += round.filter(runnable).length;
    }

    let stopReason = `all ${plan.rounds.length} round(s) of --reps ${options.repetitions} run`;
    if (adaptive) {
      let previous: readonly PlannedCell[] | undefined = plan.rounds.at(-1);
      for (let roundIndex = plan.rounds.length; !interruption; roundIndex++) {
        const elapsedMs = performance.now() - started;
        const decision = nextAdaptiveRound(store.snapshot, adaptive, (key) => runnable(cellByKey.get(key)!), elapsedMs);
        if (decision.stopReason !== null) {
          stopReason = decision.stopReason;
          break;
        }
        const round = orderRound(decision.keys.map((key) => cellByKey.get(key)!), roundIndex, previous, plan.random);
        const budget = adaptive.budgetSeconds !== null ? ` · ${formatDuration(elapsedMs)} of ${formatDuration(adaptive.budgetSeconds * 1000)}` : '';
        await runRound(round, roundIndex, (index, count) => ` · until decided: ${decision.undecided} undecided, ${decision.chased.length} chased, ≤ ${adaptive.maxRepetitions} reps${budget} · trial ${index + 1}/${count}`);
        previous = round;
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
    log(`stopped: ${stopReason}`);
    await record((draft) => {
      draft.status = 'completed';
      draft.stopReason = stopReason;
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

/** taskset, to pin client commands (util-linux, essential on Debian, so normally present). */
const TASKSET = { command: 'taskset', debianPackage: 'util-linux', why: 'to pin the client to its CPUs' };

async function runTrial(
  suite: AnySuite,
  cell: PlannedCell,
  repetition: number,
  target: ProvisionedTarget,
  context: SuiteContext & { state: unknown },
  quietHostOptions: QuietHostOptions,
  maxStealPercent: number,
  readSteal: () => Promise<StealTicks>,
  log: (line: string) => void,
): Promise<TrialRecord> {
  const startedAt = new Date().toISOString();
  const begin = performance.now();
  let record: TrialRecord;
  // A target that will not resume fails this trial, not the run.
  try {
    await target.resume();
    const quietHost = await waitForQuietHost(quietHostOptions);
    // Steal brackets the measurement only, not the quiet-host wait; a host without it just has none.
    const stealBefore = await readSteal().catch(() => null);
    const outcome = await suite.runTrial(cell.point, context);
    const stealAfter = stealBefore ? await readSteal().catch(() => null) : null;
    const fraction = stealBefore && stealAfter ? stealFractionBetween(stealBefore, stealAfter) : null;
    const steal = fraction !== null ? { steal: { fraction, flagged: fraction * 100 > maxStealPercent } } : {};
    record = { ...outcome, repetition, startedAt, durationMs: performance.now() - begin, quietHost, ...steal };
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

function initialResults(runId: string, host: HostFacts, options: BenchOptions, settings: RunSettings, pinning: PinningPlan, cells: PlannedCell[]): ResultsFile {
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
      targets: settings.arms,
      suites: options.suites.map(({ name }) => name),
      quick: options.quick,
      repetitions: options.repetitions,
      seed: options.seed,
      cvThreshold: options.cvThreshold,
      options: { ...options.targetOptions, ...(Object.assign({}, ...options.suiteOptions.values()) as SuiteOptions), subnet: options.subnet, guardRange: options.guardRange },
      mode: settings.mode,
      baseline: settings.baseline,
      marginPercent: settings.marginPercent,
      noiseFloorPercent: settings.noiseFloorPercent,
      adaptive: settings.adaptive,
      pinning,
      command: settings.command,
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
