import { refuseHeldRunLock } from '../../core/lock.js';
import { refuseCrashedRun } from '../crashed-run.js';
import { readHostRoutes, refuseRoutedGuardRange, validateNetworkRanges } from '../network-range.js';
import { checkSameHost, hostIdentity } from '../resume.js';
import type { BenchOptions } from '../runner.js';

/**
 * The refusals `bench` can make before it prints its plan line or creates anything, cheapest first:
 * a crashed run's leftovers, another run holding the run lock, a resume on another host, a guard
 * range the host already routes. A refusal is then the run's one line (issue 13: the held lock and
 * the routed range came after the plan line). Reads only: a directory, the lock file, /proc/cpuinfo
 * and `ip -j route`. runBench checks each again (for its other callers, and for a run that started
 * meanwhile); refusals that need installs or a host probe (a missing tool, Docker down) stay there.
 * @param options The parsed run; its seams stand in for the host and its routes as in runBench.
 * @param lab Whether the run is placed on lab hosts: their test addresses are routed by design.
 * @throws UsageError (exit 2) with the one line.
 */
export async function refuseBeforePlan(options: Pick<BenchOptions, 'subnet' | 'guardRange' | 'resume' | 'seams'>, lab: boolean): Promise<void> {
  await refuseCrashedRun();
  await refuseHeldRunLock();
  if (options.resume) checkSameHost(options.resume.path, options.resume.results.host, options.seams?.host ?? (await hostIdentity()));
  // Only after the lock: a run in progress routes its own guard range, and the lock is the better reason.
  const readRoutes = options.seams?.readRoutes ?? (options.seams?.createTopology || lab ? async () => [] : readHostRoutes);
  refuseRoutedGuardRange(validateNetworkRanges({ subnet: options.subnet, guardRange: options.guardRange }).guard, await readRoutes());
}
