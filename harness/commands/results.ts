import { readResultsFile } from '../../results/store.js';
import { summaryRows, toCsv, toTable } from '../../results/table.js';
import { UsageError } from '../../core/errors.js';
import { parseFlags } from './bench.js';

/** One-line usage of `npm run results`; the top-level help reuses it without the `usage: ` prefix. */
export const RESULTS_USAGE = 'usage: npm run results -- FILE [FILE…] [--format table|csv|json]';

/** Every summary of one or more results files, one row per target x suite x metric x point. */
export async function resultsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv,
    options: { format: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    console.log(RESULTS_USAGE);
    return 0;
  }
  const format = values.format ?? 'table';
  if (!['table', 'csv', 'json'].includes(format)) throw new UsageError(`--format takes table, csv or json, not "${format}"`);
  if (positionals.length === 0) throw new UsageError(`name a results file: ${RESULTS_USAGE}`);
  const rows = [];
  for (const path of positionals) {
    const results = await readResultsFile(path);
    rows.push(...summaryRows(results).map((row) => (positionals.length > 1 ? { run: results.runId, ...row } : row)));
  }
  if (format === 'json') process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else if (format === 'csv') process.stdout.write(toCsv(rows));
  else process.stdout.write(toTable(rows));
  return 0;
}
