/**
 * Live migration of a guest between two lab hosts (issue 14): what the migration suite's lab trial
 * (suites/migration/lab-trial.ts) asks of the kvm target a lab placement provisioned
 * (provisioning/kvm/lab/), and what it gets back. Neither side imports the other; both import this.
 */
import type { Host } from '../hosts/host.js';
import type { LibvirtMigrationRecord } from '../results/libvirt-jobinfo.js';
import type { ClockOffset } from '../results/schema.js';
import type { MigrationSnapshot, SwitchOverReport } from './target.js';

/** The hosts of one migration, as the outcome names them. */
export interface LabMigrationEnds {
  /** The source host's name and test address. */
  source: { host: string; testAddress: string };
  destination: { host: string; testAddress: string };
  /** The migration URI (`tcp:DEST-TEST-ADDRESS:PORT`), or null when it failed before one was chosen. */
  uri: string | null;
}

/** What QEMU reported of a completed migration; a field QEMU left out (or 0 total-time: QEMU 7.2 answers 0 before it has computed it) is null. */
export interface LabMigrationFigures {
  totalTimeMs: number | null;
  /** QEMU's `downtime`: from the source's stop to the destination's start, as QEMU measured it. */
  downtimeMs: number | null;
  setupTimeMs: number | null;
  /** `ram.dirty-sync-count`: the dirty-bitmap syncs, one per pre-copy round plus the setup's and the final one. */
  dirtySyncCount: number | null;
  transferredBytes: number | null;
  /** `ram.downtime-bytes`: what the stop-and-copy sent. */
  downtimeBytes: number | null;
  /** `ram.total`: the guest's RAM, bytes. */
  ramBytes: number | null;
  mbps: number | null;
}

/**
 * How a lab migration ended: `completed` (the guest runs on the destination, `destinationRunState`
 * from its QMP, `sourceGone` from the source host), `not-converged` (the time limit passed; cancelled,
 * the guest still runs on the source), or `failed` at a named stage with the reason.
 */
export type LabMigrationOutcome =
  | (LabMigrationEnds & {
      kind: 'completed';
      figures: LabMigrationFigures;
      destinationRunState: string;
      sourceGone: boolean;
      /** Epoch ms at which `migrate` was sent (this host's clock), for a watcher's timeline. */
      startedAtMs: number;
      wallMs: number;
      last: MigrationSnapshot;
    })
  | (LabMigrationEnds & { kind: 'not-converged'; timeLimitMs: number; last: MigrationSnapshot })
  | (LabMigrationEnds & { kind: 'failed'; stage: string; reason: string; last: MigrationSnapshot | null });

/** What one lab migration trial asks for: QEMU's knobs (plain pre-copy) and when to give up. */
export interface LabMigrationRequest {
  /** `max-bandwidth`, bytes per second: the link rate of Clark's experiments. */
  maxBandwidthBytesPerSecond: number;
  /** `downtime-limit`, ms. */
  downtimeLimitMs: number;
  /** Cancelled as not converged when it has not completed by then, ms from `migrate`. */
  timeLimitMs: number;
}

/** One lab migration, after it ended. */
export interface LabMigrationReport {
  outcome: LabMigrationOutcome;
  /**
   * Where the figures come from: `qemu`, query-migrate on the source's QMP; `libvirt`, `virsh
   * domjobinfo --completed` on the source's libvirtd (its rows mapped onto the same fields, and
   * `outcome.last` assembled from them once the job ended).
   */
  figuresFrom: 'qemu' | 'libvirt';
  /** With `libvirt`: the migrate command and the job statistics as the results keep them. */
  libvirt?: LibvirtMigrationRecord;
  /** The guest on the destination after a completed migration (its run state, console, agent); null otherwise. */
  switchOver: SwitchOverReport | null;
  /** The destination's serial console, `PATH on host NAME`, when the guest moved there. */
  destinationSerialLog: string | null;
}

/** The third host that watches a lab migration with the suite's echo probe. */
export interface LabWatchHost {
  /** The inventory's name for it. */
  readonly name: string;
  /** Where the probe runs (Host.start): its files must be at this checkout's path there. */
  readonly host: Host;
  /**
   * The watch host's clock minus this one's, measured now (the probe stamps its echoes with its own
   * clock, the migration's window is this machine's): provisioning/lab-host-facts.ts's measureClockOffset.
   * @throws when the host does not answer or its `date` gives no nanoseconds.
   */
  clockOffset(): Promise<ClockOffset>;
}

/**
 * The kvm target's guest moved between two lab hosts by QEMU over their test addresses, the disk on
 * their shared-dir; each call moves it to the other host (there and back across a run's trials).
 */
export interface TargetLabMigration {
  /** In words, e.g. `QEMU 7.2 pre-copy over TCP between lab hosts sut and peer (test addresses); shared qcow2 disk, cache=none`, or libvirt's. */
  readonly method: string;
  /** isobench's own programs in the guest (see TargetMigration.programs). */
  readonly programs: { readonly udpEcho: string; readonly dirtier: string };
  /** The host that watches with the echo probe, or null when the run names none (`--client`). */
  readonly watch: LabWatchHost | null;
  /** The inventory name of the host the guest runs on now. */
  where(): string;
  /** Whether the guest's QEMU still runs (a guest kernel that panicked after a switch-over ends it). */
  alive(): Promise<boolean>;
  /**
   * Boots a fresh guest from the same disk on the host the dead one was on, in its place (its QEMU,
   * tap and directory gone first), so the run's later trials can go on.
   * @returns Why the old one was gone (QEMU's exit, a panic line from its console) and the boot's seconds.
   * @throws when the fresh guest does not boot.
   */
  recover(): Promise<{ reason: string; bootSeconds: number }>;
  /**
   * Migrates the guest to the other host (see the module comment). A migration that failed or did
   * not converge is an outcome, not a throw; the guest then keeps running where it was.
   * @throws when a step before `migrate` fails on a host that no longer answers; nothing of the
   *   destination is left then.
   */
  migrate(request: LabMigrationRequest): Promise<LabMigrationReport>;
}
