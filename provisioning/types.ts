import type { CommandOptions, CommandOutcome } from '../core/exec.js';
import type { ResourceRegistry, Undo } from '../core/ledger.js';
import type { CpuCounter } from '../core/cpu-meter.js';
import type { ToolRequirement } from '../core/tools.js';
import type { HostFacts, TargetFacts } from '../results/schema.js';
import type { Topology } from './topology.js';

export const TARGET_NAMES = ['native', 'docker-host', 'docker-nat', 'kvm'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** Options from the command line that shape how targets are provisioned. */
export interface TargetOptions {
  storage: 'volume' | 'overlay';
  accel: 'auto' | 'kvm' | 'tcg';
  disk: 'raw' | 'qcow2';
  vcpus: number;
  memoryMiB: number;
  vmManager: 'qemu' | 'libvirt';
  quick: boolean;
}

export interface ProvisionContext {
  topology: Topology;
  resources: ResourceRegistry;
  options: TargetOptions;
  host: HostFacts;
  /** A host directory private to this run (registered for removal). */
  runDirectory: string;
  /**
   * Where a target keeps logs worth reading after the run (a guest's serial console): the results
   * directory, beside the results file. Optional so tests can provision without one.
   */
  logDirectory?: string;
  log: (line: string) => void;
}

/** A long-running program on a target (a benchmark server) and how the client reaches it. */
export interface ServiceSpec {
  name: string;
  /** The port the client connects to (on the target's server address). */
  port: number;
  protocols: ReadonlyArray<'tcp' | 'udp'>;
  /**
   * The command, given the address and port it must bind to inside the target. That address is a
   * test address (never 0.0.0.0): the bridge address for host processes, the container's or
   * guest's own address otherwise.
   */
  command: (bind: { address: string; port: number }) => string[];
  timeoutMs: number;
}

export interface TargetService {
  readonly spec: ServiceSpec;
  readonly command: readonly string[];
  stop(): Promise<void>;
}

/**
 * A target that is up and ready to run workloads. Every suite talks to targets only through this,
 * so a new target is one new module.
 */
export interface ProvisionedTarget {
  readonly name: TargetName;
  readonly facts: TargetFacts;
  /** The test address the client namespace sends to. Verified to be on isobench's own topology. */
  readonly serverAddress: string;
  /** A directory on the target's own storage, as the target sees it, for data files (fio). */
  readonly dataDirectory: string;
  /** Runs a program to completion inside the target (host process, `docker exec`, guest agent). */
  exec(command: readonly string[], options?: CommandOptions): Promise<CommandOutcome>;
  /** Starts a server inside the target and returns once it listens on its port. */
  startService(spec: ServiceSpec): Promise<TargetService>;
  /** Cumulative CPU seconds of this target's own accounting sources (may be empty). */
  cpuCounters(): Promise<CpuCounter[]>;
  /** Freeze while other targets are measured (a TCG guest left running taxes the others). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops everything the target started. Idempotent; the resource registry calls it on Ctrl-C too. */
  teardown(): Promise<void>;
}

export interface TargetDriver {
  readonly name: TargetName;
  readonly description: string;
  /** Host packages the driver needs, e.g. `{ command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86' }`. */
  readonly hostTools: readonly ToolRequirement[];
  /**
   * Whether `npm run bench` with no --target includes this target on this host: null when it does,
   * else the reason it is left out (e.g. "no Docker daemon answers"). Explicitly named targets run
   * regardless and fail with their own clear error.
   */
  defaultAvailability(host: HostFacts): Promise<string | null>;
  provision(context: ProvisionContext): Promise<ProvisionedTarget>;
}

/** Something a crashed run may have left (found by name prefix or label), and how to remove it. */
export interface Leftover {
  description: string;
  undo: Undo;
}

export interface LeftoverScanner {
  name: string;
  find(): Promise<Leftover[]>;
}
