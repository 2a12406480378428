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
  const notes = qualifyingNotes(facts);
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

const TARGET_ORDER = ['native', 'docker-host', 'docker-nat', 'kvm'];

/** The papers' row order: native first, then containers, then the VM; unknown targets last. */
export function compareTargets(a: string, b: string): number {
  const rank = (target: string) => {
    const index = TARGET_ORDER.indexOf(target);
    return index === -1 ? TARGET_ORDER.length : index;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** Stable colours per target family, so docker rows look related and the VM stands out. */
export const TARGET_COLOURS: Record<string, string> = {
  native: '#4c78a8',
  'docker-host': '#54a24b',
  'docker-nat': '#9ecf8f',
  kvm: '#e45756',
};
