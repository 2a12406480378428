import { ToolOutputError } from '../parse-error.js';

/** What isobench takes from a `sockperf ping-pong --full-rtt` report. */
export interface SockperfResult {
  /** Round-trip times in microseconds (the client ran with --full-rtt). */
  meanRttUs: number;
  /** Standard deviation of the round trips, µs. */
  sdRttUs: number;
  /** Percentile (e.g. 99.9) to round-trip time in microseconds. */
  percentilesUs: Map<number, number>;
  /** RunTime of the `[Valid Duration]` line: the run without sockperf's warm-up, in s. */
  validSeconds: number;
  /** ReceivedMessages of the `[Valid Duration]` line: answered round trips. */
  roundTrips: number;
  /** `# dropped messages`; 0 when sockperf printed no count. */
  dropped: number;
}

// eslint-disable-next-line no-control-regex -- sockperf colours its output (SGR escapes around avg-rtt)
const ANSI_ESCAPE = /\u001b\[[0-9;]*m/g;

/**
 * Parses the text a ping-pong client prints, its colour escapes removed.
 * @throws ToolOutputError when the avg-rtt line is missing (one-way `avg-lat` means the client ran
 *   without --full-rtt), the `[Valid Duration]` line or the 50th or 99th percentile is missing, or
 *   no round trips were measured.
 */
export function parseSockperfPingPong(text: string): SockperfResult {
  const clean = text.replace(ANSI_ESCAPE, '');
  const average = /avg-rtt=([\d.]+) \(std-dev=([\d.]+)\)/.exec(clean);
  if (!average) {
    if (/avg-lat=/.test(clean)) throw new ToolOutputError('sockperf', 'latency is one-way (avg-lat): the client must run with --full-rtt');
    throw new ToolOutputError('sockperf', `no avg-rtt line: ${lastLine(clean)}`);
  }
  const valid = /\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)/.exec(clean);
  if (!valid) throw new ToolOutputError('sockperf', 'no [Valid Duration] line');
  const percentilesUs = new Map<number, number>();
  for (const match of clean.matchAll(/percentile ([\d.]+) =\s+([\d.]+)/g)) {
    percentilesUs.set(Number(match[1]), Number(match[2]));
  }
  if (!percentilesUs.has(50) || !percentilesUs.has(99)) throw new ToolOutputError('sockperf', 'no 50th or 99th percentile line');
  const dropped = /# dropped messages = (\d+)/.exec(clean);
  const validSeconds = Number(valid[1]);
  const roundTrips = Number(valid[3]);
  if (!(validSeconds > 0) || roundTrips === 0) throw new ToolOutputError('sockperf', 'no round trips were measured');
  return {
    meanRttUs: Number(average[1]),
    sdRttUs: Number(average[2]),
    percentilesUs,
    validSeconds,
    roundTrips,
    dropped: dropped ? Number(dropped[1]) : 0,
  };
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.slice(0, 200) ?? '(empty)';
}
