import { z } from 'zod';
import { ProbeRecord, ProbeSelfTest, WebTimeline } from './migration.js';

/*
 * What one container migration trial (CRIU stop-and-copy, suites/migration/container-trial.ts)
 * leaves beside its metrics. The client-side records (probe, self-test, web timeline) have the VM
 * trials' shapes, so the two rows compare field for field; QEMU's figures, polls, rounds, events and
 * settings do not exist here and are absent. Times are ms since the checkpoint started; bytes are bytes.
 */

const finite = z.number().finite();
const count = z.number().int().nonnegative();

/** One phase's span, ms since the checkpoint started. */
export const ContainerPhaseRecord = z.object({ startMs: finite, endMs: finite, ms: finite.nonnegative() });
/** A parsed ContainerPhaseRecord. */
export type ContainerPhaseRecord = z.infer<typeof ContainerPhaseRecord>;

/**
 * `converged`: the restored container runs and its workload answered after the restore.
 * `failed`: a step failed (the step and CRIU's or runc's first error line) or the workload did not
 * answer after the restore (step `health`).
 */
export const ContainerMigrationOutcome = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('converged') }),
  z.object({ kind: z.literal('failed'), step: z.enum(['checkpoint', 'copy', 'network', 'restore', 'health']), error: z.string().min(1) }),
]);
/** A parsed ContainerMigrationOutcome. */
export type ContainerMigrationOutcome = z.infer<typeof ContainerMigrationOutcome>;

/** Everything one container migration trial recorded besides its metrics. */
export const ContainerMigrationTrialDetail = z.object({
  kind: z.literal('container-migration'),
  /** How it moved, e.g. `CRIU 4.2.1 stop-and-copy via runc 1.1.5 …`. */
  method: z.string(),
  workload: z.enum(['idle', 'web']),
  /** Whether the kernel tracks dirty pages for CRIU; without it there is no iterative pre-copy, only stop-and-copy. */
  dirtyTracking: z.object({ available: z.boolean(), detail: z.string() }),
  outcome: ContainerMigrationOutcome,
  /** Phases that ran; absent when they did not. */
  checkpoint: ContainerPhaseRecord.optional(),
  copy: ContainerPhaseRecord.extend({ bytes: count, files: count }).optional(),
  network: ContainerPhaseRecord.optional(),
  restore: ContainerPhaseRecord.optional(),
  /** Checkpoint start to restore end, ms: the service is down for all of it (stop-and-copy). Null when the restore did not end. */
  totalMs: finite.nonnegative().nullable(),
  probe: ProbeRecord.nullable(),
  selfTest: ProbeSelfTest.nullable(),
  web: WebTimeline.optional(),
  /** What the workload showed after the restore, in words. */
  health: z.string().nullable(),
});
/** A parsed ContainerMigrationTrialDetail. */
export type ContainerMigrationTrialDetail = z.infer<typeof ContainerMigrationTrialDetail>;
