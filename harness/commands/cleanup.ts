import { LEFTOVER_SCANNERS, processLeftovers } from '../../provisioning/leftovers.js';
import { RUNC_LEFTOVERS } from '../../provisioning/criu/leftovers.js';
import { UsageError } from '../../core/errors.js';
import { acquireRunLock } from '../../core/lock.js';
import { cleanupStaleLedger, findStaleLedgers, undoResource } from '../../core/ledger.js';
import { markCrashedRun } from '../crashed-run.js';
import { parseFlags } from '../../core/flags.js';
import type { Leftover } from '../../provisioning/types.js';

/** What a cleanup did, as lines for the terminal. */
export interface CleanupReport {
  /** Descriptions of the resources that were removed. */
  removed: string[];
  /** `description: error message` for each resource that could not be removed. */
  failed: string[];
  /** Results files of crashed runs now marked `interrupted`; absent when there were none. */
  interrupted?: string[];
}

/**
 * Removes what crashed runs left: first the runc containers whose state lies in their run
 * directories (criu/leftovers.ts) and the processes they orphaned (processLeftovers), then by their
 * ledgers (exactly what they created), then by
 * isobench's name prefixes and labels. A crashed run's results file that still says `running` is
 * marked `interrupted` (harness/crashed-run.ts), so readers and `--resume` know. Refuses while a
 * live run holds the lock.
 */
export async function cleanupLeftovers(log: (line: string) => void): Promise<CleanupReport> {
  const release = await acquireRunLock().catch((error: unknown) => {
    if (error instanceof UsageError) throw new UsageError(`${error.message}; cleanup would break it`);
    throw error;
  });
  const report: CleanupReport = { removed: [], failed: [] };
  const remove = async (leftover: Leftover) => {
    try {
      await undoResource(leftover.undo);
      report.removed.push(leftover.description);
    } catch (error) {
      report.failed.push(`${leftover.description}: ${(error as Error).message}`);
    }
  };
  try {
    // runc containers first. Their state lives in the run directory a ledger is about to remove, and
    // one the ledger does not name (a kill inside `runc run`) could not be deleted by runc after that.
    // And before the orphaned processes: a container killed while frozen (a checkpoint, a timed pause)
    // has tasks no signal ends until thawed; `runc delete --force` thaws and kills them.
    try {
      for (const leftover of await RUNC_LEFTOVERS.find()) await remove(leftover);
    } catch (error) {
      // Unreadable runc output must not keep the rest of cleanup from running; it is reported.
      report.failed.push(`${RUNC_LEFTOVERS.name}: ${(error as Error).message}`);
    }
    // Orphaned trial tools next, while the client namespace still has the name that finds them:
    // the ledger's `ip netns delete` would leave them running in a namespace nothing names.
    for (const leftover of await processLeftovers().find()) await remove(leftover);
    for (const ledger of await findStaleLedgers()) {
      log(`run ${ledger.runId} (pid ${ledger.pid}, gone) left ${ledger.resources.length} resource(s)`);
      if (ledger.resultsPath !== null) {
        const mark = await markCrashedRun(ledger.resultsPath, ledger.pid);
        if (mark.kind === 'marked') (report.interrupted ??= []).push(mark.path);
        if (mark.kind === 'unreadable') log(`could not mark ${mark.path} interrupted: ${mark.error}`);
      }
      const result = await cleanupStaleLedger(ledger);
      report.removed.push(...result.removed);
      report.failed.push(...result.failed.map((failure) => `${failure.description}: ${failure.error}`));
    }
    for (const scanner of LEFTOVER_SCANNERS) {
      for (const leftover of await scanner.find()) await remove(leftover);
    }
  } finally {
    await release();
  }
  return report;
}

/** `npm run cleanup -- --help`. */
export const CLEANUP_USAGE = `usage: npm run cleanup
  Removes what crashed isobench runs left on this host, and only that: their orphaned processes,
  what their ledgers name, then what carries isobench's name prefixes and labels. Marks a crashed
  run's results file interrupted, so npm run bench -- --resume FILE can finish it. Refused while a
  run is under way. No flags.`;

/**
 * `isobench cleanup`: prints what was removed and what was not; `--help` prints CLEANUP_USAGE.
 * @throws {UsageError} for any flag other than --help or an argument.
 * @returns the exit code: 0 when everything left over is gone (or nothing was), 1 when something
 *   could not be removed.
 * @throws {UsageError} while a live run holds the lock.
 */
export async function cleanupCommand(argv: readonly string[] = []): Promise<number> {
  const { values, positionals } = parseFlags({ args: [...argv], options: { help: { type: 'boolean' } }, strict: true, allowPositionals: true }, 'npm run cleanup -- --help');
  if (positionals.length > 0) throw new UsageError(`cleanup takes no arguments, not "${positionals.join(' ')}": it finds every crashed run's leftovers itself (see npm run cleanup -- --help)`);
  if (values.help) {
    console.log(CLEANUP_USAGE);
    return 0;
  }
  const report = await cleanupLeftovers((line) => console.log(line));
  for (const item of report.removed) console.log(`removed ${item}`);
  for (const item of report.failed) console.error(`could not remove ${item}`);
  for (const path of report.interrupted ?? []) console.log(`marked ${path} interrupted: finish it with npm run bench -- --resume ${path}`);
  if (report.removed.length === 0 && report.failed.length === 0 && !report.interrupted) console.log('nothing to clean up: no isobench resources are left on this host');
  return report.failed.length === 0 ? 0 : 1;
}
