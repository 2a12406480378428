import { readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errorMessage, IsobenchError } from './errors.js';
import { runCommand } from './exec.js';
import { writeJsonAtomic } from './json-file.js';
import { hostProcessTree, terminate } from './kill-tree.js';
import { isProcessAlive } from './proc.js';

/** Where ledgers of live runs are kept; a ledger whose owner is dead marks a crashed run's leftovers. */
export const DEFAULT_STATE_DIRECTORY = '/var/tmp/isobench';
/** Deadline, in ms, of one `command` undo (e.g. `ip link delete`, `docker rm --force`). */
export const UNDO_TIMEOUT_MS = 30_000;

/** The directory of ledgers and the run lock: `$ISOBENCH_STATE_DIR`, else DEFAULT_STATE_DIRECTORY. */
export function stateDirectory(): string {
  return process.env.ISOBENCH_STATE_DIR ?? DEFAULT_STATE_DIRECTORY;
}

/** The name every run directory starts with (`mkdtemp` adds six characters). */
export const RUN_DIRECTORY_NAME_PREFIX = 'isobench-run-';

/**
 * The path prefix of run directories: `isobench-run-` beside the state directory, so
 * `/var/tmp/isobench-run-` by default. A run's directory lives beside the lock it is made under:
 * `cleanup` removes the run directories no ledger names while holding *that* lock, so a run with a
 * private `ISOBENCH_STATE_DIR` (the runner's unit tests) must not make its directory among the host's.
 * Made under /var/tmp, the unit tests' directories were found by a concurrent integration test's
 * leftover check (a CI failure: an empty `/var/tmp/isobench-run-fJd6Zy`) and removed from under the
 * test by a concurrent `cleanup`.
 */
export function runDirectoryPrefix(): string {
  return join(dirname(stateDirectory()), RUN_DIRECTORY_NAME_PREFIX);
}

/**
 * The run directories that exist now: full paths of the directories whose path starts with `prefix`
 * (runDirectoryPrefix() by default); [] when their parent cannot be read. What cleanup's scanners
 * walk: run directories no ledger named, and the runc roots inside them.
 */
export async function existingRunDirectories(prefix: string = runDirectoryPrefix()): Promise<string[]> {
  const parent = dirname(prefix);
  const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory() && entry.name.startsWith(basename(prefix))).map((entry) => join(parent, entry.name));
}

/**
 * How to remove one resource, in a form that survives a crash: a ledger written to disk is all a
 * later `cleanup` has to go on.
 * - `command`: run it; a failure whose stderr or stdout matches `ignoreFailure` (e.g. `Cannot find
 *   device` after `ip link delete`) means the resource was already gone. A RegExp is stored as its source.
 * - `process`: SIGTERM, 3 s, SIGKILL to that host process alone (not its descendants); `startTicks`
 *   (/proc/PID/stat field 22) keeps a reused pid from being signalled.
 * - `path`: remove the file or directory tree.
 */
export type Undo =
  | { kind: 'command'; command: string[]; ignoreFailure?: RegExp | string }
  | { kind: 'process'; pid: number; startTicks: string | null }
  | { kind: 'path'; path: string };

/** One registered resource. */
export interface ResourceEntry {
  /** From 1, in order of registration; what `undo` and `forget` take. */
  id: number;
  description: string;
  undo: Undo;
}

interface Ledger {
  runId: string;
  pid: number;
  startedAt: string;
  /** The run's results file, once it exists: `cleanup` marks it `interrupted` when the run crashed. */
  resultsPath?: string;
  resources: Array<Omit<ResourceEntry, 'undo'> & { undo: SerializedUndo }>;
}

type SerializedUndo =
  | { kind: 'command'; command: string[]; ignoreFailure?: string }
  | { kind: 'process'; pid: number; startTicks: string | null }
  | { kind: 'path'; path: string };

/** What an undo pass did, by the resources' descriptions. */
export interface UndoReport {
  removed: string[];
  /** `error` is the failure's message; these entries stay in the ledger. */
  failed: Array<{ description: string; error: string }>;
}

/** A resource was registered after teardown began: it was removed at once (or, if that failed, left in the ledger for `cleanup`). */
export class TeardownStartedError extends IsobenchError {
  /**
   * @param description The resource's description, as given to `register`.
   * @param undoFailure Why removing it failed, or null when it was removed.
   */
  constructor(
    readonly description: string,
    readonly undoFailure: string | null,
  ) {
    super(
      undoFailure === null
        ? `${description} was made after the run's teardown began: removed at once`
        : `${description} was made after the run's teardown began and could not be removed (${undoFailure}): run \`npm run cleanup\``,
    );
  }
}

/**
 * Every resource isobench creates is registered here the moment it exists, and removed in reverse
 * order on success, failure and Ctrl-C. The ledger on disk lets `cleanup` finish the job after a crash.
 */
export class ResourceRegistry {
  private entries: ResourceEntry[] = [];
  private nextId = 1;
  private writing: Promise<void> = Promise.resolve();
  private readonly ledgerPath: string;
  private readonly startedAt = new Date().toISOString();
  private resultsPath: string | undefined;
  /**
   * Set once undoAll removed everything and the ledger file: the run's main flow may still finish
   * a step after an interrupt's teardown (a trial forgetting its server), and its write must not
   * bring back an empty ledger that makes the next run refuse as if a crashed run had left it.
   */
  private tornDown = false;
  /**
   * Set when undoAll begins: from then on the registry takes nothing new. An interrupt's teardown runs
   * beside the main flow, which may start a trial's server mid-teardown; registered, that server
   * outlived the process (which exits once the teardown ends) in a ledger the next run refused on
   * (seen in CI: a run stopped by SIGTERM left `ledger-….json`, and 13 later tests refused to start).
   */
  private closed = false;

  constructor(
    readonly runId: string,
    directory: string = stateDirectory(),
  ) {
    this.ledgerPath = join(directory, `ledger-${runId}.json`);
  }

  /** How many resources are registered and not yet undone or forgotten. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * Records a resource that now exists and writes the ledger before returning. Once teardown has
   * begun (undoAll was called) the resource is removed at once instead: nothing would remove it later.
   * @param description Names it in reports and in `cleanup`, e.g. `tap NAME`, `QEMU NAME (pid 1234)`.
   * @returns Its id, for `undo` or `forget`.
   * @throws TeardownStartedError when undoAll has begun (the resource is removed, or stays in the
   *   ledger for `cleanup` if removing it failed); the file system's error when the ledger cannot be written.
   */
  async register(description: string, undo: Undo): Promise<number> {
    const entry: ResourceEntry = { id: this.nextId++, description, undo };
    if (this.closed) {
      const failure = await undoResource(undo).then(
        () => null,
        (error: unknown) => errorMessage(error),
      );
      if (failure !== null) {
        this.entries.push(entry);
        await this.persist();
      }
      throw new TeardownStartedError(description, failure);
    }
    this.entries.push(entry);
    await this.persist();
    return entry.id;
  }

  /**
   * Records the run's results file in the ledger and writes the ledger at once (even with no
   * resource yet), so a run killed from here on leaves a ledger through which `cleanup` finds the
   * file and marks it `interrupted`.
   * @throws the file system's error when the ledger cannot be written.
   */
  async recordResultsPath(path: string): Promise<void> {
    this.resultsPath = path;
    await this.persist();
  }

  /** Undoes one resource now (e.g. a server after its trial) and drops its entry. A no-op for an unknown id. */
  async undo(id: number): Promise<void> {
    const entry = this.entries.find((candidate) => candidate.id === id);
    if (!entry) return;
    await undoResource(entry.undo);
    this.entries = this.entries.filter((candidate) => candidate.id !== id);
    await this.persist();
  }

  /** Drops the entry of a resource its owner already removed (nothing is undone). */
  async forget(id: number): Promise<void> {
    this.entries = this.entries.filter((candidate) => candidate.id !== id);
    await this.persist();
  }

  /**
   * Undoes every registered resource, newest first; what fails stays in the ledger for `cleanup`.
   * Closes the registry: a later `register` removes its resource at once and throws.
   */
  async undoAll(): Promise<UndoReport> {
    this.closed = true;
    // A resource that could not be removed stays in the ledger, so `cleanup` can try again.
    const report = await undoInReverse([...this.entries], async (entry, removed) => {
      if (!removed) return;
      this.entries = this.entries.filter((candidate) => candidate.id !== entry.id);
      await this.persist();
    });
    if (report.failed.length === 0) {
      this.tornDown = true;
      await this.persist();
    }
    return report;
  }

  private persist(): Promise<void> {
    if (this.tornDown && this.entries.length === 0) {
      // After teardown an empty ledger is no ledger; a resource registered later is still written.
      this.writing = this.writing.then(() => rm(this.ledgerPath, { force: true }));
      return this.writing;
    }
    const ledger: Ledger = {
      runId: this.runId,
      pid: process.pid,
      startedAt: this.startedAt,
      ...(this.resultsPath === undefined ? {} : { resultsPath: this.resultsPath }),
      resources: this.entries.map((entry) => ({ ...entry, undo: serializeUndo(entry.undo) })),
    };
    this.writing = this.writing.then(() => writeJsonAtomic(this.ledgerPath, ledger));
    return this.writing;
  }
}

function serializeUndo(undo: Undo): SerializedUndo {
  if (undo.kind === 'command' && undo.ignoreFailure instanceof RegExp) {
    return { ...undo, ignoreFailure: undo.ignoreFailure.source };
  }
  return undo as SerializedUndo;
}

/** Removes one resource. Already gone counts as removed: cleanup must be safe to repeat. */
export async function undoResource(undo: Undo | SerializedUndo): Promise<void> {
  switch (undo.kind) {
    case 'command': {
      const outcome = await runCommand(undo.command, { timeoutMs: UNDO_TIMEOUT_MS });
      if (outcome.ok) return;
      const pattern = undo.ignoreFailure === undefined ? null : new RegExp(undo.ignoreFailure);
      if (pattern && pattern.test(outcome.stderr + outcome.stdout)) return;
      throw new Error(`\`${undo.command.join(' ')}\` failed: ${outcome.stderr.trim() || outcome.stdout.trim()}`);
    }
    case 'process':
      await killProcess(undo.pid, undo.startTicks);
      return;
    case 'path':
      await rm(undo.path, { recursive: true, force: true });
      return;
  }
}

/** SIGTERM, up to 3 s to exit, then SIGKILL: the process alone, and only if it is still the one recorded. */
async function killProcess(pid: number, startTicks: string | null): Promise<void> {
  await terminate(hostProcessTree(pid, { descendants: false, startTime: startTicks }), { graceMs: 3_000, intervalMs: 100 });
}

/** A ledger left by a run whose process is gone. */
export interface StaleLedger {
  /** The ledger file. */
  path: string;
  runId: string;
  /** The run's process, no longer alive. */
  pid: number;
  /** The run's results file, when the run got as far as writing one (and recorded it). */
  resultsPath: string | null;
  /** Oldest first, as registered. */
  resources: Ledger['resources'];
}

/** Ledgers whose owning process is gone: what crashed runs left behind. */
export async function findStaleLedgers(directory: string = stateDirectory()): Promise<StaleLedger[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  const stale: StaleLedger[] = [];
  for (const name of names.filter((candidate) => /^ledger-.*\.json$/.test(candidate))) {
    const path = join(directory, name);
    try {
      const ledger = JSON.parse(await readFile(path, 'utf8')) as Ledger;
      if (!isProcessAlive(ledger.pid)) stale.push({ path, runId: ledger.runId, pid: ledger.pid, resultsPath: ledger.resultsPath ?? null, resources: ledger.resources });
    } catch {
      // A ledger is written atomically; an unreadable one is not ours to judge. Leave it.
    }
  }
  return stale;
}

/** Undoes a crashed run's resources in reverse order of creation, then drops its ledger. */
export async function cleanupStaleLedger(ledger: StaleLedger): Promise<UndoReport> {
  const report = await undoInReverse(ledger.resources, async () => {});
  if (report.failed.length === 0) await rm(ledger.path, { force: true });
  return report;
}

async function undoInReverse<Entry extends { description: string; undo: Undo | SerializedUndo }>(
  entries: readonly Entry[],
  afterEach: (entry: Entry, removed: boolean) => Promise<void>,
): Promise<UndoReport> {
  const report: UndoReport = { removed: [], failed: [] };
  for (const entry of [...entries].reverse()) {
    let removed = false;
    try {
      await undoResource(entry.undo);
      report.removed.push(entry.description);
      removed = true;
    } catch (error) {
      report.failed.push({ description: entry.description, error: (error as Error).message });
    }
    await afterEach(entry, removed);
  }
  return report;
}
