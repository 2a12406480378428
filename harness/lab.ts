import type { AnySuite } from '../contracts/suite.js';
import { errorMessage, UsageError } from '../core/errors.js';
import type { ToolRequirement } from '../core/tools.js';
import type { ResourceRegistry } from '../core/ledger.js';
import { HostSet, SshHost, viaOf, type Host } from '../hosts/host.js';
import { hostProcStat } from '../hosts/proc-stat.js';
import { hostForRole, readInventory, type Inventory, type InventoryHost, type TestRange } from '../hosts/inventory.js';
import { cidrContains, parseAddress, parseCidr } from '../provisioning/ipv4.js';
import { describeLabHost, readHostIdentity } from '../provisioning/lab-host-facts.js';
import { connectLabDocker, LAB_DOCKER_NETWORKS, labDockerTarget, type LabDockerTargetName } from '../provisioning/lab-docker.js';
import { labClientSide, labDestinationCheck, labNativeTarget } from '../provisioning/lab-native.js';
import { LAB_KVM_CPU_SOURCES, provisionLabKvm } from '../provisioning/kvm/lab/lab-kvm-target.js';
import type { TargetConfiguration } from '../provisioning/targets/configuration.js';
import { hostCpuSource } from '../results/metrics.js';
import type { LabHost } from '../results/schema.js';
import type { LeftOutTarget } from './target-fit.js';
import { checkEveryHost, checkHostPaths, checkHostTools, firstLostHost, isCpuMetric, readOnlineCores } from './lab-host-checks.js';
import { checkGuestSubnet, labMigrationPlacement, labMigrationSelection, type LabMigrationFlags, type LabMigrationSelection } from './lab-migration.js';
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
export interface LabBenchFlags extends LabMigrationFlags {
  hosts?: string | undefined;
}

/** A lab run's hosts as the command line chose them, checked: targets on `server`, load from `client`. */
export interface LabSelection {
  kind: 'load';
  inventory: Inventory;
  server: InventoryHost;
  client: InventoryHost;
  /** Targets of `--target all` lab mode leaves out (the kvm guest without a bridge…, docker-nat beside other targets), with the reason: the run goes on without them. */
  leftOut: LeftOutTarget[];
}

/**
 * The suites lab mode runs so far: those whose servers and files are plain processes and paths on the
 * server host (iperf3, sockperf, fio on its `data-dir`, MariaDB on its test address) and whose client
 * is a plain process on the client host; startup is accepted so `--suite all` runs, and its points
 * are skipped with the reason (Placement.freshUnavailable: timed over SSH, a fresh start would
 * measure the remote control path). migration runs in a lab run of its own (harness/lab-migration.ts).
 */
export const LAB_SUITES: readonly string[] = ['tcp-bulk', 'tcp-rr', 'random-io', 'mysql', 'startup'];

/** Either kind of lab run: load between `--server` and `--client`, or a migration between `--source` and `--dest`. */
export type AnyLabSelection = LabSelection | LabMigrationSelection;

/** The inventory hosts a lab run uses, in the order its messages and the results name them. */
export function labHostsOf(selection: AnyLabSelection): InventoryHost[] {
  return selection.kind === 'load' ? [selection.server, selection.client] : [selection.source, selection.dest, ...(selection.watch ? [selection.watch] : [])];
}

/** The placement of either kind of lab run. */
export function anyLabPlacement(selection: AnyLabSelection, hosts: HostSet, targets: readonly string[]): Placement {
  return selection.kind === 'load' ? labPlacement(selection, hosts, targets) : labMigrationPlacement(selection, hosts);
}

/**
 * The tools a lab host must have for `suites` in its `role`: the server host runs the target's
 * programs (ToolRequirement.side `target`: fio, mariadbd) and the client host the load generators
 * (`client`: sysbench); a tool of both sides (iperf3, sockperf) is needed on both. One entry per command.
 */
export function labToolsOf(suites: readonly Pick<AnySuite, 'hostTools'>[], role: 'server' | 'client'): ToolRequirement[] {
  const skip = role === 'server' ? 'client' : 'target';
  const tools = new Map<string, ToolRequirement>();
  for (const tool of suites.flatMap((suite) => suite.hostTools)) {
    if (tool.side !== skip && !tools.has(tool.command)) tools.set(tool.command, tool);
  }
  return [...tools.values()];
}

/**
 * The targets lab mode provisions on the server host so far: native (host processes), the two
 * Docker targets on the host's own daemon over SSH (provisioning/lab-docker.ts), and kvm, a guest
 * QEMU runs on the host (provisioning/kvm/lab/lab-kvm-target.ts). Configurations of them
 * (`docker-nat:overlay`) count as their target.
 */
export const LAB_TARGETS: readonly string[] = ['native', ...Object.keys(LAB_DOCKER_NETWORKS), 'kvm'];

/**
 * The suites lab mode runs on its Docker targets so far: those its integration test ran there
 * (test/integration/lab-docker.test.ts), every suite of LAB_SUITES: the suites' servers in the
 * container (iperf3, sockperf, MariaDB) and fio on its volume, or on its own layers with
 * `--storage overlay`, on the host's daemon; their clients on the client host. A suite added to
 * LAB_SUITES later is refused on the Docker targets until it is run there, not guessed. startup's
 * points are skipped with the reason (see LAB_SUITES).
 */
export const LAB_DOCKER_SUITES: readonly string[] = ['tcp-bulk', 'tcp-rr', 'random-io', 'mysql', 'startup'];

/**
 * The suites lab mode runs on its kvm target (a TCG or KVM guest on the server host,
 * provisioning/kvm/lab/lab-kvm-target.ts): those its integration test ran there
 * (test/integration/lab-kvm-bench.test.ts). Their servers (iperf3, sockperf, MariaDB) run in the guest
 * at the host's guest-address and fio on the guest's virtio disk, its qcow2 overlay in the host's
 * data-dir; the clients run on the client host; the disk figure is read on the server host. startup's
 * points are skipped with the reason (a second guest would need a second guest-address).
 */
export const LAB_KVM_SUITES: readonly string[] = ['tcp-bulk', 'tcp-rr', 'random-io', 'mysql', 'startup'];

/** What the server host must have to run the kvm target's guest. */
const KVM_HOST_TOOLS = [
  { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', why: 'to run the kvm target\'s guest' },
  { command: 'qemu-img', debianPackage: 'qemu-utils', why: 'to make the guest\'s disk' },
  { command: 'ip', debianPackage: 'iproute2', why: 'to make the guest\'s tap' },
];

/** The target a configuration id names: `docker-nat:overlay` is `docker-nat`. */
const targetOf = (configuration: string) => configuration.split(':')[0]!;

/**
 * Checks `--hosts`/`--server`/`--client` of `npm run bench` before anything is created: the
 * inventory, the hosts for the two roles (distinct), and that the run is one lab mode can do so
 * far (the targets of LAB_TARGETS; the suites of LAB_SUITES), with a docker-nat configuration alone
 * (its ports are published on the server's one test address, where they would take the other
 * targets' traffic: the single-host driver gives it an address of its own, a lab host has one).
 * @param everyTarget The run's targets are `--target all`: a kvm guest the inventory cannot place,
 *   and docker-nat beside other targets, are left out (LabSelection.leftOut) instead of refused.
 * @returns null without any of the flags (single-host mode), else the chosen hosts.
 * @throws UsageError, one line, exit 2.
 */
export async function labSelection(flags: LabBenchFlags, guardRange: string, targets: readonly string[], suites: readonly string[], vmManager: 'qemu' | 'libvirt' = 'qemu', everyTarget = false): Promise<AnyLabSelection | null> {
  if (flags.hosts === undefined && flags.server === undefined && flags.client === undefined && flags.source === undefined) return null;
  if (flags.hosts === undefined) throw new UsageError(`--${flags.server !== undefined ? 'server' : flags.client !== undefined ? 'client' : 'source'} names an inventory host: give the inventory with --hosts FILE`);
  const inventory = await readInventory(flags.hosts, testRangeOf(guardRange));
  if (suites.includes('migration')) return labMigrationSelection(inventory, flags, targets, suites, vmManager);
  if (flags.source !== undefined) throw new UsageError('--source names the host a migration starts on: add --suite migration --target kvm, or leave --source out');
  const server = hostForRole(inventory, 'server', flags.server, 'server');
  const client = hostForRole(inventory, 'client', flags.client, 'client');
  if (server.name === client.name) throw new UsageError(`--server and --client are both ${server.name}: lab mode drives the load from another host`);
  const otherSuites = suites.filter((suite) => !LAB_SUITES.includes(suite));
  const otherTargets = targets.filter((target) => !LAB_TARGETS.includes(targetOf(target)));
  if (otherTargets.length > 0 || otherSuites.length > 0) {
    throw new UsageError(`lab mode (--hosts) runs only --target ${LAB_TARGETS.join(', ')} with --suite ${LAB_SUITES.join(', ')} so far, not --target ${targets.join(',')} --suite ${suites.join(',')}`);
  }
  const leftOut: LeftOutTarget[] = [];
  const kvm = targets.filter((target) => targetOf(target) === 'kvm');
  // Else the guest would boot under QEMU over SSH while the user asked for libvirt.
  if (kvm.length > 0 && vmManager === 'libvirt') throw new UsageError('lab mode runs the kvm guest as a libvirt domain for the migration suite only so far (--suite migration --source HOST --dest HOST): leave --vm-manager out for the load suites');
  if (kvm.length > 0) {
    const kvmSuites = suites.filter((suite) => !LAB_KVM_SUITES.includes(suite));
    if (kvmSuites.length > 0) throw new UsageError(`lab mode runs kvm with --suite ${LAB_KVM_SUITES.join(', ')} so far, not ${kvmSuites.join(', ')}: run those in a run without kvm`);
    // Its guest's disk is always a qcow2 overlay on the host: a row named raw would be mislabelled.
    const raw = kvm.filter((target) => target.split(':').slice(1).includes('raw'));
    if (raw.length > 0) throw new UsageError(`lab mode's kvm guest boots from a qcow2 overlay over the image copied to ${server.name} (a raw disk would cross the link at its full size), not ${raw.join(', ')}: use --target kvm or kvm:qcow2`);
    const problem = kvmHostProblem(server, inventory.source);
    if (problem !== null && !everyTarget) throw new UsageError(problem);
    // `--target all`: the inventory does not give the guest what it needs on this host; the rest runs.
    if (problem !== null) leftOut.push(...kvm.map((id) => ({ id, reasons: [problem] })));
  }
  const docker = targets.filter((target) => targetOf(target) in LAB_DOCKER_NETWORKS);
  const dockerSuites = suites.filter((suite) => !LAB_DOCKER_SUITES.includes(suite));
  if (docker.length > 0 && dockerSuites.length > 0) {
    throw new UsageError(`lab mode runs ${docker.join(', ')} with --suite ${LAB_DOCKER_SUITES.join(', ')} so far, not ${dockerSuites.join(', ')}: run those in a run without the Docker targets`);
  }
  const nat = targets.filter((target) => targetOf(target) === 'docker-nat');
  const placed = targets.filter((target) => !leftOut.some((left) => left.id === target));
  // `--target all`: docker-nat is left out, saying how to run it, rather than refuse the whole run.
  if (everyTarget && nat.length > 0 && placed.some((target) => !nat.includes(target))) {
    leftOut.push(...nat.map((id) => ({ id, reasons: [`lab mode runs it alone (it publishes the suites' ports on ${server.name}'s one test address, where they would take the other targets' traffic): run it with --target ${id}`] })));
  } else if (nat.length > 0 && placed.length > 1) {
    throw new UsageError(
      `lab mode runs ${nat.join(', ')} alone: docker-nat publishes the suites' ports on ${server.name}'s one test address ${server.testAddress}, so Docker's DNAT would take the traffic meant for ${targets.filter((target) => !nat.includes(target)).concat(nat.slice(1)).join(', ')} on the same ports; run it in a run of its own`,
    );
  }
  return { kind: 'load', inventory, server, client, leftOut };
}

/**
 * What the inventory lacks for the kvm target's guest on the server host, as the one line a refusal
 * gives (an SSH host with `data-dir`, `bridge` and a `guest-address` on its link), or null.
 */
function kvmHostProblem(server: InventoryHost, source: string): string | null {
  if (server.ssh === undefined) return `lab mode's kvm target runs on an SSH host, not on ${server.name} (this machine): use the single-host mode here`;
  const fields = [['data-dir', server.dataDir, 'data-dir: /srv/isobench'], ['bridge', server.bridge, 'bridge: br-lab'], ['guest-address', server.guestAddress, 'guest-address: 198.18.1.50/24']] as const;
  const missing = fields.filter(([, has]) => has === undefined);
  if (missing.length > 0) {
    return `the kvm target on host ${server.name} needs its ${missing.map(([field]) => field).join(' and ')} in ${source} (the image and disk go in data-dir, the guest's tap joins bridge on the lab link, the guest takes guest-address): add e.g. ${missing.map(([, , example]) => `\`${example}\``).join(', ')}`;
  }
  try {
    checkGuestSubnet(server, [server], source);
    return null;
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
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
export async function labResumeSelection(file: string, recorded: LabBenchFlags, stored: readonly LabHost[] | undefined, guardRange: string, targets: readonly string[], suites: readonly string[], vmManager: 'qemu' | 'libvirt' = 'qemu'): Promise<AnyLabSelection> {
  const refuse = (why: string): never => {
    throw new UsageError(`cannot resume ${file}: ${why}`);
  };
  let selection: AnyLabSelection | null = null;
  try {
    selection = await labSelection(recorded, guardRange, targets, suites, vmManager);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // readInventory's fix ("name an inventory file") does not apply: --resume takes no --hosts.
    refuse(`its inventory: ${error.message.replace(/: name an inventory file \(YAML or JSON\)$/, '')}; a lab run resumes only with the inventory it ran with, at the same path`);
  }
  if (selection === null) return refuse('its command line names no --hosts inventory');
  for (const entry of labHostsOf(selection)) {
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
export async function refuseChangedLabHosts(file: string, stored: readonly LabHost[] | undefined, selection: AnyLabSelection, hostOf: (name: string) => Host): Promise<void> {
  for (const entry of labHostsOf(selection)) {
    const was = stored?.find((host) => host.name === entry.name)?.facts;
    if (!was) continue;
    const what = identityDifferences(was, await readHostIdentity(hostOf(entry.name)), ['then', 'now']);
    if (what === null) continue;
    throw new UsageError(`cannot resume ${file}: host ${entry.name} is another machine now (${what}): resume on the hosts it measured, or start a new run`);
  }
}

/** The Docker target a configuration is, or null for any other. */
function labDockerDriver(configuration: TargetConfiguration): LabDockerTargetName | null {
  const name = configuration.driver.name;
  return name in LAB_DOCKER_NETWORKS ? (name as LabDockerTargetName) : null;
}

/**
 * Lab mode's placement: the native target on the `--server` host (provisioning/lab-native.ts) or a
 * Docker target on that host's own daemon over SSH (provisioning/lab-docker.ts) or the kvm guest QEMU runs there (provisioning/kvm/lab/lab-kvm-target.ts; its servers at the host's guest-address), the
 * suites' client programs on the `--client` host, both over SSH; test traffic only to the server's
 * test address. `check` asks each host for its side's tools (labToolsOf) and reads the server's
 * cores, which the suites scale to; the server is the suites' `targetHost` (random-io reads its
 * /sys/block there). Nothing is pinned. CPU time and steal are read from the server's and the client's
 * own /proc/stat over their SSH connections (hosts/proc-stat.ts) and stored by host name; the
 * quiet-host wait samples the server host. Cycles are not counted on the hosts (perf runs only here).
 * @param targets The run's configuration ids: the server host must have the suites' tools only when
 *   native is among them (the Docker targets run them in the container).
 */
export function labPlacement(selection: LabSelection, hosts: HostSet, targets: readonly string[] = ['native']): Placement {
  const { inventory, server, client } = selection;
  const serverHost = hosts.get(server.name);
  const clientHost = hosts.get(client.name);
  const used = [server, client];
  const measuredHosts = used.map((entry) => hostProcStat(hosts.get(entry.name)));
  // Each host's whole-host figure, and the kvm target's own sources, read on its host and in its guest.
  const hostMetricSuffixes = [...used.map((entry) => `_${hostCpuSource(entry.name)}`), ...LAB_KVM_CPU_SOURCES.map((source) => `_${source}`)];
  let serverCores: number | null = null;
  return {
    description: `lab mode (${inventory.source}): targets on ${server.name} (${serverHost.via}, test address ${server.testAddress}), client on ${client.name} (${clientHost.via}, ${client.testAddress})`,
    pinning: { oversubscribed: false, cpuSets: null, reason: `lab mode: the client runs on host ${client.name} and the targets on ${server.name}; nothing is pinned` },
    client: labClientSide(clientHost),
    targetHost: { name: server.name, exec: (command, options) => serverHost.run(command, options) },
    // The kvm target's servers listen in its guest, at the server's guest-address.
    verifyDestination: async (address) => {
      if (server.guestAddress !== undefined && address === server.guestAddress.address && targets.some((target) => targetOf(target) === 'kvm')) return;
      await labDestinationCheck(server)(address);
    },
    async check(suites, log) {
      // The suites' servers run on the server host itself only for native; a container brings its own.
      const native = targets.some((target) => targetOf(target) === 'native');
      await checkEveryHost(
        [[server, 'server'], [client, 'client']] as const,
        async ([entry, role]) => {
          const host = hosts.get(entry.name);
          const base = role === 'server' && !native ? [] : labToolsOf(suites, role);
          // The kvm target's guest runs its servers itself; the host runs QEMU.
          const kvm = role === 'server' && targets.some((target) => targetOf(target) === 'kvm') ? KVM_HOST_TOOLS.filter((tool) => !base.some((other) => other.command === tool.command)) : [];
          const required = [...base, ...kvm];
          const tools = required.map((tool) => tool.command);
          await checkHostTools(host, entry, role, required);
          if (kvm.length > 0) await checkHostPaths(host, entry, [['bridge', entry.bridge!]]);
          if (role === 'server') serverCores = await readOnlineCores(host, entry);
          log(`host ${entry.name} (${role}): answers, has ${tools.join(', ') || 'no tool to check'}${role === 'server' ? `; ${serverCores} cores (what fio's numjobs and mysql's full sweep scale to)` : ''}`);
        },
      );
    },
    serverCores() {
      if (serverCores === null) throw new Error(`lab placement: host ${server.name}'s cores are read by check(), which has not run`);
      return serverCores;
    },
    describeHosts: () => Promise.all(inventory.hosts.filter((entry) => used.includes(entry)).map((entry) => describeLabHost(entry, hosts.get(entry.name)))),
    async availability(configuration) {
      const docker = labDockerDriver(configuration);
      if (docker === null) return null;
      if (!(serverHost instanceof SshHost)) return `host ${server.name} is this machine: lab mode's ${docker} runs on an SSH host's own daemon (use the single-host mode here)`;
      try {
        const connection = await connectLabDocker(serverHost);
        await connection.agent.close();
        return null;
      } catch (error) {
        return errorMessage(error);
      }
    },
    // A second guest would need a second guest-address and MAC on the host's bridge.
    // Timed over SSH, a fresh start measures isobench's remote control path, not the target's start:
    // measured here, 2-4 s for a native iperf3 and 41 s for a docker-host container (every Engine API
    // request a session of its own), where one machine takes ms and about a second.
    freshUnavailable: (configuration) => {
      if (configuration.driver.name === 'kvm') return `lab mode starts no second guest on ${server.name}: the guest under test holds its one guest-address (${server.guestAddress?.address ?? 'none'}) and MAC`;
      return `lab mode does not time fresh starts yet: started over SSH, each would time isobench's remote control of ${server.name} (seen: 2-4 s for a native iperf3, 41 s for a docker-host container), not the ${configuration.driver.name} start`;
    },
    provision: async (configuration, resources, context) => {
      const docker = labDockerDriver(configuration);
      if (docker !== null && serverHost instanceof SshHost) {
        const storage = context.options.storage;
        return labDockerTarget(serverHost, server, client, {
          configuration: configuration.id,
          driver: docker,
          storage,
          servicePorts: context.servicePorts,
          rootfs: (log) => context.image.rootfs(log),
          resources,
          log: context.log,
        });
      }
      if (configuration.driver.name === 'kvm' && serverHost instanceof SshHost) {
        return provisionLabKvm({
          configuration: configuration.id,
          source: { host: serverHost, entry: server },
          destination: null,
          imageDirectory: server.dataDir!,
          guestAddress: server.guestAddress!,
          watch: null,
          hosts: context.hosts,
          options: context.options,
          image: context.image,
          resources,
          guard: async () => {
            throw new Error('the kvm target on a lab host does not migrate');
          },
          log: context.log,
        });
      }
      if (configuration.driver.name !== 'native') throw new Error(`lab mode provisions ${LAB_TARGETS.join(', ')} so far, not ${configuration.id}`);
      return labNativeTarget(serverHost, server, client, resources);
    },
    suiteHost: (local) => ({ ...local, perfCounters: false, cpuMHz: null }),
    keepsMetric: (name) => !isCpuMetric(name) || hostMetricSuffixes.some((suffix) => name.endsWith(suffix)),
    measuredHosts,
    quietHost: measuredHosts[0]!,
    hostFailure: () => firstLostHost(hosts, used),
    close: () => hosts.close(),
  };
}
