import type { TopLevelSpec } from 'vega-lite';
import type { FigureRow } from '../model/rows.js';
import type { ReportRun } from '../model/runs.js';
import type { TargetStyles } from '../model/targets.js';

/** What every figure module is built from. */
export interface FigureContext {
  runs: readonly ReportRun[];
  /** Target whose mean is 100%. */
  baseline: string;
  /** More than one results file: series are then prefixed with their run's tag to stay apart. */
  multiRun: boolean;
  /** Row order and colours of the targets, from the target registry. */
  styles: TargetStyles;
}

/** A published number placed on a figure, kept for CSV export beside the measured rows. */
export interface ReferenceRow {
  source: string;
  category: string;
  series: string;
  value: number;
  unit: string;
}

/** A built figure: the vega-lite spec plus the rows and notes that the HTML, SVG and CSV outputs share. */
export interface Figure {
  /** File-name safe; also the SVG/CSV export name. */
  id: string;
  title: string;
  /** The paper figure this one mirrors, named by its caption. */
  mirrors: string;
  spec: TopLevelSpec;
  rows: FigureRow[];
  reference: ReferenceRow[];
  /** How the numbers were made (tool, method, what to compare); shown under the figure. */
  notes: string[];
  /**
   * Marks a reader must find in the SVG, by vega-lite mark name: the browser tests count them,
   * so a row that silently disappears fails a test instead of a reader's trust.
   */
  marks: Record<string, number>;
}

/** One module per paper figure: returns null when the results hold nothing it can draw. */
export interface FigureModule {
  id: string;
  build(context: FigureContext): Figure | null;
}

/**
 * A module that draws one figure per thing the results hold several of, in order (a lab run's
 * measured hosts: `tcp-bulk-efficiency.ts`); an empty list when the results hold none. Each
 * figure's `id` must differ from every other figure's.
 */
export interface FigureFamily {
  id: string;
  buildEach(context: FigureContext): Figure[];
}

/** Every figure one module or family draws from the context, in order: zero or more. */
export function figuresOf(module: FigureModule | FigureFamily, context: FigureContext): Figure[] {
  if ('buildEach' in module) return module.buildEach(context);
  const figure = module.build(context);
  return figure ? [figure] : [];
}
