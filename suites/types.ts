import type { CommandOptions, CommandOutcome } from '../core/exec.js';
import type { CpuMeter } from '../core/cpu-meter.js';
import type { ToolRequirement } from '../core/tools.js';
import type { ProvisionedTarget } from '../provisioning/types.js';
import type { HostFacts, MetricSample, ParamValue } from '../results/schema.js';

export const SUITE_NAMES = ['tcp-bulk', 'tcp-rr', 'random-io', 'startup'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/** One parameter point of a suite: one bar or one x position of a figure. */
export interface SuitePoint {
  id: string;
  params: Record<string, ParamValue>;
}

export interface SuiteConfig {
  quick: boolean;
  /** Cores of the host (fio scales numjobs to it). */
  cores: number;
  /** Options of the command line, e.g. `streams` for tcp-bulk. */
  options: Record<string, ParamValue>;
}

/** The load-generator side: the `client` network namespace. */
export interface ClientSide {
  exec(command: readonly string[], options?: CommandOptions): Promise<CommandOutcome>;
  /** The command line as it really runs (with the namespace wrapper), for the results file. */
  wrap(command: readonly string[]): string[];
}

export interface TrialContext {
  target: ProvisionedTarget;
  client: ClientSide;
  config: SuiteConfig;
  host: HostFacts;
  cpu: CpuMeter;
  /** Called once the suite knows the exact destination; throws unless it is on isobench's topology. */
  verifyDestination(address: string): Promise<void>;
  /**
   * Provisions another, fresh instance of the same target (its own process, container or guest),
   * for the startup suite; the caller tears it down. Absent where no driver is at hand (calibrate).
   */
  launchFresh?: () => Promise<ProvisionedTarget>;
}

/**
 * What one trial produced. A discriminated union on `state`: a failure is a value with a reason,
 * never a thrown string or a silent zero.
 */
export type TrialOutcome =
  | { state: 'completed'; metrics: MetricSample[]; commands: string[][] }
  | { state: 'failed'; reason: string; commands: string[][] }
  | { state: 'skipped'; reason: string; commands: string[][] };

export interface Suite {
  readonly name: SuiteName;
  readonly description: string;
  /** The paper figure it reproduces. */
  readonly figure: string;
  /** Host-side tools (the client and native target run them). */
  readonly hostTools: readonly ToolRequirement[];
  points(config: SuiteConfig): SuitePoint[];
  /** Once per target before the first trial (e.g. lay out fio's file so no trial pays for it). */
  prepare?(context: Omit<TrialContext, 'verifyDestination'>): Promise<void>;
  runTrial(point: SuitePoint, context: TrialContext): Promise<TrialOutcome>;
  /** Once per target after the last trial: remove what prepare made on the target. */
  finish?(context: Omit<TrialContext, 'verifyDestination'>): Promise<void>;
}
