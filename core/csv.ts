/**
 * The one CSV writer of isobench: `npm run results -- --format csv` (results/table.ts) and the
 * report's per-figure CSV (reports/csv.ts) both write through it, so both defuse spreadsheet
 * formulas the same way. Cells come from results files, which are untrusted input: a reason or a
 * parameter such as `=HYPERLINK(…)` must open in a spreadsheet as text, never run.
 */

/** What a cell can hold: text, a number (written at full precision), or nothing (an empty cell). */
export type CsvValue = string | number | null | undefined;

/**
 * Characters that make a spreadsheet read a cell as a formula (`=`, `+`, `-`, `@`) or that some
 * spreadsheets skip before looking for one (tab, carriage return), per OWASP's CSV injection advice.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One cell: text starting with a formula character gets a leading apostrophe (shown as text by
 * spreadsheets), then RFC 4180 quoting when the text holds a quote, comma, newline or carriage
 * return. Numbers are never prefixed (-3 stays a number); null and undefined are the empty cell.
 */
export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record: the cells joined by commas, no line end. */
export function csvLine(values: readonly CsvValue[]): string {
  return values.map(csvField).join(',');
}

/**
 * A whole document: the header, then one line per record, each ended by `\n` (the last one too).
 * Header names go through {@link csvField} like any cell.
 */
export function csvDocument(header: readonly string[], records: readonly (readonly CsvValue[])[]): string {
  return [header, ...records].map((record) => `${csvLine(record)}\n`).join('');
}
