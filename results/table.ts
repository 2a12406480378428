import type { ParamValue, ResultsFile } from './schema.js';

/** Column order of the CSV that `npm run results -- --format csv` prints; snake_case for spreadsheets and R. */
export const SUMMARY_COLUMNS = [
  'target', 'suite', 'point', 'metric', 'params', 'unit', 'n', 'mean', 'sd', 'ci95_low', 'ci95_high', 'cv', 'status', 'reason',
] as const;
/** One summary row; a point without numbers has '' in its numeric columns and n = 0. */
export type SummaryRow = Record<(typeof SUMMARY_COLUMNS)[number], string | number>;

/** A point's parameters as `key=value;key=value`, in insertion order, for a single CSV/table cell. */
export function formatParams(params: Record<string, ParamValue>): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}=${value}`)
    .join(';');
}

/** One row per target x suite x metric x point; a point without numbers still gets a row, with its status. */
export function summaryRows(results: ResultsFile): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const point of results.points) {
    const base = { target: point.target, suite: point.suite, point: point.pointId, params: formatParams(point.params) };
    if (point.summaries.length === 0) {
      rows.push({ ...base, metric: '', unit: '', n: 0, mean: '', sd: '', ci95_low: '', ci95_high: '', cv: '', status: point.status, reason: point.reason ?? '' });
      continue;
    }
    for (const summary of point.summaries) {
      rows.push({
        ...base,
        metric: summary.metric,
        unit: summary.unit,
        n: summary.n,
        mean: summary.mean,
        sd: summary.sd,
        ci95_low: summary.ci95Low,
        ci95_high: summary.ci95High,
        cv: summary.cv,
        // A noisy headline makes the point noisy; each metric keeps its own verdict too.
        status: point.status === 'ok' || point.status === 'noisy' ? summary.status : point.status,
        reason: point.reason ?? '',
      });
    }
  }
  return rows;
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV with a header row of {@link SUMMARY_COLUMNS}, numbers at full precision. */
export function toCsv(rows: SummaryRow[]): string {
  const lines = [SUMMARY_COLUMNS.join(',')];
  for (const row of rows) lines.push(SUMMARY_COLUMNS.map((column) => csvField(row[column])).join(','));
  return `${lines.join('\n')}\n`;
}

function formatNumber(value: string | number): string {
  if (typeof value === 'string') return value;
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4);
}

/** A fixed-width table for the terminal (no reason column: it would wrap). */
export function toTable(rows: SummaryRow[]): string {
  const columns = ['target', 'suite', 'point', 'metric', 'unit', 'n', 'mean', 'ci95_low', 'ci95_high', 'cv', 'status'] as const;
  const cells = rows.map((row) => columns.map((column) => formatNumber(row[column])));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((line) => line[index]!.length)));
  const render = (line: readonly string[]) => line.map((cell, index) => cell.padEnd(widths[index]!)).join('  ').trimEnd();
  return `${[render(columns), render(widths.map((width) => '-'.repeat(width))), ...cells.map(render)].join('\n')}\n`;
}
