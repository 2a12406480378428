import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/json-file.js';
import { upgradeResults } from './migrate.js';
import { parseResultsFile, ResultsFormatError, type ResultsFile } from './schema.js';

/**
 * Writes a run's results file atomically (temp file + rename in the same directory) after every
 * change, so a run killed at any moment leaves the last valid file behind, never a torn one.
 */
export class ResultsStore {
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
   * Applies `change` to a copy, validates it and writes it. An invalid result leaves both the memory
   * state and the file as they were.
   * @throws {ResultsFormatError} when the changed file would not pass the schema.
   */
  async update(change: (draft: ResultsFile) => void): Promise<void> {
    const draft = structuredClone(this.current);
    change(draft);
    this.current = parseResultsFile(draft, this.path);
    await this.flush();
  }

  private async flush(): Promise<void> {
    await writeResultsFile(this.path, this.current);
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
