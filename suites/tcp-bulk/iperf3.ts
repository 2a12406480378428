import { z } from 'zod';
import { parseJsonOutput, ToolOutputError } from '../parse-error.js';

const Sum = z.object({
  seconds: z.number(),
  bytes: z.number().nonnegative(),
  bits_per_second: z.number().nonnegative(),
  omitted: z.boolean().optional(),
});

const Iperf3Report = z.object({
  start: z.object({ test_start: z.object({ reverse: z.number(), num_streams: z.number(), omit: z.number() }) }),
  intervals: z.array(z.object({ sum: Sum })),
  end: z.object({
    sum_sent: Sum.extend({ retransmits: z.number().optional() }),
    sum_received: Sum,
  }),
  error: z.string().optional(),
});

/** What isobench takes from an iperf3 `--json` report. */
export interface Iperf3Result {
  /** The run was `--reverse` (server to client). */
  reverse: boolean;
  /** Parallel connections (`--parallel`). */
  streams: number;
  /** Receiver's goodput over the measured seconds (omitted warm-up excluded), bits per second. */
  receivedBitsPerSecond: number;
  /** Seconds the receiver measured, the omitted warm-up excluded. */
  measuredSeconds: number;
  /** TCP segments the sender retransmitted; null when the report has no count. */
  retransmits: number | null;
  /** Bytes moved during the whole run, warm-up included: pairs with CPU time of the whole process. */
  bytesIncludingWarmup: number;
}

/**
 * Parses iperf3 `--json` output. An `"error"` is checked for before the schema, so a failed run
 * reports iperf3's own words rather than the fields its short report lacks.
 * @throws ToolOutputError when iperf3 reported an error, the text is not JSON of the expected
 *   shape, or the receiver got no data.
 */
export function parseIperf3(text: string): Iperf3Result {
  const errorOnly = /"error"\s*:\s*"([^"]*)"/.exec(text);
  if (errorOnly && !text.includes('"sum_received"')) throw new ToolOutputError('iperf3', errorOnly[1]!);
  const report = parseJsonOutput('iperf3', text, Iperf3Report);
  if (report.error) throw new ToolOutputError('iperf3', report.error);
  const received = report.end.sum_received;
  if (received.seconds <= 0 || received.bytes <= 0) throw new ToolOutputError('iperf3', 'the receiver got no data');
  return {
    reverse: report.start.test_start.reverse === 1,
    streams: report.start.test_start.num_streams,
    receivedBitsPerSecond: received.bits_per_second,
    measuredSeconds: received.seconds,
    retransmits: report.end.sum_sent.retransmits ?? null,
    bytesIncludingWarmup: report.intervals.reduce((sum, interval) => sum + interval.sum.bytes, 0),
  };
}
