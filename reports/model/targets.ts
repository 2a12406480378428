import type { ResultsFile, TargetFacts } from '../../results/schema.js';

/** What a figure must say about a target besides its name: how it really ran. */
export interface TargetDescription {
  target: string;
  /** e.g. `kvm (TCG, qcow2)`: the name plus every label that changes what the number means. */
  display: string;
  emulated: boolean;
  /** Reasons the row is not what its name promises (TCG, no vhost, ...), from the results file. */
  warnings: string[];
}

/** The description of `target` in one results file; just its name when the file has no facts about it. */
export function describeTarget(file: ResultsFile, target: string): TargetDescription {
  const facts = file.targets.find((candidate) => candidate.target === target);
  if (!facts) return { target, display: target, emulated: false, warnings: [] };
  // A configuration id already names what it fixed (`docker-nat:overlay`): say it once.
  const named = new Set(target.split(':').slice(1).map((value) => value.toLowerCase()));
  const notes = qualifyingNotes(facts).filter((note) => !named.has(note.toLowerCase()));
  const emulated = facts.labels['accel'] === 'tcg';
  const warnings = [...facts.degraded];
  if (emulated && !warnings.some((warning) => /tcg|emulat/i.test(warning))) {
    warnings.push('TCG emulation, not KVM');
  }
  if (facts.labels['vhost'] === false && !warnings.some((warning) => /vhost/i.test(warning))) {
    warnings.push('virtio-net without vhost');
  }
  return { target, display: notes.length ? `${target} (${notes.join(', ')})` : target, emulated, warnings };
}

/** Only the labels that differ from the paper's default setup earn a place in the axis label. */
function qualifyingNotes(facts: TargetFacts): string[] {
  const notes: string[] = [];
  if (facts.labels['accel'] === 'tcg') notes.push('TCG');
  if (facts.labels['vhost'] === false) notes.push('no vhost');
  if (facts.labels['storage'] === 'overlay') notes.push('overlay');
  if (facts.labels['disk'] === 'qcow2') notes.push('qcow2');
  return notes;
}

/** How a target's rows are drawn: rank in the papers' order and colour. Supplied by the harness from the target registry. */
export interface TargetStyle {
  /** Lower ranks first: native, then containers, then VMs. */
  order: number;
  /** CSS colour, e.g. `#4c78a8`. */
  colour: string;
}

/** Looks up a target's (or configuration's) style; null for a target the registry does not know. */
export type TargetStyleLookup = (target: string) => TargetStyle | null;

const FALLBACK_COLOURS = ['#f58518', '#72b7b2', '#b279a2', '#9d755d', '#bab0ac', '#eeca3b'];

/**
 * Row order and colours for one report. Targets the lookup knows come in its order and colours;
 * unknown ones (a results file from a version with other targets) come last, alphabetically, in a
 * fallback palette that is stable within the report.
 */
export class TargetStyles {
  private readonly fallback = new Map<string, string>();

  /** @param lookup From the target registry; without one every target is unknown. */
  constructor(private readonly lookup: TargetStyleLookup = () => null) {}

  /** Sort comparator: the registry's order, unknown targets last, then by name. */
  compare = (a: string, b: string): number => {
    const rank = (target: string) => this.lookup(target)?.order ?? Number.POSITIVE_INFINITY;
    const difference = rank(a) - rank(b);
    return (Number.isNaN(difference) ? 0 : difference) || a.localeCompare(b);
  };

  /** The target's colour; an unknown target gets the next fallback colour, the same one every time it is asked. */
  colour(target: string): string {
    const known = this.lookup(target)?.colour;
    if (known) return known;
    if (!this.fallback.has(target)) this.fallback.set(target, FALLBACK_COLOURS[this.fallback.size % FALLBACK_COLOURS.length]!);
    return this.fallback.get(target)!;
  }
}
