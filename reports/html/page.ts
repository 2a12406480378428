import { createHash } from 'node:crypto';
import type { Figure } from '../figures/figure.js';
import type { ReportRun } from '../model/runs.js';
import type { TargetStyles } from '../model/targets.js';
import { FELTER_2014, CLARK_2005 } from '../reference/papers.js';
import type { RenderedFigure } from '../render.js';
import { pageBanners } from './banners.js';
import { answerSection } from './answer.js';
import { comparisonSection } from './comparison.js';
import { environmentSection } from './environment.js';
import { html, trusted, type SafeHtml } from './escape.js';
import { figureSection } from './figure-section.js';
import { migrationPredictionSection } from './migration-predictions.js';
import { phasesSection } from './phases.js';
import { INTERACTIVE_SCRIPT } from './interactive.js';
import { PAGE_STYLE } from './style.js';

/** Everything the report page shows. */
export interface PageInput {
  title: string;
  runs: readonly ReportRun[];
  baseline: string;
  figures: readonly { figure: Figure; rendered: RenderedFigure }[];
  /** The vega runtime's source, or null for a page without the interactive view. */
  vegaRuntime: string | null;
  /** Timestamp printed in the page footer, as given (ISO 8601 from writeReport). */
  generatedAt: string;
  /** The before/after decision section (html/before-after.ts); when given, it takes the place of the CI-overlap comparison. */
  beforeAfter?: SafeHtml;
  /** Row order of the targets in the answer table. */
  styles: TargetStyles;
}

/**
 * The self-contained page. Its Content-Security-Policy allows no network at all and only the two
 * scripts written here (by hash): even a markup injection that slipped past escaping could not
 * run script or load anything. vega compiles its expressions with Function, hence 'unsafe-eval'.
 */
export function renderPage(input: PageInput): string {
  const scripts = input.vegaRuntime === null ? [] : [input.vegaRuntime, INTERACTIVE_SCRIPT];
  const scriptHashes = scripts.map((script) => `'sha256-${createHash('sha256').update(script).digest('base64')}'`);
  const policy = [
    "default-src 'none'",
    `script-src ${scripts.length ? `${scriptHashes.join(' ')} 'unsafe-eval'` : "'none'"}`,
    "style-src 'unsafe-inline'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');

  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="isobench">
<title>${input.title}</title>
<style>${trusted(PAGE_STYLE)}</style>
</head>
<body>
<header>
<h1>${input.title}</h1>
<p>${input.runs.length === 1 ? 'One run' : `${input.runs.length} runs side by side`}: ${input.runs.map((run) => `${run.tag} = ${run.file.runId}`).join(', ')}. Baseline for percentages: <b>${input.baseline}</b>. Generated ${input.generatedAt}.</p>
<p class="note">The answer table comes first: each target judged against the baseline on every point's headline metric. Every bar or point of the figures is the mean over repetitions with its 95% confidence interval. Failed, skipped and noisy points are shown as such. The papers' published values are drawn in separate panels: their hardware differs, so compare shapes and ratios, not absolute numbers.</p>
</header>
${pageBanners(input.runs)}
${answerSection(input.runs, input.styles)}
<nav><h2>Figures</h2>${
    input.figures.length
      ? html`<ul>${input.figures.map(({ figure }) => html`<li><a href="#figure-${figure.id}">${figure.title}</a></li>`)}</ul>`
      : html`<p>The results hold no suite this report can draw yet.</p>`
  }</nav>
${input.figures.map(({ figure, rendered }) => figureSection(figure, rendered, input.baseline, input.runs))}
${migrationPredictionSection(input.runs)}
${input.beforeAfter ??
comparisonSection(
  input.figures.map(({ figure }) => figure),
  input.runs,
)}
${environmentSection(input.runs)}${phasesSection(input.runs)}
<footer>
<p>Published reference values: ${FELTER_2014.citation}; testbed ${FELTER_2014.testbed}; from ${FELTER_2014.source}.</p>
<p>${CLARK_2005.citation}.</p>
</footer>
${scripts.map((script) => html`<script>${trusted(script)}</script>`)}
</body>
</html>
`;
  return page.html;
}
