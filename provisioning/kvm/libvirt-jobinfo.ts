import { IsobenchError } from '../../core/errors.js';
import { LIBVIRT_JOB_TYPES, LibvirtJobInfo } from '../../results/libvirt-jobinfo.js';

/*
 * `virsh domjobinfo` (libvirt 9.0's tools/virsh-domain.c, cmdDomjobinfo) prints one row per
 * statistic the job has, `Label:` padded to 17 columns, then the value in one of a few shapes:
 *   Time elapsed:     11970        ms          → ms
 *   Data processed:   239.792 MiB              → bytes (vshPrettyCapacity: B, KiB … EiB, 3 decimals)
 *   Memory bandwidth: 67.258 MiB/s             → bytes per second
 *   Dirty rate:       0            pages/s
 *   Page size:        4096         bytes
 *   Iteration:        3                        → a count
 *   Auto converge throttle: 0           %
 * The labels are every one this virsh binary holds (`strings /usr/bin/virsh`, Debian 12's libvirt-clients 9.0.0).
 */

/** An unexpected `virsh domjobinfo` output; the message quotes the line. Exit code 1. */
export class DomjobinfoError extends IsobenchError {
  constructor(details: string) {
    super(`unexpected virsh domjobinfo output: ${details}`);
  }
}

type Shape = 'ms' | 'bytes' | 'bytes/s' | 'pages/s' | 'plain-bytes' | 'count' | 'percent' | 'text';
type Key = Exclude<keyof LibvirtJobInfo, 'source' | 'command' | 'jobType'>;

/** Each label virsh prints → the record's field and the value's shape. */
const ROWS: Record<string, readonly [Key, Shape]> = {
  'Operation': ['operation', 'text'],
  'Error message': ['errorMessage', 'text'],
  'Time elapsed': ['timeElapsedMs', 'ms'],
  'Time elapsed w/o network': ['timeElapsedNoNetworkMs', 'ms'],
  'Time remaining': ['timeRemainingMs', 'ms'],
  'Expected downtime': ['expectedDowntimeMs', 'ms'],
  'Total downtime': ['downtimeMs', 'ms'],
  'Downtime w/o network': ['downtimeNoNetworkMs', 'ms'],
  'Setup time': ['setupTimeMs', 'ms'],
  'Data processed': ['dataProcessedBytes', 'bytes'],
  'Data remaining': ['dataRemainingBytes', 'bytes'],
  'Data total': ['dataTotalBytes', 'bytes'],
  'Memory processed': ['memoryProcessedBytes', 'bytes'],
  'Memory remaining': ['memoryRemainingBytes', 'bytes'],
  'Memory total': ['memoryTotalBytes', 'bytes'],
  'Memory bandwidth': ['memoryBandwidthBytesPerSecond', 'bytes/s'],
  'Dirty rate': ['dirtyRatePagesPerSecond', 'pages/s'],
  'Page size': ['pageSizeBytes', 'plain-bytes'],
  'Iteration': ['iterations', 'count'],
  'Postcopy requests': ['postcopyRequests', 'count'],
  'Constant pages': ['constantPages', 'count'],
  'Normal pages': ['normalPages', 'count'],
  'Normal data': ['normalDataBytes', 'bytes'],
  'File processed': ['fileProcessedBytes', 'bytes'],
  'File remaining': ['fileRemainingBytes', 'bytes'],
  'File total': ['fileTotalBytes', 'bytes'],
  'File bandwidth': ['fileBandwidthBytesPerSecond', 'bytes/s'],
  'Compression cache': ['compressionCacheBytes', 'bytes'],
  'Compressed data': ['compressedDataBytes', 'bytes'],
  'Compressed pages': ['compressedPages', 'count'],
  'Compression cache misses': ['compressionCacheMisses', 'count'],
  'Compression overflows': ['compressionOverflows', 'count'],
  'Auto converge throttle': ['autoConvergeThrottlePercent', 'percent'],
  'Temporary disk space use': ['temporaryDiskUseBytes', 'bytes'],
  'Temporary disk space total': ['temporaryDiskTotalBytes', 'bytes'],
};

/** vshPrettyCapacity's units: powers of 1024. */
const BINARY_UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, PiB: 1024 ** 5, EiB: 1024 ** 6 };
const NUMBER = String.raw`(\d+(?:\.\d+)?)`;
const UNIT = String.raw`(B|KiB|MiB|GiB|TiB|PiB|EiB)`;

function valueOf(shape: Shape, text: string): number | string | null {
  let match: RegExpExecArray | null;
  switch (shape) {
    case 'text':
      return text.length > 0 ? text : null;
    case 'ms':
      match = /^(\d+)\s+ms$/.exec(text);
      return match ? Number(match[1]) : null;
    case 'pages/s':
      match = /^(\d+)\s+pages\/s$/.exec(text);
      return match ? Number(match[1]) : null;
    case 'plain-bytes':
      match = /^(\d+)\s+bytes$/.exec(text);
      return match ? Number(match[1]) : null;
    case 'count':
      match = /^(\d+)$/.exec(text);
      return match ? Number(match[1]) : null;
    case 'percent':
      match = /^(\d+)\s+%$/.exec(text);
      return match ? Number(match[1]) : null;
    case 'bytes':
      match = new RegExp(`^${NUMBER}\\s+${UNIT}$`).exec(text);
      return match ? Math.round(Number(match[1]) * BINARY_UNITS[match[2]!]!) : null;
    case 'bytes/s':
      match = new RegExp(`^${NUMBER}\\s+${UNIT}/s$`).exec(text);
      return match ? Math.round(Number(match[1]) * BINARY_UNITS[match[2]!]!) : null;
  }
}

/**
 * One `virsh domjobinfo` output → LibvirtJobInfo (see the module comment for the shapes). Rows not
 * printed stay absent; blank lines are skipped.
 * @param command The virsh command that printed it, kept in the record.
 * @throws DomjobinfoError quoting the line for a row without `Label: value`, an unknown label, a
 *   value of the wrong shape, a repeated row, or an output without `Job type:` first.
 */
export function parseDomjobinfo(stdout: string, command: readonly string[]): LibvirtJobInfo {
  const lines = stdout.split('\n').map((line) => line.trimEnd()).filter((line) => line.trim() !== '');
  const quote = (line: string) => JSON.stringify(line.slice(0, 200));
  const [first, ...rest] = lines;
  const jobType = first === undefined ? undefined : /^Job type:\s+(\S+)$/.exec(first)?.[1];
  if (!jobType || !(LIBVIRT_JOB_TYPES as readonly string[]).includes(jobType)) {
    throw new DomjobinfoError(`the first line is not "Job type: ${LIBVIRT_JOB_TYPES.join('|')}": ${quote(first ?? '(no output)')}`);
  }
  const record: Record<string, unknown> = { source: 'libvirt domjobinfo', command: [...command], jobType };
  for (const line of rest) {
    const match = /^([A-Za-z][A-Za-z /]*?):\s+(.*)$/.exec(line);
    if (!match) throw new DomjobinfoError(`a line that is not "Label: value": ${quote(line)}`);
    const row = ROWS[match[1]!];
    if (!row) throw new DomjobinfoError(`an unknown row ${JSON.stringify(match[1])}: ${quote(line)}`);
    const [key, shape] = row;
    const value = valueOf(shape, match[2]!.trim());
    if (value === null) throw new DomjobinfoError(`a ${match[1]} that is not ${shape}: ${quote(line)}`);
    if (key in record) throw new DomjobinfoError(`${match[1]} twice: ${quote(line)}`);
    record[key] = value;
  }
  const parsed = LibvirtJobInfo.safeParse(record);
  if (!parsed.success) throw new DomjobinfoError(`${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
