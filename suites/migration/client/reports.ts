import { z } from 'zod';

/*
 * What the migration suite's two client programs print when they end (one JSON document on
 * stdout), shared by the programs and the suite that parses it. Times are epoch ms with µs
 * precision (core/clock.ts), so they line up with QEMU's event timestamps.
 */

const count = z.number().int().nonnegative();
const epoch = z.number().finite().positive();

/** `udp-probe.ts`'s report: the stream it sent and every gap between two echoes of `gapThresholdMs` or more. */
export const ProbeReport = z.object({
  startedAtMs: epoch,
  endedAtMs: epoch,
  intervalMs: z.number().positive(),
  gapThresholdMs: z.number().positive(),
  sent: count,
  received: count,
  /** Echoes of a sequence number already answered (a duplicate frame). */
  duplicates: count,
  firstEchoAtMs: epoch.nullable(),
  lastEchoAtMs: epoch.nullable(),
  /** `[from, to]`: the arrival of the echo before the gap and of the first one after it. */
  gaps: z.array(z.tuple([epoch, epoch])),
  /** Gaps not listed because the list was full (the longest are kept). */
  gapsDropped: count,
  /** The worst lateness of a send against its schedule, ms: the probe's own stall. */
  maxSendLateMs: z.number().nonnegative(),
  sendErrors: count,
  /**
   * Per whole second since `startedAtMs` (index 0 is the first second): `[sent, answered]`, the
   * datagrams sent in that second and how many of those have been echoed so far. The suite reads
   * from it whether the stream is steady (suites/migration/self-test.ts).
   */
  perSecond: z.array(z.tuple([count, count])),
});
/** A parsed ProbeReport. */
export type ProbeReport = z.infer<typeof ProbeReport>;

/** `http-load.ts`'s report: requests completed and failed per bucket from `startedAtMs`. */
export const LoadReport = z.object({
  startedAtMs: epoch,
  endedAtMs: epoch,
  bucketMs: z.number().positive(),
  connections: z.number().int().positive(),
  completed: z.array(count),
  failed: z.array(count),
  /** The first few distinct failure messages, for the trial's reason when nothing completed. */
  errors: z.array(z.string()),
});
/** A parsed LoadReport. */
export type LoadReport = z.infer<typeof LoadReport>;
