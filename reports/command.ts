import { parseArgs } from 'node:util';
import { ResultsFormatError, type ResultsFile } from '../results/schema.js';
import { UsageError } from '../core/errors.js';
import { loadResultsSource, type ReportSource } from './model/source.js';
import type { TargetStyleLookup } from './model/targets.js';
import { DEFAULT_BASELINE, writeReport, type ReportFormat } from './write-report.js';

export { UsageError };

const FORMATS: readonly ReportFormat[] = ['html', 'svg', 'csv'];

/** The `isobench report` help text, printed for --help and after a usage error. */
export const REPORT_USAGE = `usage: isobench report FILES... [--out PATH] [--baseline TARGET] [--title TEXT] [--format html|svg|csv]
  --out       html: the file to write; svg/csv: the directory for one file per figure
  --baseline  target that counts as 100% and verdicts are judged against (default: the run's, ${DEFAULT_BASELINE} unless told)
  --title     page title
  --format    html (default), svg (each figure) or csv (each figure's data)`;

/** `isobench report`: parses its arguments, writes the report, prints the path. Returns the exit code. */
export async function runReportCommand(argv: string[], targetStyle?: TargetStyleLookup): Promise<number> {
  const options = parseOptions(argv);
  const results: ResultsFile[] = [];
  const sources: ReportSource[] = [];
  for (const file of options.files) {
    try {
      // One read: the sha256 under every figure is of exactly the bytes the report shows.
      const loaded = await loadResultsSource(file);
      results.push(loaded.results);
      sources.push(loaded.source);
    } catch (error) {
      if (error instanceof ResultsFormatError) throw new UsageError(error.message);
      throw error;
    }
  }
  if (options.baseline !== undefined) assertBaselineExists(options.baseline, results);
  const written = await writeReport(results, {
    format: options.format,
    sources,
    ...(targetStyle ? { targetStyle } : {}),
    ...(options.out !== undefined ? { out: options.out } : {}),
    ...(options.baseline !== undefined ? { baseline: options.baseline } : {}),
    ...(options.title !== undefined ? { title: options.title } : {}),
  });
  process.stdout.write(`${written}\n`);
  return 0;
}

interface ReportArguments {
  files: string[];
  out: string | undefined;
  baseline: string | undefined;
  title: string | undefined;
  format: ReportFormat;
}

function parseOptions(argv: string[]): ReportArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        baseline: { type: 'string' },
        title: { type: 'string' },
        format: { type: 'string', default: 'html' },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${REPORT_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError(`name at least one results file\n${REPORT_USAGE}`);
  const format = values.format as ReportFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not "${values.format}"`);
  for (const [name, value] of Object.entries({ out: values.out, baseline: values.baseline, title: values.title })) {
    if (value !== undefined && value.trim() === '') throw new UsageError(`--${name} needs a value`);
  }
  return { files: positionals, out: values.out, baseline: values.baseline, title: values.title, format };
}

function assertBaselineExists(baseline: string, results: readonly ResultsFile[]): void {
  const targets = new Set(results.flatMap((file) => file.points.map((point) => point.target)));
  if (!targets.has(baseline)) {
    throw new UsageError(`--baseline ${baseline}: no such target in the results (targets: ${[...targets].join(', ') || 'none'})`);
  }
}
