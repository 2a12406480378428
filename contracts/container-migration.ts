/**
 * The container row of the migration suite: stop-and-copy migration of a running container with
 * CRIU (checkpoint, copy, restore as a new container with the same address). The seam between the
 * suite (suites/migration/container-trial.ts) and the driver (provisioning/criu/); neither imports
 * the other.
 */
import type { FreezeRecord } from './target.js';

/** What the container runs for one trial: files written into its /run first, then its servers, each a child of its first process. */
export interface ContainerWorkloadSpec {
  /** Absolute paths under /run (a tmpfs in the container) and their text. */
  files: ReadonlyArray<{ path: string; content: string }>;
  /** argv of each server, started in this order and kept running. */
  servers: ReadonlyArray<readonly string[]>;
}

/** One phase of a container migration, stamped on the host clock (epoch ms). */
export interface ContainerPhase {
  startedAtMs: number;
  endedAtMs: number;
  /** The command that did it, as it ran (empty for isobench's own steps). */
  command: string[];
}

/**
 * What one migration did. Phases that did not run are absent. `outcome` is `converged` when the
 * restored container runs; otherwise `failed` with the step and the tool's own first error.
 */
export interface ContainerMigrationReport {
  /** `runc checkpoint` (CRIU dump; the source container is gone afterwards). */
  checkpoint?: ContainerPhase;
  /** Copying CRIU's image directory to the destination's directory; its bytes and files. */
  copy?: ContainerPhase & { bytes: number; files: number };
  /** Removing the source's network namespace and plugging the destination's (same address and MAC) into the bridge. */
  network?: ContainerPhase;
  /** `runc restore` (CRIU restore) as a new container. */
  restore?: ContainerPhase;
  outcome: { kind: 'converged' } | { kind: 'failed'; step: 'checkpoint' | 'copy' | 'network' | 'restore'; error: string };
}

/** A container started for one trial, which can be migrated once. */
export interface MigratableContainer {
  /** The test address its servers bind to and the client sends to; the same after the migration. */
  readonly serverAddress: string;
  /** The commands that made it, for the results. */
  readonly commands: readonly string[][];
  /** Freezes it for `ms` through its cgroup freezer and returns the freezer's stamps: the probe's self-test. */
  freeze(ms: number): Promise<FreezeRecord>;
  /**
   * Checkpoints it, copies the images, moves its network and restores it as a new container. Never
   * throws for a failed step: the report says which and why. Once it converged, `freeze` and
   * `teardown` act on the restored container.
   */
  migrate(): Promise<ContainerMigrationReport>;
  /** Removes whichever container and network namespace exist now. Idempotent. */
  teardown(): Promise<void>;
}

/** Whether this host can checkpoint containers, with the reason in CRIU's own words when not. */
export type ContainerMigrationSupport =
  | {
      kind: 'supported';
      /** e.g. `CRIU 4.2.1 (built from Debian sid's source) via runc 1.1.5`. */
      tool: string;
      /** Whether the kernel tracks dirty pages (soft-dirty): without it only stop-and-copy is possible. */
      dirtyTracking: { available: boolean; detail: string };
    }
  | { kind: 'unsupported'; reason: string };

/** A target's ability to run containers it can checkpoint and restore. */
export interface ContainerMigrationHost {
  /** How it migrates, in words, for the trial record. */
  readonly method: string;
  readonly support: ContainerMigrationSupport;
  /** The test address every container it launches has (its servers bind to it). */
  readonly serverAddress: string;
  /** The echo server inside the container (isobench's own program in the image tree). */
  readonly programs: { readonly udpEcho: string };
  /**
   * Starts a fresh container with the workload at the host's test address.
   * @throws when the host is unsupported or the container cannot be started (nothing of it is left then).
   */
  launch(workload: ContainerWorkloadSpec): Promise<MigratableContainer>;
}
