import { dockerLeftovers } from './docker/leftovers.js';
import { kvmLeftovers } from './kvm/leftovers.js';
import { networkLeftovers } from './network-leftovers.js';
import type { LeftoverScanner } from './types.js';

/** Every kind of resource `cleanup` looks for beyond the ledgers. A new target adds its scanner here. */
export const LEFTOVER_SCANNERS: readonly LeftoverScanner[] = [dockerLeftovers, kvmLeftovers, networkLeftovers];
