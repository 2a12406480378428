/** How many instances of each target a run has provisioned, keyed by run and target. */
const instances = new Map<string, number>();

/**
 * '' for a run's first instance of a target, then '-2', '-3', …: the startup suite provisions fresh
 * instances beside the first, and their names, sockets and files must not collide.
 */
export function nextInstanceSuffix(runId: string, target: string): string {
  const key = `${runId}/${target}`;
  const count = (instances.get(key) ?? 0) + 1;
  instances.set(key, count);
  return count === 1 ? '' : `-${count}`;
}
