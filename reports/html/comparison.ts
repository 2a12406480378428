import type { Figure } from '../figures/figure.js';
import { formatNumber } from '../model/format.js';
import type { FigureRow } from '../model/rows.js';
import type { ReportRun } from '../model/runs.js';
import { html, type SafeHtml } from './escape.js';

/** One row measured in both runs: the change of its mean, in % of the earlier mean. */
export interface Change {
  figure: string;
  target: string;
  category: string;
  metric: string;
  unit: string;
  before: FigureRow;
  after: FigureRow;
  changePercent: number;
  /**
   * The two 95% CIs do not overlap: a conservative test, so "no" means "could be noise". null when
   * either side has fewer than two repetitions: one repetition has no CI to compare.
   */
  beyondNoise: boolean | null;
}

/** Each later run against the first, row by row, for every measured row the two share. */
export function compareRuns(figures: readonly Figure[], before: ReportRun, after: ReportRun): Change[] {
  const changes: Change[] = [];
  for (const figure of figures) {
    for (const old of figure.rows) {
      if (old.run !== before.label || old.mean === null || old.mean === 0) continue;
      const now = figure.rows.find(
        (row) => row.run === after.label && row.target === old.target && row.pointId === old.pointId && row.metric === old.metric,
      );
      if (!now || now.mean === null) continue;
      changes.push({
        figure: figure.title,
        target: old.target,
        category: old.category,
        metric: old.metric,
        unit: old.unit,
        before: old,
        after: now,
        changePercent: ((now.mean - old.mean) / Math.abs(old.mean)) * 100,
        beyondNoise: old.n < 2 || now.n < 2 ? null : ciSeparated(old, now),
      });
    }
  }
  return changes;
}

function ciSeparated(old: FigureRow, now: FigureRow): boolean {
  const [oldLow, oldHigh, nowLow, nowHigh] = [old.ci95Low, old.ci95High, now.ci95Low, now.ci95High];
  if (oldLow === null || oldHigh === null || nowLow === null || nowHigh === null) return false;
  return nowLow > oldHigh || nowHigh < oldLow;
}

/** The page's before/after section: one table per later run against the first; empty with a single run. */
export function comparisonSection(figures: readonly Figure[], runs: readonly ReportRun[]): SafeHtml {
  const [before, ...later] = runs;
  if (!before || later.length === 0) return html``;
  return html`<section id="before-after"><h2>Before / after</h2>
<p class="note">Each later run against the first (${before.label}). "Beyond noise" means the two 95% confidence intervals do not overlap; an overlap does not prove there is no change.</p>
${later.map((after) => changeTable(compareRuns(figures, before, after), before, after))}</section>`;
}

function changeTable(changes: Change[], before: ReportRun, after: ReportRun): SafeHtml {
  return html`<h3>${before.label} → ${after.label}</h3>
<table class="changes"><thead><tr><th>figure</th><th>target</th><th>point</th><th>metric</th><th>before (95% CI)</th><th>after (95% CI)</th><th>change</th><th>beyond noise</th></tr></thead><tbody>${changes.map(
    (change) =>
      html`<tr class="${change.beyondNoise ? 'significant' : ''}"><td>${change.figure}</td><td>${change.target}</td><td>${change.category}</td><td>${change.metric}</td><td>${withCi(change.before)}</td><td>${withCi(change.after)}</td><td>${signed(change.changePercent)}</td><td>${change.beyondNoise === null ? 'unknown (n < 2)' : change.beyondNoise ? 'yes' : 'no'}</td></tr>`,
  )}</tbody></table>`;
}

function signed(percent: number): string {
  return `${percent >= 0 ? '+' : '−'}${Math.abs(percent).toFixed(1)}%`;
}

function withCi(row: FigureRow): string {
  if (row.mean === null) return row.status;
  const ci = row.ci95Low === null || row.ci95High === null ? '' : ` (${formatNumber(row.ci95Low)} – ${formatNumber(row.ci95High)})`;
  return `${formatNumber(row.mean)} ${row.unit}${ci}`;
}
