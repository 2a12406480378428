import type { HostSnapshot } from './snapshot.js';

/** One thing present after cleanup that was not there before the run: a leak, named. */
export interface Leak {
  /** The snapshot category (`netns`, `iptables`, `processes`, …) or `orphan` / `results-file`. */
  category: string;
  /** The item as the snapshot lists it, e.g. `isobench-client`, `pid 812 iperf3: iperf3 -s …`. */
  item: string;
}

/** How the host after cleanup differs from the host before the run. */
export interface SnapshotDiff {
  /** New items: leaks. */
  leaks: Leak[];
  /** Items gone that were there before (a foreign crashed run's leftovers cleanup removed, a process that ended); not leaks. */
  removed: Leak[];
  /** Categories not compared because one side could not be read, with the reason. */
  unverified: Array<{ category: string; reason: string }>;
}

/**
 * Compares two snapshots category by category, as sets (items are already counted for duplicates).
 * A category readable on one side only is unverified, never silently equal.
 */
export function diffSnapshots(before: HostSnapshot, after: HostSnapshot): SnapshotDiff {
  const diff: SnapshotDiff = { leaks: [], removed: [], unverified: [] };
  const names = [...new Set([...Object.keys(before.categories), ...Object.keys(after.categories)])].sort();
  for (const category of names) {
    const a = before.categories[category];
    const b = after.categories[category];
    if (a?.kind !== 'listed' || b?.kind !== 'listed') {
      // Both unreadable the same way (e.g. nft not installed): nothing to compare, said once.
      const reason = a?.kind === 'unavailable' ? a.reason : b?.kind === 'unavailable' ? b.reason : 'missing from one snapshot';
      diff.unverified.push({ category, reason });
      continue;
    }
    const had = new Set(a.items);
    const has = new Set(b.items);
    for (const item of b.items) if (!had.has(item)) diff.leaks.push({ category, item });
    for (const item of a.items) if (!has.has(item)) diff.removed.push({ category, item });
  }
  return diff;
}

/** A process the killed run had started, as recorded the moment before the kill. */
export interface RecordedProcess {
  pid: number;
  /** /proc/PID/stat field 22: tells the process from a later one with the same pid. */
  startTime: string;
  comm: string;
}

/** The part of a process table orphansAlive needs: pid, start time, and whether it is a zombie. */
export interface LiveProcess { pid: number; startTime: string; state: string }

/**
 * The killed run's descendants still alive (same pid and start time, not a zombie): a real crash
 * orphans them, and cleanup must end them.
 */
export function orphansAlive(recorded: readonly RecordedProcess[], now: readonly LiveProcess[]): Leak[] {
  const alive = new Map(now.filter((entry) => entry.state !== 'Z').map((entry) => [entry.pid, entry.startTime]));
  return recorded
    .filter((entry) => alive.get(entry.pid) === entry.startTime)
    .map((entry) => ({ category: 'orphan', item: `pid ${entry.pid} ${entry.comm} (a child of the killed run)` }));
}

/**
 * The descendants of `root` in a process table (not `root` itself), breadth first.
 * @param table Every process's pid and parent pid, e.g. from allProcessStats.
 */
export function descendantsOf<T extends { pid: number; ppid: number }>(root: number, table: readonly T[]): T[] {
  const found: T[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const parents = new Set(frontier);
    const children = table.filter((entry) => parents.has(entry.ppid) && entry.pid !== root && !found.includes(entry));
    found.push(...children);
    frontier = children.map((entry) => entry.pid);
  }
  return found;
}
