import type { PointResult } from '../../results/schema.js';
import type { FigureContext } from './figure.js';

/** The thread count of a sysbench point: its `threads` parameter, or the number in its id. */
export function threadsOf(point: PointResult): number | null {
  const param = point.params['threads'];
  if (typeof param === 'number') return param;
  const digits = /(\d+)/.exec(point.pointId)?.[1];
  return digits === undefined ? null : Number(digits);
}

/**
 * The method note both MySQL figures print under the chart, naming the sysbench scripts the runs
 * used (a point's `script` parameter; `oltp_read_only` for points that do not say) and, when any ran
 * read-write, that the paper's values are read-only.
 */
export function mysqlToolNote(runs: FigureContext['runs']): string {
  const scripts = new Set<string>();
  for (const run of runs) {
    for (const point of run.file.points) {
      if (point.suite !== 'mysql') continue;
      const script = point.params['script'];
      scripts.add(typeof script === 'string' ? script : 'oltp_read_only');
    }
  }
  const named = scripts.size === 0 ? 'oltp_read_only' : [...scripts].sort().join(' and ');
  const caveat = [...scripts].some((script) => script !== 'oltp_read_only') ? ' The paper\'s values are read-only (oltp_read_only).' : '';
  return `sysbench ${named} from the client namespace against isobench's own MariaDB on the target; one point per thread count.${caveat}`;
}
