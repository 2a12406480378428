import { stat } from 'node:fs/promises';
import { errorMessage } from '../core/errors.js';
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
