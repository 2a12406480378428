import { collectRows, hasBaselinePercent, type RowQuery } from '../model/rows.js';
import type { PaperFigureData } from '../reference/papers.js';
import type { Figure, FigureContext, FigureModule } from './figure.js';
import { groupedBars } from './grouped-bars.js';

/** The declarative shape of a bar figure: which points and metric, how to name them, which paper numbers. */
export interface BarFigureDefinition {
  id: string;
  title: string;
  mirrors: string;
  suite: string;
  metric: string;
  /** Point ids in axis order, with the label the paper used for each; empty for every point of the suite. */
  points: Record<string, string>;
  valueTitle: (unit: string) => string;
  defaultUnit: string;
  notes: string[];
  reference?: PaperFigureData;
  /** Where the measured panel's numbers come from (GroupedBarsInput.measuredOn); `this host` when absent. */
  measuredOn?: string;
}

/** A figure module for grouped bars with CI whiskers and % of baseline labels, from a declaration. */
export function barFigure(definition: BarFigureDefinition): FigureModule {
  return {
    id: definition.id,
    build: (context) => buildBarFigure(definition, context),
  };
}

function buildBarFigure(definition: BarFigureDefinition, context: FigureContext): Figure | null {
  const pointIds = Object.keys(definition.points);
  const query: RowQuery = {
    suite: definition.suite,
    metric: definition.metric,
    ...(pointIds.length ? { pointIds } : {}),
    categoryOf: (point) => definition.points[point.pointId] ?? point.pointId,
  };
  const rows = collectRows(context.runs, query, { baseline: context.baseline, multiRun: context.multiRun, styles: context.styles });
  if (rows.length === 0) return null;
  const unit = rows.find((row) => row.unit)?.unit ?? definition.defaultUnit;
  const measuredOn = definition.measuredOn ?? labHostsOf(context);
  const bars = groupedBars({
    title: definition.title,
    // "% of kvm" only when some bar is one: a native-only run in a report judged against kvm has none.
    subtitle: [`mirrors ${definition.mirrors}`, `bars: mean; whiskers: 95% confidence interval${hasBaselinePercent(rows) ? `; labels: % of ${context.baseline}` : ''}`],
    rows,
    baseline: context.baseline,
    valueTitle: definition.valueTitle(unit),
    categoryOrder: Object.values(definition.points),
    styles: context.styles,
    ...(definition.reference ? { reference: definition.reference } : {}),
    ...(measuredOn ? { measuredOn } : {}),
  });
  return {
    id: definition.id,
    title: definition.title,
    mirrors: definition.mirrors,
    spec: bars.spec,
    rows,
    reference: bars.reference,
    notes: [...definition.notes, ...methodNotes(rows), ...bars.notes],
    marks: bars.marks,
  };
}

/** `lab hosts sut, peer` for runs whose file records lab hosts (lab mode: not this host), else null. */
function labHostsOf(context: FigureContext): string | null {
  const names = [...new Set(context.runs.flatMap((run) => run.file.hosts?.map((host) => host.name) ?? []))];
  return names.length > 0 ? `lab hosts ${names.join(', ')}` : null;
}

/** The method each number came from, named once per figure (e.g. `proc-stat`). */
function methodNotes(rows: Figure['rows']): string[] {
  const methods = [...new Set(rows.map((row) => row.method).filter((method): method is string => Boolean(method)))];
  return methods.length ? [`method as recorded in the results: ${methods.join('; ')}`] : [];
}
