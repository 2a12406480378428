import { z } from 'zod';
import { parseJsonOutput, ToolOutputError } from '../parse-error.js';

const Direction = z.object({
  io_bytes: z.number().nonnegative(),
  bw_bytes: z.number().nonnegative(),
  iops: z.number().nonnegative(),
  total_ios: z.number().nonnegative(),
  clat_ns: z.object({
    mean: z.number(),
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
  /** Mean completion latency (fio's `clat_ns.mean` / 1000), µs. */
  clatMeanUs: number;
  /** Percentile (e.g. 99.9) to completion latency in microseconds. */
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
 * Parses fio's JSON for one group-reported job; a direction that did no I/O is null.
 * @throws ToolOutputError when the text is not fio JSON of the expected shape, holds other than one
 *   job, the job reports an error, or it did no I/O in either direction.
 */
export function parseFio(text: string): FioResult {
  // fio prints notes such as "fio: file hash not empty on exit" before the JSON on some paths.
  const start = text.indexOf('{');
  const report = parseJsonOutput('fio', start >= 0 ? text.slice(start) : text, FioReport);
  if (report.jobs.length !== 1) throw new ToolOutputError('fio', `expected one group-reported job, got ${report.jobs.length}`);
  const job = report.jobs[0]!;
  if (job.error !== 0) throw new ToolOutputError('fio', `job ${job.jobname} ended with error ${job.error}`);
  const result = { version: report['fio version'], jobName: job.jobname, read: direction(job.read), write: direction(job.write) };
  if (!result.read && !result.write) throw new ToolOutputError('fio', `job ${job.jobname} completed no I/O`);
  return result;
}

function direction(data: z.infer<typeof Direction>): FioDirectionResult | null {
  if (data.total_ios === 0) return null;
  const clatPercentilesUs = new Map<number, number>();
  for (const [percentile, nanoseconds] of Object.entries(data.clat_ns.percentile ?? {})) {
    clatPercentilesUs.set(Number(percentile), nanoseconds / 1000);
  }
  return {
    iops: data.iops,
    bytesPerSecond: data.bw_bytes,
    totalIos: data.total_ios,
    clatMeanUs: data.clat_ns.mean / 1000,
    clatPercentilesUs,
  };
}
