import { UsageError } from '../core/errors.js';
import { runCommand } from '../core/exec.js';
import { cidrsOverlap, cidrWithin, formatCidr, parseCidr, type Cidr } from '../provisioning/ipv4.js';
import { validateTopologyConfig, type TopologyConfig } from '../provisioning/topology.js';

/**
 * What a `--guard-range` must satisfy. isobench installs an `unreachable` route for the whole guard
 * range on the host, so the range must be one no one reaches over the internet, and narrow enough
 * that blackholing it cannot cut the host off from a network it uses or will use (a VPN, a cloud
 * network in 10.0.0.0/8, Docker's 172.17.0.0/16): inside one of the blocks below, a /15 (the
 * default's size) or narrower, and not routed by the host already (checked before the run starts).
 */
export const GUARD_RANGE_BLOCKS: readonly string[] = [
  '198.18.0.0/15', // RFC 2544: benchmarking
  '10.0.0.0/8', // RFC 1918: private
  '172.16.0.0/12',
  '192.168.0.0/16',
  '192.0.2.0/24', // RFC 5737: documentation
  '198.51.100.0/24',
  '203.0.113.0/24',
];
/** The widest guard range accepted: a /15, as wide as the default 198.18.0.0/15. */
export const WIDEST_GUARD_PREFIX = 15;

/**
 * Checks the guard range itself (inside GUARD_RANGE_BLOCKS, a /15 or narrower), then `--subnet`
 * and `--guard-range` as the topology does (both parse, the subnet lies in the guard range, a /28
 * or larger). Pure: no command runs.
 * @throws UsageError naming the flag, the value and the fix.
 */
export function validateNetworkRanges(config: TopologyConfig): { subnet: Cidr; guard: Cidr } {
  let guard: Cidr;
  try {
    guard = parseCidr(config.guardRange);
  } catch {
    // Not a range at all: the topology's own check words that.
    return withExample(config);
  }
  if (!GUARD_RANGE_BLOCKS.some((block) => cidrWithin(guard, parseCidr(block)))) {
    throw new UsageError(
      `--guard-range ${config.guardRange} lies outside the ranges never routed on the internet (${GUARD_RANGE_BLOCKS.join(', ')}): choose a range inside one of them`,
    );
  }
  if (guard.prefix < WIDEST_GUARD_PREFIX) {
    throw new UsageError(
      `--guard-range ${config.guardRange} is wider than a /${WIDEST_GUARD_PREFIX}: isobench makes the whole range unreachable, which would cut this host off from any network in it; ` +
        `choose a /${WIDEST_GUARD_PREFIX} or narrower (the default is 198.18.0.0/15)`,
    );
  }
  return withExample(config);
}

/** validateTopologyConfig, with an example of the right form added to a value that is not a range at all. */
function withExample(config: TopologyConfig): { subnet: Cidr; guard: Cidr } {
  try {
    return validateTopologyConfig(config);
  } catch (error) {
    const flag = error instanceof UsageError ? /^--(subnet|guard-range) \S+: /.exec(error.message)?.[1] : undefined;
    if (!flag || / like /.test((error as UsageError).message)) throw error;
    const example = flag === 'subnet' ? '198.18.0.0/24' : '198.18.0.0/15';
    throw new UsageError(`${(error as UsageError).message}: write an IPv4 range as ADDRESS/PREFIX, e.g. --${flag} ${example}`, { cause: error });
  }
}

/** One route as `ip -j route show table all` prints it (the fields read here). */
export interface HostRoute {
  dst?: string;
  dev?: string;
  type?: string;
}

/**
 * The host's routes, every table. Empty when `ip` cannot tell (the topology checks again when it
 * builds the network, and fails there).
 */
export async function readHostRoutes(): Promise<HostRoute[]> {
  const outcome = await runCommand(['ip', '-j', 'route', 'show', 'table', 'all'], { timeoutMs: 10_000 }).catch(() => null);
  if (!outcome?.ok) return [];
  try {
    return JSON.parse(outcome.stdout) as HostRoute[];
  } catch {
    return [];
  }
}

/**
 * Refuses a guard range the host already routes, before anything is created: the topology would
 * refuse it too, but only after the lock, the results file and the installs.
 * @param routes The host's routes (readHostRoutes); default and non-IPv4 destinations are ignored.
 * @throws UsageError naming the route, its device, the range and the fix.
 */
export function refuseRoutedGuardRange(guard: Cidr, routes: readonly HostRoute[]): void {
  for (const route of routes) {
    if (!route.dst || route.dst === 'default' || !/^[\d.]+(\/\d+)?$/.test(route.dst)) continue;
    const destination = parseCidr(route.dst.includes('/') ? route.dst : `${route.dst}/32`);
    if (destination.prefix === 0 || !cidrsOverlap(destination, guard)) continue;
    throw new UsageError(
      `the host already routes ${route.dst}${route.dev ? ` via ${route.dev}` : ''}, inside isobench's test range ${formatCidr(guard)}: ` +
        'choose another range with --subnet and --guard-range, or run `npm run cleanup` if a crashed isobench run left it',
    );
  }
}
