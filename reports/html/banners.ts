import type { FigureRow } from '../model/rows.js';
import type { ReportRun } from '../model/runs.js';
import { describeTarget } from '../model/targets.js';
import { html, type SafeHtml } from './escape.js';

/**
 * One line per series that did not run as its name promises (TCG, no vhost, ...), then one per
 * series and point whose stored measurements qualify it (FigureRow.caveat).
 */
export function figureBanner(rows: readonly FigureRow[]): SafeHtml {
  return html`${degradedBanner(rows)}${caveatBanner(rows)}`;
}

function caveatBanner(rows: readonly FigureRow[]): SafeHtml {
  const lines = new Map<string, string>();
  for (const row of rows) if (row.caveat !== null) lines.set(`${row.series} · ${row.category}`, row.caveat);
  if (lines.size === 0) return html``;
  return html`<div class="banner caveat" role="note">
  <strong>Caveats measured in these rows.</strong>
  <ul>${[...lines].map(([where, caveat]) => html`<li><b>${where}</b>: ${caveat}</li>`)}</ul>
</div>`;
}

function degradedBanner(rows: readonly FigureRow[]): SafeHtml {
  const lines = new Map<string, string[]>();
  for (const row of rows) if (row.warnings.length) lines.set(row.series, row.warnings);
  if (lines.size === 0) return html``;
  const emulated = rows.some((row) => row.emulated);
  return html`<div class="banner degraded" role="alert">
  <strong>Degraded rows in this figure.</strong>
  <ul>${[...lines].map(([series, warnings]) => html`<li><b>${series}</b>: ${warnings.join('; ')}</li>`)}</ul>
  ${emulated ? html`<p>Emulated (TCG) rows measure QEMU's instruction emulator, not hardware virtualization: they are drawn dashed and labelled TCG, and their overhead is not the cost of KVM.</p>` : ''}
</div>`;
}

/** Above everything: runs that did not complete, and every degraded target of every run. */
export function pageBanners(runs: readonly ReportRun[]): SafeHtml {
  const incomplete = runs.filter((run) => run.file.status !== 'completed');
  const degraded = runs.flatMap((run) =>
    run.file.targets
      .map((facts) => ({ run, description: describeTarget(run.file, facts.target) }))
      .filter(({ description }) => description.warnings.length > 0),
  );
  return html`${incomplete.map(
    (run) =>
      html`<div class="banner incomplete" role="alert"><strong>Run ${run.label} is ${run.file.status}</strong>${run.file.reason ? html`: ${run.file.reason}` : ''}. Its figures show what it measured before it stopped.</div>`,
  )}${
    degraded.length
      ? html`<div class="banner degraded" role="alert"><strong>Degraded targets:</strong><ul>${degraded.map(
          ({ run, description }) =>
            html`<li><b>${description.display}</b>${runs.length > 1 ? html` (run ${run.label})` : ''}: ${description.warnings.join('; ')}</li>`,
        )}</ul></div>`
      : ''
  }`;
}
