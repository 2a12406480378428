import { realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { prepareOutputDirectory, removeCreated } from '../core/output-directory.js';
import { compareBeforeAfter, type BeforeAfter } from '../results/before-after.js';
import { ResultsFormatError, type ResultsFile } from '../results/schema.js';
import { UsageError } from '../core/errors.js';
import { parseFlags } from '../core/flags.js';
import { userPath } from '../core/user-path.js';
import { beforeAfterSummary, hostWarningLine } from './before-after-summary.js';
import { loadResultsSource, type ReportSource } from './model/source.js';
import type { TargetStyleLookup } from './model/targets.js';
import { DEFAULT_BASELINE, reportPathBeside, writeReport, type ReportFormat } from './write-report.js';

export { UsageError };

const FORMATS: readonly ReportFormat[] = ['html', 'svg', 'csv'];

/** The `isobench report` help text, printed for --help (a usage error is one line of its own). */
export const REPORT_USAGE = `usage: npm run report -- FILE | BEFORE AFTER [--out PATH] [--baseline TARGET] [--title TEXT] [--format html|svg|csv]
  FILE        one run's results
  BEFORE AFTER  two runs' results (e.g. before and after an upgrade), compared point by point
  --out       html: the file to write; svg/csv: the directory for one file per figure
              (default: beside the results file, as npm run bench writes it: RUN-ID.html, RUN-ID-svg/, RUN-ID-csv/)
  --baseline  target that counts as 100% and verdicts are judged against (default: the run's, ${DEFAULT_BASELINE} unless told)
  --title     page title
  --format    html (default), svg (each figure) or csv (each figure's data)`;

/** Where `isobench report` writes its lines: stdout for the summary and the path, stderr for warnings. */
export interface ReportOutput {
  /** One line of output (no newline). */
  print(line: string): void;
  /** One warning line (no newline). */
  warn(line: string): void;
}

const PROCESS_OUTPUT: ReportOutput = {
  print: (line) => process.stdout.write(`${line}\n`),
  warn: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `isobench report`: parses its arguments, writes the report, prints the path. With two files
 * (BEFORE AFTER) it also compares them point by point (results/before-after.ts): the page gets a
 * before/after section, the terminal a few summary lines before the path, and a warning line on
 * stderr when the hosts differ. A missing directory of `--out` is created, as `bench --out` does,
 * and a line on stderr says so. Returns the exit code.
 * @param output Where lines go (default stdout and stderr).
 * @throws UsageError (exit 2, one line) for bad flags, a file that cannot be read or is not a
 *   results file, more than two files, the same file (or run) named twice, or an `--out` whose
 *   directory cannot be created or written (prepareOutputDirectory).
 */
export async function runReportCommand(argv: string[], targetStyle?: TargetStyleLookup, output: ReportOutput = PROCESS_OUTPUT): Promise<number> {
  const options = parseOptions(argv);
  if (options === 'help') {
    output.print(REPORT_USAGE);
    return 0;
  }
  const beforeAfter = options.files.length === 2;
  if (options.files.length > 2) {
    throw new UsageError(`${options.files.length} results files given: name one for a report, or two (BEFORE AFTER) to compare a run with an earlier one`);
  }
  const results: ResultsFile[] = [];
  const sources: ReportSource[] = [];
  for (const file of options.files) {
    try {
      // One read: the sha256 under every figure is of exactly the bytes the report shows.
      const loaded = await loadResultsSource(file);
      results.push(loaded.results);
      sources.push(loaded.source);
    } catch (error) {
      if (error instanceof ResultsFormatError) {
        throw new UsageError(beforeAfter ? `${error.message}; name two results files written by npm run bench, BEFORE then AFTER` : error.message);
      }
      throw error;
    }
  }
  if (options.baseline !== undefined) assertBaselineExists(options.baseline, results);
  const comparison = beforeAfter ? await compareFiles(options.files, results) : undefined;
  const warning = comparison ? hostWarningLine(comparison) : null;
  if (warning) output.warn(warning);
  const out = options.out ?? reportPathBeside(options.files, options.format);
  // As `bench --out` does: a missing directory is created, checked writable before the figures are
  // rendered, removed again if the report fails, and said (a mistyped path must not go unnoticed).
  const directory = await prepareOutputDirectory(options.format === 'html' ? dirname(out) : out, { flag: '--out', probeBytes: 4096 });
  let written: string;
  try {
    written = await writeReport(results, {
      format: options.format,
      sources,
      ...(targetStyle ? { targetStyle } : {}),
      out,
      ...(options.baseline !== undefined ? { baseline: options.baseline } : {}),
      ...(options.title !== undefined ? { title: options.title } : {}),
      ...(comparison ? { beforeAfter: comparison } : {}),
    });
  } catch (error) {
    await removeCreated(directory.created);
    throw error;
  }
  // svg and csv write into --out itself: making that directory is the command's work, not news.
  const made = directory.created.filter((path) => options.format === 'html' || path !== directory.path);
  if (made[0] !== undefined) output.warn(`created the directory ${made[0]}, which did not exist`);
  if (comparison) for (const line of beforeAfterSummary(comparison)) output.print(line);
  output.print(written);
  return 0;
}

/** BEFORE against AFTER, after checking they are two different runs. */
async function compareFiles(paths: readonly string[], results: readonly ResultsFile[]): Promise<BeforeAfter> {
  const [beforePath, afterPath] = paths as [string, string];
  const [before, after] = results as [ResultsFile, ResultsFile];
  if ((await realpath(beforePath)) === (await realpath(afterPath))) {
    throw new UsageError(`BEFORE and AFTER are the same file (${beforePath}): name the results of two different runs, BEFORE then AFTER`);
  }
  if (before.runId === after.runId && before.startedAt === after.startedAt) {
    throw new UsageError(`BEFORE and AFTER hold the same run (${before.runId}): name the results of two different runs, BEFORE then AFTER`);
  }
  return compareBeforeAfter(before, after);
}

interface ReportArguments {
  files: string[];
  out: string | undefined;
  baseline: string | undefined;
  title: string | undefined;
  format: ReportFormat;
}

function parseOptions(argv: string[]): ReportArguments | 'help' {
  const { values, positionals } = parseFlags(
    {
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        baseline: { type: 'string' },
        title: { type: 'string' },
        format: { type: 'string', default: 'html' },
        help: { type: 'boolean' },
      },
    },
    'npm run report -- --help',
  );
  if (values.help) return 'help';
  if (positionals.length === 0) throw new UsageError('name a results file: npm run report -- runs/RUN-ID.json (two to compare: BEFORE AFTER)');
  const format = values.format as ReportFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not "${values.format}"`);
  for (const [name, value] of Object.entries({ out: values.out, baseline: values.baseline, title: values.title })) {
    if (value !== undefined && value.trim() === '') throw new UsageError(`--${name} needs a value`);
  }
  // Paths typed in a subdirectory are that directory's (npm run starts in the package root).
  return { files: positionals.map(userPath), out: values.out === undefined ? undefined : userPath(values.out), baseline: values.baseline, title: values.title, format };
}

function assertBaselineExists(baseline: string, results: readonly ResultsFile[]): void {
  const targets = new Set(results.flatMap((file) => file.points.map((point) => point.target)));
  if (!targets.has(baseline)) {
    throw new UsageError(`--baseline ${baseline}: no such target in the results (targets: ${[...targets].join(', ') || 'none'}): name one of them, or leave --baseline out`);
  }
}
