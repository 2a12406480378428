import {
  describeDecision,
  describeSweep,
  formatP,
  type BeforeAfter,
  type PointDecision,
  type SweepComparison,
} from '../../results/before-after.js';
import { formatNumber } from '../model/format.js';
import { html, type SafeHtml } from './escape.js';

/*
 * The before/after section of the report page (results/before-after.ts decides; this only shows).
 * Colour is never the only signal: every row and sweep also says its decision in words.
 */

/** CSS class of a point's row or a sweep's verdict: `ba-better`, `ba-worse`, `ba-unchanged`, `ba-not-comparable`, `ba-mixed`. */
function decisionClass(decision: PointDecision): string {
  if (decision.decision === 'changed') return `ba-${decision.change}`;
  return `ba-${decision.decision}`;
}

function sweepClass(sweep: SweepComparison): string {
  const { verdict } = sweep;
  switch (verdict.verdict) {
    case 'holds':
      return `ba-${verdict.change}`;
    case 'some-points':
      return 'ba-mixed';
    case 'no-change':
      return 'ba-unchanged';
    case 'not-comparable':
      return 'ba-not-comparable';
  }
}

/**
 * The page section for a before/after comparison: the rule, a warning when the hosts differ, then
 * per target × suite its sweep verdict and one row per point (before mean, after mean, ratio, p,
 * decision). Every string from the files is escaped by {@link html}.
 * @param labels How the page names the two runs, e.g. `#1 2026-11-25 10:00`.
 */
export function beforeAfterSection(result: BeforeAfter, labels: { before: string; after: string }): SafeHtml {
  const floor =
    result.noiseFloorPercent !== null && result.noiseFloorPercent > result.marginPercent
      ? `the noise floor ${result.noiseFloorPercent} % (the margin is ${result.marginPercent} %)`
      : `the margin ${result.marginPercent} %`;
  return html`<section id="before-after"><h2>Before / after</h2>
<p>BEFORE = ${labels.before} (${result.before.runId}), AFTER = ${labels.after} (${result.after.runId}).</p>
<p class="note">A point is <b>changed</b> only when a two-sided permutation test on the raw per-trial samples of its headline metric gives p &lt; ${result.significance} (${result.permutations.toLocaleString('en-US')} seeded relabellings, seed ${result.seed}) <b>and</b> the means differ by more than ${floor}, the AFTER run's setting. A sweep's change <b>holds</b> when every changed point moved the same way and at least half of its comparable points changed. Ratio = mean after / mean before.</p>
${hostWarning(result)}
${result.sweeps.map(sweepTable)}</section>`;
}

function hostWarning(result: BeforeAfter): SafeHtml {
  if (result.hostDifferences.length === 0) return html``;
  return html`<div class="banner degraded"><p><b>The two runs measured different hosts</b>: a change below may come from the host as much as from what you changed.</p><ul>${result.hostDifferences.map(
    (difference) => html`<li>${difference.field}: ${difference.before} → ${difference.after}</li>`,
  )}</ul></div>`;
}

function sweepTable(sweep: SweepComparison): SafeHtml {
  return html`<h3>${sweep.target} · ${sweep.suite}: <span class="ba-verdict ${sweepClass(sweep)}">${describeSweep(sweep)}</span></h3>
<table class="before-after"><thead><tr><th>point</th><th>metric</th><th>before mean (n)</th><th>after mean (n)</th><th>ratio</th><th>p</th><th>decision</th></tr></thead><tbody>${sweep.points.map(
    (point) => {
      const { decision } = point;
      const tested = decision.decision === 'not-comparable' ? null : decision;
      const unit = decision.unit ?? '';
      return html`<tr class="${decisionClass(decision)}"><td>${point.pointId}</td><td>${decision.metric ?? '–'}</td><td class="num">${side(decision.before, unit)}</td><td class="num">${side(decision.after, unit)}</td><td class="num">${tested ? tested.ratio.toFixed(3) : '–'}</td><td class="num">${tested ? formatP(tested.pValue) : '–'}</td><td>${describeDecision(decision)}</td></tr>`;
    },
  )}</tbody></table>`;
}

function side(summary: { n: number; mean: number | null }, unit: string): string {
  return summary.mean === null ? `– (${summary.n})` : `${formatNumber(summary.mean)} ${unit} (${summary.n})`;
}
