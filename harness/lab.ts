import { UsageError } from '../core/errors.js';
import type { ResourceRegistry } from '../core/ledger.js';
import { HostSet } from '../hosts/host.js';
import { readInventory, type Inventory, type TestRange } from '../hosts/inventory.js';
import { cidrContains, parseAddress, parseCidr } from '../provisioning/ipv4.js';

/**
 * The test range an inventory's test addresses must lie in: `--guard-range`'s (default
 * 198.18.0.0/15), the range isobench guards on every host.
 * @throws UsageError when the range does not parse.
 */
export function testRangeOf(guardRange: string): TestRange {
  let cidr;
  try {
    cidr = parseCidr(guardRange);
  } catch (error) {
    throw new UsageError(`--guard-range ${guardRange}: ${(error as Error).message}`, { cause: error });
  }
  return { text: guardRange, contains: (address) => cidrContains(cidr, parseAddress(address)) };
}

/** An inventory and its hosts, opened; `hosts.close()` ends every shared SSH connection. */
export interface OpenLab {
  inventory: Inventory;
  hosts: HostSet;
}

/**
 * Reads `--hosts FILE` and opens its hosts (nothing connects until the first command).
 * @throws UsageError for a bad inventory (one line, exit 2).
 */
export async function openLab(path: string, guardRange: string, registry?: ResourceRegistry): Promise<OpenLab> {
  const inventory = await readInventory(path, testRangeOf(guardRange));
  const hosts = await HostSet.open(inventory.hosts, {
    ...(inventory.sshConfig ? { configFile: inventory.sshConfig } : {}),
    ...(registry ? { registry } : {}),
  });
  return { inventory, hosts };
}
