/**
 * The contract every suite fulfils and the context the runner hands it. Suites import this and
 * `contracts/target.ts`, never `provisioning/`; the harness is the only layer that knows both sides.
 */
import type { z } from 'zod';
import type { CpuMeter } from '../core/cpu-meter.js';
import type { CommandOptions, CommandOutcome } from '../core/exec.js';
import type { ToolRequirement } from '../core/tools.js';
import type { MetricDefinition } from '../results/metrics.js';
import type { HostFacts, MetricSample, ParamValue } from '../results/schema.js';
import type { TrialDetail } from '../results/trial-detail.js';
import type { ProvisionedTarget, ServicePort } from './target.js';

/** A point's parameters as stored in the results file: flat, JSON-safe values. */
export type PointParams = Record<string, ParamValue>;
/** A suite's options from the command line, after parsing, with defaults filled in. */
export type SuiteOptions = Record<string, ParamValue>;

/** One parameter point of a suite: one bar or one x position of a figure. */
export interface SuitePoint<P extends PointParams = PointParams> {
  /** Unique within the suite, e.g. `client-to-server`, `randread`. */
  id: string;
  params: P;
  /** The metric this point is judged by (status, verdicts, the report's headline), with unit and direction. */
  headline: MetricDefinition;
}

/** What every suite's `points` sees: the run's mode, the host, and the suite's own parsed options. */
export interface SuiteConfig<O extends SuiteOptions = SuiteOptions> {
  /** Quick mode: short runs for a first look; otherwise the papers' durations. */
  quick: boolean;
  /** Cores of the host (fio scales numjobs to it). */
  cores: number;
  options: O;
}

/** A command-line flag a suite adds to `npm run bench`, e.g. `--streams N`. */
export interface SuiteFlag {
  /** Without the dashes, e.g. `streams`; also the key in the options object. Unique across suites. */
  name: string;
  /** Shown in the usage line, e.g. `N`. */
  valueName: string;
  /** One line for `--help`. */
  description: string;
}

/** The load-generator side: the `client` network namespace. */
export interface ClientSide {
  /** Runs a program in the client namespace to completion. */
  exec(command: readonly string[], options?: CommandOptions): Promise<CommandOutcome>;
  /** The command line as it really runs (with the namespace wrapper), for the results file. */
  wrap(command: readonly string[]): string[];
}

/**
 * The machine a target runs on, when it is not this one (lab mode: the `--server` host over SSH):
 * for what a suite reads of the host beside the target (random-io's /sys/block), never inside it.
 */
export interface TargetHostAccess {
  /** The inventory's name for the host, e.g. `sut`: a metric read there names it in its method. */
  readonly name: string;
  /** Runs a program on that host (not in the target) to completion. */
  exec(command: readonly string[], options?: CommandOptions): Promise<CommandOutcome>;
}

/** What `prepare`, `runTrial` and `finish` receive about the target under test and the host. */
export interface SuiteContext<O extends SuiteOptions = SuiteOptions> {
  target: ProvisionedTarget;
  client: ClientSide;
  config: SuiteConfig<O>;
  host: HostFacts;
  /** Measures CPU time around the suite's window: this machine's /proc/stat, or in lab mode the server and client hosts'. */
  cpu: Pick<CpuMeter, 'start'>;
  /**
   * The host the target runs on when it is another machine (lab mode: the server host); absent, it
   * is this machine, whose files a suite may read directly.
   */
  targetHost?: TargetHostAccess;
  /**
   * Called once the suite knows the exact destination.
   * @throws unless the address is one isobench assigned and the client routes it through its own veth.
   */
  verifyDestination(address: string): Promise<void>;
  /**
   * Where a suite keeps files worth reading after the run (a database server's error log when a trial
   * failed): the results directory, beside the results file. Absent where there is none (calibrate, tests).
   */
  logDirectory?: string;
  /**
   * Provisions another, fresh instance of the same target configuration (its own process,
   * container or guest), for the startup suite; the caller tears it down. Absent where no driver is
   * at hand (calibrate).
   */
  launchFresh?: () => Promise<ProvisionedTarget>;
  /** Why `launchFresh` is absent where a driver is at hand (a lab kvm guest owns its host's one guest-address), for the skip's reason. */
  freshUnavailable?: string;
}

/** A trial's context: the suite context plus what `prepare` returned for this target. */
export interface TrialContext<O extends SuiteOptions = SuiteOptions, S = unknown> extends SuiteContext<O> {
  /** The value `prepare` resolved to for this target (e.g. a running database and its credentials); undefined without `prepare`. */
  state: S;
}

/**
 * What one trial produced. A discriminated union on `state`: a failure is a value with a reason,
 * never a thrown string or a silent zero. `commands` are the exact command lines that ran; `detail`
 * is what a suite records beyond metrics (results/migration.ts), kept with the trial.
 */
export type TrialOutcome =
  | { state: 'completed'; metrics: MetricSample[]; commands: string[][]; detail?: TrialDetail }
  | { state: 'failed'; reason: string; commands: string[][]; detail?: TrialDetail }
  | { state: 'skipped'; reason: string; commands: string[][] };

/**
 * A workload: its points, and how to run one trial of a point on a target. `P` is the point
 * parameters, `O` the parsed options, `S` the per-target state `prepare` returns (a running server).
 * Registering a suite is one line in `suites/index.ts`; its name, flags, ports and tools reach the
 * CLI, the planner, docker-nat and the installer from this object.
 */
export interface Suite<P extends PointParams = PointParams, O extends SuiteOptions = SuiteOptions, S = unknown> {
  /** The name on the command line and in results, e.g. `tcp-bulk`. */
  readonly name: string;
  readonly description: string;
  /** The paper figure it reproduces. */
  readonly figure: string;
  /**
   * Set for a suite that runs only when named (`--suite migration`), never in `--suite all` or the
   * default matrix; the text says why, and `--help` shows it. Absent: the suite is part of `all`.
   */
  readonly optIn?: string;
  /**
   * The only target drivers that can run it, by name (migration: `kvm`, `runc-criu`); absent: every
   * target. The plan leaves out, before anything is provisioned, a target that can run none of the
   * chosen suites (harness/target-fit.ts); in a run with other suites its points are skipped.
   */
  readonly onlyTargets?: readonly string[];
  /**
   * The point ids of the first look, the matrix of a bare `npm run bench`: the point behind the
   * paper's headline figure. Absent: the suite is not in the first look (it runs with `--suite`).
   * The first look is sized so its three rounds on all four targets fit in its 5-minute budget on a
   * 2-core host (README, "The first look").
   */
  readonly firstLook?: readonly string[];
  /** Host-side tools (the client and native target run them). */
  readonly hostTools: readonly ToolRequirement[];
  /** Ports its servers listen on inside targets (docker-nat publishes them when the container is made). */
  readonly ports: readonly ServicePort[];
  /** Flags it adds to `npm run bench`. */
  readonly flags: readonly SuiteFlag[];
  /**
   * Parses the flags' raw text (undefined when not given), keyed by flag name, into typed options
   * with defaults. The harness turns a parse failure into a usage error naming the flag.
   */
  readonly options: z.ZodType<O>;
  /** The schema of a point's parameters: points are checked against it when planned and when read back. */
  readonly params: z.ZodType<P>;
  points(config: SuiteConfig<O>): SuitePoint<P>[];
  /** Once per target before the first trial (lay out fio's file, start a database); its value reaches every trial. */
  prepare?(context: SuiteContext<O>): Promise<S>;
  runTrial(point: SuitePoint<P>, context: TrialContext<O, S>): Promise<TrialOutcome>;
  /** Once per target after the last trial: remove what prepare made on the target. */
  finish?(context: SuiteContext<O>, state: S): Promise<void>;
}

/** Any registered suite, its type parameters erased (the runner treats params, options and state as opaque). */
export type AnySuite = Suite<PointParams, SuiteOptions, unknown>;
