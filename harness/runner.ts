import { mkdtemp } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { AnySuite, ClientSide, SuiteContext, SuiteOptions, TrialOutcome } from '../contracts/suite.js';
import type { ProvisionedTarget, ServicePort, TargetOptions } from '../contracts/target.js';
import { probeHost } from '../provisioning/host-probe.js';
import { RunImage } from '../provisioning/image/index.js';
import { IMAGE_HOST_TOOLS } from '../provisioning/image/host-tools.js';
import { optionsFor, type TargetConfiguration } from '../provisioning/targets/configuration.js';
import { dockerHostDriver } from '../provisioning/targets/docker-host.js';
import { dockerNatDriver } from '../provisioning/targets/docker-nat.js';
import { kvmDriver } from '../provisioning/targets/kvm.js';
import { Topology, type TopologyConfig } from '../provisioning/topology.js';
import type { ProvisionContext, TargetDriver } from '../provisioning/types.js';
import {
  ResultsFormatError,
  RESULTS_SCHEMA_ID,
  RESULTS_SCHEMA_VERSION,
  TrialRecord,
  type HostFacts,
  type ParamValue,
  type PointResult,
  type QuietHostCheck,
  type ResultsFile,
  type RunPhase,
  type TargetFacts,
} from '../results/schema.js';
import { ResultsStore } from '../results/store.js';
import { DEFAULT_BASELINE, DEFAULT_MARGIN_PERCENT, withVerdicts } from '../results/verdict.js';
import { CpuMeter, type HostCpuTimes } from '../core/cpu-meter.js';
import { CommandFailedError } from '../core/exec.js';
import { acquireRunLock } from '../core/lock.js';
import { readStealTicks, stealFractionBetween, type StealTicks } from '../core/proc.js';
import { aaArm, armConfiguration } from './aa.js';
import { takeNpmCiMs } from './bootstrap-phase.js';
import { estimateRoundMs, MIN_ADAPTIVE_REPETITIONS, nextAdaptiveRound, type AdaptiveLimits } from './adaptive.js';
import { cutOff, DEFAULT_STEP_DEADLINES, StepDeadlineError, type StepDeadlines } from './deadlines.js';
import { readHostRoutes, refuseRoutedGuardRange, validateNetworkRanges, type HostRoute } from './network-range.js';
import { prepareOutputDirectory, removeCreated } from '../core/output-directory.js';
import { PhaseClock } from './phases.js';
import { pinClientCommand, planPinning, type PinningPlan } from './pinning.js';
import { buildPlan, orderRound, type PlannedCell } from './planner.js';
import { summarizePoint } from './point-summary.js';
import { formatDuration, Progress } from './progress.js';
import { DEFAULT_MAX_WAIT_MS, waitForQuietHost, type QuietHostOptions } from './quiet-host.js';
import { checkSameHost, checkSamePlan, hostIdentity, nextResumeSession, resumeDirectory, resumedSessions, roundsDone, type HostIdentity, type ResumeState } from './resume.js';
import { ResourceRegistry, runDirectoryPrefix, type UndoReport } from '../core/ledger.js';
import { refuseCrashedRun } from './crashed-run.js';
import { errorMessage, UsageError } from '../core/errors.js';
import { formatZodIssues } from '../core/zod-text.js';
import { ensureTools, InstallSession, type EnsureToolsOptions, type ToolRequirement } from '../core/tools.js';
import { ISOBENCH_VERSION } from './version.js';
import type { Placement, PlacementProvisionContext } from './placement.js';

/** A parsed `npm run bench` command line: what to run and how. */
export interface BenchOptions {
  /** Target configurations, one row each, in the order given. */
  targets: TargetConfiguration[];
  /**
   * The default matrix (`npm run bench` with no --target and no --suite): `targets` are candidates.
   * Each gets its tools installed like the suites' (a failed install leaves it out, saying why), then
   * those this host cannot run are left out, saying why. Default false: every target named must be
   * able to run, or the run is refused before anything is created.
   */
  defaultMatrix?: boolean;
  /** Registered suites (or test doubles) to run, in the order given. */
  suites: AnySuite[];
  /**
   * The `suite/pointId` keys to measure (`--points`, or the first look: harness/point-selection.ts);
   * absent or null: every point of `suites`.
   */
  points?: readonly string[] | null;
  quick: boolean;
  repetitions: number;
  /** Where the results file goes; a resumed run writes to its file's own directory instead. */
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
  /**
   * `--resume`: finish the run this file describes, in this file. The other options must be the
   * file's own (harness/resume.ts rebuilds them from it); the runner checks the host and the plan
   * again before anything is created.
   */
  resume?: ResumeState;
  progress?: Progress;
  /**
   * Where targets are provisioned and the client runs (harness/placement.ts); absent: this host's own
   * topology, exactly as without it. With one (lab mode), the suites' tools are checked on the hosts
   * instead of installed here, no local topology is built, nothing is pinned, the hosts' facts go
   * into the file's `hosts`, metrics the placement does not measure are dropped, and a failed trial
   * whose host stopped answering ends that target's trials with the host named.
   */
  placement?: Placement;
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
    /** Shorter deadlines for the steps (tests of hung steps); default DEFAULT_STEP_DEADLINES. */
    deadlines?: Partial<StepDeadlines>;
    /** Whether a target can run on this host (null) or why not; default its driver's `defaultAvailability`. */
    availability?: (configuration: TargetConfiguration, host: HostFacts) => Promise<string | null>;
    /** The host's routes, for refusing a guard range in use; default `ip -j route`, none with a fake `createTopology`. */
    readRoutes?: () => Promise<HostRoute[]>;
    /** How tools are installed (`install: false`: a missing tool is an error at once). */
    tools?: EnsureToolsOptions;
    /** Builds or finds the image before provisioning the targets that run it; default the run's RunImage (ensureRootfs). */
    buildImage?: (log: (line: string) => void) => Promise<unknown>;
  };
}

/** `--max-steal` when not given: a trial that lost more than 10 % of the host's CPU time to the hypervisor is flagged. */
export const DEFAULT_MAX_STEAL_PERCENT = 10;

/** The baseline when none is named: `native` when the run has it, else the first configuration. */
export function defaultBaseline(configurations: readonly string[]): string {
  return configurations.includes(DEFAULT_BASELINE) ? DEFAULT_BASELINE : configurations[0] ?? DEFAULT_BASELINE;
}

/**
 * The drivers whose targets run the project's image (Docker imports its tree, KVM boots it): the run
 * builds or finds the image once, as its own phase, before provisioning them. A new driver that runs
 * the image adds itself here.
 */
const IMAGE_DRIVERS: ReadonlySet<TargetDriver> = new Set([dockerHostDriver, dockerNatDriver, kvmDriver]);

/** What the image build runs on the host (provisioning/image/host-tools.ts), as tool requirements. */
const IMAGE_TOOLS: readonly ToolRequirement[] = Object.entries(IMAGE_HOST_TOOLS).map(([command, debianPackage]) => ({
  command,
  debianPackage,
  why: 'to build the image the Docker and KVM targets run',
}));

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
 *   run's targets, adaptive repetitions with fewer than 3 rounds or a `maxRepetitions` below them,
 *   a `--subnet`/`--guard-range` validateNetworkRanges refuses, or a resume whose file is completed.
 */
function runSettings(options: BenchOptions): RunSettings {
  const mode = options.mode ?? 'compare';
  const ids = options.targets.map(({ id }) => id);
  if (ids.length === 0) throw new UsageError('no target to run: name one with --target');
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
  validateNetworkRanges({ subnet: options.subnet, guardRange: options.guardRange });
  if (options.resume?.results.status === 'completed') {
    throw new UsageError(`${options.resume.path} is a completed run: there is nothing to resume; start a new run with npm run bench`);
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
 * Before anything is created: the settings are checked, the results directory is created and proved
 * writable, a crashed run's leftovers refuse the start, the tools are installed (one line per
 * package), the host is probed, every target named is checked to be able to run here (in the default
 * matrix those that cannot are left out), the run lock is taken and a guard range the host already
 * routes is refused. Each phase's time goes into the file's `phases`.
 *
 * With `adaptive`, rounds are added after the planned ones for the points still undecided against the
 * baseline (harness/adaptive.ts) until a limit stops them; the file's `stopReason` says which.
 * Steal time is read around every trial and flagged above `maxStealPercent`.
 *
 * With `resume`, the run continues in its file: points and rounds already run are skipped (every
 * recorded trial counts, failed ones too), the planned rounds continue where they stopped, adaptive
 * rounds continue under the same limits (the budget counts the trials already run), and only the
 * targets and suites with work left are provisioned and prepared.
 *
 * Every step has a deadline (harness/deadlines.ts): a provisioning, `prepare`, trial, `finish`,
 * pause or teardown that hangs is cut off with a message naming it, and the run goes on with the
 * other targets (a target whose trial or pause was cut off runs no more trials).
 *
 * @throws UsageError (exit 2, one line, nothing created, no results file written) for inconsistent
 *   run settings, an output directory that cannot be created or written, a tool that is missing and
 *   cannot be installed, a named target that cannot run here, a resume on another host or of a plan
 *   that cannot be rebuilt the same, a crashed run's leftovers, another run holding the lock, or a
 *   guard range the host routes. A failure to build the network or write the results file later is
 *   rethrown after the file is marked `failed`. A target that fails to provision, prepare or run is
 *   recorded in the file, not thrown.
 */
export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const settings = runSettings(options);
  const progress = options.progress ?? new Progress();
  const log = (line: string) => progress.log(line);
  const deadlines: StepDeadlines = { ...DEFAULT_STEP_DEADLINES, ...options.seams?.deadlines };
  const resume = options.resume;
  const outDirectory = resume ? resumeDirectory(resume) : options.outDirectory;

  // The results directory first: a run that cannot write its results must not start anything.
  const output = await prepareOutputDirectory(outDirectory);
  let store: ResultsStore | undefined;
  /** Record each phase in the file once it exists; until then the clock keeps them for the first write. */
  let recordPhase: (phase: RunPhase) => Promise<void> = async () => {};
  const clock = new PhaseClock(resume ? `resume ${nextResumeSession(resume.results)}: ` : '', (phase) => recordPhase(phase));
  // A fresh clone's first command installed the npm dependencies before this process started.
  const npmCiMs = takeNpmCiMs();
  if (npmCiMs !== null) await clock.add('npm ci', npmCiMs);

  let host: HostFacts;
  let configurations: TargetConfiguration[];
  let runOptions: BenchOptions;
  let finalSettings: RunSettings;
  let releaseLock: () => Promise<void>;
  try {
    // Cheap checks first: a crashed run's leftovers, or a resume on another host, are refused before anything is installed.
    await refuseCrashedRun();
    const placement = options.placement;
    if (resume) {
      const here: HostIdentity = options.seams?.host ?? (await hostIdentity());
      checkSameHost(resume.path, resume.results.host, here);
      // A lab run's plan follows the server host's cores, known once its check has read them.
      if (!placement) checkSamePlan(resume.path, resume.results, planFor(options, settings, resume.results.host.cores));
    }
    configurations = placement
      ? await clock.time('host checks', async () => {
          log(placement.description);
          await placement.check(options.suites, log);
          if (resume) checkSamePlan(resume.path, resume.results, planFor(options, settings, placement.serverCores()));
          return options.targets;
        })
      : await clock.time('installs', () => installTools(options, log));
    host = await clock.time('host probe', async () => options.seams?.host ?? (await probeHost()));
    configurations = await runnableConfigurations(options, configurations, host, log);
    // In the default matrix some targets may have been left out: the plan's rows are those that run.
    runOptions = { ...options, targets: configurations };
    finalSettings = runSettings(runOptions);
    releaseLock = await acquireRunLock();
  } catch (error) {
    await removeCreated(output.created);
    throw error;
  }
  try {
    // A lab's test addresses lie in the guard range and are routed by design; no local network is built.
    const readRoutes = options.seams?.readRoutes ?? (options.seams?.createTopology || options.placement ? async () => [] : readHostRoutes);
    refuseRoutedGuardRange(validateNetworkRanges({ subnet: options.subnet, guardRange: options.guardRange }).guard, await readRoutes());
  } catch (error) {
    await releaseLock();
    await removeCreated(output.created);
    throw error;
  }

  const runId = resume?.results.runId ?? newRunId();
  // A resumed session names its resources afresh: leftovers of the crashed session must never collide.
  const resources = new ResourceRegistry(resume ? newRunId() : runId);
  const targets = new Map<string, ProvisionedTarget>();

  const exit = options.seams?.exit ?? ((code: number) => process.exit(code));
  const interrupt = async (signal: NodeJS.Signals) => {
    progress.log(`\n${signal}: stopping, tearing down what this run created…`);
    await store?.update((draft) => {
      draft.status = 'interrupted';
      draft.reason = `stopped by ${signal}`;
      draft.finishedAt = new Date().toISOString();
      // The phase the signal cut (e.g. trials) would be recorded as it ends, when the file is this handler's: record it now, as far as it ran.
      draft.phases = [...(draft.phases ?? []), ...clock.inProgress()];
    }).catch(() => {});
    await teardownTargets(targets, deadlines, log);
    logTeardownFailures(await resources.undoAll(), log);
    await options.placement?.close();
    await releaseLock();
    if (store) progress.log(`partial results: ${store.path}; finish the run with npm run bench -- --resume ${store.path}`);
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
  /** The interruption in progress, read afresh (a signal can arrive at any await). */
  const signalled = (): Promise<void> | undefined => interruption;
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
    const placement = options.placement;
    // What suites scale to (fio's numjobs, mysql's full sweep): the cores of the host the targets run on.
    const suiteCores = placement ? placement.serverCores() : host.cores;
    const configFor = (suite: string) => ({ quick: options.quick, cores: suiteCores, options: options.suiteOptions.get(suite) ?? {} });
    const plan = planFor(runOptions, finalSettings, suiteCores);
    const pinning = resume ? resume.results.plan.pinning : placement ? placement.pinning : planPinning(host.cores, finalSettings.arms);
    if (pinning.cpuSets) await ensureTools([TASKSET], log, options.seams?.tools);
    // A resumed lab run keeps the hosts' facts its file recorded (the hosts were checked to be the same
    // ones, and the facts' accel probes take 15 s a host); a new one describes them.
    const labHosts = placement && !resume ? await clock.time('lab host facts', () => placement.describeHosts()) : undefined;
    // What the lab targets decide from the hosts' facts (the kvm guest's --accel auto), the same on a resume.
    const recordedHosts = labHosts ?? resume?.results.hosts ?? [];
    const initial = initialResults(runId, host, runOptions, finalSettings, pinning, plan.cells, clock.phases);
    store = await createStore(outDirectory, resume ? resumedResults(resume.results, clock.phases) : labHosts ? { ...initial, hosts: labHosts } : initial);
    recordPhase = (phase) => record((draft) => {
      draft.phases = [...(draft.phases ?? []), phase];
    });
    await resources.recordResultsPath(store.path);
    const adaptive = finalSettings.adaptive;
    const repetitionsText = adaptive
      ? `${options.repetitions} repetitions, then until decided (up to ${adaptive.maxRepetitions}${adaptive.budgetSeconds !== null ? `, budget ${formatDuration(adaptive.budgetSeconds * 1000)}` : ''})`
      : plural(options.repetitions, 'repetition');
    log(`${resume ? 'resuming ' : ''}run ${runId}: ${plural(plan.cells.length, 'point')} x ${repetitionsText}, seed ${options.seed}, baseline ${finalSettings.baseline}${finalSettings.mode === 'aa' ? ' (A/A)' : ''}; results: ${store.path}`);
    log(`pinning: ${pinning.reason}`);

    /** The rows a configuration's points are keyed by: itself, and in an A/A run its second arm too. */
    const armsOf = (configuration: string) => (finalSettings.mode === 'aa' ? [configuration, aaArm(configuration)] : [configuration]);
    /** The provisioned configuration a row runs on. */
    const configurationOf = (arm: string) => (finalSettings.mode === 'aa' ? armConfiguration(arm) : arm);
    /** Rounds each point already ran (a resumed run skips them); empty for a new run. */
    const done = new Map(store.snapshot.points.map((point) => [point.key, roundsDone(point)]));
    const planned = (cell: PlannedCell, round: number) => !done.get(cell.key)?.has(round);
    /** Whether a configuration × suite (any suite when undefined) has work left: adaptive rounds may chase any point. */
    const workLeft = (configuration: string, suite?: string) =>
      adaptive !== null ||
      plan.rounds.some((round, index) => round.some((cell) => configurationOf(cell.target) === configuration && (suite === undefined || cell.suite === suite) && planned(cell, index)));
    if (resume) {
      const skipped = store.snapshot.points.reduce((sum, point) => sum + point.trials.length, 0);
      log(`resuming: ${skipped} trial(s) already recorded count toward the plan; ${plan.rounds.flatMap((round, index) => round.filter((cell) => planned(cell, index))).length} planned trial(s) left`);
    }

    // Beside the state directory whose lock this run holds (core/ledger.ts says why).
    const runDirectory = await mkdtemp(runDirectoryPrefix());
    await resources.register(`run directory ${runDirectory}`, { kind: 'path', path: runDirectory });
    const createTopology = options.seams?.createTopology ?? ((config, registry) => Topology.create(config, registry));
    // A placement brings its own network (the lab's link): no local topology is built for it.
    const topology = placement ? null : await createTopology({ subnet: options.subnet, guardRange: options.guardRange }, resources);
    // The client's CPU set, where planned, is applied here and nowhere else (harness/pinning.ts).
    const client: ClientSide = topology
      ? {
          exec: (command, execOptions) => topology.clientExec(pinClientCommand(pinning, command), execOptions),
          wrap: (command) => topology.wrapClient(pinClientCommand(pinning, command)),
        }
      : placement!.client;

    const toProvision = configurations.filter((configuration) => workLeft(configuration.id));
    // One per run: the image phase finds or builds the tree, the targets then get it without looking again.
    const image = new RunImage();
    const imageFailure = await buildImageIfNeeded(toProvision, image, options, clock, deadlines, log);

    const servicePorts: ServicePort[] = options.suites.flatMap((suite) => suite.ports);
    /** What a placement provisions a configuration with (the same for the run's instance and the startup suite's fresh ones). */
    const placementContextFor = (configuration: TargetConfiguration, provisionLog: (line: string) => void): PlacementProvisionContext => ({
      servicePorts, options: optionsFor(configuration, options.targetOptions), image, hosts: recordedHosts, log: provisionLog,
    });
    const contexts = new Map<string, ProvisionContext>();
    for (const configuration of toProvision) {
      if (interruption) break;
      const driver = placement ? { provision: () => placement.provision(configuration, resources, placementContextFor(configuration, log)) } : configuration.driver;
      const context: ProvisionContext | null = topology && {
        configuration: configuration.id,
        servicePorts,
        topology,
        resources,
        options: optionsFor(configuration, options.targetOptions),
        host,
        runDirectory,
        logDirectory: outDirectory,
        image,
        log,
      };
      if (context) contexts.set(configuration.id, context);
      const facts = IMAGE_DRIVERS.has(configuration.driver) && imageFailure !== null
        ? unavailableFacts(configuration.id, 'failed', `building the image failed: ${imageFailure}`)
        : await clock.time(`provision ${configuration.id}`, () => provisionTarget(configuration.id, () => driver.provision(context!), log, targets, deadlines));
      await record((draft) => {
        // An A/A run's second arm is the same provisioned target under another name.
        const arms = armsOf(configuration.id);
        draft.targets = draft.targets.filter((known) => !arms.includes(known.target));
        for (const arm of arms) {
          draft.targets.push({ ...facts, target: arm });
          if (facts.state !== 'ready') markTargetPoints(draft, arm, facts.state === 'failed' ? 'failed' : 'skipped', facts.reason ?? 'not provisioned');
        }
      });
    }

    // Lab mode: the server's and the client's own /proc/stat, never this machine's, which describes neither.
    const cpu = placement ? new CpuMeter(placement.measuredHosts.map((measured) => ({ host: measured.name, read: () => measured.cpuTimes() }))) : new CpuMeter();
    const drivers = new Map(configurations.map((configuration) => [configuration.id, configuration.driver]));
    const configurationById = new Map(configurations.map((configuration) => [configuration.id, configuration]));
    const suiteHost = placement ? placement.suiteHost(host) : host;
    const contextFor = (target: ProvisionedTarget, suite: string): SuiteContext => ({
      target,
      client,
      config: configFor(suite),
      host: suiteHost,
      cpu,
      ...(placement ? { targetHost: placement.targetHost } : {}),
      verifyDestination: (address) => (topology ? topology.verifyDestination(address) : placement!.verifyDestination(address)),
      logDirectory: options.outDirectory,
      ...freshLaunch(target.name),
    });
    /** The startup suite's fresh instances of a configuration: by its driver here, by the placement on a lab host, or why not. */
    function freshLaunch(name: string): Pick<SuiteContext, 'launchFresh' | 'freshUnavailable'> {
      if (contexts.has(name)) return { launchFresh: () => drivers.get(name)!.provision({ ...contexts.get(name)!, log: () => {} }) };
      const configuration = configurationById.get(name)!;
      const unavailable = placement!.freshUnavailable(configuration);
      if (unavailable !== null) return { freshUnavailable: unavailable };
      return { launchFresh: () => placement!.provision(configuration, resources, placementContextFor(configuration, () => {})) };
    }

    /** Targets that stopped answering (a trial or pause cut off by its deadline): they run no more trials. */
    const abandoned = new Map<string, string>();
    const abandon = async (name: string, reason: string) => {
      if (abandoned.has(name)) return;
      abandoned.set(name, reason);
      log(`${name}: ${reason}; its remaining trials are skipped, the run goes on with the other targets`);
    };

    /** What each suite's `prepare` returned, by `configuration/suite`; present only where it succeeded. */
    const prepared = new Map<string, unknown>();
    for (const [name, target] of targets) {
      for (const suite of options.suites) {
        if (interruption || abandoned.has(name)) break;
        if (!workLeft(name, suite.name)) continue;
        const step = `preparing ${suite.name} on ${name}`;
        try {
          progress.update(`${step}…`);
          // Resuming the target belongs inside: a target that will not resume fails this suite, not the run.
          const state = await clock.time(`prepare ${suite.name} on ${name}`, async () => {
            await cutOff(target.resume(), deadlines.pauseMs, `resuming ${name}`);
            return cutOff(Promise.resolve(suite.prepare?.(contextFor(target, suite.name))), deadlines.prepareMs, step);
          });
          prepared.set(`${name}/${suite.name}`, state);
        } catch (error) {
          log(`${step} failed: ${errorMessage(error)}`);
          await record((draft) => {
            for (const arm of armsOf(name)) markTargetPoints(draft, arm, 'failed', `${step} failed: ${errorMessage(error)}`, suite.name);
          });
        }
        const paused = await pauseTarget(target, deadlines, log);
        if (paused !== null) await abandon(name, paused);
      }
    }

    const runnable = (cell: PlannedCell) => {
      const configuration = configurationOf(cell.target);
      return targets.has(configuration) && !abandoned.has(configuration) && prepared.has(`${configuration}/${cell.suite}`);
    };
    const cellByKey = new Map(plan.cells.map((cell) => [cell.key, cell]));
    const readSteal = options.seams?.readSteal ?? readStealTicks;
    const started = performance.now();
    // A resumed run's budget counts the trials it already ran (their wall-clock time, quiet-host waits included).
    const priorMs = resume ? resume.results.points.reduce((sum, point) => sum + point.trials.reduce((total, trial) => total + trial.durationMs, 0), 0) : 0;
    /** A round's cells still to run now: planned (a resumed run's recorded trials excepted) and on a target still running. */
    const cellsToRun = (round: readonly PlannedCell[], roundIndex: number) => round.filter((cell) => planned(cell, roundIndex) && runnable(cell));
    /** Runs one round's runnable cells in order, those a resumed run already ran excepted; `status` continues the progress line after `round N`. */
    const runRound = async (round: readonly PlannedCell[], roundIndex: number, status: (index: number, count: number) => string) => {
      const cells = cellsToRun(round, roundIndex);
      for (const [index, cell] of cells.entries()) {
        if (interruption) return;
        // A target abandoned earlier in this round runs no more trials.
        if (!runnable(cell)) continue;
        const configuration = configurationOf(cell.target);
        const target = targets.get(configuration)!;
        progress.update(`round ${roundIndex + 1}${status(index, cells.length)} · ${cell.target} · ${cell.suite} · ${cell.point.id}`);
        const context = { ...contextFor(target, cell.suite), state: prepared.get(`${configuration}/${cell.suite}`) };
        const repetition = store!.snapshot.points.find((point) => point.key === cell.key)!.trials.length;
        const trial = await runTrial(suites.get(cell.suite)!, cell, repetition, target, context, {
          quietHost: options.quietHost,
          maxStealPercent: finalSettings.maxStealPercent,
          stealReaders: placement ? placement.measuredHosts.map((measured) => ({ host: measured.name, read: () => measured.stealTicks() })) : [{ host: null, read: readSteal }],
          ...(placement ? { quietHostReader: { host: placement.quietHost.name, read: () => placement.quietHost.cpuTimes() } } : {}),
          deadlines,
          log,
          ...(placement ? { keepsMetric: (name: string) => placement.keepsMetric(name) } : {}),
        });
        // A host that stopped answering fails every later trial the same way: say so once, naming it.
        const lostHost = placement && trial.record.state === 'failed' ? await placement.hostFailure() : null;
        if (lostHost !== null) {
          await record((draft) => {
            for (const entry of draft.hosts ?? []) if (lostHost.startsWith(`host ${entry.name}:`)) entry.error = lostHost;
          });
          await abandon(configuration, lostHost);
        }
        await recordTrial(record, cell, roundIndex, { ...trial.record, round: roundIndex }, options.cvThreshold);
        if (trial.stoppedAnswering) await abandon(configuration, trial.stoppedAnswering);
      }
    };

    let stopReason = `all ${plan.rounds.length} round(s) of --reps ${options.repetitions} run`;
    await clock.time('trials', async () => {
      const total = plan.rounds.flatMap((round, index) => cellsToRun(round, index)).length;
      let doneTrials = 0;
      let budgetSpent = false;
      for (const [roundIndex, round] of plan.rounds.entries()) {
        // The budget bounds the planned rounds too (a 5-minute first look must end in 5 minutes): the
        // first always runs, since every point needs a sample; a later one that would end past it is not started.
        const budgetSeconds = adaptive?.budgetSeconds ?? null;
        const cells = cellsToRun(round, roundIndex);
        const keys = cells.map((cell) => cell.key);
        if (budgetSeconds !== null && roundIndex > 0 && keys.length > 0) {
          const elapsedMs = priorMs + performance.now() - started;
          const estimatedMs = estimateRoundMs(store!.snapshot, keys);
          if (elapsedMs + estimatedMs > budgetSeconds * 1000) {
            stopReason = `budget ${formatDuration(budgetSeconds * 1000)}: ${formatDuration(elapsedMs)} used after ${roundIndex} of the ${plan.rounds.length} planned rounds, round ${roundIndex + 1} (~${formatDuration(estimatedMs)}) would end past it`;
            budgetSpent = true;
            break;
          }
        }
        await runRound(round, roundIndex, (index) => {
          const trial = doneTrials + index;
          const left = trial === 0 ? '' : ` · ~${formatDuration(((performance.now() - started) / trial) * (total - trial))} left`;
          return `/${plan.rounds.length}${adaptive ? ' then until decided' : ''} · trial ${trial + 1}/${total}${left}`;
        });
        // The round's cells as counted when it started: `total` counted them so, whatever a target's loss mid-round skipped.
        doneTrials += cells.length;
      }
      if (!adaptive || budgetSpent) return;
      // A resumed run continues after the last round its file records; its order reverses that round's.
      const recordedRounds = store!.snapshot.order.length;
      let previous: readonly PlannedCell[] | undefined = recordedRounds > plan.rounds.length
        ? store!.snapshot.order.at(-1)!.flatMap((key) => cellByKey.get(key) ?? [])
        : plan.rounds.at(-1);
      for (let roundIndex = Math.max(plan.rounds.length, recordedRounds); !interruption; roundIndex++) {
        const elapsedMs = priorMs + performance.now() - started;
        const decision = nextAdaptiveRound(store!.snapshot, adaptive, (key) => runnable(cellByKey.get(key)!), elapsedMs);
        if (decision.stopReason !== null) {
          stopReason = decision.stopReason;
          break;
        }
        const next = orderRound(decision.keys.map((key) => cellByKey.get(key)!), roundIndex, previous, plan.random);
        const budget = adaptive.budgetSeconds !== null ? ` · ${formatDuration(elapsedMs)} of ${formatDuration(adaptive.budgetSeconds * 1000)}` : '';
        await runRound(next, roundIndex, (index, count) => ` · until decided: ${decision.undecided} undecided, ${decision.chased.length} chased, ≤ ${adaptive.maxRepetitions} reps${budget} · trial ${index + 1}/${count}`);
        previous = next;
      }
    });
    progress.clear();
    if (interruption) {
      await interruption;
      return { resultsPath: store.path, results: store.snapshot };
    }

    await clock.time('finish and teardown', async () => {
      for (const [name, target] of targets) {
        if (abandoned.has(name)) continue;
        const resumed = await cutOff(target.resume(), deadlines.pauseMs, `resuming ${name}`).then(() => true, (error: unknown) => {
          log(`${name}: ${errorMessage(error)}; its suites' finish is skipped`);
          return false;
        });
        if (!resumed) continue;
        for (const suite of options.suites) {
          const key = `${name}/${suite.name}`;
          if (!prepared.has(key)) continue;
          await cutOff(Promise.resolve(suite.finish?.(contextFor(target, suite.name), prepared.get(key))), deadlines.finishMs, `finishing ${suite.name} on ${name}`).catch(
            (error: unknown) => log(`finishing ${suite.name} on ${name} failed: ${errorMessage(error)}`),
          );
        }
      }
      await teardownTargets(targets, deadlines, log);
      logTeardownFailures(await resources.undoAll(), log);
    });
    // A signal may have come during finish and teardown (the checks above do not see it: TS narrows).
    const lateInterruption = signalled();
    if (lateInterruption) {
      await lateInterruption;
      return { resultsPath: store.path, results: store.snapshot };
    }
    log(`stopped: ${stopReason}`);
    await record((draft) => {
      for (const [name, reason] of abandoned) {
        for (const arm of armsOf(name)) {
          for (const point of draft.points) if (point.target === arm && point.trials.length === 0) Object.assign(point, { status: 'failed', reason });
        }
      }
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
    if (!store) await removeCreated(output.created);
    throw error;
  } finally {
    progress.clear();
    // Never tear down beside the interrupt handler's own teardown.
    if (interruption) await interruption;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await teardownTargets(targets, deadlines, log);
    logTeardownFailures(await resources.undoAll(), log);
    await options.placement?.close();
    await releaseLock();
  }
}

/** One line per resource the teardown could not remove: they stay in the ledger for `cleanup`. */
function logTeardownFailures(report: UndoReport, log: (line: string) => void): void {
  for (const failure of report.failed) log(`teardown: could not remove ${failure.description}: ${failure.error} (run \`npm run cleanup\`)`);
}

/** `1 point`, `12 points`. */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** The run's plan: its rows (the arms), suites, points and seeded rounds. */
function planFor(options: BenchOptions, settings: RunSettings, cores: number) {
  const suites = new Map(options.suites.map((suite) => [suite.name, suite]));
  return buildPlan(settings.arms, [...suites.keys()], { quick: options.quick, cores }, options.suiteOptions, options.repetitions, options.seed, suites, options.points ?? null);
}

/**
 * The installs phase: the suites' tools, the named targets' tools and, when a target runs the image,
 * the image builder's, one apt-get install for all. In the default matrix a target whose tools cannot
 * be installed is left out, saying why, instead of failing the run.
 * @returns The configurations still in the run.
 * @throws MissingToolError or UsageError (exit 2) when a required tool cannot be installed.
 */
async function installTools(options: BenchOptions, log: (line: string) => void): Promise<TargetConfiguration[]> {
  const toolsOf = (configuration: TargetConfiguration) => [...configuration.driver.hostTools, ...(IMAGE_DRIVERS.has(configuration.driver) ? IMAGE_TOOLS : [])];
  const suiteTools = options.suites.flatMap((suite) => suite.hostTools);
  // One session for the run's install steps: each package is announced once, a failed install not retried.
  const toolOptions: EnsureToolsOptions = { ...options.seams?.tools, session: new InstallSession() };
  if (!options.defaultMatrix) {
    await ensureTools([...suiteTools, ...options.targets.flatMap(toolsOf)], log, toolOptions);
    return options.targets;
  }
  try {
    await ensureTools([...suiteTools, ...options.targets.flatMap(toolsOf)], log, toolOptions);
    return options.targets;
  } catch {
    // Something could not be installed: find out which target it was, one at a time.
  }
  await ensureTools(suiteTools, log, toolOptions);
  const kept: TargetConfiguration[] = [];
  for (const configuration of options.targets) {
    try {
      await ensureTools(toolsOf(configuration), log, toolOptions);
      kept.push(configuration);
    } catch (error) {
      log(`leaving out ${configuration.id}: ${errorMessage(error)}`);
    }
  }
  return kept;
}

/**
 * Which configurations run: in the default matrix those this host can run (the others left out,
 * saying why); otherwise all of them, each checked to be able to run here.
 * @throws UsageError naming a target that cannot run here, or when the default matrix has none left.
 */
async function runnableConfigurations(options: BenchOptions, configurations: TargetConfiguration[], host: HostFacts, log: (line: string) => void): Promise<TargetConfiguration[]> {
  const placement = options.placement;
  // A placement's targets run elsewhere: whether they can is asked there, not of this machine.
  const availability = options.seams?.availability ?? ((configuration: TargetConfiguration, facts: HostFacts) => (placement ? placement.availability(configuration) : configuration.driver.defaultAvailability(facts)));
  const kept: TargetConfiguration[] = [];
  for (const configuration of configurations) {
    const reason = await availability(configuration, host);
    if (reason === null) kept.push(configuration);
    else if (options.defaultMatrix) log(`leaving out ${configuration.id}: ${reason}`);
    else throw new UsageError(`${configuration.id} cannot run${placement ? '' : ' on this host'}: ${reason}; fix that, or leave ${configuration.id} out of --target`);
  }
  if (kept.length === 0) throw new UsageError('no target can run on this host (see the lines above): install what they need, or name one with --target');
  return kept;
}

/**
 * The image phase: builds (or finds in the cache) the image once before the targets that run it are
 * provisioned, so its time is its own phase and not the first such target's.
 * @returns Why it failed (those targets are then failed without provisioning), or null.
 */
async function buildImageIfNeeded(
  configurations: readonly TargetConfiguration[],
  image: RunImage,
  options: BenchOptions,
  clock: PhaseClock,
  deadlines: StepDeadlines,
  log: (line: string) => void,
): Promise<string | null> {
  if (!configurations.some((configuration) => IMAGE_DRIVERS.has(configuration.driver))) return null;
  const build = options.seams?.buildImage ?? ((logLine: (line: string) => void) => image.rootfs(logLine));
  try {
    await clock.time('image build', () => cutOff(build(log), deadlines.imageMs, 'building the image'));
    return null;
  } catch (error) {
    log(`building the image failed: ${errorMessage(error)}`);
    return errorMessage(error);
  }
}

/**
 * Creates the results file. A file system error here (the disk filled up since the directory was
 * checked) is the user's to fix: one line, exit 2, and no file is left (the write is atomic).
 */
async function createStore(directory: string, initial: ResultsFile): Promise<ResultsStore> {
  try {
    return await ResultsStore.create(directory, initial);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw error;
    const fix = code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space there or choose another --out' : 'choose a directory you can write with --out';
    throw new UsageError(`cannot write the results file in ${directory} (${code}): ${fix}`, { cause: error });
  }
}

/** A target that is not there, with the reason. */
function unavailableFacts(name: string, state: 'failed' | 'skipped', reason: string): TargetFacts {
  return { target: name, state, reason, networkPath: 'n/a', storage: 'n/a', labels: {}, degraded: [] };
}

async function provisionTarget(
  name: string,
  provision: () => Promise<ProvisionedTarget>,
  log: (line: string) => void,
  targets: Map<string, ProvisionedTarget>,
  deadlines: StepDeadlines,
): Promise<TargetFacts> {
  let target: ProvisionedTarget | undefined;
  try {
    log(`provisioning ${name}…`);
    // A target that comes up after its deadline is torn down at once: the run has gone on without it.
    target = await cutOff(provision(), deadlines.provisionMs, `provisioning ${name}`, (late) => void late.teardown().catch(() => {}));
    await cutOff(target.pause(), deadlines.pauseMs, `pausing ${name}`);
    targets.set(name, target);
    return target.facts;
  } catch (error) {
    // Provisioned but not paused: it must not stay up, nor be measured.
    if (target) await cutOff(target.teardown(), deadlines.teardownMs, `tearing down ${name}`).catch(() => {});
    log(`${name}: provisioning failed: ${errorMessage(error)}`);
    return unavailableFacts(name, 'failed', `provisioning failed: ${errorMessage(error)}`);
  }
}

/** Pauses a target under its deadline; returns why it must be abandoned (the pause was cut off), else null. */
async function pauseTarget(target: ProvisionedTarget, deadlines: StepDeadlines, log: (line: string) => void): Promise<string | null> {
  try {
    await cutOff(target.pause(), deadlines.pauseMs, `pausing ${target.name}`);
    return null;
  } catch (error) {
    // The measurement stands; the next trials on other targets may run beside a target left running.
    log(`${target.name}: pausing failed: ${errorMessage(error)}`);
    return error instanceof StepDeadlineError ? error.message : null;
  }
}

/** taskset, to pin client commands (util-linux, essential on Debian, so normally present). */
const TASKSET = { command: 'taskset', debianPackage: 'util-linux', why: 'to pin the client to its CPUs' };

/** How runTrial measures, beside the trial's own context. */
interface TrialSettings {
  quietHost: QuietHostOptions;
  /** The host the quiet-host wait samples when it is not this machine (lab mode: the server host). */
  quietHostReader?: { host: string; read: () => Promise<HostCpuTimes> };
  maxStealPercent: number;
  /** Whose steal brackets each trial: this machine's (host null, stored as `steal`) or named hosts' (stored as `hostSteal`). */
  stealReaders: ReadonlyArray<{ host: string | null; read: () => Promise<StealTicks> }>;
  deadlines: StepDeadlines;
  log: (line: string) => void;
  /** Whether a metric the suite returned is kept (a placement's; default all): the others are dropped, never stored. */
  keepsMetric?: (name: string) => boolean;
}

/** One trial's record, and why its target must run no more trials (it stopped answering), if it must. */
interface TrialResult {
  record: TrialRecord;
  stoppedAnswering: string | null;
}

/** Beyond the wait's own limit, for the reads of a lab host's /proc/stat over SSH (each under 0.5 s here), ms. */
const QUIET_WAIT_SLACK_MS = 30_000;

/**
 * Runs one trial and turns whatever happens into a TrialRecord: an outcome that does not fit the
 * schema (a NaN or infinite metric, no metric) is a failed trial naming the field, and a trial that
 * throws is a failed trial carrying the commands it ran (recorded from the target's and the
 * client's `exec` and `startService`, and the failed command of a CommandFailedError).
 */
async function runTrial(
  suite: AnySuite,
  cell: PlannedCell,
  repetition: number,
  target: ProvisionedTarget,
  context: SuiteContext & { state: unknown },
  settings: TrialSettings,
): Promise<TrialResult> {
  const startedAt = new Date().toISOString();
  const begin = performance.now();
  const ran: string[][] = [];
  const trialContext = recordingCommands(context, ran);
  let record: TrialRecord;
  let stoppedAnswering: string | null = null;
  const waitQuiet = async (): Promise<QuietHostCheck> => {
    const quiet = settings.quietHostReader;
    return quiet ? { ...(await waitForQuietHost(settings.quietHost, quiet.read)), host: quiet.host } : waitForQuietHost(settings.quietHost);
  };
  const measure = async (quietHost: QuietHostCheck): Promise<TrialRecord> => {
    // Steal brackets the measurement only, not the quiet-host wait; a host without it just has none.
    const stealBefore = await readSteals(settings.stealReaders, settings.log);
    const returned = await suite.runTrial(cell.point, trialContext);
    const keeps = settings.keepsMetric;
    const outcome = keeps && returned.state === 'completed' ? { ...returned, metrics: returned.metrics.filter((metric) => keeps(metric.name)) } : returned;
    const stealAfter = await readSteals(settings.stealReaders, settings.log, stealBefore);
    const steal = stealChecks(settings.stealReaders, stealBefore, stealAfter, settings.maxStealPercent);
    return checkedRecord(suite.name, outcome, { repetition, startedAt, durationMs: performance.now() - begin, quietHost, ...steal });
  };
  // A target that will not resume fails this trial, not the run.
  try {
    // The wait comes before the resume: the host is judged with every target paused, so a guest's own
    // load (a TCG guest keeps a core busy) does not read as another job on the host.
    const step = `the trial ${cell.key}`;
    const quietHost = await cutOff(waitQuiet(), (settings.quietHost.maxWaitMs ?? DEFAULT_MAX_WAIT_MS) + QUIET_WAIT_SLACK_MS, `the quiet-host wait before ${step}`);
    await cutOff(target.resume(), settings.deadlines.pauseMs, `resuming ${target.name}`);
    record = await cutOff(measure(quietHost), settings.deadlines.trialMs, step);
  } catch (error) {
    if (error instanceof StepDeadlineError) stoppedAnswering = error.message;
    record = { state: 'failed', reason: errorMessage(error), commands: commandsOf(error, ran), repetition, startedAt, durationMs: performance.now() - begin };
  }
  const paused = await pauseTarget(target, settings.deadlines, settings.log);
  return { record, stoppedAnswering: stoppedAnswering ?? paused };
}

/**
 * Each steal reader's ticks now, in order; null where it could not be read (this machine without a
 * steal column: silently, as before; a named host: logged, its words naming it), and where `before`
 * (the window's first reading) is null, since one end alone gives no figure.
 */
async function readSteals(readers: TrialSettings['stealReaders'], log: (line: string) => void, before?: ReadonlyArray<StealTicks | null>): Promise<Array<StealTicks | null>> {
  return Promise.all(
    readers.map(async (reader, index) => {
      if (before && before[index] === null) return null;
      return reader.read().catch((error: unknown) => {
        if (reader.host !== null) log(`steal not read: ${errorMessage(error)}`);
        return null;
      });
    }),
  );
}

/** A trial's steal fields from the readings around it: this machine's as `steal`, named hosts' as `hostSteal`; none where a reading is missing. */
function stealChecks(readers: TrialSettings['stealReaders'], before: ReadonlyArray<StealTicks | null>, after: ReadonlyArray<StealTicks | null>, maxStealPercent: number): Pick<TrialRecord, 'steal' | 'hostSteal'> {
  const checks = readers.flatMap((reader, index) => {
    const [start, end] = [before[index], after[index]];
    if (!start || !end) return [];
    const fraction = stealFractionBetween(start, end);
    return [{ host: reader.host, fraction, flagged: fraction * 100 > maxStealPercent }];
  });
  const local = checks.find((check) => check.host === null);
  const named = checks.flatMap((check) => (check.host !== null ? [{ ...check, host: check.host }] : []));
  return {
    ...(local ? { steal: { fraction: local.fraction, flagged: local.flagged } } : {}),
    ...(named.length > 0 ? { hostSteal: named } : {}),
  };
}

/** What every trial record carries beside its state, commands and result. */
type TrialBase = Pick<TrialRecord, 'repetition' | 'startedAt' | 'durationMs' | 'quietHost' | 'steal' | 'hostSteal'>;

/**
 * The record of a suite's outcome, checked against the schema so the store can never reject it: a
 * metric that is NaN or infinite makes a failed trial naming the metric (never a stored measurement,
 * never a failed run), and any other misfit a failed trial naming the field.
 */
function checkedRecord(suite: string, outcome: TrialOutcome, base: TrialBase): TrialRecord {
  const commands = Array.isArray(outcome.commands) ? outcome.commands : [];
  if (outcome.state === 'completed') {
    const bad = (outcome.metrics ?? []).find((metric) => typeof metric.value !== 'number' || !Number.isFinite(metric.value));
    if (bad) {
      return { ...base, state: 'failed', commands, reason: `metric ${bad.name} is ${String(bad.value)}, not a finite number: the ${suite} trial's output gave no measurement` };
    }
  }
  const parsed = TrialRecord.safeParse({ ...outcome, ...base, commands });
  if (parsed.success) return parsed.data;
  const fallback = TrialRecord.safeParse({ ...base, state: 'failed', commands, reason: `the ${suite} suite returned a trial the results file cannot hold (${formatZodIssues(parsed.error)})` });
  return fallback.success ? fallback.data : { ...base, state: 'failed', commands: [], reason: `the ${suite} suite returned a trial the results file cannot hold (${formatZodIssues(parsed.error)})` };
}

/**
 * A copy of the trial's context whose target and client record every command they run, so a trial
 * that throws is still saved with its commands. The target is a Proxy: everything else passes through
 * to the real target (bound to it), so a suite that reads more of it than the contract still works.
 */
function recordingCommands<C extends SuiteContext>(context: C, ran: string[][]): C {
  const real = context.target;
  const exec: ProvisionedTarget['exec'] = (command, execOptions) => {
    ran.push([...command]);
    return real.exec(command, execOptions);
  };
  const startService: ProvisionedTarget['startService'] = async (spec) => {
    const service = await real.startService(spec);
    ran.push([...service.command]);
    return service;
  };
  const target = new Proxy(real, {
    get(object, property) {
      if (property === 'exec') return exec;
      if (property === 'startService') return startService;
      const value: unknown = Reflect.get(object, property, object);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
  const client: ClientSide = {
    exec: (command, execOptions) => {
      ran.push(context.client.wrap(command));
      return context.client.exec(command, execOptions);
    },
    wrap: (command) => context.client.wrap(command),
  };
  return { ...context, target, client };
}

/** The commands a failed trial ran, as recorded, plus the one a CommandFailedError names if it is not among them. */
function commandsOf(error: unknown, ran: readonly string[][]): string[][] {
  const commands = ran.map((command) => [...command]);
  if (error instanceof CommandFailedError) {
    const failed = [...error.outcome.command];
    if (!commands.some((command) => command.join('\0') === failed.join('\0'))) commands.push(failed);
  }
  return commands;
}

/**
 * Appends a trial to its point, recomputes the point's summaries and every verdict, and records the
 * key in the round's order. Should the store still refuse the update (a summary that overflows), the
 * trial is stored as failed with the store's reason: one bad trial never fails the run.
 */
async function recordTrial(
  record: (change: (draft: ResultsFile) => void) => Promise<void>,
  cell: PlannedCell,
  roundIndex: number,
  trial: TrialRecord,
  cvThreshold: number,
): Promise<void> {
  const apply = (entry: TrialRecord) => (draft: ResultsFile) => {
    const pointIndex = draft.points.findIndex((point) => point.key === cell.key);
    const point = draft.points[pointIndex]!;
    point.trials.push(entry);
    draft.points[pointIndex] = summarizePoint(point, cvThreshold);
    while (draft.order.length <= roundIndex) draft.order.push([]);
    draft.order[roundIndex]!.push(cell.key);
    draft.points = withVerdicts(draft).points;
  };
  try {
    await record(apply(trial));
  } catch (error) {
    if (!(error instanceof ResultsFormatError)) throw error;
    const { repetition, startedAt, durationMs, quietHost, steal, hostSteal, round, commands } = trial;
    await record(apply({ repetition, startedAt, durationMs, quietHost, steal, hostSteal, round, commands, state: 'failed', reason: `the trial could not be stored: ${error.details}` }));
  }
}

/**
 * The options as the plan stores them: an optional flag not given (migration's `--dest`) is left
 * out, as JSON would drop it anyway; the schema has no "undefined", and `--resume` reads it back absent.
 */
export function storedOptions(options: Record<string, ParamValue | undefined>): Record<string, ParamValue> {
  return Object.fromEntries(Object.entries(options).filter((entry): entry is [string, ParamValue] => entry[1] !== undefined));
}

function initialResults(runId: string, host: HostFacts, options: BenchOptions, settings: RunSettings, pinning: PinningPlan, cells: PlannedCell[], phases: readonly RunPhase[]): ResultsFile {
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
      ...(options.points ? { points: [...options.points] } : {}),
      quick: options.quick,
      repetitions: options.repetitions,
      seed: options.seed,
      cvThreshold: options.cvThreshold,
      options: storedOptions({ ...options.targetOptions, ...(Object.assign({}, ...options.suiteOptions.values()) as SuiteOptions), subnet: options.subnet, guardRange: options.guardRange }),
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
    phases: [...phases],
  };
}

/**
 * A resumed file as its new session starts: `running` again, the old ending (reason, finishedAt,
 * stopReason) and any lab host's `error` dropped, and points that never ran a trial (their target or suite failed to come up
 * last time) pending again, so this session tries them. Trials and order stay as they were; the
 * earlier sessions' phases too, with this session added to `resumes` (resume.ts's resumedSessions).
 */
function resumedResults(previous: ResultsFile, phases: readonly RunPhase[]): ResultsFile {
  const draft = structuredClone(previous);
  draft.status = 'running';
  draft.finishedAt = null;
  delete draft.reason;
  delete draft.stopReason;
  // A lab host that stopped answering last time answered this session's host checks: its error was that session's.
  for (const host of draft.hosts ?? []) delete host.error;
  draft.points = draft.points.map((point): PointResult => {
    if (point.trials.length > 0 || (point.status !== 'failed' && point.status !== 'skipped')) return point;
    const reset: PointResult = { ...point, status: 'pending' };
    delete reset.reason;
    return reset;
  });
  // Every earlier session's phases stay (a killed one's trials time recovered), this session's follow.
  const sessions = resumedSessions(previous, new Date().toISOString());
  draft.resumes = sessions.resumes;
  draft.phases = [...(sessions.phases ?? []), ...phases];
  return draft;
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
 * can replay); teardown() is their orderly way out first (stop a guest cleanly, then remove it),
 * under its deadline: a teardown that hangs is logged and left to the ledger's undo.
 */
async function teardownTargets(targets: Map<string, ProvisionedTarget>, deadlines: StepDeadlines, log: (line: string) => void): Promise<void> {
  for (const target of [...targets.values()].reverse()) {
    await cutOff(target.teardown(), deadlines.teardownMs, `tearing down ${target.name}`).catch((error: unknown) => {
      if (error instanceof StepDeadlineError) log(`${error.message}; what it registered is removed from the ledger`);
    });
  }
  targets.clear();
}
