import { errorMessage, UsageError } from '../core/errors.js';
import type { ResourceRegistry } from '../core/ledger.js';
import { HostSet, viaOf, type Host } from '../hosts/host.js';
import { hostProcStat } from '../hosts/proc-stat.js';
import { hostForRole, readInventory, type Inventory, type InventoryHost, type TestRange } from '../hosts/inventory.js';
import { cidrContains, parseAddress, parseCidr } from '../provisioning/ipv4.js';
import { describeLabHost, readHostIdentity } from '../provisioning/lab-host-facts.js';
import { labClientSide, labDestinationCheck, labNativeTarget } from '../provisioning/lab-native.js';
import { hostCpuSource } from '../results/metrics.js';
import type { LabHost } from '../results/schema.js';
import type { Placement } from './placement.js';
import { identityDifferences } from './resume.js';

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

/** A lab run's hosts as the command line chose them, checked. */
export interface LabSelection {
  inventory: Inventory;
  server: InventoryHost;
  client: InventoryHost;
}

/** The suites lab mode runs so far: those whose client and server are plain host processes over TCP. */
export const LAB_SUITES: readonly string[] = ['tcp-bulk', 'tcp-rr'];

/**
 * Checks `--hosts`/`--server`/`--client` of `npm run bench` before anything is created: the
 * inventory, the hosts for the two roles (distinct), and that the run is one lab mode can do so
 * far (the native target; the suites of LAB_SUITES).
 * @returns null without any of the flags (single-host mode), else the chosen hosts.
 * @throws UsageError, one line, exit 2.
 */
export async function labSelection(flags: LabBenchFlags, guardRange: string, targets: readonly string[], suites: readonly string[]): Promise<LabSelection | null> {
  if (flags.hosts === undefined && flags.server === undefined && flags.client === undefined) return null;
  if (flags.hosts === undefined) throw new UsageError(`--${flags.server !== undefined ? 'server' : 'client'} names an inventory host: give the inventory with --hosts FILE`);
  const inventory = await readInventory(flags.hosts, testRangeOf(guardRange));
  const server = hostForRole(inventory, 'server', flags.server, 'server');
  const client = hostForRole(inventory, 'client', flags.client, 'client');
  if (server.name === client.name) throw new UsageError(`--server and --client are both ${server.name}: lab mode drives the load from another host`);
  const otherSuites = suites.filter((suite) => !LAB_SUITES.includes(suite));
  if (targets.join(',') !== 'native' || otherSuites.length > 0) {
    throw new UsageError(`lab mode (--hosts) runs only --target native with --suite ${LAB_SUITES.join(', ')} so far, not --target ${targets.join(',')} --suite ${suites.join(',')}`);
  }
  return { inventory, server, client };
}

/**
 * A lab run's hosts for `--resume`: the inventory, `--server` and `--client` its file's command line
 * recorded, read and checked again as `labSelection` does, and the inventory's two hosts checked
 * against the file's `hosts` (name, how reached, test address), so the rest of the run measures the
 * machines the first part did. The path is resolved as the first run resolved it (the working
 * directory; `npm run` starts in the package's root).
 * @param file The results file, for messages.
 * @param stored The file's `hosts` (LabHost): the hosts the run measured on.
 * @throws UsageError, one line, exit 2: `cannot resume FILE: …` for an inventory missing or no longer
 *   valid, a role's host gone from it, a host the file does not record, or one reached at another
 *   address or with another test address.
 */
export async function labResumeSelection(file: string, recorded: LabBenchFlags, stored: readonly LabHost[] | undefined, guardRange: string, targets: readonly string[], suites: readonly string[]): Promise<LabSelection> {
  const refuse = (why: string): never => {
    throw new UsageError(`cannot resume ${file}: ${why}`);
  };
  let selection: LabSelection | null = null;
  try {
    selection = await labSelection(recorded, guardRange, targets, suites);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // readInventory's fix ("name an inventory file") does not apply: --resume takes no --hosts.
    refuse(`its inventory: ${error.message.replace(/: name an inventory file \(YAML or JSON\)$/, '')}; a lab run resumes only with the inventory it ran with, at the same path`);
  }
  if (selection === null) return refuse('its command line names no --hosts inventory');
  for (const entry of [selection.server, selection.client]) {
    const was = stored?.find((host) => host.name === entry.name);
    if (!was) return refuse(`host ${entry.name} of ${selection.inventory.source} is not among the hosts the run measured on (${(stored ?? []).map((host) => host.name).join(', ') || 'none recorded'}): resume with the inventory it ran with, or start a new run`);
    const now = { via: viaOf(entry), testAddress: entry.testAddress };
    if (was.via !== now.via || was.testAddress !== now.testAddress) {
      refuse(`host ${entry.name} is ${now.via}, test address ${now.testAddress} in ${selection.inventory.source} now, but the run measured ${was.via}, test address ${was.testAddress}: resume with the inventory it ran with, or start a new run`);
    }
  }
  return selection;
}

/**
 * Refuses a lab resume whose server or client host is now another machine: its hostname, CPU
 * model, core count or kernel (read afresh over SSH, without the accel probe) differ from the facts
 * the run recorded, as `checkSameHost` refuses a single-host resume. A host whose facts the run could
 * not record is not compared.
 * @param hostOf The open connection of an inventory host, by name.
 * @throws UsageError naming the host and each field that differs (then and now); HostError when a
 *   host cannot be reached (it names the host).
 */
export async function refuseChangedLabHosts(file: string, stored: readonly LabHost[] | undefined, selection: LabSelection, hostOf: (name: string) => Host): Promise<void> {
  for (const entry of [selection.server, selection.client]) {
    const was = stored?.find((host) => host.name === entry.name)?.facts;
    if (!was) continue;
    const what = identityDifferences(was, await readHostIdentity(hostOf(entry.name)), ['then', 'now']);
    if (what === null) continue;
    throw new UsageError(`cannot resume ${file}: host ${entry.name} is another machine now (${what}): resume on the hosts it measured, or start a new run`);
  }
}

/**
 * CPU-cost metrics of results/metrics.ts (`cpu_ns_per_byte…`, `cpu_us_per_tx…`, `cpu_busy_percent…`,
 * `cycles_per_byte`, `est_cycles_per_byte`): a lab run keeps only those naming one of its measured
 * hosts (`cpu_ns_per_byte_host sut`); the others would be this machine's /proc/stat or perf.
 */
const CPU_METRIC = /^(cpu_|cycles_|est_cycles_)/;

/** Seconds allowed for `command -v` of the suites' tools on a host. */
const TOOL_CHECK_TIMEOUT_MS = 30_000;

/**
 * Lab mode's placement: the native target on the `--server` host (provisioning/lab-native.ts), the
 * suites' client programs on the `--client` host, both over SSH; test traffic only to the server's
 * test address. Nothing is pinned. CPU time and steal are read from the server's and the client's
 * own /proc/stat over their SSH connections (hosts/proc-stat.ts) and stored by host name; the
 * quiet-host wait samples the server host. Cycles are not counted on the hosts (perf runs only here).
 */
export function labPlacement(selection: LabSelection, hosts: HostSet): Placement {
  const { inventory, server, client } = selection;
  const serverHost = hosts.get(server.name);
  const clientHost = hosts.get(client.name);
  const used = [server, client];
  const measuredHosts = used.map((entry) => hostProcStat(hosts.get(entry.name)));
  const hostMetricSuffixes = used.map((entry) => `_${hostCpuSource(entry.name)}`);
  return {
    description: `lab mode (${inventory.source}): targets on ${server.name} (${serverHost.via}, test address ${server.testAddress}), client on ${client.name} (${clientHost.via}, ${client.testAddress})`,
    pinning: { oversubscribed: false, cpuSets: null, reason: `lab mode: the client runs on host ${client.name} and the targets on ${server.name}; nothing is pinned` },
    client: labClientSide(clientHost),
    verifyDestination: labDestinationCheck(server),
    async check(suites, log) {
      const tools = [...new Set(suites.flatMap((suite) => suite.hostTools.map((tool) => tool.command)))];
      await Promise.all(
        used.map(async (entry) => {
          const host = hosts.get(entry.name);
          // One shell for all the tools: the script is a constant, the tool names are its arguments.
          const outcome = await host.run(['sh', '-c', 'for t; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done', 'sh', ...tools], { timeoutMs: TOOL_CHECK_TIMEOUT_MS });
          if (!outcome.ok) throw new UsageError(`host ${entry.name}: checking its tools failed (exit ${outcome.exitCode ?? outcome.signal}): ${outcome.stderr.trim().split('\n').pop() ?? ''}`);
          const missing = outcome.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
          if (missing.length > 0) {
            const packages = suites.flatMap((suite) => suite.hostTools).filter((tool) => missing.includes(tool.command)).map((tool) => tool.debianPackage);
            throw new UsageError(`host ${entry.name} lacks ${missing.join(', ')}: install ${[...new Set(packages)].join(' ')} there (isobench installs nothing on lab hosts)`);
          }
          log(`host ${entry.name}: answers, has ${tools.join(', ')}`);
        }),
      );
    },
    describeHosts: () => Promise.all(inventory.hosts.filter((entry) => used.includes(entry)).map((entry) => describeLabHost(entry, hosts.get(entry.name)))),
    provision: async (configuration, resources) => {
      if (configuration.id !== 'native') throw new Error(`lab mode provisions only native so far, not ${configuration.id}`);
      return labNativeTarget(serverHost, server, client, resources);
    },
    suiteHost: (local) => ({ ...local, perfCounters: false, cpuMHz: null }),
    keepsMetric: (name) => !CPU_METRIC.test(name) || hostMetricSuffixes.some((suffix) => name.endsWith(suffix)),
    measuredHosts,
    quietHost: measuredHosts[0]!,
    async hostFailure() {
      for (const entry of used) {
        const failure = await hosts.get(entry.name).run(['true'], { timeoutMs: 20_000 }).then(() => null, (error: unknown) => errorMessage(error));
        if (failure !== null) return failure.startsWith(`host ${entry.name}`) ? failure : `host ${entry.name}: ${failure}`;
      }
      return null;
    },
    close: () => hosts.close(),
  };
}
