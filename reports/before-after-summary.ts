import { describeSweep, type BeforeAfter } from '../results/before-after.js';

/** Sweeps listed in the terminal summary at most; the page has them all. */
const MAX_SWEEP_LINES = 16;
/** Changed points a sweep's line names at most before counting the rest. */
const MAX_LISTED_POINTS = 4;

/**
 * The before/after comparison in a few terminal lines (one screen): which runs, the rule, then one
 * line per target × suite with its sweep verdict. The host warning is separate
 * ({@link hostWarningLine}), for stderr.
 */
export function beforeAfterSummary(result: BeforeAfter): string[] {
  const floor = result.noiseFloorPercent !== null && result.noiseFloorPercent > result.marginPercent ? 'noise floor' : 'margin';
  const lines = [
    `before/after: BEFORE ${result.before.runId} (${shortTime(result.before.startedAt)}) -> AFTER ${result.after.runId} (${shortTime(result.after.startedAt)})`,
    `changed = p < ${result.significance} (permutation test, ${result.permutations} relabellings) and a change above ${result.floorPercent} % (AFTER's ${floor})`,
  ];
  const width = Math.max(0, ...result.sweeps.map((sweep) => `${sweep.target} ${sweep.suite}`.length));
  for (const sweep of result.sweeps.slice(0, MAX_SWEEP_LINES)) {
    // "not comparable" alone leaves the reader guessing; the first point's reason is usually every point's (too few trials).
    const first = sweep.points.find((point) => point.decision.decision === 'not-comparable')?.decision;
    const why = sweep.verdict.verdict === 'not-comparable' && first?.decision === 'not-comparable' ? `: ${first.reason}` : '';
    lines.push(`  ${`${sweep.target} ${sweep.suite}`.padEnd(width)}  ${describeSweep(sweep, MAX_LISTED_POINTS)}${why}`);
  }
  if (result.sweeps.length > MAX_SWEEP_LINES) lines.push(`  … and ${result.sweeps.length - MAX_SWEEP_LINES} more target × suite sweeps in the report`);
  if (result.sweeps.length === 0) lines.push('  neither file has a point');
  return lines;
}

/** One warning line when the hosts differ (CPU model, kernel, cores), else null. */
export function hostWarningLine(result: BeforeAfter): string | null {
  if (result.hostDifferences.length === 0) return null;
  const differences = result.hostDifferences.map((difference) => `${difference.field} ${difference.before} -> ${difference.after}`).join('; ');
  return `warning: the two runs measured different hosts (${differences}): a change may come from the host as much as from what you changed`;
}

function shortTime(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}
