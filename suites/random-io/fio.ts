import { z } from 'zod';
import { parseJsonOutput, quoteOutput, ToolOutputError } from '../parse-error.js';

const Direction = z.object({
  io_bytes: z.number().nonnegative(),
  bw_bytes: z.number().nonnegative(),
  iops: z.number().nonnegative(),
  total_ios: z.number().nonnegative(),
  clat_ns: z.object({
    min: z.number().optional(),
    max: z.number().optional(),
    mean: z.number(),
    stddev: z.number().optional(),
    /** Completions whose latency fio recorded (fio 3.x prints it; absent in older versions). */
    N: z.number().optional(),
    percentile: z.record(z.string(), z.number()).optional(),
  }),
});

const FioReport = z.object({
  'fio version': z.string(),
  jobs: z
    .array(
      z.object({
        jobname: z.string(),
        error: z.number(),
        read: Direction,
        write: Direction,
      }),
    )
    .min(1),
});

/** One direction (reads or writes) of a fio job, summed over its `numjobs` by `--group_reporting`. */
export interface FioDirectionResult {
  iops: number;
  /** fio's `bw_bytes`, bytes per second. */
  bytesPerSecond: number;
  /** I/Os completed, never 0 (a direction without I/O is null instead). */
  totalIos: number;
  /** Mean completion latency (fio's `clat_ns.mean` / 1000), µs, always > 0. */
  clatMeanUs: number;
  /** Percentile (e.g. 99.9) to completion latency in microseconds, every value > 0. */
  clatPercentilesUs: Map<number, number>;
}

/** What isobench takes from fio `--output-format=json`. */
export interface FioResult {
  /** fio's `fio version`, e.g. `fio-3.33`. */
  version: string;
  jobName: string;
  /** null when the job did no reads. */
  read: FioDirectionResult | null;
  write: FioDirectionResult | null;
}

/**
 * Parses fio's JSON for one group-reported job (fio(1), "JSON OUTPUT"; add_ddir_status_json() in
 * axboe/fio stat.c); a direction that did no I/O is null. Notes fio prints before the JSON
 * (`fio: …`) and anything after the first complete object are ignored.
 *
 * A direction that did I/O but whose completion latency fio did not record — `clat_ns.N` 0, or
 * mean, min and max all 0 (fio then prints no `percentile` object), as with `disable_clat` or
 * `gtod_reduce` — is a report that contradicts itself: it is refused, never read as 0 µs. So is a
 * single percentile of 0 ns or a negative latency.
 * @throws ToolOutputError when the text is not fio JSON of the expected shape (the field and value
 *   named), holds other than one job, the job reports an error, it did no I/O in either direction,
 *   or a direction with I/O has no completion latency (its `total_ios` and `clat_ns` quoted).
 */
export function parseFio(text: string): FioResult {
  const report = parseJsonOutput('fio', text, FioReport);
  if (report.jobs.length !== 1) throw new ToolOutputError('fio', `expected one group-reported job, got ${report.jobs.length}`);
  const job = report.jobs[0]!;
  if (job.error !== 0) throw new ToolOutputError('fio', `job ${job.jobname} ended with error ${job.error}`);
  const read = direction(job.jobname, 'read', job.read);
  const write = direction(job.jobname, 'write', job.write);
  if (!read && !write) {
    throw new ToolOutputError('fio', `job ${job.jobname} completed no I/O: read.total_ios ${job.read.total_ios}, write.total_ios ${job.write.total_ios}`);
  }
  return { version: report['fio version'], jobName: job.jobname, read, write };
}

function direction(jobName: string, name: 'read' | 'write', data: z.infer<typeof Direction>): FioDirectionResult | null {
  if (data.total_ios === 0) return null;
  const clat = data.clat_ns;
  const where = `job ${jobName} ${name}`;
  const recordedNone = clat.N === 0 || (clat.mean === 0 && (clat.max ?? 0) === 0 && (clat.min ?? 0) === 0);
  if (recordedNone) {
    throw new ToolOutputError(
      'fio',
      `${where} did ${data.total_ios} I/Os (${name}.total_ios) but recorded no completion latency: ${name}.clat_ns is ${quoteOutput(JSON.stringify(clat))}`,
    );
  }
  if (!(clat.mean > 0)) throw new ToolOutputError('fio', `${where}: ${name}.clat_ns.mean is ${clat.mean}, not a latency`);
  const clatPercentilesUs = new Map<number, number>();
  for (const [percentile, nanoseconds] of Object.entries(clat.percentile ?? {})) {
    if (!(nanoseconds > 0)) {
      throw new ToolOutputError('fio', `${where}: ${name}.clat_ns.percentile["${percentile}"] is ${nanoseconds} ns with ${data.total_ios} I/Os done`);
    }
    clatPercentilesUs.set(Number(percentile), nanoseconds / 1000);
  }
  return {
    iops: data.iops,
    bytesPerSecond: data.bw_bytes,
    totalIos: data.total_ios,
    clatMeanUs: clat.mean / 1000,
    clatPercentilesUs,
  };
}
