import { quoteOutput, ToolOutputError } from '../parse-error.js';

/** What isobench takes from a `sockperf ping-pong --full-rtt` report. */
export interface SockperfResult {
  /** Mean round trip in microseconds (the client ran with --full-rtt). */
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
 * The lines sockperf prints instead of statistics when it has no round trip to report
 * (Mellanox/sockperf src/client.cpp, 3.7 to 3.10): the client exits 0 all the same.
 */
const NO_SAMPLES = [
  /No messages were received from the server\.[^\n]*/,
  /No valid observations found\.[^\n]*/,
  /Test end before test start\.[^\n]*/,
];

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+|nan|inf)`;
/**
 * The summary line, in every wording sockperf has printed with `--full-rtt`:
 * - 3.6 and 3.7 (Debian 11, 12): `====> avg-rtt=54.960 (std-dev=33.842)`;
 * - 3.8 to 3.10: `====> avg-rtt=54.960 (std-dev=33.842, mean-ad=…, median-ad=…, siqr=…, cv=…,
 *   std-error=…, 99.0% ci=[…, …])`.
 *
 * Only the mean and std-dev are taken; what follows std-dev inside the parentheses is not read.
 */
const AVERAGE = new RegExp(String.raw`avg-rtt=(${NUMBER}) \(std-dev=(${NUMBER})[,)]`);

/**
 * Parses the text a ping-pong client prints (Mellanox/sockperf src/client.cpp, 3.6 to 3.10), its
 * colour escapes removed. Percentile lines (`---> percentile 99.900 =  247.546`) are optional one
 * by one (sockperf skips those a small sample cannot give), but the 50th and 99th must be there.
 * @throws ToolOutputError naming and quoting what did not fit: sockperf's own words when it
 *   measured nothing (`No messages were received from the server. Is the server down?`), one-way
 *   latency (`avg-latency=`, `avg-lat=`: the client ran without --full-rtt), an avg-rtt line whose
 *   numbers do not read, a missing avg-rtt or `[Valid Duration]` line (quoting the last line), a
 *   missing 50th or 99th percentile, or no round trips.
 */
export function parseSockperfPingPong(text: string): SockperfResult {
  const clean = text.replace(ANSI_ESCAPE, '');
  for (const pattern of NO_SAMPLES) {
    const said = pattern.exec(clean);
    if (said) throw new ToolOutputError('sockperf', `no round trips were measured: ${quoteOutput(said[0])}`);
  }
  const oneWay = /avg-lat(?:ency)?=[^\n]*/.exec(clean);
  if (oneWay) throw new ToolOutputError('sockperf', `latency is one-way (${quoteOutput(oneWay[0])}): the client must run with --full-rtt`);
  const averageLine = /avg-rtt=[^\n]*/.exec(clean);
  if (!averageLine) throw new ToolOutputError('sockperf', `no avg-rtt line; the output ends: ${lastLine(clean)}`);
  const average = AVERAGE.exec(averageLine[0]);
  const meanRttUs = Number(average?.[1]);
  const sdRttUs = Number(average?.[2]);
  if (!average || !Number.isFinite(meanRttUs) || !Number.isFinite(sdRttUs) || meanRttUs <= 0) {
    throw new ToolOutputError('sockperf', `avg-rtt line does not read as a mean and std-dev: ${quoteOutput(averageLine[0])}`);
  }
  const valid = /\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)/.exec(clean);
  if (!valid) throw new ToolOutputError('sockperf', `no [Valid Duration] line; the output ends: ${lastLine(clean)}`);
  const percentilesUs = new Map<number, number>();
  for (const match of clean.matchAll(/percentile ([\d.]+) =\s+([\d.]+)/g)) {
    percentilesUs.set(Number(match[1]), Number(match[2]));
  }
  if (!percentilesUs.has(50) || !percentilesUs.has(99)) {
    throw new ToolOutputError('sockperf', `no 50th or 99th percentile line; the output ends: ${lastLine(clean)}`);
  }
  const dropped = /# dropped messages = (\d+)/.exec(clean);
  const validSeconds = Number(valid[1]);
  const roundTrips = Number(valid[3]);
  if (!(validSeconds > 0) || roundTrips === 0) throw new ToolOutputError('sockperf', `no round trips were measured: ${quoteOutput(valid[0])}`);
  return { meanRttUs, sdRttUs, percentilesUs, validSeconds, roundTrips, dropped: dropped ? Number(dropped[1]) : 0 };
}

function lastLine(text: string): string {
  return quoteOutput(text.trim().split('\n').pop() ?? '');
}
