import { writeFile } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';
import { prepareOutputDirectory } from '../core/output-directory.js';
import { basename, dirname, join, resolve } from 'node:path';
import type { BeforeAfter } from '../results/before-after.js';
import type { ResultsFile } from '../results/schema.js';
import { figureCsv } from './csv.js';
import { figuresOf, type Figure, type FigureContext } from './figures/figure.js';
import { FIGURES } from './figures/index.js';
import { beforeAfterSection } from './html/before-after.js';
import { renderPage } from './html/page.js';
import { vegaRuntime } from './html/interactive.js';
import { judgedAgainst } from './model/answers.js';
import { labelRuns } from './model/runs.js';
import type { ReportSource } from './model/source.js';
import { TargetStyles, type TargetStyleLookup } from './model/targets.js';
import { renderFigure } from './render.js';

/** `--format`: one HTML page, or one SVG or CSV file per figure. */
export type ReportFormat = 'html' | 'svg' | 'csv';

/** Options of writeReport; each one is a flag of `isobench report`. */
export interface ReportOptions {
  /** html: the file to write; svg and csv: the directory to write one file per figure into (reportPathBeside gives the default). */
  out: string;
  /**
   * Target whose mean is 100% and that verdicts are judged against; the first run's `plan.baseline`
   * (`native` unless the run was told otherwise) when absent. A run whose own baseline differs is
   * re-judged against it from its raw trials.
   */
  baseline?: string;
  /** Page title; derived from the results files when absent. */
  title?: string;
  /** `html` when absent. */
  format?: ReportFormat;
  /** Inline the vega runtime for the live view (about 0.5 MB). On unless told otherwise. */
  interactive?: boolean;
  /** Order and colour of each target, from the target registry (the harness supplies it); unknown targets get a neutral fallback. */
  targetStyle?: TargetStyleLookup;
  /** A before/after comparison of the two results (results/before-after.ts): html shows it as its own section. */
  beforeAfter?: BeforeAfter;
  /**
   * Where each results file was read from, in the order of `results` (see loadResultsSource): its
   * sha256 and name are printed under every figure. Without it the page says the hash was not computed.
   */
  sources?: readonly (ReportSource | null)[];
}

/** The target the percentages are relative to when neither `--baseline` nor the run names another: the papers' reference too. */
export const DEFAULT_BASELINE = 'native';

/**
 * Builds every figure the results can fill, in the papers' order, with each run's verdicts judged
 * against `baseline` (see judgedAgainst).
 * @param sources Per results file, where it was read from (for the provenance under each figure).
 */
export function buildFigures(
  results: readonly ResultsFile[],
  baseline: string,
  targetStyle?: TargetStyleLookup,
  sources: readonly (ReportSource | null)[] = [],
): { context: FigureContext; figures: Figure[] } {
  const runs = labelRuns(
    results.map((file) => judgedAgainst(file, baseline)),
    sources,
  );
  const context: FigureContext = { runs, baseline, multiRun: runs.length > 1, styles: new TargetStyles(targetStyle) };
  const figures = FIGURES.flatMap((module) => figuresOf(module, context));
  return { context, figures };
}

/** Writes the report and returns the path written (the HTML file, or the SVG/CSV directory). */
export async function writeReport(results: ResultsFile[], options: ReportOptions): Promise<string> {
  if (results.length === 0) throw new Error('writeReport needs at least one results file');
  const baseline = options.baseline ?? results[0]?.plan.baseline ?? DEFAULT_BASELINE;
  const format = options.format ?? 'html';
  const { context, figures } = buildFigures(results, baseline, options.targetStyle, options.sources);
  const out = resolve(options.out);

  if (format === 'csv') {
    await outputDirectory(out);
    for (const figure of figures) await writeFile(join(out, `${figure.id}.csv`), figureCsv(figure));
    return out;
  }
  const rendered = [];
  for (const figure of figures) rendered.push({ figure, rendered: await renderFigure(figure.spec) });
  if (format === 'svg') {
    await outputDirectory(out);
    for (const { figure, rendered: svg } of rendered) await writeFile(join(out, `${figure.id}.svg`), svg.svg);
    return out;
  }
  const page = renderPage({
    title: options.title ?? defaultTitle(results),
    runs: context.runs,
    baseline,
    figures: rendered,
    vegaRuntime: options.interactive === false ? null : await vegaRuntime(),
    generatedAt: new Date().toISOString(),
    ...(options.beforeAfter
      ? { beforeAfter: beforeAfterSection(options.beforeAfter, { before: context.runs[0]?.label ?? 'BEFORE', after: context.runs[1]?.label ?? 'AFTER' }) }
      : {}),
    styles: context.styles,
  });
  await outputDirectory(dirname(out));
  try {
    await writeFile(out, page);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new UsageError(`--out ${out}: cannot write the report (${code}): choose a file in a directory you can write`, { cause: error });
  }
  return out;
}

/**
 * Creates the report's directory one level at a time and proves it writable (core/output-directory:
 * a recursive mkdir under /proc never returns).
 * @throws UsageError (exit 2, one line) naming the directory and the fix.
 */
async function outputDirectory(directory: string): Promise<void> {
  await prepareOutputDirectory(directory, { flag: '--out', probeBytes: 4096 });
}

/** `isobench: the cost of isolation on HOST`; a lab run names its lab hosts, measured from this one. */
function defaultTitle(results: readonly ResultsFile[]): string {
  const hosts = [...new Set(results.map((file) => file.host.hostname))];
  const lab = [...new Set(results.flatMap((file) => file.hosts?.map((host) => host.name) ?? []))];
  return lab.length > 0 ? `isobench: the cost of isolation on lab hosts ${lab.join(', ')} (driven from ${hosts.join(', ')})` : `isobench: the cost of isolation on ${hosts.join(', ')}`;
}

/**
 * Where a report goes without `--out`: beside its results file, named after it, as `npm run bench`
 * writes it: `runs/RUN-ID.json` → `runs/RUN-ID.html` (svg and csv: the directory `runs/RUN-ID-svg/`).
 * Two files (BEFORE AFTER): beside AFTER, `BEFORE-to-AFTER.html`. A name without `.json` gets the
 * suffix added, so the report never takes the results file's own name.
 * @param resultsPaths The results files as given, BEFORE first; at least one.
 */
export function reportPathBeside(resultsPaths: readonly string[], format: ReportFormat = 'html'): string {
  const last = resultsPaths.at(-1);
  if (last === undefined) throw new Error('reportPathBeside needs at least one results file');
  const stem = (path: string) => basename(path).replace(/\.json$/, '');
  const name = resultsPaths.length === 1 ? stem(last) : `${stem(resultsPaths[0]!)}-to-${stem(last)}`;
  return join(dirname(last), format === 'html' ? `${name}.html` : `${name}-${format}`);
}
