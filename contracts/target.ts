/**
 * What a suite may ask of a running target, and what a target driver must provide: the one seam
 * between `suites/` and `provisioning/`. Neither imports the other; both import this.
 */
import type { CpuCounter } from '../core/cpu-meter.js';
import type { CommandOptions, CommandOutcome } from '../core/exec.js';
import type { TargetFacts } from '../results/schema.js';
import type { MigrationStatus, MigrationVariant } from '../results/migration.js';
import type { ContainerMigrationHost } from './container-migration.js';
import type { TargetLabMigration } from './lab-migration.js';
import type { LibvirtMigrationRecord } from '../results/libvirt-jobinfo.js';

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
  /**
   * Live migration of this target to a fresh copy of itself on the same host, where the target can
   * (the kvm target with `--vm-manager qemu`); absent elsewhere. After a migration that completed,
   * the target *is* the destination: same address, same disk, `exec` and started services reach it.
   */
  readonly migration?: TargetMigration;
  /** Containers it can checkpoint and restore with CRIU (the runc-criu target): the migration suite's container row. */
  readonly containerMigration?: ContainerMigrationHost;
  /**
   * Live migration of this target's libvirt domain to another libvirtd (the kvm target with
   * `--vm-manager libvirt`); absent elsewhere. After a completed one the target is the domain on the
   * destination, as with `migration`.
   */
  readonly libvirtMigration?: TargetLibvirtMigration;
  /**
   * Live migration of this target's guest between two lab hosts (lab mode's kvm target, issue 14);
   * absent elsewhere. After a completed one the target is the guest on the other host.
   */
  readonly labMigration?: TargetLabMigration;
}

/** What a migration trial asks for: QEMU's knobs, one variant at a time. */
export interface MigrationRequest {
  variant: MigrationVariant;
  /** `max-bandwidth`, bytes per second: the link rate of Clark's experiments. */
  maxBandwidthBytesPerSecond: number;
  /** `downtime-limit`, ms: the stop-and-copy QEMU may allow itself (its default is 300). */
  downtimeLimitMs: number;
}

/** A pause of known length, as the hypervisor stamped it (epoch ms, µs precision). */
export interface FreezeRecord {
  requestedMs: number;
  /** The STOP event's timestamp. */
  stoppedAtMs: number;
  /** The RESUME event's timestamp. */
  resumedAtMs: number;
}

/** A QMP event of the source or the destination during a migration, stamped by QEMU (epoch ms). */
export interface TimedEvent {
  atMs: number;
  side: 'source' | 'destination';
  event: string;
  /** `data.status` of MIGRATION, `data.pass` of MIGRATION_PASS. */
  detail?: string | number;
}

/**
 * One `query-migrate` of the source, mapped from QEMU's names (fields QEMU did not give are null).
 * Times are epoch ms for `atMs`, ms otherwise; bytes are bytes.
 */
export interface MigrationSnapshot {
  atMs: number;
  status: MigrationStatus;
  syncCount: number | null;
  transferredBytes: number | null;
  remainingBytes: number | null;
  totalBytes: number | null;
  /** `ram.downtime-bytes`: what the stop-and-copy sent (QEMU 7.2 and later). */
  downtimeBytes: number | null;
  /** Pages per second. */
  dirtyPagesRate: number | null;
  mbps: number | null;
  expectedDowntimeMs: number | null;
  totalTimeMs: number | null;
  setupTimeMs: number | null;
  downtimeMs: number | null;
  throttlePercent: number | null;
  /** QEMU's `error-desc` once the migration failed. */
  error: string | null;
}

/** The target's state after a completed migration moved it onto the destination. */
export interface SwitchOverReport {
  /** `query-status` of the destination, e.g. `running`. */
  runState: string;
  /** A panic or oops line on the destination's serial console, or null. */
  serialProblem: string | null;
  /** Why the guest agent could not be reached on the destination (then `exec` fails), or null. */
  agentProblem: string | null;
}

/** One migration under way (TargetMigration.start). The suite polls and decides; the target moves things. */
export interface MigrationRun {
  /** Epoch ms at which `migrate` was sent. */
  readonly startedAtMs: number;
  /** The destination's serial console file. */
  readonly destinationSerialLog: string;
  /**
   * `query-migrate` on the source, now.
   * @throws when QMP fails (the source QEMU died).
   */
  poll(): Promise<MigrationSnapshot>;
  /** `migrate-start-postcopy` (the `postcopy` variant only). */
  startPostcopy(): Promise<void>;
  /**
   * `migrate_cancel`, then waits until the source says cancelled (or failed), stops the destination
   * and removes its tap and socket. The source keeps running.
   * @returns The source's last snapshot.
   */
  cancel(): Promise<MigrationSnapshot>;
  /**
   * After the source reported `completed`: waits for the destination to run, moves the guest
   * agent onto it, stops the source and removes its tap. From then on the target is the destination.
   * @throws when the destination does not run; the destination is then stopped and the source asked
   *   to run again (the message says whether it did).
   */
  switchOver(): Promise<SwitchOverReport>;
  /** After a failure: stops the destination if it is still there; the source is kept. Idempotent. */
  abandon(): Promise<void>;
  /** The QMP events of both QEMUs since the migration was prepared, in the order stamped. */
  events(): TimedEvent[];
}

/** One dirty-rate measurement asked of the running guest (QMP `calc-dirty-rate`, QEMU 5.2+). */
export interface DirtyRateRequest {
  /** `calc-time`, whole seconds (QEMU 7.2 takes no other unit). */
  calcTimeS: number;
  /** QEMU's DirtyRateMeasureMode: `dirty-bitmap` and `dirty-ring` track writes through KVM; `page-sampling` hashes sampled pages. */
  mode: 'page-sampling' | 'dirty-bitmap' | 'dirty-ring';
  /** `sample-pages` per GiB, page-sampling only (QEMU's default 512, its range 128–16384). */
  samplePagesPerGiB?: number;
}

/** What `query-dirty-rate` answered once the measurement was done. */
export interface DirtyRateReading {
  /** Epoch ms at which `calc-dirty-rate` was sent. */
  startedAtMs: number;
  calcTimeS: number;
  mode: DirtyRateRequest['mode'];
  /** `sample-pages` as QEMU reports it (page-sampling), else null. */
  samplePagesPerGiB: number | null;
  /** `dirty-rate`, whole MiB/s. */
  dirtyRateMiBs: number;
}

/** The hypervisor's own dirty-rate measurement of the running guest, where it has one. */
export interface DirtyRateMeter {
  /** Whether the guest runs under KVM (else TCG): dirty-bitmap and dirty-ring modes need KVM. */
  usesKvm(): Promise<boolean>;
  /**
   * Measures for `calcTimeS` and returns QEMU's reading.
   * @throws QmpCommandError when QEMU refuses the mode or the arguments; DeadlineError when it does not finish.
   */
  measure(request: DirtyRateRequest): Promise<DirtyRateReading>;
}

/** Live migration between two hypervisor processes on this host. */
export interface TargetMigration {
  /** QEMU's `calc-dirty-rate` on the guest as it runs now (the `--wws-trace` of the migration suite); absent where there is none. */
  readonly dirtyRate?: DirtyRateMeter;
  /** How it migrates, in words, e.g. `QEMU 7.2 pre-copy over a unix socket; shared raw disk, cache=none`. */
  readonly method: string;
  /** isobench's own programs in the guest, compiled into the image: the echo server and the memory dirtier. */
  readonly programs: { readonly udpEcho: string; readonly dirtier: string };
  /**
   * Pauses the running guest for `ms` (QMP `stop`, wait, `cont`) and returns the pause as QEMU
   * stamped it: the echo probe's self-test.
   */
  freeze(ms: number): Promise<FreezeRecord>;
  /**
   * Starts a destination (its own process and tap on the same bridge, the same disk, waiting for the
   * incoming stream), applies the request's capabilities and parameters on both sides, and sends
   * `migrate`. Every process, tap and socket is in the resource ledger from the moment it exists.
   * @throws when the destination cannot be started; nothing of it is left then.
   */
  start(request: MigrationRequest): Promise<MigrationRun>;
  /**
   * Boots a fresh guest from the target's disk, at the same address, in place of one a migration
   * left unusable (a guest kernel that panicked on the destination ends its QEMU), so the run's later
   * trials can go on. The old QEMU and its tap go first; the new ones are in the ledger.
   * @returns The seconds the fresh boot took.
   * @throws when the fresh guest does not boot (the target is then unusable, as after a failed provision).
   */
  recover(): Promise<number>;
}

/** What a libvirt migration trial asks of `virsh migrate --live` (provisioning/kvm/migration/libvirt-migration.ts). */
export interface LibvirtMigrationRequest {
  /** The other libvirtd, e.g. `qemu+ssh://lab2/system`. A guest that already lives there goes back to its first libvirtd. */
  destinationUri: string;
  /** `virsh migrate --bandwidth`, MiB/s. */
  maxBandwidthMiBs: number;
  /** `virsh migrate-setmaxdowntime`, ms. */
  downtimeLimitMs: number;
  /** After this many ms the job is aborted (`virsh domjobabort`) as not converged. */
  timeLimitMs: number;
}

/** How a libvirt migration ended: completed, aborted at the time limit (a result), or failed (virsh's error). */
export type LibvirtMigrationEnd = { kind: 'completed' } | { kind: 'aborted'; detail: string } | { kind: 'failed'; error: string };

/** One libvirt migration, after it ended. Times are epoch ms. */
export interface LibvirtMigrationReport {
  /** Just before `virsh migrate` started. */
  startedAtMs: number;
  /** When it exited. */
  endedAtMs: number;
  end: LibvirtMigrationEnd;
  /** The job statistics and the commands, as the results keep them. */
  record: LibvirtMigrationRecord;
  /** The guest after a completed migration (the destination domain's state, its console, its agent); null otherwise. */
  switchOver: SwitchOverReport | null;
  /** The destination's serial console file, when the guest moved there. */
  destinationSerialLog: string | null;
  /** Every virsh command it ran, in order (migrate-setmaxdowntime, migrate, domjobabort, domjobinfo). */
  commands: string[][];
}

/** `--vm-manager libvirt`: the target's domain moved by libvirt itself, one `virsh migrate --live` at a time. */
export interface TargetLibvirtMigration {
  /** In words, e.g. `libvirt 9.0.0: virsh migrate --live (pre-copy), shared raw disk, cache=none`. */
  readonly method: string;
  /** isobench's own programs in the guest (see TargetMigration.programs). */
  readonly programs: { readonly udpEcho: string; readonly dirtier: string };
  /**
   * Migrates the running domain (see LibvirtMigrationRequest), reads the job statistics once, and on
   * success makes the destination's domain the target's guest. Every tap and domain is in the ledger
   * from the moment it exists.
   * @throws when a step before `virsh migrate` fails (the destination's tap, the domain XML); nothing of it is left then.
   */
  migrate(request: LibvirtMigrationRequest): Promise<LibvirtMigrationReport>;
}
