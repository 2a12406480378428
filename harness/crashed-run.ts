import { stat } from 'node:fs/promises';
import { errorMessage, UsageError } from '../core/errors.js';
import { findStaleLedgers } from '../core/ledger.js';
import { readResultsFile, writeResultsFile } from '../results/store.js';

/** What {@link markCrashedRun} did with a crashed run's results file. */
export type CrashedRunMark =
  | { kind: 'marked'; path: string }
  /** The file already said how the run ended (its process got as far as writing it). */
  | { kind: 'ended'; path: string; status: string }
  | { kind: 'unreadable'; path: string; error: string };

/**
 * A run killed with SIGKILL (or by a power cut) leaves its results file `running`; once its ledger
 * shows the process gone, `cleanup` says so in the file: `interrupted`, with the reason and how to
 * finish it, `finishedAt` the file's last write (the dead run's last trial). Written atomically.
 * @param pid The dead run's process, for the reason.
 * @returns What was done; never throws for a missing or damaged file (cleanup goes on).
 */
export async function markCrashedRun(path: string, pid: number): Promise<CrashedRunMark> {
  try {
    const results = await readResultsFile(path);
    if (results.status !== 'running') return { kind: 'ended', path, status: results.status };
    const lastWrite = (await stat(path)).mtime;
    results.status = 'interrupted';
    results.reason = `the isobench process (pid ${pid}) died before the run ended (killed, or the machine went down): finish it with npm run bench -- --resume ${path}`;
    results.finishedAt = lastWrite.toISOString();
    await writeResultsFile(path, results);
    return { kind: 'marked', path };
  } catch (error) {
    return { kind: 'unreadable', path, error: errorMessage(error) };
  }
}

/**
 * Refuses to start while a crashed run's leftovers remain (a ledger in the state directory whose
 * process is gone): a new run could collide with them, and `cleanup` must mark the dead run's file.
 * Cheap (one directory read), so `bench` calls it before printing anything.
 * @throws UsageError naming the dead run's pid and how many resources it left, and `npm run cleanup`.
 */
export async function refuseCrashedRun(): Promise<void> {
  const stale = await findStaleLedgers();
  if (stale.length > 0) {
    throw new UsageError(`a crashed isobench run (pid ${stale[0]!.pid}) left ${stale[0]!.resources.length} resource(s) behind: run \`npm run cleanup\` first`);
  }
}
