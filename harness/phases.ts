import type { RunPhase } from '../results/schema.js';
import { formatDuration } from './progress.js';

/**
 * Where a run's time goes, phase by phase (installs, host probe, image build, provisioning per
 * target, prepare per suite and target, trials, finish and teardown, report), kept in the results
 * file's `phases` and printed at the end of `npm run bench`. A phase that fails is recorded too: the
 * time it took before failing is time the run spent.
 */
export class PhaseClock {
  private readonly recorded: RunPhase[] = [];

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
    try {
      return await work();
    } finally {
      await this.add(name, performance.now() - begin);
    }
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
 * 13m28s · … · total 13m55s`, wrapped so each line stays under `width` columns. Provisioning and
 * prepare steps are summed per session (the file keeps each one); a resumed session's phases keep
 * their `resume N: ` prefix. Empty for no phases.
 */
export function phaseLines(phases: readonly RunPhase[], width = 100): string[] {
  if (phases.length === 0) return [];
  const total = phases.reduce((sum, phase) => sum + phase.ms, 0);
  const items = [...groupPhases(phases), `total ${formatPhase(total)}`];
  const lines: string[] = [];
  let line = 'phases:';
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

/** One item per phase, `provision X` and `prepare S on X` folded into one item each per session, in order of first appearance. */
function groupPhases(phases: readonly RunPhase[]): string[] {
  const groups = new Map<string, { label: string; ms: number; parts: Array<{ name: string; ms: number }> }>();
  for (const phase of phases) {
    const match = /^((?:resume \d+: )?)(provision|prepare) (.+)$/.exec(phase.name);
    const key = match ? `${match[1]}${match[2]}` : `#${phase.name}#${groups.size}`;
    const group = groups.get(key) ?? { label: match ? key : phase.name, ms: 0, parts: [] };
    group.ms += phase.ms;
    if (match) group.parts.push({ name: match[3]!, ms: phase.ms });
    groups.set(key, group);
  }
  return [...groups.values()].map(({ label, ms, parts }) => {
    if (parts.length === 0) return `${label} ${formatPhase(ms)}`;
    const longest = [...parts].sort((a, b) => b.ms - a.ms);
    if (label.endsWith('provision')) return `${label} ${formatPhase(ms)} (${longest.map((part) => `${part.name} ${formatPhase(part.ms)}`).join(', ')})`;
    return `${label} ${formatPhase(ms)} (${parts.length} step${parts.length === 1 ? '' : 's'}, longest ${longest[0]!.name} ${formatPhase(longest[0]!.ms)})`;
  });
}

/** Below 10 s with one decimal (`0.4s`, `3.2s`): the short phases are the ones a user compares. */
function formatPhase(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(ms);
}
