import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { upgradeResults } from '../../results/migrate.js';
import { ResultsFormatError, type ResultsFile } from '../../results/schema.js';

/**
 * Where a report's numbers came from, so a reader can check they hold the same file and rerun it:
 * the results file's name, the sha256 of its bytes and the schema version it was written in (a
 * version 1 file is upgraded on read and recorded no command line).
 */
export interface ReportSource {
  /** The path the file was read from, as given. */
  path: string;
  /** sha256 of the file's bytes as read, lowercase hex (64 characters). */
  sha256: string;
  /** The `version` field in the file as written, before any upgrade; null when it was not a number. */
  version: number | null;
}

/**
 * Reads a results file once: hashes its bytes and validates them (an earlier schema version is
 * upgraded, see results/migrate.ts), so the hash is of exactly the bytes the report shows.
 * @throws {ResultsFormatError} (exit code 2) when the file cannot be read, is not JSON, or is not a
 *   results file this isobench reads (the same messages as `readResultsFile`).
 */
export async function loadResultsSource(path: string): Promise<{ results: ResultsFile; source: ReportSource }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ResultsFormatError(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ResultsFormatError(path, `is not JSON (${(error as Error).message.replace(/\s+/g, ' ')})`);
  }
  const results = upgradeResults(data, path);
  const written = (data as { version?: unknown }).version;
  return {
    results,
    source: { path, sha256: createHash('sha256').update(bytes).digest('hex'), version: typeof written === 'number' ? written : null },
  };
}

/** The file name of a source, for a line under a figure (the full path stays in the title attribute). */
export function sourceName(source: ReportSource): string {
  return basename(source.path);
}

/**
 * One argument quoted for a POSIX shell: as is when it holds only characters no shell treats
 * specially, else in single quotes (an embedded `'` written as `'\''`); `''` for the empty string.
 */
export function shellQuote(argument: string): string {
  if (/^[A-Za-z0-9_\-+=.,:/@%]+$/.test(argument)) return argument;
  return `'${argument.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line that made a run, word by word, each shell-quoted: `npm run bench -- ARGS` with the
 * run's recorded arguments (`plan.command`), or `npm run bench` when it was run without any; joined
 * with spaces it pastes into a shell. The page keeps each word whole when it wraps the line. Null when
 * the file recorded none because it predates the field: a version 1 file (known from
 * `source.version`, or without a source from an upgraded file's empty trial order and command).
 */
export function benchCommandWords(file: ResultsFile, source: ReportSource | null): string[] | null {
  const command = file.plan.command;
  const versionOne = source ? source.version === 1 : command.length === 0 && file.order.length === 0;
  if (versionOne) return null;
  return command.length === 0 ? ['npm', 'run', 'bench'] : ['npm', 'run', 'bench', '--', ...command.map(shellQuote)];
}

/** {@link benchCommandWords} as one line to paste into a shell; null likewise. */
export function benchCommand(file: ResultsFile, source: ReportSource | null): string | null {
  return benchCommandWords(file, source)?.join(' ') ?? null;
}
