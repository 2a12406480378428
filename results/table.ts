import { csvDocument } from '../core/csv.js';
import { headlineSummary, type ParamValue, type PointResult, type ResultsFile, type StoredVerdict } from './schema.js';
import { pointCaveats } from './caveats.js';

/** Column order of the CSV that `npm run results -- --format csv` prints; snake_case for spreadsheets and R. */
export const SUMMARY_COLUMNS = [
  'target', 'suite', 'point', 'metric', 'params', 'unit', 'n', 'mean', 'sd', 'ci95_low', 'ci95_high', 'cv', 'status', 'reason',
  // Version 2: the verdict against the baseline, on the headline metric's row only.
  'ratio', 'ratio_low', 'ratio_high', 'verdict',
] as const;
/**
 * One summary row; a point without numbers has '' in its numeric columns and n = 0. `ratio`,
 * `ratio_low` and `ratio_high` (mean(candidate) / mean(baseline) and its 95 % interval, dimensionless)
 * and `verdict` (`equivalent`, `slower`, `faster`, `undecided` or `not-comparable`) are filled on the
 * row of the point's headline metric when the point has a verdict, and '' otherwise (baseline rows,
 * other metrics, points never measured); `ratio` is also '' for a not-comparable verdict without one.
 */
export type SummaryRow = Record<(typeof SUMMARY_COLUMNS)[number], string | number>;

/** A point's parameters as `key=value;key=value`, in insertion order, for a single CSV/table cell. */
export function formatParams(params: Record<string, ParamValue>): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}=${value}`)
    .join(';');
}

const NO_VERDICT = { ratio: '', ratio_low: '', ratio_high: '', verdict: '' } as const;

function verdictCells(verdict: StoredVerdict | undefined): Pick<SummaryRow, 'ratio' | 'ratio_low' | 'ratio_high' | 'verdict'> {
  if (!verdict) return NO_VERDICT;
  return {
    ratio: verdict.ratio ?? '',
    ratio_low: verdict.ci95?.[0] ?? '',
    ratio_high: verdict.ci95?.[1] ?? '',
    verdict: verdict.verdict,
  };
}

/** One row per target x suite x metric x point; a point without numbers still gets a row, with its status. */
export function summaryRows(results: ResultsFile): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const point of results.points) {
    const base = { target: point.target, suite: point.suite, point: point.pointId, params: formatParams(point.params) };
    if (point.summaries.length === 0) {
      rows.push({
        ...base, metric: '', unit: '', n: 0, mean: '', sd: '', ci95_low: '', ci95_high: '', cv: '', status: point.status, reason: point.reason ?? '',
        ...NO_VERDICT,
      });
      continue;
    }
    for (const summary of point.summaries) {
      // One sample has no spread: its sd, interval and cv are absent (the stored summary holds 0 and
      // the mean there, which a CSV reader would take for a measured zero spread).
      const spread = summary.n >= 2;
      rows.push({
        ...base,
        metric: summary.metric,
        unit: summary.unit,
        n: summary.n,
        mean: summary.mean,
        sd: spread ? summary.sd : '',
        ci95_low: spread ? summary.ci95Low : '',
        ci95_high: spread ? summary.ci95High : '',
        cv: spread ? summary.cv : '',
        // A noisy headline makes the point noisy; each metric keeps its own verdict too.
        status: point.status === 'ok' || point.status === 'noisy' ? summary.status : point.status,
        reason: point.reason ?? '',
        ...verdictCells(point.verdict?.metric === summary.metric ? point.verdict : undefined),
      });
    }
  }
  return rows;
}

/**
 * RFC 4180 CSV with a header row of {@link SUMMARY_COLUMNS}, numbers at full precision, written by
 * core/csv.ts: text a spreadsheet would run as a formula (a reason starting with `=`) gets a leading
 * apostrophe, as in the report's CSV. Rows of several runs (`npm run results -- A.json B.json`) carry
 * their `run` id: then it is the first column, or the runs' rows could not be told apart.
 */
export function toCsv(rows: ReadonlyArray<SummaryRow & { run?: string }>): string {
  if (!rows.some((row) => row.run !== undefined)) return csvDocument(SUMMARY_COLUMNS, rows.map((row) => SUMMARY_COLUMNS.map((column) => row[column])));
  return csvDocument(['run', ...SUMMARY_COLUMNS], rows.map((row) => [row.run ?? '', ...SUMMARY_COLUMNS.map((column) => row[column])]));
}

function formatNumber(value: string | number): string {
  if (typeof value === 'string') return value;
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4);
}

/** The footnote a `†` on a 95 % interval's low bound points to: the same words as the report's figure tables. */
export const BELOW_ZERO_NOTE = '† The 95 % interval, as computed, reaches below 0, which these metrics cannot: with n repetitions the t-interval is the mean ± t(n−1) standard errors, and t(1) = 12.7 at n = 2, t(2) = 4.3 at n = 3. More repetitions narrow it.';

/**
 * Every summary as a fixed-width table (`--format metrics`): one line per target x suite x metric x
 * point, no reason column (it would wrap). Wider than 100 columns for long metric names. A low bound
 * below 0 is marked `†` and explained under the table (every metric isobench records is ≥ 0; the
 * interval is the t-interval, wide at n = 2).
 */
export function toTable(rows: SummaryRow[]): string {
  const columns = ['target', 'suite', 'point', 'metric', 'unit', 'n', 'mean', 'ci95_low', 'ci95_high', 'cv', 'status'] as const;
  const belowZero = (row: SummaryRow) => typeof row.ci95_low === 'number' && row.ci95_low < 0;
  const cells = rows.map((row) => columns.map((column) => `${formatNumber(row[column])}${column === 'ci95_low' && belowZero(row) ? ' †' : ''}`));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((line) => line[index]!.length)));
  const render = (line: readonly string[]) => line.map((cell, index) => cell.padEnd(widths[index]!)).join('  ').trimEnd();
  const note = rows.some(belowZero) ? [`\n${BELOW_ZERO_NOTE}`] : [];
  return `${[render(columns), render(widths.map((width) => '-'.repeat(width))), ...cells.map(render), ...note].join('\n')}\n`;
}

/** A ratio (1 = the baseline) as a percentage of the baseline with one decimal, e.g. `98.6`. */
export function ratioPercent(ratio: number): string {
  return (ratio * 100).toFixed(1);
}

/**
 * The ratio and its 95 % interval as % of the baseline, e.g. `98.6 % (76.3–127.4)`; the ratio alone
 * when there is no interval (a not-comparable verdict with both means positive), '' when neither.
 */
export function ratioText(verdict: StoredVerdict): string {
  if (verdict.ratio === null) return '';
  const interval = verdict.ci95 ? ` (${ratioPercent(verdict.ci95[0])}–${ratioPercent(verdict.ci95[1])})` : '';
  return `${ratioPercent(verdict.ratio)} %${interval}`;
}

/** Above this many more repetitions the table says "over 1,000" rather than an estimate nobody can act on. */
const MANY_REPETITIONS = 1000;
/** Samples a side below which no number of further repetitions is estimated (a spread of 2 is too rough). */
const MIN_ESTIMATE_SAMPLES = 3;

/**
 * `3 repetitions a point` for a fixed run; for an adaptive one also the range the added rounds reached,
 * e.g. `3 repetitions a point, adaptive up to 10 (3–8 ran)`, or `(3 ran)` when every point ran as many.
 */
function repetitionsLine(results: ResultsFile): string {
  const { plan } = results;
  const base = `${plan.repetitions} repetitions a point`;
  if (!plan.adaptive) return base;
  const counts = results.points.map((point) => point.trials.length).filter((count) => count > 0);
  const [least, most] = [Math.min(...counts), Math.max(...counts)];
  const ran = counts.length === 0 ? '' : least === most ? ` (${least} ran)` : ` (${least}–${most} ran)`;
  return `${base}, adaptive up to ${plan.adaptive.maxRepetitions}${ran}`;
}

/**
 * Repetitions per side still to run before an undecided verdict would be decided, by the verdict's own
 * estimate (`repetitionsNeeded` less the larger side's current n); null when no number would decide it.
 */
export function moreRepetitions(verdict: Extract<StoredVerdict, { verdict: 'undecided' }>): number | null {
  if (verdict.repetitionsNeeded === null) return null;
  return Math.max(1, verdict.repetitionsNeeded - Math.max(verdict.n.baseline, verdict.n.candidate));
}

/**
 * The verdict in words, as the results table and the report print it: `equivalent`, `slower by 23.6 %`,
 * `faster by 4.2 %`, `slower: ×474.4 native` (an effect of 100 % or more, as the factor between the
 * means), `undecided — 130 more reps would decide` (or `… no number of reps decides` when
 * the ratio sits on the margin) or `not comparable: REASON`.
 */
export function verdictWords(verdict: StoredVerdict): string {
  switch (verdict.verdict) {
    case 'equivalent':
      return 'equivalent';
    case 'slower':
    case 'faster':
      // "slower by 47338.2 %" hides the size; from a doubling on, the factor reads at a glance (×474.4).
      if (verdict.effectPercent >= 100) return `${verdict.verdict}: ×${Math.max(verdict.ratio, 1 / verdict.ratio).toFixed(1)} ${verdict.baseline}`;
      return `${verdict.verdict} by ${verdict.effectPercent.toFixed(1)} %`;
    case 'undecided': {
      // Two samples a side give a spread, not one to plan by: at n = 2 the estimate said "1 more rep"
      // beside a 95 % interval of 12.5–151,935 % (a newcomer's first look).
      if (Math.min(verdict.n.baseline, verdict.n.candidate) < MIN_ESTIMATE_SAMPLES) return `undecided — ${Math.min(verdict.n.baseline, verdict.n.candidate)} samples a side are too few to say how many more reps would decide`;
      const more = moreRepetitions(verdict);
      if (more === null) return 'undecided — no number of reps decides (ratio on the margin)';
      // Past a thousand the estimate says "the ratio sits near the margin", not a number to plan a run by.
      if (more > MANY_REPETITIONS) return `undecided — over ${MANY_REPETITIONS.toLocaleString('en-US')} more reps would decide (the ratio is near the margin)`;
      return `undecided — ${more} more reps would decide`;
    }
    case 'not-comparable':
      return `not comparable: ${verdict.reason}`;
  }
}

/** The minimum detectable effect as `±40.9 %`; '' when the verdict has none (not comparable, or no spread). */
export function mdeText(verdict: StoredVerdict): string {
  if (verdict.verdict === 'not-comparable' || verdict.mdePercent === null) return '';
  return `±${verdict.mdePercent.toFixed(1)} %`;
}

/** The terminal width {@link toVerdictTable} keeps within, in columns. */
export const TABLE_WIDTH = 100;

/** A mean with thousands separators and 3–4 significant digits, for a terminal cell. */
function meanText(value: number): string {
  if (value === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Words broken into lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

function planLine(results: ResultsFile): string {
  const { plan } = results;
  const band = `${ratioPercent(1 / (1 + plan.marginPercent / 100))}–${ratioPercent(1 + plan.marginPercent / 100)} %`;
  const floor = plan.noiseFloorPercent === null ? '' : `, differences under ${plan.noiseFloorPercent} % not called (noise floor)`;
  const mode = plan.mode === 'aa' ? 'A/A run (measures the noise floor): ' : '';
  return `${mode}baseline ${plan.baseline}; margin ±${plan.marginPercent} % (equivalent inside ${band} of ${plan.baseline})${floor}`;
}

/**
 * The verdict view of `npm run results` (the default `--format table`), for a terminal of
 * {@link TABLE_WIDTH} columns: a header naming the run, its baseline and margin; then per suite, per
 * point, its headline metric and one line per target with the mean, the ratio to the baseline as % of
 * the baseline with its 95 % interval, the minimum detectable effect and the verdict in words
 * ({@link verdictWords}); long verdicts wrap under their column. Points without a verdict say why
 * (`baseline`, with `— noisy: REASON` when its headline is flagged noisy ({@link headlineNoise}), or
 * their status and reason).
 */
export function toVerdictTable(results: ResultsFile): string {
  const { plan } = results;
  const out = [
    `run ${results.runId} (${results.status}${results.stopReason ? `: ${results.stopReason}` : ''}), ${repetitionsLine(results)}`,
    ...wrap(planLine(results), TABLE_WIDTH),
    ...wrap(
      `each point is judged on its headline metric: its mean, % of ${plan.baseline} (95 % interval), MDE: the difference in % these repetitions would detect 80 % of the time, and the verdict`,
      TABLE_WIDTH,
    ),
  ];
  // What a target really ran as when it fell back (a TCG guest, no vhost-net): the report's banner, in a line.
  for (const facts of results.targets) {
    if (facts.degraded.length > 0) out.push(...wrap(`${facts.target} ran degraded: ${facts.degraded.join('; ')}`, TABLE_WIDTH));
  }
  const header = ['  target', 'mean', `% of ${plan.baseline}`, 'MDE %', 'verdict'];
  const suites = [...new Set(results.points.map((point) => point.suite))];
  for (const suite of suites) {
    const points = pointsInOrder(results, suite);
    const lines: { point: PointResult; cells: string[] }[] = points.map((point) => ({ point, cells: tableCells(point, plan.baseline) }));
    const widths = header.slice(0, 4).map((title, index) => Math.max(title.length, ...lines.map((line) => line.cells[index]!.length)));
    const verdictStart = widths.reduce((sum, width) => sum + width + 2, 0);
    const verdictWidth = Math.max(24, TABLE_WIDTH - verdictStart);
    const render = (cells: readonly string[]) => {
      const [first = '', ...rest] = wrap(cells[4]!, verdictWidth);
      const head = cells.slice(0, 4).map((cell, index) => (index === 1 || index === 3 ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!)));
      return [`${head.join('  ')}  ${first}`.trimEnd(), ...rest.map((line) => `${' '.repeat(verdictStart)}${line}`)];
    };
    out.push('', suite, ...render(header));
    let previous = '';
    for (const { point, cells } of lines) {
      if (point.pointId !== previous) {
        previous = point.pointId;
        out.push(pointTitle(point));
      }
      out.push(...render(cells));
      // Measured qualifications of this target's figure (issue 13), under its line.
      for (const caveat of pointCaveats(point)) out.push(...wrap(`caveat: ${caveat}`, TABLE_WIDTH - 4).map((line) => `    ${line}`));
    }
  }
  // A migration point's headline is its total time; its downtime, rounds and bytes are what a reader
  // of Clark et al. looks for next, and this view would otherwise never mention them.
  const others = suites.includes('migration') ? '; each migration trial\'s downtime, rounds and MiB sent: --format migration' : '';
  out.push('', ...wrap(`only each point's headline metric is shown here; every metric of every point: --format metrics${others}`, TABLE_WIDTH));
  return `${out.join('\n')}\n`;
}

/** A suite's points grouped by point id (first seen first), the baseline first within a point, then the plan's target order. */
function pointsInOrder(results: ResultsFile, suite: string): PointResult[] {
  const points = results.points.filter((point) => point.suite === suite);
  const ids = [...new Set(points.map((point) => point.pointId))];
  const rank = (target: string) => {
    if (target === results.plan.baseline) return -1;
    const index = results.plan.targets.indexOf(target);
    return index < 0 ? results.plan.targets.length : index;
  };
  return points.sort((a, b) => ids.indexOf(a.pointId) - ids.indexOf(b.pointId) || rank(a.target) - rank(b.target));
}

/** `randread · iops (IOPS, higher is better)`: the point and the metric its lines are judged on. */
function pointTitle(point: PointResult): string {
  const summary = headlineSummary(point);
  const metric = point.headline ?? (summary ? { metric: summary.metric, unit: summary.unit, direction: null } : null);
  if (!metric) return point.pointId;
  const direction = metric.direction ? `, ${metric.direction} is better` : '';
  return `${point.pointId} · ${metric.metric} (${metric.unit}${direction})`;
}

/**
 * Why the point's headline metric is flagged noisy, in the words the report uses for the headline's
 * row (reports/model/rows.ts): the point's reason, else the headline's own coefficient of variation
 * (`throughput_gbps varies by 10.5 %`); null when neither the point nor its headline is noisy.
 */
export function headlineNoise(point: Pick<PointResult, 'headline' | 'summaries' | 'status' | 'reason'>): string | null {
  const summary = headlineSummary(point);
  if (!summary || (point.status !== 'noisy' && summary.status !== 'noisy')) return null;
  return point.reason ?? `${summary.metric} varies by ${(summary.cv * 100).toFixed(1)} %`;
}

function tableCells(point: PointResult, baseline: string): string[] {
  const summary = headlineSummary(point);
  const mean = summary ? `${meanText(summary.mean)}${summary.n < 2 ? ` (n=${summary.n})` : ''}` : '—';
  const target = `  ${point.target}`;
  const verdict = point.verdict;
  if (verdict) {
    const interval = verdict.ci95 ? ` (${ratioPercent(verdict.ci95[0])}–${ratioPercent(verdict.ci95[1])})` : '';
    const ratio = verdict.ratio === null ? '' : `${ratioPercent(verdict.ratio)}${interval}`;
    const mde = verdict.verdict === 'not-comparable' || verdict.mdePercent === null ? '' : `±${verdict.mdePercent.toFixed(1)}`;
    return [target, mean, ratio, mde, verdictWords(verdict)];
  }
  if (point.status === 'failed' || point.status === 'skipped' || point.status === 'pending') {
    return [target, mean, '', '', `${point.status}${point.reason ? `: ${point.reason}` : ''}`];
  }
  if (point.target === baseline) {
    // Every line of the point is judged against this mean: its spread is the table's business too.
    const noise = headlineNoise(point);
    return [target, mean, '100', '', noise === null ? 'baseline' : `baseline — noisy: ${noise}`];
  }
  return [target, mean, '', '', point.headline ? 'no verdict' : 'no verdict (no headline metric declared)'];
}
