import { z } from 'zod';
import { IsobenchError } from '../../core/errors.js';
import { formatZodIssues } from '../../core/zod-text.js';
import { ToolOutputError } from '../parse-error.js';

/**
 * sysbench's text report, read line by line into typed records. Every non-blank line must be one
 * this module knows (sysbench 1.0.x as Debian ships it, and the wording of 1.1 and of early 1.0
 * releases where they differ); any other line is a ToolOutputError that quotes it, so a new
 * sysbench version fails loudly instead of being half read.
 */

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;

/** One `--report-interval` line: what sysbench saw during the last interval. */
export const SysbenchInterval = z.object({
  /** Seconds since the threads started, at the end of the interval. */
  atSeconds: z.number().nonnegative(),
  /** Threads still running (they drop at the very end of a run, or when one fails). */
  threads: z.number().int().nonnegative(),
  transactionsPerSecond: z.number().nonnegative(),
  queriesPerSecond: z.number().nonnegative(),
  readsPerSecond: z.number().nonnegative(),
  writesPerSecond: z.number().nonnegative(),
  otherPerSecond: z.number().nonnegative(),
  /** The percentile sysbench reports (`--percentile`, 95 by default). */
  latencyPercentile: z.number().positive(),
  /** That percentile of transaction time over the interval, ms. */
  latencyMs: z.number().nonnegative(),
  errorsPerSecond: z.number().nonnegative(),
  reconnectsPerSecond: z.number().nonnegative(),
});
/** A parsed SysbenchInterval. */
export type SysbenchInterval = z.infer<typeof SysbenchInterval>;

/** The final report of a run that completed (`SQL statistics`, `General statistics`, `Latency`, `Threads fairness`). */
export const SysbenchReport = z.object({
  /** e.g. `1.0.20`, from the first line. */
  version: z.string().min(1),
  /** `Number of threads:` as sysbench understood `--threads`. */
  threads: z.number().int().positive(),
  intervals: z.array(SysbenchInterval),
  queries: z.object({
    read: z.number().int().nonnegative(),
    write: z.number().int().nonnegative(),
    other: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
  }),
  transactions: z.number().int().nonnegative(),
  transactionsPerSecond: z.number().nonnegative(),
  queriesPerSecond: z.number().nonnegative(),
  /** Errors sysbench ignored (`--mysql-ignore-errors`: deadlocks and lock wait timeouts by default) and retried. */
  ignoredErrors: z.number().int().nonnegative(),
  reconnects: z.number().int().nonnegative(),
  /** `total time` (1.0) or `time elapsed` (1.1), in s. */
  totalSeconds: z.number().positive(),
  totalEvents: z.number().int().nonnegative(),
  latencyMs: z.object({
    min: z.number().nonnegative(),
    avg: z.number().nonnegative(),
    max: z.number().nonnegative(),
    sum: z.number().nonnegative(),
    /** Percentile → ms, as printed (`95th percentile`; forks print 99th and 999th too). */
    percentiles: z.record(z.string(), z.number().nonnegative()).refine((map) => Object.keys(map).length > 0, 'no percentile line'),
  }),
  /** `Threads fairness`; null when sysbench did not print it. */
  fairness: z
    .object({ eventsAvg: z.number(), eventsStddev: z.number(), secondsAvg: z.number(), secondsStddev: z.number() })
    .nullable(),
});
/** A parsed SysbenchReport. */
export type SysbenchReport = z.infer<typeof SysbenchReport>;

/**
 * What one `sysbench … run` printed: a completed report, or the FATAL lines of a run that stopped
 * (a lost or refused connection, a missing table), with the intervals it reported before.
 */
export type SysbenchRun =
  | { state: 'completed'; report: SysbenchReport; warnings: string[] }
  | { state: 'failed'; fatal: string[]; intervals: SysbenchInterval[]; warnings: string[] };

/** sysbench said FATAL: it understood what happened and stopped (a refused connection, a table that exists). */
export class SysbenchFatalError extends IsobenchError {
  /**
   * @param step What sysbench was doing, e.g. `prepare`.
   * @param fatal The FATAL text, statements that span lines joined into one.
   */
  constructor(
    readonly step: string,
    readonly fatal: string,
  ) {
    super(`sysbench ${step} failed: ${fatal}`);
  }
}

/** What `sysbench … prepare` did: the tables it created and the rows it inserted into each. */
export interface SysbenchPrepare {
  version: string;
  /** Table name → rows inserted, e.g. `sbtest1` → 10000. */
  rowsInserted: Map<string, number>;
  /** Tables that got their secondary index. */
  secondaryIndexes: string[];
}

const INTERVAL = new RegExp(
  String.raw`^\[\s*${NUMBER}s\s*\] (?:thds|threads): (\d+) tps: ${NUMBER} qps: ${NUMBER} \(r/w/o: ${NUMBER}/${NUMBER}/${NUMBER}\) ` +
    String.raw`(?:lat|latency) \(ms,${NUMBER}%\): ${NUMBER} (?:err/s|errors/s):? ${NUMBER} (?:reconn/s|reconnects/s): ${NUMBER}$`,
);
const HEADER = /^sysbench (\S+)(?: \(.*\))?$/;
const FATAL = /^FATAL: (.*)$/;
const WARNING = /^WARNING: (.*)$/;
const REPEATED = /^\(last message repeated \d+ times?\)$/;
/** Lines that say what sysbench is about to do; they carry nothing isobench records. */
const NARRATION = [
  /^Running the test with following options:$/,
  /^Report intermediate results every \d+ second\(s\)$/,
  /^Initializing random number generator from (?:current time|seed \(\d+\)\.)$/,
  /^Initializing worker threads\.\.\.$/,
  /^Threads started!$/,
  // sysbench 1.1's --warmup-time
  /^Warmup time: \d+$/,
  /^Warming up for \d+ seconds\.\.\.$/,
];
const THREADS = /^Number of threads: (\d+)$/;
const COUNT_PER_SECOND = new RegExp(String.raw`^(transactions|queries|ignored errors|reconnects):\s+(\d+)\s+\(${NUMBER} per sec\.\)$`);
const QUERY_KIND = /^(read|write|other|total):\s+(\d+)$/;
const PERCENTILE = new RegExp(String.raw`^(\d+(?:\.\d+)?)th percentile:\s+${NUMBER}$`);
const LATENCY = new RegExp(String.raw`^(min|avg|max|sum):\s+${NUMBER}$`);
const SECONDS = new RegExp(String.raw`^(total time|time elapsed):\s+${NUMBER}s$`);
const EVENTS = /^total number of events:\s+(\d+)$/;
const EVENTS_PER_SECOND = new RegExp(String.raw`^events/s \(eps\):\s+${NUMBER}$`);
const FAIRNESS = new RegExp(String.raw`^(events|execution time) \(avg/stddev\):\s+${NUMBER}/${NUMBER}$`);

type Section = 'header' | 'sql' | 'queries' | 'general' | 'latency' | 'fairness';
const SECTION_TITLES: Record<string, Section> = {
  'SQL statistics:': 'sql',
  'queries performed:': 'queries',
  'General statistics:': 'general',
  // sysbench 1.1 names the block after the SQL statistics `Throughput:`
  'Throughput:': 'general',
  'Latency (ms):': 'latency',
  'Threads fairness:': 'fairness',
};

/**
 * Reads one interval line, or null when the line is not one.
 * @throws ToolOutputError never: a line that looks like an interval but does not parse is left to the caller.
 */
export function parseIntervalLine(line: string): SysbenchInterval | null {
  const match = INTERVAL.exec(line.trim());
  if (!match) return null;
  const [atSeconds, threads, tps, qps, reads, writes, other, percentile, latency, errors, reconnects] = match.slice(1).map<number>(Number);
  return SysbenchInterval.parse({
    atSeconds, threads, transactionsPerSecond: tps, queriesPerSecond: qps, readsPerSecond: reads, writesPerSecond: writes,
    otherPerSecond: other, latencyPercentile: percentile, latencyMs: latency, errorsPerSecond: errors, reconnectsPerSecond: reconnects,
  });
}

function unknownLine(line: string, number: number, where: string): ToolOutputError {
  return new ToolOutputError('sysbench', `line ${number} ${where} is not one isobench knows: "${line.trim().slice(0, 200)}"`);
}

/**
 * Parses what `sysbench oltp_* run` printed (stdout and stderr together are fine: sysbench 1.0
 * prints everything, FATAL lines too, on stdout).
 * @returns `completed` with the typed report, or `failed` with the FATAL lines when sysbench said
 *   FATAL anywhere (a run that stopped half-way never becomes a report, even when it printed one).
 * @throws ToolOutputError quoting the first line that matches no known shape, or naming what a
 *   report without FATAL lines lacks (a section, a field) or what is out of range.
 */
export function parseSysbenchRun(text: string): SysbenchRun {
  const intervals: SysbenchInterval[] = [];
  const fatal: string[] = [];
  const warnings: string[] = [];
  const raw: Record<string, unknown> = {};
  const queries: Record<string, number> = {};
  const latency: Record<string, unknown> = {};
  const percentiles: Record<string, number> = {};
  const fairness: Record<string, number> = {};
  let section: Section = 'header';
  let seenHeader = false;

  for (const [index, original] of text.split('\n').entries()) {
    const line = original.trim();
    const number = index + 1;
    if (line === '') continue;
    let match: RegExpExecArray | null;
    if ((match = FATAL.exec(line))) {
      fatal.push(match[1]!);
      continue;
    }
    if (REPEATED.test(line) && fatal.length > 0) continue;
    if ((match = WARNING.exec(line))) {
      warnings.push(match[1]!);
      continue;
    }
    if ((match = HEADER.exec(line)) && !seenHeader) {
      raw['version'] = match[1];
      seenHeader = true;
      continue;
    }
    const title = SECTION_TITLES[line];
    if (title) {
      section = title;
      continue;
    }
    if (section === 'header') {
      if ((match = THREADS.exec(line))) raw['threads'] = Number(match[1]);
      else if (NARRATION.some((pattern) => pattern.test(line))) continue;
      else {
        const interval = parseIntervalLine(line);
        if (!interval) throw unknownLine(original, number, 'before the statistics');
        intervals.push(interval);
      }
      continue;
    }
    if (section === 'sql' || section === 'queries') {
      if (section === 'queries' && (match = QUERY_KIND.exec(line))) {
        queries[match[1]!] = Number(match[2]);
        continue;
      }
      if ((match = COUNT_PER_SECOND.exec(line))) {
        section = 'sql';
        const [, name, count, perSecond] = match;
        if (name === 'transactions') Object.assign(raw, { transactions: Number(count), transactionsPerSecond: Number(perSecond) });
        else if (name === 'queries') Object.assign(raw, { queriesTotal: Number(count), queriesPerSecond: Number(perSecond) });
        else if (name === 'ignored errors') raw['ignoredErrors'] = Number(count);
        else raw['reconnects'] = Number(count);
        continue;
      }
      throw unknownLine(original, number, 'in "SQL statistics"');
    }
    if (section === 'general') {
      if ((match = SECONDS.exec(line))) raw['totalSeconds'] = Number(match[2]);
      else if ((match = EVENTS.exec(line))) raw['totalEvents'] = Number(match[1]);
      else if (!EVENTS_PER_SECOND.test(line)) throw unknownLine(original, number, 'in "General statistics"');
      continue;
    }
    if (section === 'latency') {
      if ((match = PERCENTILE.exec(line))) percentiles[match[1]!] = Number(match[2]);
      else if ((match = LATENCY.exec(line))) latency[match[1]!] = Number(match[2]);
      else throw unknownLine(original, number, 'in "Latency (ms)"');
      continue;
    }
    if ((match = FAIRNESS.exec(line))) {
      if (match[1] === 'events') Object.assign(fairness, { eventsAvg: Number(match[2]), eventsStddev: Number(match[3]) });
      else Object.assign(fairness, { secondsAvg: Number(match[2]), secondsStddev: Number(match[3]) });
      continue;
    }
    throw unknownLine(original, number, 'in "Threads fairness"');
  }

  if (fatal.length > 0) return { state: 'failed', fatal, intervals, warnings };
  if (!seenHeader) throw new ToolOutputError('sysbench', `no "sysbench VERSION" line: ${firstLine(text)}`);
  if (Object.keys(queries).length === 0 && raw['transactions'] === undefined) {
    throw new ToolOutputError('sysbench', `no "SQL statistics" in the report; it ends with "${lastLine(text)}"`);
  }
  const candidate = {
    version: raw['version'],
    threads: raw['threads'],
    intervals,
    queries,
    transactions: raw['transactions'],
    transactionsPerSecond: raw['transactionsPerSecond'],
    queriesPerSecond: raw['queriesPerSecond'],
    ignoredErrors: raw['ignoredErrors'],
    reconnects: raw['reconnects'],
    totalSeconds: raw['totalSeconds'],
    totalEvents: raw['totalEvents'],
    latencyMs: { ...latency, percentiles },
    fairness: Object.keys(fairness).length > 0 ? fairness : null,
  };
  const parsed = SysbenchReport.safeParse(candidate);
  if (!parsed.success) throw new ToolOutputError('sysbench', `the report lacks a field or has one out of range: ${formatZodIssues(parsed.error, 2)}`);
  if (queries['total'] !== raw['queriesTotal']) {
    throw new ToolOutputError('sysbench', `queries performed (${queries['total']}) and queries (${String(raw['queriesTotal'])}) disagree`);
  }
  return { state: 'completed', report: parsed.data, warnings };
}

const PREPARE_CREATING = /^Creating table '(\w+)'\.\.\.$/;
const PREPARE_INSERTING = /^Inserting (\d+) records into '(\w+)'$/;
const PREPARE_INDEX = /^Creating a secondary index on '(\w+)'\.\.\.$/;

/**
 * Parses what `sysbench oltp_* prepare` printed.
 * @throws SysbenchFatalError with the FATAL lines (and what follows them: sysbench prints the failed
 *   statement across several lines) when the load failed; ToolOutputError quoting the first unknown line.
 */
export function parseSysbenchPrepare(text: string): SysbenchPrepare {
  const lines = text.split('\n');
  const fatalAt = lines.findIndex((line) => FATAL.test(line.trim()));
  if (fatalAt >= 0) {
    const failure = lines.slice(fatalAt).map((line) => line.trim()).filter(Boolean).join(' ').replace(/\s+/g, ' ');
    throw new SysbenchFatalError('prepare', failure.slice(0, 600));
  }
  let version: string | null = null;
  const rowsInserted = new Map<string, number>();
  const secondaryIndexes: string[] = [];
  for (const [index, original] of lines.entries()) {
    const line = original.trim();
    if (line === '') continue;
    let match: RegExpExecArray | null;
    if ((match = HEADER.exec(line)) && version === null) version = match[1]!;
    else if ((match = PREPARE_INSERTING.exec(line))) rowsInserted.set(match[2]!, Number(match[1]));
    else if ((match = PREPARE_INDEX.exec(line))) secondaryIndexes.push(match[1]!);
    else if (!PREPARE_CREATING.test(line) && !NARRATION.some((pattern) => pattern.test(line)) && !WARNING.test(line)) {
      throw unknownLine(original, index + 1, 'of the prepare output');
    }
  }
  if (version === null) throw new ToolOutputError('sysbench', `no "sysbench VERSION" line: ${firstLine(text)}`);
  return { version, rowsInserted, secondaryIndexes };
}

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0]?.trim().slice(0, 200);
  return line ? `"${line}"` : '(empty output)';
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim().slice(0, 200) || '(nothing)';
}
