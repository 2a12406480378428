import type { PointResult } from '../../results/schema.js';

/** The thread count of a sysbench point: its `threads` parameter, or the number in its id. */
export function threadsOf(point: PointResult): number | null {
  const param = point.params['threads'];
  if (typeof param === 'number') return param;
  const digits = /(\d+)/.exec(point.pointId)?.[1];
  return digits === undefined ? null : Number(digits);
}

/** The method note both MySQL figures print under the chart. */
export const MYSQL_TOOL_NOTE =
  'sysbench oltp_read_only from the client namespace against MariaDB on the target; one point per thread count.';
