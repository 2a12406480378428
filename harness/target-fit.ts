import type { AnySuite } from '../contracts/suite.js';
import type { TargetDriver } from '../provisioning/types.js';
import type { TargetConfiguration } from '../provisioning/targets/configuration.js';

/**
 * Why `driver` cannot run `suite`, or null when it can: the suite names the only targets that run
 * it (`onlyTargets`: migration on kvm and runc-criu), or the driver names the only suites it runs
 * (`onlySuites`: runc-criu runs migration). Absent on both sides: every pairing runs.
 */
export function unfitReason(driver: TargetDriver, suite: AnySuite): string | null {
  if (suite.onlyTargets && !suite.onlyTargets.includes(driver.name)) return `the ${suite.name} suite runs only on ${wordList(suite.onlyTargets)}`;
  if (driver.onlySuites && !driver.onlySuites.includes(suite.name)) return `${driver.name} runs only the ${wordList(driver.onlySuites)} suite`;
  return null;
}

/** A target configuration the plan leaves out, and why: the distinct reasons over the chosen suites, none of which it can run. */
export interface LeftOutTarget {
  readonly id: string;
  readonly reasons: readonly string[];
}

/**
 * Splits the configurations into those that can run at least one of `suites` (kept, in the order
 * given) and those that can run none (left out, with the reason), so nothing is installed or
 * provisioned for a target whose every point would be skipped. A target that can run some of the
 * suites stays: its other points are skipped at trial time, as before. Pure; no host is probed.
 */
export function fitTargets(configurations: readonly TargetConfiguration[], suites: readonly AnySuite[]): { kept: TargetConfiguration[]; leftOut: LeftOutTarget[] } {
  const kept: TargetConfiguration[] = [];
  const leftOut: LeftOutTarget[] = [];
  for (const configuration of configurations) {
    const reasons = suites.map((suite) => unfitReason(configuration.driver, suite));
    if (reasons.some((reason) => reason === null)) kept.push(configuration);
    else leftOut.push({ id: configuration.id, reasons: [...new Set(reasons as string[])] });
  }
  return { kept, leftOut };
}

/** The line `bench` prints for a left-out target, worded like the default matrix's unavailable ones. */
export function leftOutLine(target: LeftOutTarget): string {
  return `leaving out ${target.id}: ${target.reasons.join('; ')}`;
}

/** `a`, `a and b`, `a, b and c`. */
function wordList(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}
