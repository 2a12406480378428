import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/json-file.js';
import { upgradeResults } from './migrate.js';
import { parseResultsFile, ResultsFormatError, type ResultsFile } from './schema.js';

/**
 * Writes a run's results file atomically (temp file + rename in the same directory) after every
 * change, so a run killed at any moment leaves the last valid file behind, never a torn one.
 * Writes are queued: one starts when the previous one has settled, so concurrent updates (the
 * Ctrl-C handler's `interrupted` while a trial's update is still writing) land in the order they
 * were made, and the file ends as the last update left it.
 */
export class ResultsStore {
  /** The last write queued (settled or not); the next one waits for it. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private current: ResultsFile,
  ) {}

  /** Creates `directory` if needed and writes `initial` to `<runId>.json` in it at once. */
  static async create(directory: string, initial: ResultsFile): Promise<ResultsStore> {
    await mkdir(directory, { recursive: true });
    const store = new ResultsStore(join(directory, `${initial.runId}.json`), initial);
    await store.flush();
    return store;
  }

  /** The last state written; treat it as read-only and change it through {@link update}. */
  get snapshot(): ResultsFile {
    return this.current;
  }

  /**
   * Applies `change` to a copy, validates it and writes it once the writes of earlier updates have
   * settled; resolves when this update is on disk. An invalid result leaves both the memory state and
   * the file as they were. A write that fails (a full disk) rejects this update only: the memory state
   * keeps the change, and the next update writes it again.
   * @throws {ResultsFormatError} when the changed file would not pass the schema.
   */
  async update(change: (draft: ResultsFile) => void): Promise<void> {
    const draft = structuredClone(this.current);
    change(draft);
    this.current = parseResultsFile(draft, this.path);
    await this.flush();
  }

  private flush(): Promise<void> {
    const state = this.current;
    const settled = () => undefined;
    const write = this.writing.then(settled, settled).then(() => writeResultsFile(this.path, state));
    this.writing = write;
    return write;
  }
}

/**
 * Validates and writes a results file as pretty JSON, atomically (temp file + rename).
 * @throws {ResultsFormatError} when `results` does not pass the schema; nothing is written then.
 */
export async function writeResultsFile(path: string, results: ResultsFile): Promise<void> {
  await writeJsonAtomic(path, parseResultsFile(results, path), { mode: 0o644 });
}

/**
 * Reads and validates a results file; one written by an earlier isobench is upgraded to the current
 * schema version (results/migrate.ts), its verdicts computed from its raw trials.
 * @throws {ResultsFormatError} (exit code 2) when the file cannot be read, is not JSON, has an
 *   unsupported (e.g. newer) schema version or does not pass the schema.
 */
export async function readResultsFile(path: string): Promise<ResultsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ResultsFormatError(path, `cannot be read (${code})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the text it choked on, newlines included: keep the error one line.
    throw new ResultsFormatError(path, `is not JSON (${(error as Error).message.replace(/\s+/g, ' ')})`);
  }
  return upgradeResults(data, path);
}
