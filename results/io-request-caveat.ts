/**
 * The random-io caveat of issue 13: a point whose host disk saw requests of another size than fio
 * asked for. Derived only from what the results file stores (the point's `blockSize` parameter and
 * its `host_disk_request_kib` summary), so any file says it again without a claim nobody measured.
 */
import { RANDOM_IO_METRICS } from './metrics.js';
import type { PointResult } from './schema.js';

/**
 * How far the host disk's mean request may be from fio's block size before the point carries a
 * caveat: 1.5× either way. Native 1 MiB reads on this project's development machine measured 994-1022
 * KiB unqueued and up to 3.2 MiB when the scheduler merged; a TCG guest's, 1.5-2.1 MiB (README, random-io).
 */
export const REQUEST_SIZE_CAVEAT_FACTOR = 1.5;

/**
 * fio's block size (`4k`, `1M`, `512`; fio's bs suffixes are powers of 2) in KiB; null for another
 * shape (a range, a list), which is then not judged.
 */
export function blockSizeKib(blockSize: string): number | null {
  const match = /^(\d+)([kKmMgG]?)$/.exec(blockSize.trim());
  if (!match) return null;
  const factors: Record<string, number> = { '': 1 / 1024, k: 1, m: 1024, g: 1024 * 1024 };
  return Number(match[1]) * factors[match[2]!.toLowerCase()]!;
}

function kib(value: number): string {
  return value >= 1024 ? `${(value / 1024).toFixed(1)} MiB` : `${value.toFixed(value < 10 ? 1 : 0)} KiB`;
}

/**
 * One line when the host's disks completed requests at least REQUEST_SIZE_CAVEAT_FACTOR times larger
 * or smaller, on average, than fio's block size during the point's trials, e.g. `host disk requests
 * averaged 2.1 MiB for fio's 1.0 MiB blocks (merged below fio, ×2.06, n=3): the host disk served requests of
 * that size, not fio's`; null otherwise, and for a point without the metric (other suites,
 * older files, hosts where it was not read) or without a block size isobench can read.
 */
export function hostRequestCaveat(point: Pick<PointResult, 'suite' | 'params' | 'summaries'>): string | null {
  if (point.suite !== 'random-io') return null;
  const blockSize = point.params.blockSize;
  const asked = typeof blockSize === 'string' ? blockSizeKib(blockSize) : null;
  const summary = point.summaries.find((candidate) => candidate.metric === RANDOM_IO_METRICS.hostRequest.name);
  if (asked === null || !(asked > 0) || !summary || !(summary.mean > 0)) return null;
  const ratio = summary.mean / asked;
  if (ratio < REQUEST_SIZE_CAVEAT_FACTOR && ratio > 1 / REQUEST_SIZE_CAVEAT_FACTOR) return null;
  const how = ratio > 1 ? 'merged below fio' : 'split below fio';
  return `host disk requests averaged ${kib(summary.mean)} for fio's ${kib(asked)} blocks (${how}, ×${ratio.toFixed(2)}, n=${summary.n}): the host disk served requests of that size, not fio's`;
}
