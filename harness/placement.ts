/**
 * Where a run's targets are provisioned and where its client runs: the runner's one seam for lab
 * mode (issue 14). Without a placement the runner builds today's local topology (this host, the
 * client namespace, the bridge) exactly as before; harness/lab.ts's `labPlacement` provisions on an
 * inventory's `--server` host and drives the load from its `--client` host over SSH.
 */
import type { AnySuite, ClientSide } from '../contracts/suite.js';
import type { ProvisionedTarget } from '../contracts/target.js';
import type { ResourceRegistry } from '../core/ledger.js';
import type { HostProcStat } from '../hosts/proc-stat.js';
import type { TargetConfiguration } from '../provisioning/targets/configuration.js';
import type { HostFacts, LabHost } from '../results/schema.js';
import type { PinningPlan } from './pinning.js';

/** A topology other than this host's own: targets on one host, the client on another. */
export interface Placement {
  /** One line for the log, e.g. `lab: targets on sut (ssh root@198.18.1.2), client on peer (…)`. */
  readonly description: string;
  /**
   * Before anything is created: every host answers and has the suites' tools.
   * @throws UsageError (exit 2) naming the host and the missing tool; HostError for a host that does not answer.
   */
  check(suites: readonly AnySuite[], log: (line: string) => void): Promise<void>;
  /** Every host's facts and clock offset for the results file's `hosts` field; a host that failed carries its `error`. */
  describeHosts(): Promise<LabHost[]>;
  /** What the run does about pinning (recorded as `plan.pinning`): nothing is pinned on remote hosts. */
  readonly pinning: PinningPlan;
  /**
   * Provisions a configuration where the placement puts targets; everything it starts on a host is
   * registered in `resources`.
   * @throws Error naming the host when it cannot.
   */
  provision(configuration: TargetConfiguration, resources: ResourceRegistry): Promise<ProvisionedTarget>;
  /** Where the suites' client programs run. */
  readonly client: ClientSide;
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
