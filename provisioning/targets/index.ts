import { UsageError } from '../../core/errors.js';
import { TARGET_NAMES, type TargetDriver, type TargetName } from '../types.js';
import { dockerHostDriver } from './docker-host.js';
import { dockerNatDriver } from './docker-nat.js';
import { kvmDriver } from './kvm.js';
import { nativeDriver } from './native.js';

/** Adding a target: one driver module and one line here. */
const DRIVERS: Partial<Record<TargetName, TargetDriver>> = {
  native: nativeDriver,
  kvm: kvmDriver,
  'docker-host': dockerHostDriver,
  'docker-nat': dockerNatDriver,
};

export function driverFor(name: TargetName): TargetDriver | undefined {
  return DRIVERS[name];
}

export function isTargetName(name: string): name is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(name);
}

export function parseTargetName(name: string): TargetName {
  if (!isTargetName(name)) throw new UsageError(`unknown target "${name}": choose from ${TARGET_NAMES.join(', ')} or all`);
  return name;
}

export { TARGET_NAMES };
