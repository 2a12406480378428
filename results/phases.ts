import type { RunPhase } from './schema.js';

/*
 * A results file's `phases` read as sessions: the first session's phases carry plain names, each
 * `--resume` session's the prefix `resume N: ` (harness/phases.ts writes them). The terminal lines
 * (harness/phases.ts) and the report's "Where the time went" (reports/html/phases.ts) both read
 * them through here, so they group and total alike.
 */

/** The name prefix of resumed session `number`'s phases. */
export function resumePrefix(number: number): string {
  return `resume ${number}: `;
}

/** A phase of one session, its name without the session's prefix. */
export interface SessionPhase extends RunPhase {
  /** The phase's name as its session wrote it, e.g. `provision kvm` (not `resume 1: provision kvm`). */
  name: string;
}

/** The phases of one session of a run, in the order they ran. */
export interface PhaseSession {
  /** 0 for the session that started the run, N for `resume N`. */
  number: number;
  /** `first session` or `resume N`. */
  label: string;
  phases: SessionPhase[];
  /** The sum of its phases' ms: the session's time, as far as its phases were written. */
  totalMs: number;
}

/**
 * Splits phases by session (`resume N: ` prefix; none for the first session), sessions in order of
 * number. Empty for no phases.
 */
export function phaseSessions(phases: readonly RunPhase[]): PhaseSession[] {
  const sessions = new Map<number, PhaseSession>();
  for (const phase of phases) {
    const match = /^resume (\d+): (.*)$/.exec(phase.name);
    const number = match ? Number(match[1]) : 0;
    const session = sessions.get(number) ?? { number, label: number === 0 ? 'first session' : `resume ${number}`, phases: [], totalMs: 0 };
    session.phases.push({ ...phase, name: match ? match[2]! : phase.name });
    session.totalMs += phase.ms;
    sessions.set(number, session);
  }
  return [...sessions.values()].sort((a, b) => a.number - b.number);
}

/** The run's time: the sum of every session's phases (the time between sessions, when nothing ran, is not in it). */
export function totalPhaseMs(phases: readonly RunPhase[]): number {
  return phases.reduce((sum, phase) => sum + phase.ms, 0);
}

/** One row of a session's summary: a phase, or the provision and prepare phases of one target folded into one. */
export interface PhaseGroup {
  /** `installs`, `trials`, … or, for a target's provision and prepare phases, the target's name. */
  label: string;
  /** Whether the row is a target's provision and prepare (then `parts` name them). */
  target: boolean;
  ms: number;
  /** A target's phases, `provision` and `prepare SUITE` (in order); empty for other rows. */
  parts: Array<{ name: string; ms: number }>;
  /** Set when the phase did not end normally (RunPhase's `incomplete`). */
  incomplete?: RunPhase['incomplete'];
}

/**
 * A session's phases as rows: `provision TARGET` and `prepare SUITE on TARGET` folded into one row
 * per target at the target's first phase; every other phase a row of its own, in order.
 */
export function groupSessionPhases(phases: readonly SessionPhase[]): PhaseGroup[] {
  const rows: PhaseGroup[] = [];
  const byTarget = new Map<string, PhaseGroup>();
  for (const phase of phases) {
    const provision = /^provision (.+)$/.exec(phase.name);
    const prepare = /^prepare (.+) on (.+)$/.exec(phase.name);
    const target = provision?.[1] ?? prepare?.[2];
    if (target === undefined) {
      rows.push({ label: phase.name, target: false, ms: phase.ms, parts: [], ...(phase.incomplete ? { incomplete: phase.incomplete } : {}) });
      continue;
    }
    let row = byTarget.get(target);
    if (!row) {
      row = { label: target, target: true, ms: 0, parts: [] };
      byTarget.set(target, row);
      rows.push(row);
    }
    row.ms += phase.ms;
    row.parts.push({ name: provision ? 'provision' : `prepare ${prepare![1]}`, ms: phase.ms });
    if (phase.incomplete) row.incomplete = phase.incomplete;
  }
  return rows;
}

/**
 * A phase's duration as `npm run bench` prints it: below 10 s with one decimal (`0.4s`, `3.2s`: the
 * short phases are the ones a user compares), else `42s`, `3m05s`, `1h07m` (whole seconds; hours
 * drop the seconds), as harness/progress.ts's formatDuration, which results/ cannot import.
 */
export function formatPhaseMs(ms: number): string {
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** What an incomplete phase's time is, in words, for the terminal and the report. */
export function incompleteText(incomplete: NonNullable<RunPhase['incomplete']>): string {
  return incomplete === 'interrupted'
    ? 'cut by a signal: the time until it came'
    : 'the session ended without recording it (killed): the sum of the trials it recorded, a lower bound';
}

