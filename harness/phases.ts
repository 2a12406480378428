import { formatPhaseMs, phaseSessions, totalPhaseMs, type SessionPhase } from '../results/phases.js';
import type { RunPhase } from '../results/schema.js';

/**
 * Where a run's time goes, phase by phase (installs, host probe, image build, provisioning per
 * target, prepare per suite and target, trials, finish and teardown, report), kept in the results
 * file's `phases` and printed at the end of `npm run bench`. A phase that fails is recorded too: the
 * time it took before failing is time the run spent.
 */
export class PhaseClock {
  private readonly recorded: RunPhase[] = [];
  /** Phases begun and not yet ended, by a token of their own: their start (performance.now()). */
  private readonly running = new Map<symbol, { name: string; begin: number }>();

  /**
   * @param prefix Put before every name, e.g. `resume 1: ` for the phases of a resumed session.
   * @param onRecord Called with each phase as it ends (the runner appends it to the results file).
   */
  constructor(
    private readonly prefix = '',
    private readonly onRecord: (phase: RunPhase) => void | Promise<void> = () => {},
  ) {}

  /** Times `work` as the phase `name`; records it whether `work` resolves or throws, then passes its result on. */
  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const begin = performance.now();
    const token = Symbol(name);
    this.running.set(token, { name, begin });
    try {
      return await work();
    } finally {
      this.running.delete(token);
      await this.add(name, performance.now() - begin);
    }
  }

  /**
   * The phases begun and not ended, each with the time it has run so far and marked `interrupted`:
   * what a signal's handler writes, since the run stops before they end (none are recorded).
   */
  inProgress(): RunPhase[] {
    const now = performance.now();
    return [...this.running.values()].map(({ name, begin }) => ({ name: `${this.prefix}${name}`, ms: Math.max(0, Math.round(now - begin)), incomplete: 'interrupted' as const }));
  }

  /** Records a phase timed elsewhere, `ms` wall-clock milliseconds (rounded to whole ms, never negative). */
  async add(name: string, ms: number): Promise<void> {
    const phase = { name: `${this.prefix}${name}`, ms: Math.max(0, Math.round(ms)) };
    this.recorded.push(phase);
    await this.onRecord(phase);
  }

  /** The phases recorded so far, in order. */
  get phases(): readonly RunPhase[] {
    return this.recorded;
  }
}

/**
 * The phases as lines for the terminal: `phases: installs 0.0s · host probe 0.2s · provision 22s
 * (kvm 21s, docker-nat 0.6s, …) · prepare 3.2s (16 steps, longest random-io on kvm 1.5s) · trials
 * 13m28s · … · total 13m55s`, wrapped so each line stays under `width` columns. A resumed run
 * (phases of more than one session, results/phases.ts) gets the lines of each session, headed
 * `phases, first session:` and `phases, resume N:`, each ending with the session's time, then
 * `phases: total … over N sessions`. A phase that did not end says so (`trials 4m00s (killed: …)`).
 * Empty for no phases.
 */
export function phaseLines(phases: readonly RunPhase[], width = 100): string[] {
  const sessions = phaseSessions(phases);
  if (sessions.length === 0) return [];
  if (sessions.length === 1 && sessions[0]!.number === 0) return wrap('phases:', [...phaseItems(sessions[0]!.phases), `total ${formatPhaseMs(totalPhaseMs(phases))}`], width);
  return [
    ...sessions.flatMap((session) => wrap(`phases, ${session.label}:`, [...phaseItems(session.phases), `session ${formatPhaseMs(session.totalMs)}`], width)),
    `phases: total ${formatPhaseMs(totalPhaseMs(phases))} over ${sessions.length} session${sessions.length === 1 ? '' : 's'} (the time between them, when nothing ran, not counted)`,
  ];
}

/** `items` joined by ` · ` after `head`, a new line (indented 8) before an item that would pass `width`. */
function wrap(head: string, items: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = head;
  for (const item of items) {
    const next = `${line}${line.endsWith(':') ? ' ' : ' · '}${item}`;
    if (next.length > width && !line.endsWith(':')) {
      lines.push(line);
      line = `        ${item}`;
    } else {
      line = next;
    }
  }
  lines.push(line);
  return lines;
}

/** One item per phase of a session, its `provision X` and `prepare S on X` folded into one item each, in order of first appearance. */
function phaseItems(phases: readonly SessionPhase[]): string[] {
  const groups = new Map<string, { label: string; ms: number; parts: Array<{ name: string; ms: number }>; incomplete?: RunPhase['incomplete'] }>();
  for (const phase of phases) {
    const match = /^(provision|prepare) (.+)$/.exec(phase.name);
    const key = match ? match[1]! : `#${phase.name}#${groups.size}`;
    const group = groups.get(key) ?? { label: match ? key : phase.name, ms: 0, parts: [] };
    group.ms += phase.ms;
    if (match) group.parts.push({ name: match[2]!, ms: phase.ms });
    if (phase.incomplete) group.incomplete = phase.incomplete;
    groups.set(key, group);
  }
  return [...groups.values()].map(({ label, ms, parts, incomplete }) => {
    const mark = incomplete === undefined ? '' : incomplete === 'recovered' ? ' (killed: the sum of its trials)' : ' (cut by a signal)';
    if (parts.length === 0) return `${label} ${formatPhaseMs(ms)}${mark}`;
    const longest = [...parts].sort((a, b) => b.ms - a.ms);
    if (label === 'provision') return `${label} ${formatPhaseMs(ms)} (${longest.map((part) => `${part.name} ${formatPhaseMs(part.ms)}`).join(', ')})${mark}`;
    return `${label} ${formatPhaseMs(ms)} (${parts.length} step${parts.length === 1 ? '' : 's'}, longest ${longest[0]!.name} ${formatPhaseMs(longest[0]!.ms)})${mark}`;
  });
}
