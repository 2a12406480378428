import { z } from 'zod';
import { parseFirstJson, ToolOutputError, validateToolJson } from '../parse-error.js';

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
 * Parses iperf3 `--json` output (iperf3(1); the document iperf_json_finish() prints in esnet/iperf
 * src/iperf_api.c). The stream is judged on its first complete JSON object: iperf3 3.16 and 3.17
 * print the whole document twice (esnet/iperf issues 1688 and 1716), and both copies are the same
 * measurement. An `"error"` is checked for before the schema, so a failed run reports iperf3's own
 * words rather than the fields its short report lacks.
 * @throws ToolOutputError when iperf3 reported an error (quoted), the stream holds no JSON object
 *   or a cut-short one (quoted), a field does not match (named, with the value found), or the
 *   receiver got no data (its `sum_received` quoted).
 */
export function parseIperf3(text: string): Iperf3Result {
  const data = parseFirstJson('iperf3', text);
  if (data !== null && typeof data === 'object' && 'error' in data && typeof data.error === 'string') {
    throw new ToolOutputError('iperf3', data.error);
  }
  const report = validateToolJson('iperf3', data, Iperf3Report);
  const received = report.end.sum_received;
  if (received.seconds <= 0 || received.bytes <= 0) {
    throw new ToolOutputError('iperf3', `the receiver got no data: end.sum_received is ${JSON.stringify(received)}`);
  }
  return {
    reverse: report.start.test_start.reverse === 1,
    streams: report.start.test_start.num_streams,
    receivedBitsPerSecond: received.bits_per_second,
    measuredSeconds: received.seconds,
    retransmits: report.end.sum_sent.retransmits ?? null,
    bytesIncludingWarmup: report.intervals.reduce((sum, interval) => sum + interval.sum.bytes, 0),
  };
}
