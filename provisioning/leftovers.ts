import { networkLeftovers } from './network-leftovers.js';
import { DRIVERS } from './targets/index.js';
import type { LeftoverScanner } from './types.js';

/**
 * Every kind of resource `cleanup` looks for beyond the ledgers: the test network every run builds,
 * then each registered driver's own scanner (drivers may share one: both Docker drivers do).
 */
export const LEFTOVER_SCANNERS: readonly LeftoverScanner[] = [
  ...new Set([...DRIVERS.flatMap((driver) => (driver.leftovers ? [driver.leftovers] : [])), networkLeftovers]),
];
