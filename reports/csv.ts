import { csvDocument, type CsvValue } from '../core/csv.js';
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
  const records: CsvValue[][] = [];
  for (const row of figure.rows) {
    records.push([
      figure.id, 'measured', row.run, row.target, row.series, row.pointId, row.category, row.metric, row.unit,
      row.method, row.status, row.reason, row.n, row.mean, row.sd, row.ci95Low, row.ci95High, row.cv,
      row.percentOfBaseline, row.warnings.join('; '),
    ]);
  }
  for (const reference of figure.reference) {
    records.push([
      figure.id, reference.source, '', '', reference.series, '', reference.category, '', reference.unit,
      '', 'published', '', '', reference.value, '', '', '', '', '', '',
    ]);
  }
  return csvDocument(COLUMNS, records);
}
