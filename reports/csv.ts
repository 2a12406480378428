import type { Figure } from './figures/figure.js';

const COLUMNS = [
  'figure', 'source', 'run', 'target', 'series', 'point', 'category', 'metric', 'unit', 'method',
  'status', 'reason', 'n', 'mean', 'sd', 'ci95_low', 'ci95_high', 'cv', 'percent_of_baseline', 'warnings',
] as const;

/**
 * A figure's data for papers and slides: every measured row, the gaps, and the published values
 * (source = the paper), so a spreadsheet can redraw the figure without the results files.
 */
export function figureCsv(figure: Figure): string {
  const lines = [COLUMNS.join(',')];
  for (const row of figure.rows) {
    lines.push(
      csvLine([
        figure.id, 'measured', row.run, row.target, row.series, row.pointId, row.category, row.metric, row.unit,
        row.method, row.status, row.reason, row.n, row.mean, row.sd, row.ci95Low, row.ci95High, row.cv,
        row.percentOfBaseline, row.warnings.join('; '),
      ]),
    );
  }
  for (const reference of figure.reference) {
    lines.push(
      csvLine([
        figure.id, reference.source, '', '', reference.series, '', reference.category, '', reference.unit,
        '', 'published', '', '', reference.value, '', '', '', '', '', '',
      ]),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** What a cell can hold; anything else would print as `[object Object]`. */
type CsvValue = string | number | null | undefined;

function csvLine(values: readonly CsvValue[]): string {
  return values.map(csvField).join(',');
}

/**
 * RFC 4180 quoting, plus a leading apostrophe on text that a spreadsheet would run as a formula
 * (= + - @): the text comes from untrusted results files.
 */
function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
