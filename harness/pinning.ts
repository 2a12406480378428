import type { RunPlan } from '../results/schema.js';

/** How work is placed on CPUs, as the results file's `plan.pinning` stores it. */
export type PinningPlan = RunPlan['pinning'];

/** Below this many cores the client and the server side cannot each have CPUs of their own. */
export const MIN_CORES_TO_PIN = 4;

/** The roles the harness itself can pin: client commands, through the client side's `wrap`. */
export const APPLIED_ROLES = ['client'] as const;

/** A CPU list in taskset's syntax: `3`, `1-3`. */
function cpuList(first: number, last: number): string {
  return first === last ? String(first) : `${first}-${last}`;
}

/**
 * Plans CPU sets for the client and each configuration (taskset syntax, CPUs numbered 0 … cores − 1).
 * With {@link MIN_CORES_TO_PIN} cores or more the client gets the first ⌊cores / 4⌋ CPUs and every
 * configuration the rest: client and server side are disjoint, while the configurations share one
 * set because only the one under test runs (the others are paused), and the same CPUs for each keep
 * their comparison on equal hardware. Fewer cores: nothing is planned, `oversubscribed`.
 *
 * Only the client's set is applied (`taskset -c` around client commands, see {@link APPLIED_ROLES});
 * the target drivers take no CPU set yet, so the configurations' sets are recorded as planned, not
 * applied, and `reason` says exactly that. It assumes CPUs 0 … cores − 1 are the online ones and
 * ignores SMT siblings.
 * @param cores Online CPUs of the host (HostFacts.cores), at least 1.
 * @param configurations Configuration ids, e.g. `native`, `kvm:qcow2` (in an A/A run, both arms).
 */
export function planPinning(cores: number, configurations: readonly string[]): PinningPlan {
  if (cores < MIN_CORES_TO_PIN) {
    return {
      oversubscribed: true,
      cpuSets: null,
      reason: `${cores} core${cores === 1 ? '' : 's'}: client, servers and targets share them, nothing is pinned (pinning needs ${MIN_CORES_TO_PIN} or more)`,
    };
  }
  const clientCores = Math.floor(cores / 4);
  const client = cpuList(0, clientCores - 1);
  const servers = cpuList(clientCores, cores - 1);
  const cpuSets: Record<string, string> = { client };
  for (const configuration of configurations) cpuSets[configuration] = servers;
  return {
    oversubscribed: false,
    cpuSets,
    reason:
      `client commands pinned to CPU${clientCores === 1 ? '' : 's'} ${client} (taskset -c); ` +
      `CPUs ${servers} planned for ${configurations.join(', ')} but not applied: the target drivers take no CPU set yet`,
  };
}

/**
 * A client command pinned to the plan's client CPUs (`taskset -c LIST command…`); the command itself
 * when the plan pins nothing.
 */
export function pinClientCommand(plan: PinningPlan, command: readonly string[]): string[] {
  const cpus = plan.cpuSets?.client;
  return cpus === undefined ? [...command] : ['taskset', '-c', cpus, ...command];
}
