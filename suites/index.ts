import type { AnySuite } from '../contracts/suite.js';
import { migrationSuite } from './migration/index.js';
import { mysqlSuite } from './mysql/index.js';
import { randomIoSuite } from './random-io/index.js';
import { startupSuite } from './startup/index.js';
import { tcpBulkSuite } from './tcp-bulk/index.js';
import { tcpRrSuite } from './tcp-rr/index.js';

/**
 * Every suite isobench knows, in the order runs and usage list them (`--suite all` leaves out the opt-in ones). Adding a
 * suite is one folder and one line here: its name, flags, ports and tools reach the CLI, the planner,
 * docker-nat and the installer from its object.
 */
export const SUITES: readonly AnySuite[] = [tcpBulkSuite, tcpRrSuite, randomIoSuite, mysqlSuite, startupSuite, migrationSuite];

/** The suites `--suite all` and the default matrix run: every registered suite but the opt-in ones. */
export const DEFAULT_SUITES: readonly AnySuite[] = SUITES.filter((suite) => suite.optIn === undefined);

/** Suite names, from the registry. */
export const SUITE_NAMES: readonly string[] = SUITES.map((suite) => suite.name);

/** The registered suite of that name, or undefined. */
export function findSuite(name: string): AnySuite | undefined {
  return SUITES.find((suite) => suite.name === name);
}

/**
 * The registered suite of that name.
 * @throws Error for a name that is not registered (callers check names with `findSuite` first).
 */
export function suiteByName(name: string): AnySuite {
  const suite = findSuite(name);
  if (!suite) throw new Error(`no suite named "${name}" is registered`);
  return suite;
}
