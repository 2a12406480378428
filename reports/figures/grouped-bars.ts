import type { TopLevelSpec } from 'vega-lite';
import { formatPercent } from '../model/format.js';
import { measured, unmeasured, type FigureRow } from '../model/rows.js';
import type { PaperFigureData } from '../reference/papers.js';
import { PAPER_ROWS } from '../reference/papers.js';
import {
  axisTitle,
  BASE_CONFIG,
  clippedWhiskerNotes,
  colourScale,
  INDEPENDENT_PANELS,
  IS_GAP,
  IS_MEASURED,
  logScaleNotes,
  spansDecade,
  targetColour,
  toDatum,
  TOOLTIP,
  uniqueInOrder,
  valueAxis,
} from './encoding.js';
import type { ReferenceRow } from './figure.js';
import type { TargetStyles } from '../model/targets.js';

/** Input of {@link groupedBars}. */
export interface GroupedBarsInput {
  title: string;
  subtitle: string[];
  rows: FigureRow[];
  baseline: string;
  /** Axis title with its unit, e.g. `Throughput (Gbit/s)`. */
  valueTitle: string;
  /** Axis order of the categories (point labels); categories not listed follow in data order. */
  categoryOrder: string[];
  /** Published values to draw in a separate panel. */
  reference?: PaperFigureData;
  /** Row order and colours of the targets. */
  styles: TargetStyles;
  /** Where the measured panel's numbers come from; `this host` unless given (a lab host: `host sut`). */
  measuredOn?: string;
}

/** The spec plus what the CSV export and the browser tests need from it (the same-named fields of Figure). */
export interface GroupedBars {
  spec: TopLevelSpec;
  reference: ReferenceRow[];
  marks: Record<string, number>;
  /** What the reader must know about the drawing: a log axis, whiskers cut at the axis floor. */
  notes: string[];
}

/** Height of a bar panel's plot, px. */
const PLOT_HEIGHT_PX = 260;

/**
 * The papers' bar charts: one group per point, one bar per target (and run), each with its 95% CI,
 * its % of the baseline above it, and the points that produced no number drawn as labelled gaps.
 * When the means span more than a decade the value axis is logarithmic and each mean a dot
 * (whiskers cut at the axis floor). The published values sit in a separate panel on their own
 * scale: same shapes, 2014 hardware.
 */
export function groupedBars(input: GroupedBarsInput): GroupedBars {
  const multiRun = new Set(input.rows.map((row) => row.run)).size > 1;
  const axis = valueAxis(input.rows);
  const data = input.rows.map((row) => toDatum(row, input.baseline, multiRun, axis.floor));
  const seriesOrder = uniqueInOrder(input.rows.map((row) => row.series));
  const referenceData = input.reference ? paperData(input.reference) : [];
  const colours = colourScale([...input.rows.map((row) => row.target), ...referenceData.map((row) => row.target)], input.styles);
  const categories = uniqueInOrder([...input.categoryOrder, ...input.rows.map((row) => row.category)]).filter(
    (category) => input.rows.some((row) => row.category === category),
  );
  const colour = targetColour(colours, measured(input.rows).map((row) => row.target));
  const valueMark = axis.log
    ? { type: 'point', filled: true, size: 80, shape: 'diamond', stroke: '#333', strokeWidth: 0.5 }
    : { type: 'bar', stroke: '#333', strokeWidth: 0.5 };

  // With no point measured there is no value to scale: a gap placed at a value (0) made a lone
  // `0.000000` tick mid-plot with the labels running out of the frame. The gaps then sit on the
  // frame's floor by pixel and no value axis is drawn.
  const anyMeasured = measured(input.rows).length > 0;
  const { width, x: xAxis } = categoryLayout(categories, seriesOrder.length, 26, { labelFontWeight: 'bold' });
  const measuredLayers = [
    {
      name: 'value',
      transform: [{ filter: IS_MEASURED }],
      mark: valueMark,
      encoding: {
        y: { field: 'mean', type: 'quantitative', title: axisTitle(input.valueTitle, axis.log), ...(axis.log ? { scale: { type: 'log' } } : {}) },
        opacity: { condition: { test: "datum.status === 'noisy'", value: 0.45 }, value: 1 },
        strokeDash: { condition: { test: 'datum.emulated', value: [3, 2] }, value: [1, 0] },
        tooltip: TOOLTIP,
      },
    },
    {
      name: 'ci',
      transform: [{ filter: IS_MEASURED }],
      mark: { type: 'rule', color: '#111', strokeWidth: 1.2 },
      encoding: { y: { field: 'whiskerLow', type: 'quantitative' }, y2: { field: 'ci95High' }, tooltip: TOOLTIP },
    },
    {
      name: 'label',
      transform: [{ filter: IS_MEASURED }],
      mark: { type: 'text', angle: 270, align: 'left', baseline: 'middle', dx: 4, fontSize: 9, color: '#222' },
      encoding: { y: { field: 'labelY', type: 'quantitative' }, text: { field: 'barLabel' } },
    },
  ];
  const gapLayer = {
    name: 'gap',
    transform: [{ filter: IS_GAP }],
    mark: { type: 'text', angle: 270, align: 'left', baseline: 'middle', dx: 4, fontSize: 9, color: '#b00020' },
    encoding: { y: anyMeasured ? { datum: axis.floor, type: 'quantitative' } : { value: PLOT_HEIGHT_PX }, text: { field: 'gapLabel' }, color: { value: '#b00020' }, tooltip: TOOLTIP },
  };
  const measuredView = {
    title: { text: `measured (${input.measuredOn ?? 'this host'})${anyMeasured ? '' : ': no samples'}`, fontSize: 12 },
    data: { values: data },
    width,
    height: PLOT_HEIGHT_PX,
    encoding: {
      x: xAxis,
      xOffset: { field: 'series', type: 'nominal', sort: seriesOrder },
      color: colour,
    },
    layer: [
      // Without a measured point these layers draw nothing, but their value encodings would still make an axis.
      ...(anyMeasured ? measuredLayers : []),
      gapLayer,
    ],
  };

  const views: unknown[] = [measuredView];
  if (input.reference) views.push(paperView(input.reference, referenceData, colour, categories));

  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: input.title, subtitle: input.subtitle },
    config: BASE_CONFIG,
    hconcat: views,
    resolve: INDEPENDENT_PANELS,
  } as unknown as TopLevelSpec;

  return {
    spec,
    reference: referenceData.map((row) => ({
      source: input.reference?.paper.citation ?? '',
      category: row.category,
      series: row.series,
      value: row.value,
      unit: input.reference?.unit ?? '',
    })),
    marks: {
      value: measured(input.rows).length,
      ci: measured(input.rows).length,
      gap: unmeasured(input.rows).length,
      ...(input.reference ? { paper: referenceData.length } : {}),
    },
    notes: [
      ...(anyMeasured ? [] : ['No point of this figure has a sample (each label says why), so no value axis is drawn.']),
      ...logScaleNotes(axis.log, true),
      ...clippedWhiskerNotes(input.rows, axis.floor),
    ],
  };
}

/**
 * The published values as vega data: the paper's row label, the colour of the matching isobench
 * target, and % of the paper's own native value in the same category (`base` for native itself).
 */
export function paperData(reference: PaperFigureData) {
  return reference.values.map((value) => {
    const row = PAPER_ROWS[value.row];
    const native = reference.values.find((other) => other.category === value.category && other.row === 'native');
    const percent = native && value.row !== 'native' ? formatPercent((value.value / native.value) * 100) : value.row === 'native' ? 'base' : '';
    return {
      category: value.category,
      series: row.label,
      target: row.colourOf,
      value: value.value,
      label: percent,
      text: `${row.label}  ${percent}`,
      valueText: `${value.value} ${reference.unit}`,
    };
  });
}

/** The published numbers as their own bar panel, on their own scale and clearly titled. */
export function paperView(
  reference: PaperFigureData,
  data: ReturnType<typeof paperData>,
  colour: Record<string, unknown>,
  measuredCategories: string[],
) {
  const categories = uniqueInOrder([
    ...measuredCategories.filter((category) => data.some((row) => row.category === category)),
    ...data.map((row) => row.category),
  ]);
  const log = spansDecade(data.map((row) => row.value));
  const series = uniqueInOrder(data.map((row) => row.series));
  const { width, x } = categoryLayout(categories, series.length, 20, {});
  return {
    title: { text: 'published: Felter et al. 2014 (2014 hardware)', fontSize: 12, color: '#555' },
    data: { values: data },
    width,
    height: 260,
    encoding: {
      x,
      xOffset: { field: 'series', type: 'nominal', sort: series },
      color: colour,
    },
    layer: [
      {
        name: 'paper',
        mark: log
          ? { type: 'point', filled: true, size: 70, shape: 'diamond', opacity: 0.7, stroke: '#555', strokeWidth: 0.5 }
          : { type: 'bar', opacity: 0.55, stroke: '#555', strokeWidth: 0.5 },
        encoding: {
          y: { field: 'value', type: 'quantitative', title: axisTitle(`published (${reference.unit})`, log), ...(log ? { scale: { type: 'log' } } : {}) },
          tooltip: [
            { field: 'series', title: 'paper configuration' },
            { field: 'category', title: 'point' },
            { field: 'valueText', title: 'published value' },
            { field: 'label', title: 'vs native' },
          ],
        },
      },
      {
        name: 'paper_label',
        mark: { type: 'text', angle: 270, align: 'left', baseline: 'middle', dx: 4, fontSize: 9, color: '#555' },
        encoding: {
          y: { field: 'value', type: 'quantitative' },
          text: { field: 'text' },
        },
      },
    ],
  };
}

/** Wide enough bars that a group is at least as wide as its category label (about 6 px a character). */
/** Above this plot width (px) the category labels are tilted instead of widening the bars to fit them flat. */
export const MAX_FLAT_PLOT_WIDTH_PX = 900;

/**
 * The view's width (a step per series bar) and its category axis. Flat labels need a group as wide
 * as the longest label (about 6 px a character at the axis font); when that would make the plot wider
 * than MAX_FLAT_PLOT_WIDTH_PX (a newcomer saw nine migration points, 34-character ids, scroll past a
 * 1300 px window), the bars keep their minimum step and the labels are tilted to fit under them.
 */
export function categoryLayout(categories: readonly string[], seriesCount: number, minimum: number, axisStyle: Record<string, unknown>) {
  const longest = Math.max(0, ...categories.map((category) => category.length));
  const flatStep = Math.max(minimum, Math.ceil((longest * 6 + 8) / Math.max(1, seriesCount)));
  const tilted = flatStep * Math.max(1, seriesCount) * categories.length > MAX_FLAT_PLOT_WIDTH_PX;
  const axis = tilted ? { ...axisStyle, labelAngle: -35, labelAlign: 'right', labelLimit: 0 } : { ...axisStyle, labelAngle: 0 };
  return {
    width: { step: tilted ? minimum : flatStep, for: 'offset' },
    x: { field: 'category', type: 'nominal', sort: [...categories], title: null, axis },
  };
}
