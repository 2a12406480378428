/**
 * Where a run's targets are provisioned and where its client runs: the runner's one seam for lab
 * mode (issue 14). Without a placement the runner builds today's local topology (this host, the
 * client namespace, the bridge) exactly as before; harness/lab.ts's `labPlacement` provisions on an
 * inventory's `--server` host and drives the load from its `--client` host over SSH.
 */
import type { AnySuite, ClientSide, TargetHostAccess } from '../contracts/suite.js';
import type { ProvisionedTarget, ServicePort, TargetOptions } from '../contracts/target.js';
import type { ResourceRegistry } from '../core/ledger.js';
import type { HostProcStat } from '../hosts/proc-stat.js';
import type { RunImage } from '../provisioning/image/index.js';
import type { TargetConfiguration } from '../provisioning/targets/configuration.js';
import type { HostFacts, LabHost } from '../results/schema.js';
import type { PinningPlan } from './pinning.js';

/** What the runner gives a placement's provisioning beyond the configuration and the ledger. */
export interface PlacementProvisionContext {
  /** Ports the chosen suites' servers listen on (a NAT target publishes them when it makes its container). */
  servicePorts: readonly ServicePort[];
  /** The configuration's options (`storage` for the Docker targets). */
  options: TargetOptions;
  /** The run's image steps (the tree is built or found once per run, on this machine). */
  image: RunImage;
  /** The lab hosts as the results file records them: described by this run, or by the run it resumes. */
  hosts: readonly LabHost[];
  log: (line: string) => void;
}

/** A topology other than this host's own: targets on one host, the client on another. */
export interface Placement {
  /** One line for the log, e.g. `lab: targets on sut (ssh root@198.18.1.2), client on peer (…)`. */
  readonly description: string;
  /**
   * Before anything is created: every host answers and has the suites' tools.
   * @throws UsageError (exit 2) naming the host and the missing tool; HostError for a host that does not answer.
   */
  check(suites: readonly AnySuite[], log: (line: string) => void): Promise<void>;
  /**
   * The server host's online cores, read by `check`: what suites scale to (fio's `numjobs`, mysql's
   * full thread sweep) in place of this machine's, which run no target.
   * @throws Error when `check` has not read them yet (a bug in the caller).
   */
  serverCores(): number;
  /** Every host's facts and clock offset for the results file's `hosts` field; a host that failed carries its `error`. */
  describeHosts(): Promise<LabHost[]>;
  /** What the run does about pinning (recorded as `plan.pinning`): nothing is pinned on remote hosts. */
  readonly pinning: PinningPlan;
  /**
   * Whether a configuration can run where the placement puts targets (in place of the driver's own
   * check of this machine): null when it can, else one line naming the host and why not.
   */
  availability(configuration: TargetConfiguration): Promise<string | null>;
  /**
   * Why the startup suite cannot start a fresh instance of a configuration beside the one under
   * test where the placement puts targets, or null when it can (SuiteContext.launchFresh).
   */
  freshUnavailable(configuration: TargetConfiguration): string | null;
  /**
   * Provisions a configuration where the placement puts targets; everything it starts on a host is
   * registered in `resources`.
   * @throws Error naming the host when it cannot.
   */
  provision(configuration: TargetConfiguration, resources: ResourceRegistry, context: PlacementProvisionContext): Promise<ProvisionedTarget>;
  /** Where the suites' client programs run. */
  readonly client: ClientSide;
  /** The host the targets run on, for what suites read of it beside the target (SuiteContext.targetHost). */
  readonly targetHost: TargetHostAccess;
  /** @throws unless `address` is the server host's test address. */
  verifyDestination(address: string): Promise<void>;
  /**
   * The host facts suites see (tcp-bulk reads `perfCounters` and `cpuMHz` to choose its CPU-cost
   * method): with those off, a suite does not count cycles on the wrong machine.
   */
  suiteHost(local: HostFacts): HostFacts;
  /**
   * Whether a metric a suite returned is measured where the placement runs things: a CPU-cost metric
   * of this machine (whole-host, cycles, a local source) would be the controller's CPU stored as the
   * target's, so it is dropped (absent, never a wrong number); those naming a measured host are kept.
   */
  keepsMetric(name: string): boolean;
  /**
   * The hosts whose /proc/stat brackets every trial in place of this machine's (the CPU meter's
   * window and the steal reading), each stored under its name: the server and the client host.
   */
  readonly measuredHosts: readonly HostProcStat[];
  /** The host the quiet-host wait samples before every trial (the server host, where the target runs). */
  readonly quietHost: HostProcStat;
  /** After a failed trial: the first host that no longer answers, as one line naming it, else null. */
  hostFailure(): Promise<string | null>;
  /** Ends every connection the placement opened. Never throws. */
  close(): Promise<void>;
}
