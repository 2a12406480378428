import { predictMigrationTrial } from '../../models/precopy/index.js';
import { predictionRows, toPredictionTable } from '../../results/migration-predictions.js';
import { migrationRows, noMigrationTrialsLine, toMigrationTable } from '../../results/migration-table.js';
import { readResultsFile } from '../../results/store.js';
import { summaryRows, toCsv, toTable, toVerdictTable } from '../../results/table.js';
import { userPath } from '../../core/user-path.js';
import { UsageError } from '../../core/errors.js';
import { aaSummaryLines } from '../aa.js';
import { parseFlags } from '../../core/flags.js';

/** One-line usage of `npm run results`; the top-level help reuses it without the `usage: ` prefix. */
export const RESULTS_USAGE = 'usage: npm run results -- FILE [FILE…] [--format table|metrics|csv|json|migration]';

const FORMATS = ['table', 'metrics', 'csv', 'json', 'migration'];

/**
 * `npm run results`: `table` (default) shows each point's verdict against the run's baseline, grouped
 * by suite, in 100 columns; `metrics` every summary as a table; `csv` and `json` every summary, one
 * row per target x suite x metric x point, with the verdict's ratio, interval and word on the headline
 * metric's row; `migration` one line per migration trial (results/migration-table.ts), or one line
 * saying a file has none (exit 0 still). Returns the exit code.
 * @param write Where the output goes; stdout unless told (tests pass their own).
 * @throws UsageError (exit 2) for an unknown format or no file; ResultsFormatError (exit 2) for a file
 *   that is not a results file this isobench reads.
 */
export async function resultsCommand(argv: string[], write: (text: string) => void = (text) => void process.stdout.write(text)): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv,
    options: { format: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  }, 'npm run results -- --help');
  if (values.help) {
    console.log(RESULTS_USAGE);
    return 0;
  }
  const format = values.format ?? 'table';
  if (!FORMATS.includes(format)) throw new UsageError(`--format takes table, metrics, csv, json or migration, not "${format}"`);
  if (positionals.length === 0) throw new UsageError('name a results file: npm run results -- runs/RUN-ID.json');
  const files = [];
  for (const path of positionals) files.push(await readResultsFile(userPath(path)));
  if (format === 'migration') {
    // The measured table, then measured against Clark's and QEMU's predictions (computed for files
    // without them). A file without migration trials is not bad input (one of several files, say):
    // one line says so and what it holds, as `cleanup` says "nothing to clean up", and exit 0.
    write(
      files
        .map((results, index) => {
          const rows = migrationRows(results);
          if (rows.length === 0) return `${noMigrationTrialsLine(results, positionals[index]!)}\n`;
          const predicted = predictionRows(results, predictMigrationTrial);
          // Trials that failed before a migration kept its record have nothing to predict from.
          return `${toMigrationTable(rows)}\n${predicted.length > 0 ? toPredictionTable(predicted) : 'no trial kept a migration record to predict from: no prediction table\n'}`;
        })
        .join('\n'),
    );
    return 0;
  }
  if (format === 'table') {
    // An A/A run's answer is its false-positive rate and noise, which bench printed at the end: print it again.
    write(files.map((results) => [toVerdictTable(results), ...aaSummaryLines(results).map((line) => `${line}\n`)].join('')).join('\n'));
    return 0;
  }
  const rows = files.flatMap((results) => summaryRows(results).map((row) => (files.length > 1 ? { run: results.runId, ...row } : row)));
  // CSV needs '' for "nothing here"; JSON has a word for it, and a reader must not take '' for a value.
  if (format === 'json') write(`${JSON.stringify(rows, (_key, value: unknown) => (value === '' ? null : value), 2)}\n`);
  else if (format === 'csv') write(toCsv(rows));
  else write(toTable(rows));
  return 0;
}
