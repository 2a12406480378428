import { formatPhaseMs, groupSessionPhases, incompleteText, phaseSessions, totalPhaseMs, type PhaseGroup, type PhaseSession } from '../../results/phases.js';
import type { ResultsFile } from '../../results/schema.js';
import type { ReportRun } from '../model/runs.js';
import { html, type SafeHtml } from './escape.js';

/** A prepare step shorter than this is counted, not named, in a target's row: five suites' 0.0 s steps say nothing. */
const NAMED_STEP_MIN_MS = 100;

/**
 * "Where the time went": per run with `phases`, one table of its phases (durations as `npm run
 * bench` prints them, share of the run's time with a <meter>), a target's provision and prepare
 * phases folded into one row with the steps as detail, and the total. A resumed run (phases of more
 * than one session, results/phases.ts) gets a heading row and subtotal per session and the total
 * over all. Runs without phases (files written before isobench recorded them) are left out; with
 * none, the section is empty (nothing at all: such a page is the page it was before). Uses only the
 * page's existing styles.
 */
export function phasesSection(runs: readonly ReportRun[]): SafeHtml | '' {
  const timed = runs.filter((run) => (run.file.phases ?? []).length > 0);
  if (timed.length === 0) return '';
  return html`
<section id="phases"><h2>Where the time went</h2>
<p class="note">Wall-clock time of each phase of the run, as the results file records it (<code>phases</code>); the share is of the run's total. A target's row is its provisioning and the suites' prepare steps on it.</p>
${timed.map((run) => runPhases(run, runs.length > 1))}</section>`;
}

function runPhases(run: ReportRun, labelled: boolean): SafeHtml {
  const phases = run.file.phases ?? [];
  const sessions = phaseSessions(phases);
  const totalMs = totalPhaseMs(phases);
  const resumed = sessions.length > 1 || sessions[0]!.number !== 0;
  const body = sessions.map((session) => html`${resumed ? sessionHeading(session, run.file) : ''}${groupSessionPhases(session.phases).map((group) => phaseRow(group, totalMs))}`);
  const totalNote = resumed
    ? `over ${sessions.length} session${sessions.length === 1 ? '' : 's'} with phases; the time between sessions, when nothing ran, is not counted`
    : run.file.status === 'completed' ? '' : `the run is ${run.file.status}: its phases as far as they were written`;
  return html`${labelled ? html`<h3>Run ${run.label}</h3>` : ''}<table class="facts phases"><thead><tr><th scope="col">phase</th><th scope="col">time</th><th scope="col">share</th><th scope="col">detail</th></tr></thead>
<tbody>${body}<tr class="total"><th scope="row"><b>total</b></th><td class="num"><b>${formatPhaseMs(totalMs)}</b></td><td class="num">100 %</td><td>${totalNote}</td></tr></tbody></table>`;
}

/** A session's heading row: which session, when it started (where the file says), its time. */
function sessionHeading(session: PhaseSession, file: ResultsFile): SafeHtml {
  const startedAt = session.number === 0 ? file.startedAt : file.resumes?.find((resume) => resume.session === session.number)?.startedAt;
  const started = startedAt === undefined ? '' : `, started ${startedAt.slice(0, 19).replace('T', ' ')} UTC`;
  return html`<tr class="session"><th scope="rowgroup" colspan="4">${session.label}${started}: ${formatPhaseMs(session.totalMs)}</th></tr>`;
}

function phaseRow(group: PhaseGroup, totalMs: number): SafeHtml {
  const share = totalMs > 0 ? group.ms / totalMs : 0;
  const name = group.target ? `${group.label}: provision and prepare` : group.label;
  const detail = [group.target ? targetDetail(group) : '', group.incomplete ? incompleteText(group.incomplete) : ''].filter((part) => part !== '').join('; ');
  return html`<tr><th scope="row">${name}</th><td class="num">${formatPhaseMs(group.ms)}</td><td class="num">${percent(share)} <meter min="0" max="1" value="${share.toFixed(4)}"></meter></td><td>${detail}</td></tr>`;
}

/** `provision 49s · prepare mysql 24s, random-io 2.0s, 3 more under 0.1s`: the longest steps first. */
function targetDetail(group: PhaseGroup): string {
  const provision = group.parts.filter((part) => part.name === 'provision');
  const prepare = group.parts.filter((part) => part.name !== 'provision').sort((a, b) => b.ms - a.ms);
  const named = prepare.filter((part) => part.ms >= NAMED_STEP_MIN_MS);
  const short = prepare.length - named.length;
  const steps = [
    ...named.map((part) => `${part.name.replace(/^prepare /, '')} ${formatPhaseMs(part.ms)}`),
    ...(short > 0 ? [`${named.length > 0 ? `${short} more` : `${short} step${short === 1 ? '' : 's'}`} under ${formatPhaseMs(NAMED_STEP_MIN_MS)}`] : []),
  ];
  return [
    ...provision.map((part) => `provision ${formatPhaseMs(part.ms)}`),
    ...(prepare.length > 0 ? [`prepare ${steps.join(', ')}`] : []),
  ].join(' · ');
}

/** A share as `84 %`, `0.4 %`, `<0.1 %`: small phases keep a figure, and none reads as 0 unless it is. */
function percent(share: number): string {
  const value = share * 100;
  if (value === 0) return '0 %';
  if (value < 0.1) return '<0.1 %';
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} %`;
}
