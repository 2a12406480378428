/**
 * What a lab guest runs on: KVM or emulated (TCG), from `--accel` and the accel probe each host's
 * facts carry (provisioning/lab-host-facts.ts: a kernel booted under KVM on that host as far as
 * mounting its root file system). A migrating guest must run the same way on both ends, so KVM
 * needs a working probe on both.
 */
import { accelProbeWords, type LabHostFacts } from '../../../results/schema.js';
import { TCG_CPU_MODEL, TCG_DEGRADED } from '../accel-probe.js';

/** A host the guest runs on, with its facts as the run recorded them (null: not read). */
export interface LabAccelEnd {
  name: string;
  facts: LabHostFacts | null;
}

/** The choice, as the target's labels and degraded lines record it. */
export interface LabAccelChoice {
  accel: 'kvm' | 'tcg';
  /** `-cpu`: `host` under KVM (as `--accel kvm` always had here: a migration between unlike CPUs would need a common model), TCG_CPU_MODEL emulated. */
  cpuModel: string;
  /** One line for the target's `accelDecision` label. */
  decision: string;
  degraded: string[];
}

/** Why KVM cannot be used on `end`, or null when its probe says it works. */
function kvmProblem(end: LabAccelEnd): string | null {
  if (end.facts === null) return `host ${end.name}'s facts were not read, so KVM was not probed there`;
  if (end.facts.accel === 'works') return null;
  return `KVM on host ${end.name} ${end.facts.accel === 'not probed' ? 'was not probed' : end.facts.accel}: ${accelProbeWords(end.facts)}`;
}

/**
 * Chooses KVM or TCG for a lab guest on `ends` (the host it boots on, and a migration's destination).
 * `auto` takes KVM only where every end's probe says `works`; `tcg` never probes; `kvm` is refused
 * where a probe says it does not work, as the single host's `--accel kvm` is (accel-probe.ts).
 * @throws Error naming the host and the probe's words for `--accel kvm` on a host where KVM does not
 *   work (the target fails with it; `--accel auto` or `tcg` would run).
 */
export function chooseLabAccel(requested: 'auto' | 'kvm' | 'tcg', ends: readonly LabAccelEnd[]): LabAccelChoice {
  const names = ends.map((end) => end.name).join(' and ');
  if (requested === 'tcg') return { accel: 'tcg', cpuModel: TCG_CPU_MODEL, decision: '--accel tcg: emulated CPU (TCG), KVM not used', degraded: [TCG_DEGRADED] };
  const problems = ends.map(kvmProblem).filter((problem): problem is string => problem !== null);
  if (problems.length === 0) return { accel: 'kvm', cpuModel: 'host', decision: `--accel ${requested}: KVM, the accel probe booted a kernel under it on ${names}`, degraded: [] };
  if (requested === 'kvm') throw new Error(`--accel kvm: ${problems.join('; ')}: use --accel auto (emulated, labelled) or --accel tcg`);
  return { accel: 'tcg', cpuModel: TCG_CPU_MODEL, decision: `--accel auto: emulated CPU (TCG), because ${problems.join('; ')}`, degraded: [TCG_DEGRADED] };
}
