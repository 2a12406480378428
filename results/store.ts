import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/json-file.js';
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

  static async create(directory: string, initial: ResultsFile): Promise<ResultsStore> {
    await mkdir(directory, { recursive: true });
    const store = new ResultsStore(join(directory, `${initial.runId}.json`), initial);
    await store.flush();
    return store;
  }

  get snapshot(): ResultsFile {
    return this.current;
  }

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

export async function writeResultsFile(path: string, results: ResultsFile): Promise<void> {
  await writeJsonAtomic(path, parseResultsFile(results, path), { mode: 0o644 });
}

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
    throw new ResultsFormatError(path, `is not JSON (${(error as Error).message})`);
  }
  return parseResultsFile(data, path);
}
