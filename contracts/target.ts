/**
 * What a suite may ask of a running target, and what a target driver must provide: the one seam
 * between `suites/` and `provisioning/`. Neither imports the other; both import this.
 */
import type { CpuCounter } from '../core/cpu-meter.js';
import type { CommandOptions, CommandOutcome } from '../core/exec.js';
import type { TargetFacts } from '../results/schema.js';

/** Options from the command line that shape how targets are provisioned; each driver reads those it takes. */
export interface TargetOptions {
  /** Docker: the data directory on a named volume, or on the container's layered file system. Default `volume`. */
  storage: 'volume' | 'overlay';
  /** KVM: `auto` probes and falls back to TCG with a label; `kvm` fails without it; `tcg` always emulates. */
  accel: 'auto' | 'kvm' | 'tcg';
  /** KVM: the guest disk's format. Default `raw`. */
  disk: 'raw' | 'qcow2';
  /** KVM: virtual CPUs of the guest. Default 2. */
  vcpus: number;
  /** KVM: guest memory in MiB. Default 2048. */
  memoryMiB: number;
  /** KVM: who runs QEMU, isobench itself or libvirtd. Default `qemu`. */
  vmManager: 'qemu' | 'libvirt';
  /** Quick mode: drivers may use smaller data files and shorter waits. */
  quick: boolean;
}

/** A port a suite's server listens on inside a target; docker-nat publishes every port the chosen suites declare. */
export interface ServicePort {
  port: number;
  protocols: ReadonlyArray<'tcp' | 'udp'>;
  /** Who listens there, e.g. `iperf3 (tcp-bulk)`. */
  why: string;
}

/** A long-running program on a target (a benchmark server) and how the client reaches it. */
export interface ServiceSpec {
  /** Shown in logs and the resource ledger, e.g. `iperf3`. */
  name: string;
  /** The port the client connects to (on the target's server address); one the suite declared. */
  port: number;
  protocols: ReadonlyArray<'tcp' | 'udp'>;
  /**
   * The command, given the address and port it must bind to inside the target. That address is a
   * test address (never 0.0.0.0): the bridge address for host processes, the container's or
   * guest's own address otherwise.
   */
  command: (bind: { address: string; port: number }) => string[];
  /** How long the server may live, in ms; it is killed after that. */
  timeoutMs: number;
}

/** A server started by `ProvisionedTarget.startService`, listening. */
export interface TargetService {
  readonly spec: ServiceSpec;
  /** The command line as it really runs, for the results file. */
  readonly command: readonly string[];
  /** Ends the server. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A target that is up and ready to run workloads. Every suite talks to targets only through this,
 * so a new target is one new driver module.
 */
export interface ProvisionedTarget {
  /** The configuration this instance runs, e.g. `docker-nat:overlay`; the row it fills in the results. */
  readonly name: string;
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
  /** Thaw after `pause`. */
  resume(): Promise<void>;
  /** Ends everything the target started. Idempotent; the resource ledger ends it on Ctrl-C too. */
  teardown(): Promise<void>;
}
