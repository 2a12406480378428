import { allProcessStats } from '../core/proc.js';
import { isIsobenchPolicy, POLICY_RC_D } from '../core/tools.js';
import { networkLeftovers } from './network-leftovers.js';
import { DRIVERS } from './targets/index.js';
import type { Leftover, LeftoverScanner } from './types.js';

/** Package tools whose run means an install is under way: the hook is then still in use. */
const INSTALLERS = new Set(['apt-get', 'apt', 'dpkg']);

/**
 * Debian's policy-rc.d hook that isobench writes while apt installs services (core/tools.ts),
 * left behind when a run is killed mid-install. Found only when it holds isobench's exact text and
 * no apt-get or dpkg runs (an install under way, isobench's or not, still needs it).
 * @param path The hook; POLICY_RC_D unless a test says otherwise.
 * @param installerRunning Whether an install is under way; default: an apt-get, apt or dpkg process exists.
 */
export function servicePolicyLeftovers(
  path: string = POLICY_RC_D,
  installerRunning: () => Promise<boolean> = async () => (await allProcessStats()).some((stat) => INSTALLERS.has(stat.comm)),
): LeftoverScanner {
  return {
    name: 'service policy',
    async find(): Promise<Leftover[]> {
      if (!(await isIsobenchPolicy(path)) || (await installerRunning())) return [];
      return [{ description: `service-start policy ${path} (isobench's, left by a run killed while apt-get installed)`, undo: { kind: 'path', path } }];
    },
  };
}

/**
 * Every kind of resource `cleanup` looks for beyond the ledgers: the test network every run builds,
 * then each registered driver's own scanner (drivers may share one: both Docker drivers do), then
 * the service-start policy of an interrupted install.
 */
export const LEFTOVER_SCANNERS: readonly LeftoverScanner[] = [
  ...new Set([...DRIVERS.flatMap((driver) => (driver.leftovers ? [driver.leftovers] : [])), networkLeftovers]),
  servicePolicyLeftovers(),
];
