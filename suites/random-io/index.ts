import { z } from 'zod';
import type { Suite, SuitePoint, TargetHostAccess } from '../../contracts/suite.js';
import { clatPercentileMetric, RANDOM_IO_METRICS as M } from '../../results/metrics.js';
import type { MetricSample } from '../../results/schema.js';
import { failedTrial, outcomeFromTool, sample } from '../trial-helpers.js';
import { parseFio, type FioDirectionResult, type FioResult } from './fio.js';
import { directionOf, hostDisks, readDiskCounters, readHostDiskCounters, requestSize, type DiskCounters } from './host-disks.js';

/** fio's data file, in the target's data directory. */
export const DATA_FILE_NAME = 'isobench-fio.dat';
/**
 * File size (fio's `--size`), timed seconds (`--runtime`) and ramp seconds (`--ramp_time`) per mode.
 * The paper: a 16 GiB file and 60 s runs; quick mode keeps the whole native suite under two minutes here.
 */
export const SIZES = {
  quick: { fileSize: '256M', runtimeSeconds: 3, rampSeconds: 1 },
  full: { fileSize: '16G', runtimeSeconds: 60, rampSeconds: 5 },
} as const;
/** Enough points for a smooth latency CDF (fio's `--percentile_list`, every trial asks for all of them). */
export const CDF_PERCENTILES = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];
const SUMMARY_PERCENTILES = [50, 90, 99];

interface FioJob {
  id: string;
  rw: string;
  blockSize: string;
  iodepth: number;
  numjobs: 'cores' | 1;
  rwmixread?: number;
  cdf?: boolean;
}

/** Felter et al.'s fio jobs: 4 KiB random read, write and 70/30 mix, 1 MiB sequential, and the latency CDF run. */
export const FIO_JOBS: readonly FioJob[] = [
  { id: 'randread', rw: 'randread', blockSize: '4k', iodepth: 16, numjobs: 'cores' },
  { id: 'randwrite', rw: 'randwrite', blockSize: '4k', iodepth: 16, numjobs: 'cores' },
  { id: 'randrw70', rw: 'randrw', blockSize: '4k', iodepth: 32, numjobs: 'cores', rwmixread: 70 },
  { id: 'seqread', rw: 'read', blockSize: '1M', iodepth: 16, numjobs: 1 },
  { id: 'seqwrite', rw: 'write', blockSize: '1M', iodepth: 16, numjobs: 1 },
  { id: 'randread-latency', rw: 'randread', blockSize: '4k', iodepth: 16, numjobs: 1, cdf: true },
];

/** Where fio's file lives on a target; calibrate's direct runs use the same one. */
export function dataFile(dataDirectory: string): string {
  return `${dataDirectory.replace(/\/$/, '')}/${DATA_FILE_NAME}`;
}

function sizes(quick: boolean) {
  return quick ? SIZES.quick : SIZES.full;
}

/** One fio job as run: fio's own option values (`rw`, `blockSize` as fio's `--bs`), sizes and durations in s. */
export const RandomIoParams = z.object({
  rw: z.string(),
  blockSize: z.string(),
  iodepth: z.number().int().positive(),
  numjobs: z.number().int().positive(),
  rwmixread: z.number().int().min(0).max(100).optional(),
  fileSize: z.string(),
  runtimeSeconds: z.number().positive(),
  rampSeconds: z.number().nonnegative(),
  cdf: z.boolean(),
});
/** A parsed RandomIoParams. */
export type RandomIoParams = z.infer<typeof RandomIoParams>;

/**
 * The fio command line of one trial: libaio with O_DIRECT (`--direct=1`) so the page cache is not
 * measured, time-based for `runtimeSeconds` after `rampSeconds`, all jobs reported as one group.
 */
export function fioCommand(point: SuitePoint<RandomIoParams>, filename: string): string[] {
  const params = point.params;
  return [
    'fio', `--name=${point.id}`, `--filename=${filename}`, `--size=${params.fileSize}`,
    `--rw=${params.rw}`, `--bs=${params.blockSize}`, ...(params.rwmixread !== undefined ? [`--rwmixread=${params.rwmixread}`] : []),
    '--ioengine=libaio', '--direct=1', `--iodepth=${params.iodepth}`, `--numjobs=${params.numjobs}`, '--group_reporting',
    '--time_based', `--runtime=${params.runtimeSeconds}`, `--ramp_time=${params.rampSeconds}`,
    `--percentile_list=${CDF_PERCENTILES.join(':')}`, '--output-format=json',
  ];
}

/**
 * Felter et al. 2014's random I/O, sequential I/O and random read latency CDF: fio runs inside the
 * target on a file in its data directory, laid out once per target by `prepare` and removed by
 * `finish`. Headline: `iops`, or `clat_mean_us` for the latency run. No ports, no options.
 */
export const randomIoSuite: Suite<RandomIoParams, Record<string, never>> = {
  name: 'random-io',
  description: 'fio random and sequential I/O on the target\'s storage (libaio, O_DIRECT), IOPS, MB/s and completion latency',
  figure: 'Felter et al. 2014, Figs. "Random I/O throughput (IOPS)", "Random read latency CDF", "Sequential I/O throughput"',
  firstLook: ['randread'],
  hostTools: [{ command: 'fio', debianPackage: 'fio', why: 'for the random-io suite', side: 'target' }],

  ports: [],
  flags: [],
  options: z.object({}),
  params: RandomIoParams,

  points(config) {
    const size = sizes(config.quick);
    return FIO_JOBS.map((job) => ({
      id: job.id,
      params: {
        rw: job.rw,
        blockSize: job.blockSize,
        iodepth: job.iodepth,
        numjobs: job.numjobs === 'cores' ? config.cores : 1,
        ...(job.rwmixread !== undefined ? { rwmixread: job.rwmixread } : {}),
        fileSize: size.fileSize,
        runtimeSeconds: size.runtimeSeconds,
        rampSeconds: size.rampSeconds,
        cdf: job.cdf === true,
      },
      // The latency run exists for its CDF: judge it by completion latency, not IOPS.
      headline: job.cdf ? M.clatMean : M.iops,
    }));
  },

  /**
   * Lays the file out once, fully written, so no timed run pays for allocation. Deadline 120 s quick,
   * 1 h full (16 GiB).
   * @throws Error with fio's stderr when the layout run fails.
   */
  async prepare({ target, config }) {
    const command = [
      'fio', '--name=layout', `--filename=${dataFile(target.dataDirectory)}`, `--size=${sizes(config.quick).fileSize}`,
      '--rw=write', '--bs=1M', '--ioengine=libaio', '--direct=1', '--iodepth=8', '--output-format=json',
    ];
    const outcome = await target.exec(command, { timeoutMs: config.quick ? 120_000 : 3_600_000 });
    if (!outcome.ok) throw new Error(`laying out fio's data file failed: ${outcome.stderr.trim() || outcome.stdout.trim()}`);
  },

  async runTrial(point, context) {
    const command = fioCommand(point, dataFile(context.target.dataDirectory));
    const timeoutMs = (point.params.runtimeSeconds + point.params.rampSeconds + 120) * 1000;
    try {
      // The host's disks around the whole fio run (ramp included): what the target's stack made of fio's requests.
      const disks = diskReader(context.targetHost);
      const before = await disks.read();
      const outcome = await context.target.exec(command, { timeoutMs });
      const after = await disks.read();
      return outcomeFromTool(outcome, [command], (stdout) => [
        ...ioMetrics(parseFio(stdout), point.params.cdf),
        ...(before && after ? hostRequestMetrics(point.params.rw, [...after.keys()], before, after, context.targetHost?.name) : []),
      ]);
    } catch (error) {
      return failedTrial(error, [command]);
    }
  },

  async finish({ target }) {
    await target.exec(['rm', '-f', dataFile(target.dataDirectory)], { timeoutMs: 60_000 });
  },
};

/**
 * One trial's samples: `iops` and `bandwidth_mb_s` (bytes / 1e6) of reads and writes together,
 * `read_iops` and `write_iops` for a mixed job, and completion latency (µs) of the reads, or of the
 * writes for a write-only job: the mean plus the 50th, 90th and 99th percentiles, or every
 * CDF_PERCENTILES point when `withCdf`. Latency here is always recorded latency: parseFio refuses a
 * direction that did I/O without recording any (fio's `clat_ns` all 0), so such a trial fails with
 * fio's fields quoted instead of storing 0 µs.
 */
export function ioMetrics(result: FioResult, withCdf: boolean): MetricSample[] {
  const method = `fio ${result.version} clat`;
  const both = result.read && result.write;
  const metrics: MetricSample[] = [
    sample(M.iops, (result.read?.iops ?? 0) + (result.write?.iops ?? 0), 'fio'),
    sample(M.bandwidth, ((result.read?.bytesPerSecond ?? 0) + (result.write?.bytesPerSecond ?? 0)) / 1e6, 'fio'),
  ];
  if (both) {
    metrics.push(sample(M.readIops, result.read!.iops, 'fio'));
    metrics.push(sample(M.writeIops, result.write!.iops, 'fio'));
  }
  // Latency of the reads where there are any (the mixed job's figure is about reads), else of the writes.
  const latency: FioDirectionResult = (result.read ?? result.write)!;
  metrics.push(sample(M.clatMean, latency.clatMeanUs, method));
  const percentiles = withCdf ? CDF_PERCENTILES : SUMMARY_PERCENTILES;
  for (const percentile of percentiles) {
    const value = latency.clatPercentilesUs.get(percentile);
    if (value !== undefined) metrics.push(sample(clatPercentileMetric(percentile), value, method));
  }
  return metrics;
}

/**
 * `host_disk_request_kib`: the mean size of the requests the host's disks completed during the
 * trial in the job's direction (directionOf), method naming the disks, and the host by its inventory
 * name when it is not this machine (`host sut /sys/block/{sda}/stat, reads`); nothing when the host
 * has no disk isobench can read or they completed no such request (absent, never 0).
 */
export function hostRequestMetrics(rw: string, disks: readonly string[], before: ReadonlyMap<string, DiskCounters>, after: ReadonlyMap<string, DiskCounters>, hostName?: string): MetricSample[] {
  const direction = directionOf(rw);
  const size = requestSize(before, after, direction);
  if (!size) return [];
  return [sample(M.hostRequest, size.meanKib, `host ${hostName !== undefined ? `${hostName} ` : ''}/sys/block/{${disks.join(',')}}/stat, ${direction}`)];
}

/**
 * How a trial reads the disks of the host its target runs on: this machine's /sys/block directly,
 * or, for a target on another host (SuiteContext.targetHost), that host's over its connection.
 * A reading that fails there is null: the trial's fio figures stand and `host_disk_request_kib` is
 * absent, never this machine's disks presented as the server host's.
 */
function diskReader(targetHost: TargetHostAccess | undefined): { read(): Promise<Map<string, DiskCounters> | null> } {
  if (targetHost) return { read: () => readHostDiskCounters(targetHost).catch(() => null) };
  const disks = hostDisks();
  return { read: async () => readDiskCounters(await disks) };
}
