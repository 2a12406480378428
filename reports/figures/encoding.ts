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

/**
 * Where a whisker may start. A Student-t interval of a positive quantity can reach below zero with
 * few, spread samples (kvm throughput 1.03 [-1.15, 3.21] Gbit/s here): drawn as is, it pulls a linear
 * axis below zero and turns to NaN on a log axis, which emptied the latency CDF. Whiskers are cut at
 * this floor (0 on linear axes, a positive floor on log axes); tooltips and tables keep the interval
 * as computed.
 */
export function whiskerLow(row: Pick<FigureRow, 'mean' | 'ci95Low'>, floor = 0): number | null {
  if (row.ci95Low === null) return null;
  return row.mean !== null && row.mean > 0 && row.ci95Low <= floor ? floor : row.ci95Low;
}

/** The note a figure carries when some of its whiskers were cut at the floor; none when none were. */
export function clippedWhiskerNotes(rows: readonly Pick<FigureRow, 'mean' | 'ci95Low'>[], floor = 0): string[] {
  const clipped = rows.filter((row) => row.ci95Low !== null && whiskerLow(row, floor) !== row.ci95Low).length;
  if (clipped === 0) return [];
  const where = floor === 0 ? 'at 0' : 'at the log axis\' floor';
  return [`${clipped} whisker(s) whose 95 % interval reaches ${floor === 0 ? 'below 0' : 'to 0 or below'} are cut ${where}; the table gives the interval as computed (few repetitions or a wide spread).`];
}

/** A positive floor for whiskers on a log axis: half the smallest positive mean or bound drawn. */
export function logAxisFloor(rows: readonly Pick<FigureRow, 'mean' | 'ci95Low'>[]): number {
  const positive = rows.flatMap((row) => [row.mean, row.ci95Low]).filter((value): value is number => value !== null && value > 0);
  return positive.length === 0 ? 1 : Math.min(...positive) / 2;
}

/** Plotted values whose largest is more than this many times the smallest get a log axis. */
export const LOG_SPAN = 10;

/**
 * Whether positive values span more than a decade ({@link LOG_SPAN}): the test for a log axis.
 * False when fewer than two values, or any is zero, negative or not finite (a log axis cannot show them).
 */
export function spansDecade(values: readonly number[]): boolean {
  if (values.length < 2 || !values.every((value) => Number.isFinite(value) && value > 0)) return false;
  return Math.max(...values) / Math.min(...values) > LOG_SPAN;
}

/** How a figure's value axis is drawn, decided from the data ({@link valueAxis}). */
export interface ValueAxis {
  /** A log scale: the plotted means span more than a decade. */
  log: boolean;
  /** Where whiskers are cut ({@link whiskerLow}): 0 on a linear axis, {@link logAxisFloor} on a log one. */
  floor: number;
}

/** The value axis for rows: log when their means span more than a decade (see {@link spansDecade}). */
export function valueAxis(rows: readonly Pick<FigureRow, 'mean' | 'ci95Low'>[]): ValueAxis {
  const log = spansDecade(rows.flatMap((row) => (row.mean === null ? [] : [row.mean])));
  return { log, floor: log ? logAxisFloor(rows) : 0 };
}

/** An axis title with ` (log scale)` appended on a log axis. */
export function axisTitle(title: string, log: boolean): string {
  return log ? `${title} (log scale)` : title;
}

/** The note a figure on a log axis carries; none on a linear one. */
export function logScaleNotes(log: boolean, dots: boolean): string[] {
  if (!log) return [];
  return [
    `The values span more than a decade (the largest is over ${LOG_SPAN}× the smallest), so the value axis is logarithmic${dots ? '; each mean is drawn as a dot, since a bar\'s length means nothing on a log axis' : ''}.`,
  ];
}

/**
 * A colour encoding by target whose legend lists only the targets drawn with a value in this figure
 * (`drawn`, in the scale's order), while the scale still colours every target of `scale`; no legend
 * when nothing was drawn.
 */
export function targetColour(scale: { domain: string[]; range: string[] }, drawn: Iterable<string>) {
  const shown = new Set(drawn);
  const values = scale.domain.filter((target) => shown.has(target));
  return {
    field: 'target',
    type: 'nominal',
    scale,
    legend: values.length ? { title: 'target', orient: 'bottom', values } : null,
  };
}

/**
 * What vega draws for one row: numbers plus the strings the marks and tooltips show. `whiskerFloor`
 * is where a whisker reaching below it is cut (see {@link whiskerLow}).
 */
export function toDatum(row: FigureRow, baseline: string, multiRun = false, whiskerFloor = 0) {
  const low = whiskerLow(row, whiskerFloor);
  return {
    whiskerLow: low,
    whiskerClipped: low !== null && row.ci95Low !== null && low !== row.ci95Low,
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
    verdictText: row.verdict ?? '',
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
  { field: 'verdictText', title: 'verdict' },
  { field: 'status', title: 'status' },
  { field: 'reason', title: 'reason' },
  { field: 'method', title: 'method' },
];

/**
 * The widest a figure's static SVG may be, px: the page's content box at a 1300 px window (1252 px:
 * reports/html/style.ts, body max-width 1280 px less 1.5rem padding each side), less a little slack.
 */
export const FIGURE_MAX_WIDTH_PX = 1240;

/**
 * Text width as vega lays it out in Node, px. Without a canvas vega-scenegraph estimates every text
 * at 0.8 × the font size per character (`estimateWidth`), and the static SVG's width follows that
 * estimate (wider than DejaVu Sans draws it), so layouts that must fit are sized by it.
 */
export function estimatedTextWidthPx(text: string, fontSize: number): number {
  return Math.floor(0.8 * text.length * fontSize);
}

/**
 * Subtitle lines broken at spaces so that none is estimated wider than `maxPx`
 * ({@link estimatedTextWidthPx}): a subtitle sets its figure's width, and one long line pushed a
 * figure past the page. A word longer than the line stays whole on a line of its own.
 */
export function wrapSubtitle(lines: readonly string[], maxPx: number, fontSize: number = BASE_CONFIG.title.subtitleFontSize): string[] {
  return lines.flatMap((line) => {
    const wrapped: string[] = [];
    let current = '';
    for (const word of line.split(' ')) {
      const candidate = current === '' ? word : `${current} ${word}`;
      if (current !== '' && estimatedTextWidthPx(candidate, fontSize) > maxPx) {
        wrapped.push(current);
        current = word;
      } else {
        current = candidate;
      }
    }
    return [...wrapped, current];
  });
}

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
