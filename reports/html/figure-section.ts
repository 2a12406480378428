import type { Figure } from '../figures/figure.js';
import { formatNumber, formatPercent } from '../model/format.js';
import { hasBaselinePercent, type FigureRow } from '../model/rows.js';
import type { ReportRun } from '../model/runs.js';
import { benchCommandWords, sourceName } from '../model/source.js';
import type { RenderedFigure } from '../render.js';
import { figureBanner } from './banners.js';
import { html, jsonForScriptElement, trusted, type SafeHtml } from './escape.js';

/**
 * One figure: the static SVG (the figure itself, readable with JavaScript off), what it mirrors,
 * its banner, how to reproduce it (the command and the results file's sha256 of every run it draws),
 * the points that need attention in words, its numbers as a table, and its specs.
 * @param runs Every run of the report; those with rows in the figure are named under it.
 */
export function figureSection(figure: Figure, rendered: RenderedFigure, baseline: string, runs: readonly ReportRun[] = []): SafeHtml {
  const attention = figure.rows.filter((row) => row.status !== 'ok');
  return html`<section class="figure" id="figure-${figure.id}" data-figure="${figure.id}">
<h2>${figure.title}</h2>
<p class="mirrors">Mirrors ${figure.mirrors}.</p>
${figureBanner(figure.rows)}
<div class="chart"><div class="static">${trusted(rendered.svg)}</div></div>
<div class="controls"></div>
${provenance(runs.filter((run) => figure.rows.some((row) => row.run === run.label)), runs.length > 1)}
<ul class="notes">${figure.notes.map((note) => html`<li>${note}</li>`)}</ul>
${attention.length ? attentionList(attention) : ''}
<details class="numbers"><summary>Numbers (${figure.rows.length} rows)</summary>${numbersTable(figure.rows, baseline)}</details>
<script type="application/json" class="vega-spec">${trusted(jsonForScriptElement(rendered.vegaSpec))}</script>
<script type="application/json" class="vega-lite-spec">${trusted(jsonForScriptElement(figure.spec))}</script>
</section>`;
}

/**
 * Under each figure, per run it draws: the exact command that made the run (shell-quoted, ready to
 * paste), and the results file's name and sha256, so a reader can rerun it and check the numbers
 * came from the file they hold.
 */
function provenance(runs: readonly ReportRun[], multiRun: boolean): SafeHtml {
  return html`<div class="provenance">${runs.map((run) => {
    const words = benchCommandWords(run.file, run.source);
    const tag = multiRun ? html`${run.tag}: ` : '';
    // One span per argument: the line wraps between arguments, never inside one (reports/html/style.ts).
    const command = words?.map((word, index) => html`${index ? ' ' : ''}<span class="arg">${word}</span>`);
    return html`<p>${tag}Reproduce: ${command === undefined ? html`command not recorded (results file version 1)` : html`<code class="command">${command}</code>`}<br>${
      run.source
        ? html`Results file <code title="${run.source.path}">${sourceName(run.source)}</code>, sha256 <code class="sha256">${run.source.sha256}</code>`
        : html`Results file of run <code>${run.file.runId}</code>: sha256 not computed here (this report was written without reading the file; <code>npm run report -- FILE</code> adds it)`
    }</p>`;
  })}</div>`;
}

/**
 * Unclean points, one line per target and status (a noisy fio latency run marks all 17 of its
 * percentiles noisy: one line, not 17; a target noisy on three points with three different CVs: one
 * line), its reason when the points share one, with every point and its own reason folded underneath.
 */
function attentionList(rows: FigureRow[]): SafeHtml {
  const groups = new Map<string, FigureRow[]>();
  for (const row of rows) {
    const key = JSON.stringify([row.series, row.status]);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const lines = [...groups.values()].map((group) => {
    const first = group[0]!;
    const reasons = [...new Set(group.map((row) => row.reason ?? ''))];
    const categories = [...new Set(group.map((row) => row.category))];
    const points =
      group.length === 1
        ? html`${first.category}${first.metric ? html` · ${first.metric}` : ''}`
        : html`${group.length} points${categories.length > 1 && categories.length <= 6 ? html` (${categories.join(', ')})` : ''}`;
    const reason = reasons.length === 1 ? (reasons[0] ? html` — ${reasons[0]}` : '') : html` — ${reasons.length} different reasons, each below`;
    return html`<li class="status-${first.status}"><b>${first.series}</b> · ${points}: <span class="status">${first.status}</span>${reason}</li>`;
  });
  const details = rows.map(
    (row) => html`<li class="status-${row.status}"><b>${row.series}</b> · ${row.category}${row.metric ? html` · ${row.metric}` : ''}: <span class="status">${row.status}</span>${row.reason ? html` — ${row.reason}` : ''}</li>`,
  );
  const folded = groups.size < rows.length ? html`<details><summary>every point (${rows.length})</summary><ul>${details}</ul></details>` : html``;
  return html`<div class="attention"><strong>Points not clean (${rows.length}):</strong><ul>${lines}</ul>${folded}</div>`;
}

function numbersTable(rows: FigureRow[], baseline: string): SafeHtml {
  // No "% of" column when no row has the baseline's point to be a percentage of.
  const percents = hasBaselinePercent(rows);
  return html`<table class="numbers"><thead><tr><th>target</th><th>point</th><th>metric</th><th>mean</th><th>95% CI</th><th>n</th><th>CV</th>${percents ? html`<th>% of ${baseline}</th>` : ''}<th>verdict</th><th>status</th><th>method</th></tr></thead><tbody>${rows.map(
    (row) =>
      html`<tr class="status-${row.status}"><td>${row.series}</td><td>${row.category}</td><td>${row.metric}</td><td class="num">${row.mean === null ? '—' : `${formatNumber(row.mean)} ${row.unit}`}</td><td class="num">${row.ci95Low === null || row.ci95High === null ? '—' : `${formatNumber(row.ci95Low)} – ${formatNumber(row.ci95High)}${belowZero(row) ? ' †' : ''}`}</td><td class="num">${row.n}</td><td class="num">${row.cv === null ? '—' : `${(row.cv * 100).toFixed(1)}%`}</td>${percents ? html`<td class="num">${row.percentOfBaseline === null ? '—' : formatPercent(row.percentOfBaseline)}</td>` : ''}<td>${row.verdict ?? ''}</td><td>${row.status}${row.reason ? html`: ${row.reason}` : ''}</td><td>${row.method ?? ''}</td></tr>`,
  )}</tbody></table>${rows.some(belowZero) ? html`<p class="note">† The 95 % interval, as computed, reaches below 0, which this metric cannot: with n repetitions the t-interval is the mean ± t(n−1) standard errors, and t(1) = 12.7 at n = 2, t(2) = 4.3 at n = 3. More repetitions narrow it; the figure's whisker stops at 0.</p>` : ''}`;
}

/** A row whose interval reaches below 0 (every isobench metric is a count, rate, size or time: none can be negative). */
function belowZero(row: FigureRow): boolean {
  return row.ci95Low !== null && row.ci95Low < 0;
}
