import { mdeText, ratioText, verdictWords } from '../../results/table.js';
import { answerTable, noiseFloor, VERDICT_KINDS, type AnswerTable, type CellKind, type PointAnswer, type SuiteAnswer, type TargetAnswer } from '../model/answers.js';
import type { ReportRun } from '../model/runs.js';
import type { TargetStyles } from '../model/targets.js';
import { html, type SafeHtml } from './escape.js';

/*
 * The answer first: before any figure, per run, one table of targets x suites saying whether each
 * target is equivalent to the baseline, slower, faster, or undecided. Colour never carries meaning
 * alone: every cell has a glyph and the word.
 */

/** Glyph and word of each cell kind; colours are in style.ts (`.v-KIND`), Okabe–Ito, colour-blind safe. */
export const KIND_LABELS: Record<CellKind, { glyph: string; word: string }> = {
  slower: { glyph: '▼', word: 'slower' },
  faster: { glyph: '▲', word: 'faster' },
  equivalent: { glyph: '=', word: 'equivalent' },
  undecided: { glyph: '?', word: 'undecided' },
  mixed: { glyph: '±', word: 'mixed' },
  'not-comparable': { glyph: '–', word: 'not comparable' },
  none: { glyph: '', word: 'no verdict' },
};

/**
 * The page's answer section: per run, the answer table (or, for an A/A run, the noise floor it
 * measured), with a key to its colours and glyphs. `id="answer"`.
 */
export function answerSection(runs: readonly ReportRun[], styles: TargetStyles): SafeHtml {
  return html`<section id="answer">
<h2>The answer</h2>
${runs.map((run) => (run.file.plan.mode === 'aa' ? noiseFloorBlock(run, runs.length > 1) : answerBlock(answerTable(run, styles), runs.length > 1)))}
<p class="key">Key: ${(['slower', 'faster', 'equivalent', 'undecided', 'mixed', 'not-comparable'] as const).map(
    (kind) => html`<span class="verdict v-${kind}"><span class="glyph" aria-hidden="true">${KIND_LABELS[kind].glyph}</span> ${KIND_LABELS[kind].word}</span> `,
  )}</p>
</section>`;
}

function countsText(counts: Record<string, number>): string {
  const parts = VERDICT_KINDS.filter((kind) => (counts[kind] ?? 0) > 0).map((kind) => `${counts[kind]} ${KIND_LABELS[kind].word}`);
  return parts.join(' · ');
}

function answerBlock(table: AnswerTable, multiRun: boolean): SafeHtml {
  const { run, baseline } = table;
  const judged = VERDICT_KINDS.reduce((sum, kind) => sum + table.counts[kind], 0);
  // A suite only the baseline ran (migration runs on kvm alone) has nothing to be 100 % of.
  const compared = table.suites.map((_suite, index) => table.rows.some((row) => !row.isBaseline && row.cells[index] !== null));
  const floor = table.floorPercent > table.marginPercent ? html`; no difference under ${table.floorPercent} % is called (noise floor)` : '';
  return html`${multiRun ? html`<h3>Run ${run.label}</h3>` : ''}
<p class="answer-intro">${
    judged === 0 && table.rows.every((row) => row.isBaseline)
      ? html`Only <b>${baseline}</b> ran in this run, so nothing is judged against it: the figures below hold the measurements.`
      : html`Each target against <b>${baseline}</b>, equivalence margin ±${table.marginPercent} %${floor}. ${judged} point${judged === 1 ? '' : 's'} judged: <b>${countsText(table.counts) || 'none'}</b>.`
  }</p>
<table class="answer" data-run="${run.file.runId}"><thead><tr><th scope="col">target</th>${table.suites.map(
    ({ suite, metrics }) => html`<th scope="col">${suite}<br><span class="metrics">${metrics.join(', ')}</span></th>`,
  )}</tr></thead><tbody>${table.rows.map((row) => answerRow(row, baseline, compared))}</tbody></table>
<p class="note">A cell: the verdict over the suite's points on their headline metric, the geometric mean of performance as % of ${baseline} (the ratio of the means, inverted for lower-is-better metrics such as latency, so below 100 % is always worse) and the range over the points; open it for each point's ratio of the metric with its 95 % interval, its MDE (the difference its repetitions would detect 80 % of the time) and its verdict.</p>`;
}

function answerRow(row: TargetAnswer, baseline: string, compared: readonly boolean[]): SafeHtml {
  const classes = [row.isBaseline ? 'baseline' : '', row.warnings.length ? 'degraded' : ''].filter(Boolean).join(' ');
  const badge = row.emulated ? html` <span class="badge">TCG</span>` : row.warnings.length ? html` <span class="badge">degraded</span>` : '';
  return html`<tr class="${classes}" data-target="${row.target}"><th scope="row">${row.display}${badge}${
    row.warnings.length ? html`<br><span class="warnings">${row.warnings.join('; ')}</span>` : ''
  }</th>${row.cells.map((cell, index) => (row.isBaseline ? baselineCell(cell, compared[index] ?? true) : answerCell(cell, baseline)))}</tr>`;
}

function baselineCell(cell: SuiteAnswer | null, compared: boolean): SafeHtml {
  if (!cell) return html`<td class="verdict v-none">not run</td>`;
  if (!compared) {
    return html`<td class="verdict v-none">measured here only: no other target to compare<br><span class="counts">${cell.points.length} point${cell.points.length === 1 ? '' : 's'} in the figures</span></td>`;
  }
  return html`<td class="verdict v-baseline">baseline (100 %)<br><span class="counts">${cell.points.length} point${cell.points.length === 1 ? '' : 's'}</span></td>`;
}

function answerCell(cell: SuiteAnswer | null, baseline: string): SafeHtml {
  if (!cell) return html`<td class="verdict v-none">not run</td>`;
  const label = KIND_LABELS[cell.kind];
  const performance =
    cell.performancePercent === null
      ? ''
      : html`<div class="perf">performance ${cell.performancePercent.toFixed(1)} % of ${baseline}${
          cell.ratioPoints > 1 && cell.performanceRange ? html` <span class="range">(points ${cell.performanceRange[0].toFixed(1)}–${cell.performanceRange[1].toFixed(1)})</span>` : ''
        }</div>`;
  return html`<td class="verdict v-${cell.kind}" data-kind="${cell.kind}"><div class="word"><span class="glyph" aria-hidden="true">${label.glyph}</span> ${cell.words}</div>${performance}<div class="counts">${countsText(cell.counts)}</div>
<details><summary>${cell.points.length} point${cell.points.length === 1 ? '' : 's'}</summary><table class="points"><thead><tr><th>point</th><th>metric</th><th title="the metric's own ratio: for a lower-is-better metric above 100 % is worse; the cell's performance line inverts it">metric's mean, % of ${baseline} (95 % CI)</th><th>MDE</th><th>verdict</th></tr></thead><tbody>${cell.points.map(
    pointRow,
  )}</tbody></table></details></td>`;
}

function pointRow(point: PointAnswer): SafeHtml {
  const metric = html`${point.metric}${point.direction ? html` <span class="direction">(${point.direction} is better)</span>` : ''}`;
  if (!point.verdict) {
    return html`<tr><td>${point.pointId}</td><td>${metric}</td><td></td><td></td><td class="verdict v-none">${point.status}${point.reason ? html`: ${point.reason}` : ''}</td></tr>`;
  }
  const kind = point.verdict.verdict;
  return html`<tr><td>${point.pointId}</td><td>${metric}</td><td class="num">${ratioText(point.verdict)}</td><td class="num">${mdeText(point.verdict)}</td><td class="verdict v-${kind}"><span class="glyph" aria-hidden="true">${KIND_LABELS[kind].glyph}</span> ${verdictWords(point.verdict)}</td></tr>`;
}

function noiseFloorBlock(run: ReportRun, multiRun: boolean): SafeHtml {
  const floor = noiseFloor(run.file);
  const { plan } = run.file;
  const n = floor.points.length;
  return html`${multiRun ? html`<h3>Run ${run.label}</h3>` : ''}
<h3 class="aa-heading">A/A run: this measures the noise floor, not a difference between targets</h3>
<p class="answer-intro">Both arms ran the same configuration (${plan.targets.join(' and ')}), interleaved, judged against ${plan.baseline} with margin ±${plan.marginPercent} %. <b class="claimed">${floor.claimed} of ${n} point${n === 1 ? '' : 's'} claimed a difference</b>: each one a false alarm.${
    floor.largestSpreadPercent === null ? '' : html` Largest spread of a 95 % interval: ±${floor.largestSpreadPercent.toFixed(1)} %.`
  }${floor.medianMdePercent === null ? '' : html` Median MDE: ±${floor.medianMdePercent.toFixed(1)} %.`} A difference smaller than these is noise on this host; pass a floor to later runs with <code>--noise-floor</code>.</p>
<table class="answer aa" data-run="${run.file.runId}"><thead><tr><th>suite</th><th>point</th><th>metric</th><th>n</th><th>A/A ratio, % (95 % CI)</th><th>spread</th><th>MDE</th><th>verdict</th></tr></thead><tbody>${floor.points.map(
    (point) =>
      html`<tr><td>${point.suite}</td><td>${point.pointId}</td><td>${point.metric}</td><td class="num">${point.verdict.n.baseline} + ${point.verdict.n.candidate}</td><td class="num">${ratioText(point.verdict)}</td><td class="num">${
        point.spreadPercent === null ? '' : `±${point.spreadPercent.toFixed(1)} %`
      }</td><td class="num">${mdeText(point.verdict)}</td><td class="verdict v-${point.verdict.verdict}"><span class="glyph" aria-hidden="true">${KIND_LABELS[point.verdict.verdict].glyph}</span> ${verdictWords(point.verdict)}</td></tr>`,
  )}</tbody></table>`;
}
