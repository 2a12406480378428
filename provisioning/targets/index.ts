import type { TargetDriver } from '../types.js';
import { dockerHostDriver } from './docker-host.js';
import { dockerNatDriver } from './docker-nat.js';
import { kvmDriver } from './kvm.js';
import { nativeDriver } from './native.js';
import { runcCriuDriver } from './runc-criu.js';

/**
 * Every target driver isobench knows, in the papers' row order. Adding a target is one driver
 * module and one line here: its name, options, tools, leftover scanner and display reach the CLI,
 * the installer, `cleanup` and the report from its object.
 */
export const DRIVERS: readonly TargetDriver[] = [nativeDriver, dockerHostDriver, dockerNatDriver, runcCriuDriver, kvmDriver];

/** Driver names, from the registry. */
export const TARGET_NAMES: readonly string[] = DRIVERS.map((driver) => driver.name);

/** The registered driver of that name, or undefined. */
export function findDriver(name: string): TargetDriver | undefined {
  return DRIVERS.find((driver) => driver.name === name);
}
