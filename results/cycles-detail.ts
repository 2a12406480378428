import { z } from 'zod';

/**
 * Why a tcp-bulk trial that ran under `perf stat` has no cycles metric: perf printed
 * `<not counted>` (the counter exists but was never scheduled: common in VMs, or counters held by
 * others) or `<not supported>` (no such counter), with perf's own cycles lines as it printed them.
 * Stored on the completed trial, so a point's missing cycles are explained per trial.
 */
export const CyclesNotMeasuredDetail = z.object({
  kind: z.literal('cycles-not-measured'),
  perf: z.enum(['not-counted', 'not-supported']),
  /** One line for readers, e.g. `perf printed <not counted>: …`. */
  reason: z.string().min(1),
  /** perf's cycles lines, e.g. `<not counted>,,cycles,0,0.00,,`. */
  lines: z.array(z.string()).min(1),
});
/** A parsed CyclesNotMeasuredDetail. */
export type CyclesNotMeasuredDetail = z.infer<typeof CyclesNotMeasuredDetail>;
