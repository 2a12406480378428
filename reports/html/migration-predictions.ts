import { errorText, type ComparedQuantity } from '../../results/migration-predictions.js';
import { predictedTrials } from '../figures/migration-predictions.js';
import type { ReportRun } from '../model/runs.js';
import { html, type SafeHtml } from './escape.js';

/**
 * The prediction-error table of issue 12: per migration trial, pre-copy rounds, total time and
 * downtime as measured and as Clark's and QEMU's models predicted them, with the relative error of
 * each; empty (nothing written) when the runs hold no migration trial.
 */
export function migrationPredictionSection(runs: readonly ReportRun[]): SafeHtml | '' {
  const trials = predictedTrials(runs, runs.length > 1);
  if (trials.length === 0) return '';
  const number = (value: number | null, digits: number) => (value === null ? '–' : value.toFixed(digits));
  const cells = (quantity: ComparedQuantity, scale: number, digits: number) => html`<td class="num">${number(quantity.measured === null ? null : quantity.measured * scale, digits)}</td><td class="num">${number(quantity.clark === null ? null : quantity.clark * scale, digits)}</td><td class="num">${errorText(quantity.clarkError)}</td><td class="num">${number(quantity.qemu === null ? null : quantity.qemu * scale, digits)}</td><td class="num">${errorText(quantity.qemuError)}</td>`;
  const computed = trials.some((trial) => trial.row.predictions === 'computed');
  return html`<section class="table-only" id="migration-prediction-error">
<h2>Migration: prediction error per trial</h2>
<p class="mirrors">Clark et al. 2005's pre-copy (dynamic rate limiting, scaled to the link) and QEMU 7.2's rule, each run on the trial's own dirty trace and limits (models/precopy/trial.ts), against what QEMU reported.</p>
<div class="chart"><table class="numbers prediction-error"><thead>
<tr><th rowspan="2">trial</th><th colspan="5">pre-copy rounds (guest running)</th><th colspan="5">total time (s)</th><th colspan="5">downtime (ms)</th></tr>
<tr>${[0, 1, 2].map(() => html`<th>measured</th><th>Clark</th><th>error</th><th>QEMU</th><th>error</th>`)}</tr>
</thead><tbody>${trials.map(
    ({ panel, row }) =>
      // The stop reasons and the trace are sentences: a row of their own under the numbers keeps the numbers' columns narrow.
      html`<tr class="trial"><td rowspan="2">${panel}</td>${cells(row.rounds, 1, 0)}${cells(row.totalMs, 1 / 1000, 1)}${cells(row.downtimeMs, 1, 0)}</tr>
<tr class="trial-notes"><td colspan="15">${row.predictions === 'none' ? `no predictions: ${row.reason}` : `stopped: Clark ${row.clarkStop}, QEMU ${row.qemuStop}${row.predictions === 'computed' ? ' (computed on read)' : ''}`}; dirty trace: ${row.trace ?? '–'}</td></tr>`,
  )}</tbody></table></div>
<ul class="notes">
<li>Error: (predicted − measured) / measured. Measured rounds: QEMU's final dirty-sync-count less its setup and completion syncs (a cancelled migration: the round it was cut in). Total time: QEMU's total-time (to the cancel when it did not converge). Downtime: QEMU's; none without a switch-over.</li>
<li>QEMU's model runs at max-bandwidth throughout, the stop-and-copy included (QEMU's own expected-downtime assumes it); QEMU lifts its rate limit for the stop-and-copy, so on this host's unix socket the measured downtime is shorter than either model's.</li>
${computed ? html`<li>Rows marked "computed on read" come from a file written before predictions were stored.</li>` : ''}
</ul>
</section>`;
}
