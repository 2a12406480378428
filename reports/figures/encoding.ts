import { formatNumber, formatPercent } from '../model/format.js';
import type { FigureRow } from '../model/rows.js';
import type { TargetStyles } from '../model/targets.js';

/** Shared pieces of the figures' vega-lite specs: data shaping, colours, tooltips. */

/** A vega colour scale over the targets present, in the report's row order and colours. */
export function colourScale(targets: Iterable<string>, styles: TargetStyles): { domain: string[]; range: string[] } {
  const domain = [...new Set(targets)].sort(styles.compare);
  return { domain, range: domain.map((target) => styles.colour(target)) };
}

/** Distinct values in first-seen order, for axis and legend orders that follow the data. */
export function uniqueInOrder(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** What vega draws for one row: numbers plus the strings the marks and tooltips show. */
export function toDatum(row: FigureRow, baseline: string, multiRun = false) {
  return {
    category: row.category,
    series: row.series,
    target: row.target,
    run: row.run,
    pointId: row.pointId,
    mean: row.mean,
    ci95Low: row.ci95Low,
    ci95High: row.ci95High,
    labelY: row.ci95High ?? row.mean,
    n: row.n,
    cvPercent: row.cv === null ? null : Number((row.cv * 100).toFixed(1)),
    status: row.status,
    reason: row.reason ?? '',
    method: row.method ?? '',
    unit: row.unit,
    emulated: row.emulated,
    valueText: row.mean === null ? '' : `${formatNumber(row.mean)} ${row.unit}`,
    ciText: row.ci95Low === null || row.ci95High === null ? '' : `${formatNumber(row.ci95Low)} – ${formatNumber(row.ci95High)}`,
    percentText: percentText(row, baseline),
    barLabel: multiRun ? `${row.runTag} · ${barLabel(row, baseline)}` : barLabel(row, baseline),
    gapLabel: row.mean === null ? gapLabel(row) : '',
  };
}

function percentText(row: FigureRow, baseline: string): string {
  if (row.target === baseline) return 'baseline';
  return row.percentOfBaseline === null ? '' : `${formatPercent(row.percentOfBaseline)} of ${baseline}`;
}

/** The label above a bar: % of baseline, and the verdict when the point is not clean. */
function barLabel(row: FigureRow, baseline: string): string {
  const percent =
    row.target === baseline ? 'base' : row.percentOfBaseline === null ? '' : formatPercent(row.percentOfBaseline);
  // A bar without a whisker must say why: one repetition has no confidence interval.
  const flags = [row.status === 'noisy' ? 'noisy' : '', row.emulated ? 'TCG' : '', row.n < 2 ? `n=${row.n}, no CI` : ''].filter(Boolean);
  return [percent, ...flags].filter(Boolean).join(' · ');
}

function gapLabel(row: FigureRow): string {
  const reason = row.reason ? `: ${row.reason}` : '';
  const text = `${row.status.toUpperCase()}${reason}`;
  return text.length > 48 ? `${text.slice(0, 47)}…` : text;
}

/** Tooltip fields of every mark, reading the strings {@link toDatum} prepares. */
export const TOOLTIP = [
  { field: 'series', title: 'target' },
  { field: 'category', title: 'point' },
  { field: 'valueText', title: 'mean' },
  { field: 'ciText', title: '95% CI' },
  { field: 'n', title: 'n' },
  { field: 'cvPercent', title: 'CV %' },
  { field: 'percentText', title: 'vs baseline' },
  { field: 'status', title: 'status' },
  { field: 'reason', title: 'reason' },
  { field: 'method', title: 'method' },
];

/** vega-lite `config` shared by all figures; the fonts are those the CI installs (fonts-dejavu-core), so SVGs render the same. */
export const BASE_CONFIG = {
  font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal' },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 320 },
  title: { fontSize: 14, subtitleFontSize: 11, subtitleColor: '#444', anchor: 'start' },
  header: { labelFontSize: 11, titleFontSize: 11 },
} as const;

/**
 * Measured and published panels share colours (a target looks the same in both) but nothing
 * positional: the paper's axis is 2014 hardware, and its rows are not this run's rows.
 */
export const INDEPENDENT_PANELS = {
  scale: { color: 'shared', x: 'independent', y: 'independent', xOffset: 'independent' },
  axis: { x: 'independent', y: 'independent' },
} as const;

/** vega filter expression: the datum has a mean to draw. */
export const IS_MEASURED = 'isValid(datum.mean)';
/** vega filter expression: the point has no mean (failed, skipped...), so it is listed as a gap. */
export const IS_GAP = '!isValid(datum.mean)';

/**
 * Points without a number, as a list of labels inside the plot: on a line chart
 * there is no bar slot to leave empty, and a failed point must still be seen.
 */
export function gapListLayer(width: number, height: number) {
  // Bottom right: the emptiest corner of a CDF (slow and rare) and of a throughput curve.
  return {
    name: 'gap',
    transform: [{ filter: IS_GAP }, { window: [{ op: 'row_number', as: 'gapIndex' }] }, { calculate: `${height - 2} - 13 * datum.gapIndex`, as: 'gapY' }],
    mark: { type: 'text', align: 'right', baseline: 'bottom', fontSize: 10, color: '#b00020' },
    encoding: {
      x: { value: width - 6 },
      y: { field: 'gapY', type: 'quantitative', scale: null },
      text: { field: 'gapText' },
      color: { value: '#b00020' },
      tooltip: TOOLTIP,
    },
  };
}

/** The label of a gap in {@link gapListLayer}: `series @ category: STATUS: reason`. */
export function gapText(datum: { series: string; category: string; gapLabel: string }): string {
  return `${datum.series} @ ${datum.category}: ${datum.gapLabel}`;
}
