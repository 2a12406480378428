import type { FreezeRecord } from '../../contracts/target.js';
import type { ProbePause, ProbeRecord, ProbeSelfTest } from '../../results/migration.js';
import type { ProbeReport } from './client/reports.js';

/**
 * Reading the echo probe: which gap of the stream covers a window of known time (a QMP pause, a
 * migration), and whether the probe reads pauses of known length right. All times epoch ms.
 */

/** The self-test's pauses, ms: short, medium and long against Clark's 60-210 ms downtimes. */
export const SELF_TEST_PAUSES_MS = [100, 200, 500] as const;
/** A pause must be read within this many ms for the probe to count as verified (issue 11). */
export const SELF_TEST_TOLERANCE_MS = 10;

/** A gap between two echoes: the arrival before it and the first after it. */
export interface Gap {
  fromMs: number;
  toMs: number;
}

/** The gap that overlaps [fromMs, toMs] the most (a gap is longer than the window it covers); null when none overlaps. */
export function gapCovering(gaps: readonly (readonly [number, number])[], fromMs: number, toMs: number): Gap | null {
  let best: Gap | null = null;
  let bestOverlap = 0;
  for (const [from, to] of gaps) {
    const overlap = Math.min(to, toMs) - Math.max(from, fromMs);
    if (overlap <= 0) continue;
    if (!best || overlap > bestOverlap || (overlap === bestOverlap && to - from > best.toMs - best.fromMs)) {
      best = { fromMs: from, toMs: to };
      bestOverlap = overlap;
    }
  }
  return best;
}

/** The longest gap that overlaps [fromMs, toMs] at all; null when none does. */
export function longestGapWithin(gaps: readonly (readonly [number, number])[], fromMs: number, toMs: number): Gap | null {
  let best: Gap | null = null;
  for (const [from, to] of gaps) {
    if (to <= fromMs || from >= toMs) continue;
    if (!best || to - from > best.toMs - best.fromMs) best = { fromMs: from, toMs: to };
  }
  return best;
}

/**
 * Judges the probe against pauses of known length: for each, the gap that covers the span between
 * QEMU's STOP and RESUME stamps, and its difference from that span. It passes when every pause was
 * seen and read within `toleranceMs`; `resolutionMs` is the largest |difference| (null when a pause
 * went unseen, which is itself a failure).
 */
export function judgeSelfTest(freezes: readonly FreezeRecord[], report: ProbeReport, toleranceMs: number = SELF_TEST_TOLERANCE_MS): ProbeSelfTest {
  const pauses: ProbePause[] = freezes.map((freeze) => {
    const pausedMs = freeze.resumedAtMs - freeze.stoppedAtMs;
    const gap = gapCovering(report.gaps, freeze.stoppedAtMs, freeze.resumedAtMs);
    const probeGapMs = gap ? gap.toMs - gap.fromMs : null;
    return { requestedMs: freeze.requestedMs, pausedMs, probeGapMs, errorMs: probeGapMs === null ? null : probeGapMs - pausedMs };
  });
  const unseen = pauses.filter((pause) => pause.errorMs === null);
  const resolutionMs = unseen.length || pauses.length === 0 ? null : Math.max(...pauses.map((pause) => Math.abs(pause.errorMs!)));
  const outside = pauses.filter((pause) => pause.errorMs !== null && Math.abs(pause.errorMs) > toleranceMs);
  let reason: string | undefined;
  if (pauses.length === 0) reason = 'no pause was made';
  else if (unseen.length) reason = `the probe saw no gap for the ${unseen.map((pause) => `${pause.requestedMs} ms`).join(', ')} pause(s)`;
  else if (outside.length) {
    reason = `the probe cannot resolve ${toleranceMs} ms here: ${outside.map((pause) => `${pause.pausedMs.toFixed(1)} ms read as ${pause.probeGapMs!.toFixed(1)} ms`).join(', ')}`;
  }
  return { pauses, toleranceMs, resolutionMs, passed: reason === undefined, ...(reason ? { reason } : {}) };
}

/** A host-clock time as ms after the trial's start, to 0.1 ms: how every trial record states its times. */
export function relativeMs(ms: number, startMs: number): number {
  return Math.round((ms - startMs) * 10) / 10;
}

/**
 * The probe's part of a trial's record (QEMU, libvirt and container trials): its counts, the gap
 * the trial chose (to 0.01 ms, its ends relative to `startMs`), whether that gap covers the switch-over.
 */
export function probeRecord(report: ProbeReport, gap: Gap | null, startMs: number, coversSwitchover: boolean, command: string[]): ProbeRecord {
  return {
    intervalMs: report.intervalMs,
    sent: report.sent,
    received: report.received,
    migrationGapMs: gap ? Math.round((gap.toMs - gap.fromMs) * 100) / 100 : null,
    migrationGapStartMs: gap ? relativeMs(gap.fromMs, startMs) : null,
    migrationGapEndMs: gap ? relativeMs(gap.toMs, startMs) : null,
    coversSwitchover,
    maxSendLateMs: Math.round(report.maxSendLateMs * 100) / 100,
    command,
  };
}
