/**
 * The third-host watcher of a lab migration (issue 14): the suite's UDP probe ran on a host that is
 * neither end, against the guest's echo server across the lab link. This judges its report against
 * the migration's window: the longest pause in the echoes while it ran is the downtime a client on
 * the lab saw, and an echo after the switch-over shows the guest is reached on its new host.
 */
import type { LabWatchRecord } from '../../results/migration.js';
import type { ProbeReport } from './client/reports.js';
import { longestGapWithin } from './probe-analysis.js';

/**
 * What the watcher saw: `observed` (the longest gap within the window, in the watcher's clock),
 * `no-gap` (echoes never paused for the probe's gap threshold), or `lost` (no echo came after the
 * migration ended: the guest was not reached on its new host). Each names the watching host; the
 * results keep it as it is (results/migration.ts).
 */
export type LabWatchOutcome = LabWatchRecord;

/** The migration as the controlling host timed it, epoch ms. */
export interface MigrationWindow {
  /** When `migrate` was sent. */
  startedAtMs: number;
  /** When the source reported `completed`. */
  completedAtMs: number;
  /** How long after `completedAtMs` the probe kept running and still counts (the suite's WATCH_AFTER_MS). */
  afterMs: number;
}

/**
 * Judges a watcher's report (see LabWatchOutcome).
 * @param clockOffsetMs The watching host's clock minus the controlling host's (doctor measures it;
 *   0 for namespace hosts, which share this clock): the window is moved into the watcher's clock.
 */
export function judgeLabWatch(report: ProbeReport, window: MigrationWindow, host: string, clockOffsetMs = 0): LabWatchOutcome {
  const counts = { sent: report.sent, received: report.received };
  const from = window.startedAtMs + clockOffsetMs;
  const completed = window.completedAtMs + clockOffsetMs;
  if (report.lastEchoAtMs === null || report.lastEchoAtMs <= completed) {
    const last = report.lastEchoAtMs === null ? 'no echo at all' : `the last echo ${(completed - report.lastEchoAtMs).toFixed(0)} ms before the migration ended`;
    return { kind: 'lost', host, reason: `host ${host} got no echo from the guest after the migration ended (${last})`, ...counts };
  }
  const gap = longestGapWithin(report.gaps, from, completed + window.afterMs);
  if (!gap) return { kind: 'no-gap', host, gapThresholdMs: report.gapThresholdMs, ...counts };
  return { kind: 'observed', host, gapMs: gap.toMs - gap.fromMs, fromMs: gap.fromMs, toMs: gap.toMs, ...counts };
}
