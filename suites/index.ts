import { randomIoSuite } from './random-io/index.js';
import { startupSuite } from './startup/index.js';
import { tcpBulkSuite } from './tcp-bulk/index.js';
import { tcpRrSuite } from './tcp-rr/index.js';
import { SUITE_NAMES, type Suite, type SuiteName } from './types.js';

/** Adding a suite: one module, one line here, and its name in SUITE_NAMES. */
const SUITES: Record<SuiteName, Suite> = {
  'tcp-bulk': tcpBulkSuite,
  'tcp-rr': tcpRrSuite,
  'random-io': randomIoSuite,
  startup: startupSuite,
};

export function suiteByName(name: SuiteName): Suite {
  return SUITES[name];
}

export function isSuiteName(name: string): name is SuiteName {
  return (SUITE_NAMES as readonly string[]).includes(name);
}

export { SUITE_NAMES };
