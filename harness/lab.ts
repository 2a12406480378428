import { UsageError } from '../core/errors.js';
import type { ResourceRegistry } from '../core/ledger.js';
import { HostSet } from '../hosts/host.js';
import { hostForRole, readInventory, type Inventory, type TestRange } from '../hosts/inventory.js';
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

/** What `npm run bench` was given for lab mode. */
export interface LabBenchFlags {
  hosts?: string | undefined;
  server?: string | undefined;
  client?: string | undefined;
}

/**
 * Checks `--hosts`/`--server`/`--client` of `npm run bench` before anything is created: the
 * inventory, the hosts for the two roles (distinct), and that the run is the one lab mode can do so
 * far (the native target and the tcp-bulk suite). Lab runs are not wired into the runner yet, so a
 * valid lab command line is refused too, saying so.
 * @throws UsageError, one line, exit 2, always when any of the flags is given.
 */
export async function refuseLabBench(flags: LabBenchFlags, guardRange: string, targets: readonly string[], suites: readonly string[]): Promise<void> {
  if (flags.hosts === undefined && flags.server === undefined && flags.client === undefined) return;
  if (flags.hosts === undefined) throw new UsageError(`--${flags.server !== undefined ? 'server' : 'client'} names an inventory host: give the inventory with --hosts FILE`);
  const inventory = await readInventory(flags.hosts, testRangeOf(guardRange));
  const server = hostForRole(inventory, 'server', flags.server, 'server');
  const client = hostForRole(inventory, 'client', flags.client, 'client');
  if (server.name === client.name) throw new UsageError(`--server and --client are both ${server.name}: lab mode drives the load from another host`);
  if (targets.join(',') !== 'native' || suites.join(',') !== 'tcp-bulk') {
    throw new UsageError(`lab mode (--hosts) runs only --target native --suite tcp-bulk so far, not --target ${targets.join(',')} --suite ${suites.join(',')}`);
  }
  throw new UsageError(
    `--hosts ${inventory.source}: server ${server.name} and client ${client.name} are valid, but lab runs are not wired into npm run bench yet: ` +
      '`npm run doctor -- --hosts FILE` checks the hosts; the native × tcp-bulk trial across hosts runs in test/integration/lab-tcp-bulk.test.ts',
  );
}
