/**
 * Lab mode's migration run (issue 14): `npm run bench -- --hosts lab.yaml --target kvm --suite
 * migration --source A --dest B [--client C]`. The kvm guest boots on A with its disk in the hosts'
 * shared-dir and migrates to B over their test addresses (and back at the next trial); a third host
 * C, when given, watches with the suite's echo probe. This module checks the command line against
 * the inventory and is the run's placement (harness/placement.ts).
 */
import { fileURLToPath } from 'node:url';
import type { AnySuite } from '../contracts/suite.js';
import { UsageError } from '../core/errors.js';
import { findExecutable } from '../core/tools.js';
import { SshHost, type HostSet } from '../hosts/host.js';
import { hostProcStat } from '../hosts/proc-stat.js';
import { hostForRole, type Inventory, type InventoryHost } from '../hosts/inventory.js';
import { describeLabHost, measureClockOffset } from '../provisioning/lab-host-facts.js';
import { labClientSide } from '../provisioning/lab-native.js';
import { sshLibvirtdStatus } from '../provisioning/kvm/libvirt.js';
import { provisionLabKvm } from '../provisioning/kvm/lab/lab-kvm-target.js';
import { provisionLabLibvirt } from '../provisioning/kvm/lab/lab-libvirt-target.js';
import { sharedDirOf } from '../provisioning/kvm/lab/shared-dir.js';
import { cidrContains, parseAddress } from '../provisioning/ipv4.js';
import { checkEveryHost, checkHostPaths, checkHostTools, firstLostHost, isCpuMetric, readOnlineCores, type HostTool } from './lab-host-checks.js';
import type { Placement } from './placement.js';

/** A lab migration run's hosts as the command line chose them, checked. */
export interface LabMigrationSelection {
  kind: 'migration';
  inventory: Inventory;
  /** Where the guest boots (role migration-source; `guest-address`, `bridge`, `shared-dir` checked). */
  source: InventoryHost;
  /** Where it migrates to (role migration-dest; `bridge`, the same `shared-dir`). */
  dest: InventoryHost;
  /** The third host that watches with the echo probe (role client), or null. */
  watch: InventoryHost | null;
  sharedDirectory: string;
  /** `qemu`: QEMU started over SSH, moved with QMP; `libvirt`: a domain on each end's libvirtd over qemu+ssh://, moved with virsh migrate. */
  vmManager: 'qemu' | 'libvirt';
}

/** What the command line gave for a lab run's hosts and the migration suite's flags (harness/lab.ts's LabBenchFlags adds `--hosts`). */
export interface LabMigrationFlags {
  server?: string | undefined;
  client?: string | undefined;
  /** A migration run's source host. */
  source?: string | undefined;
  /** The migration suite's `--dest`: in lab mode an inventory host's name, the host the guest migrates to. */
  dest?: string | undefined;
  /** The migration suite's `--workload` and `--variant` as typed (absent: the suite's defaults). */
  workload?: string | undefined;
  variant?: string | undefined;
}

/** The target a configuration id names: `kvm:qcow2` is `kvm`. */
const targetOf = (configuration: string) => configuration.split(':')[0]!;

/**
 * Checks a lab migration run before anything is created: the migration suite alone on the kvm
 * target (`--vm-manager` qemu or libvirt); `--source` and `--dest` distinct hosts of those roles sharing a
 * `shared-dir`, each with a `bridge`, the source with a `guest-address`; the watch host `--client`
 * (or the inventory's one client host) distinct from both.
 * @throws UsageError, one line naming the flag or the inventory field to add, exit 2.
 */
export function labMigrationSelection(inventory: Inventory, flags: LabMigrationFlags, targets: readonly string[], suites: readonly string[], vmManager: 'qemu' | 'libvirt'): LabMigrationSelection {
  if (suites.length !== 1) throw new UsageError(`lab mode runs --suite migration in a run of its own (its guest moves between --source and --dest), not with ${suites.filter((suite) => suite !== 'migration').join(', ')}: run those with --server and --client`);
  if (targets.length !== 1 || targetOf(targets[0]!) !== 'kvm') throw new UsageError(`lab mode migrates the kvm target between hosts, not ${targets.join(', ')}: use --target kvm --suite migration`);
  if (flags.server !== undefined) throw new UsageError('a lab migration names --source and --dest (and --client for the watch host), not --server');
  // Points lab mode would only skip, after booting a guest for them (the suite's default workloads include web: those points are skipped with the reason).
  const variants = flags.variant?.split(',').map((word) => word.trim()).filter((word) => word !== 'precopy') ?? [];
  if (variants.length > 0) throw new UsageError(`lab mode migrates with plain pre-copy only so far, not --variant ${variants.join(',')}: leave --variant out`);
  if (flags.workload?.split(',').map((word) => word.trim()).includes('web')) throw new UsageError('lab mode runs the idle and dirty workloads so far (the web load across the lab link is not built): --workload idle,dirty');
  // Before the roles: "add it to its roles" would only lead to these.
  if (flags.source !== undefined && flags.source === flags.dest) throw new UsageError(`--source and --dest are both ${flags.source}: a lab migration moves the guest to another host`);
  if (flags.client !== undefined && (flags.client === flags.source || flags.client === flags.dest)) throw new UsageError(`--client ${flags.client} is an end of the migration: the watch host must be a third host`);
  const source = hostForRole(inventory, 'migration-source', flags.source, 'source');
  const dest = hostForRole(inventory, 'migration-dest', flags.dest, 'dest');
  if (source.name === dest.name) throw new UsageError(`--source and --dest are both ${source.name}: a lab migration moves the guest to another host`);
  const shared = sharedDirOf(source, dest);
  if ('reason' in shared) throw new UsageError(shared.reason);
  for (const host of [source, dest]) {
    if (host.bridge === undefined) throw new UsageError(`host ${host.name} has no bridge in ${inventory.source}: the guest's tap joins a bridge on the lab link there, e.g. \`bridge: br-lab\``);
    if (host.ssh === undefined) throw new UsageError(`host ${host.name} is this machine: a lab migration runs between two SSH hosts`);
  }
  if (source.guestAddress === undefined) throw new UsageError(`host ${source.name} has no guest-address in ${inventory.source}: give the migrating guest an address on the lab link, e.g. \`guest-address: 198.18.1.50/24\``);
  checkGuestSubnet(source, [source, dest], inventory.source);
  let watch: InventoryHost | null = null;
  if (flags.client !== undefined) watch = hostForRole(inventory, 'client', flags.client, 'client');
  else {
    const clients = inventory.hosts.filter((host) => host.roles.includes('client') && host !== source && host !== dest);
    if (clients.length === 1) watch = clients[0]!;
  }
  if (watch && (watch.name === source.name || watch.name === dest.name)) throw new UsageError(`--client ${watch.name} is an end of the migration: the watch host must be a third host`);
  return { kind: 'migration', inventory, source, dest, watch, sharedDirectory: shared.directory, vmManager };
}

/**
 * The guest's address must be a host address of its own subnet, the one the hosts' test addresses
 * are on (their bridges are on that link): else the guest boots and nothing reaches it (seen: every
 * trial failed with the probe not answering).
 * @throws UsageError naming the host and the address.
 */
export function checkGuestSubnet(owner: InventoryHost, onLink: readonly InventoryHost[], source: string): void {
  const { address, prefix } = owner.guestAddress!;
  const value = parseAddress(address);
  const size = 2 ** (32 - prefix);
  const subnet = { network: value - (value % size), prefix };
  const offset = value % size;
  if (offset === 0 || offset === size - 1) throw new UsageError(`host ${owner.name}: guest-address ${address}/${prefix} is its subnet's ${offset === 0 ? 'network' : 'broadcast'} address in ${source}: give the guest a host address`);
  const off = onLink.filter((host) => !cidrContains(subnet, parseAddress(host.testAddress)));
  if (off.length > 0) throw new UsageError(`host ${owner.name}: guest-address ${address}/${prefix} is not on the link of ${off.map((host) => `${host.name} (${host.testAddress})`).join(', ')} in ${source}: the guest's tap joins their bridge, so give it an address in their subnet`);
}

/** ms allowed for the probe script's check on the watch host. */
const PROBE_CHECK_TIMEOUT_MS = 30_000;
/** What each end must have: QEMU, qemu-img for the overlay, iproute2 for the tap and `ss` for the stream's port. */
const END_TOOLS: HostTool[] = [
  { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86' },
  { command: 'qemu-img', debianPackage: 'qemu-utils' },
  { command: 'ip', debianPackage: 'iproute2' },
  { command: 'ss', debianPackage: 'iproute2' },
];
/**
 * With `--vm-manager libvirt` each end needs virsh (the ledger undoes the domain with virsh run there)
 * and qemu-img, and its libvirtd answering over qemu+ssh:// (checked in the placement's check).
 */
const LIBVIRT_END_TOOLS: HostTool[] = [
  { command: 'virsh', debianPackage: 'libvirt-clients' },
  { command: 'qemu-img', debianPackage: 'qemu-utils' },
];
/** The watch host runs the suite's probe with Node from this checkout's path, at real-time priority. */
const WATCH_TOOLS: HostTool[] = [
  { command: 'node', debianPackage: 'nodejs' },
  { command: 'chrt', debianPackage: 'util-linux' },
];
/** The probe program the watch host must see at the same path (suites/migration/client/udp-probe.ts). */
const PROBE_SCRIPT = fileURLToPath(new URL('../suites/migration/client/udp-probe.ts', import.meta.url));

/**
 * The placement of a lab migration run: the kvm target provisioned on the source host (its guest
 * migrates between source and dest), the probe on the watch host; test traffic only to the guest's
 * address (the probe) and the ends' test addresses (the stream). CPU time and steal are read on
 * the two ends. Nothing is pinned.
 */
export function labMigrationPlacement(selection: LabMigrationSelection, hosts: HostSet): Placement {
  const { inventory, source, dest, watch } = selection;
  const sourceHost = hosts.get(source.name);
  const destHost = hosts.get(dest.name);
  const watchHost = watch ? hosts.get(watch.name) : null;
  const used = [source, dest, ...(watch ? [watch] : [])];
  const guest = source.guestAddress!;
  const measuredHosts = [source, dest].map((entry) => hostProcStat(hosts.get(entry.name)));
  let sourceCores: number | null = null;
  const noClient = async (): Promise<never> => {
    throw new Error('this lab migration run has no watch host: name one with --client');
  };
  return {
    description: `lab mode (${inventory.source}): the kvm guest on ${source.name} (${sourceHost.via}) migrates to ${dest.name} (${destHost.via}) over their test addresses${selection.vmManager === 'libvirt' ? ', by their libvirtds over qemu+ssh://' : ''}; ${watch ? `${watch.name} watches with the echo probe` : `no watch host (${selection.vmManager === 'libvirt' ? 'libvirt\'s' : 'QEMU\'s'} downtime only)`}`,
    pinning: { oversubscribed: false, cpuSets: null, reason: `lab mode: the guest runs on hosts ${source.name} and ${dest.name}; nothing is pinned` },
    client: watchHost ? labClientSide(watchHost) : { exec: noClient, wrap: (command) => [...command] },
    targetHost: { name: source.name, exec: (command, options) => sourceHost.run(command, options) },
    async verifyDestination(address) {
      if (address !== guest.address) throw new Error(`refusing to send test traffic to ${address}: not the lab guest's address ${guest.address}`);
    },
    async check(_suites: readonly AnySuite[], log) {
      if (selection.vmManager === 'libvirt' && !(await findExecutable('virsh'))) {
        throw new UsageError('--vm-manager libvirt drives each host\'s libvirtd from this machine with virsh over qemu+ssh://: apt-get install libvirt-clients here');
      }
      const endTools = selection.vmManager === 'libvirt' ? LIBVIRT_END_TOOLS : END_TOOLS;
      const checks: Array<[InventoryHost, string, typeof END_TOOLS]> = [[source, 'migration source', endTools], [dest, 'migration destination', endTools]];
      if (watch) checks.push([watch, 'watch', WATCH_TOOLS]);
      await checkEveryHost(checks, async ([entry, role, tools]) => {
        const host = hosts.get(entry.name);
        await checkHostTools(host, entry, role, tools);
        if (entry === watch && !(await host.run(['test', '-r', PROBE_SCRIPT], { timeoutMs: PROBE_CHECK_TIMEOUT_MS })).ok) {
          throw new UsageError(`host ${entry.name} (watch) has no ${PROBE_SCRIPT}: the probe runs from this checkout at the same path there (copy or mount it), or leave --client out`);
        }
        if (entry === source || entry === dest) {
          // Found here, not at the first trial minutes later as a failed ssh command.
          await checkHostPaths(host, entry, [['bridge', entry.bridge!], ['shared-dir', selection.sharedDirectory]]);
        }
        if ((entry === source || entry === dest) && selection.vmManager === 'libvirt' && host instanceof SshHost) {
          const status = await sshLibvirtdStatus(host);
          if (status.problem !== null) throw new UsageError(`host ${entry.name}: ${status.problem}: start libvirtd there (Debian package libvirt-daemon-system), or leave --vm-manager out`);
        }
        if (entry === source) sourceCores = await readOnlineCores(host, entry);
        log(`host ${entry.name} (${role}): answers, has ${tools.map((tool) => tool.command).join(', ')}`);
      });
    },
    serverCores() {
      if (sourceCores === null) throw new Error(`lab migration placement: host ${source.name}'s cores are read by check(), which has not run or read none`);
      return sourceCores;
    },
    describeHosts: () => Promise.all(used.map((entry) => describeLabHost(entry, hosts.get(entry.name)))),
    async availability(configuration) {
      if (configuration.driver.name !== 'kvm') return `lab mode migrates the kvm target only, not ${configuration.id}`;
      return null;
    },
    freshUnavailable: () => 'a lab migration run times migrations, not fresh starts',
    async provision(configuration, resources, context) {
      if (!(sourceHost instanceof SshHost) || !(destHost instanceof SshHost)) throw new Error('a lab migration runs between two SSH hosts');
      const ends = new Set([source.testAddress, dest.testAddress]);
      return (selection.vmManager === 'libvirt' ? provisionLabLibvirt : provisionLabKvm)({
        configuration: configuration.id,
        source: { host: sourceHost, entry: source },
        destination: { host: destHost, entry: dest },
        imageDirectory: selection.sharedDirectory,
        guestAddress: guest,
        watch: watch && watchHost ? { name: watch.name, host: watchHost, clockOffset: () => measureClockOffset(watchHost) } : null,
        hosts: context.hosts,
        options: context.options,
        image: context.image,
        resources,
        guard: async (address) => {
          if (!ends.has(address)) throw new Error(`refusing to send the migration stream to ${address}: not the test address of ${source.name} or ${dest.name}`);
        },
        log: context.log,
      });
    },
    suiteHost: (local) => ({ ...local, perfCounters: false, cpuMHz: null }),
    // The suite records no CPU-cost metric; none of this machine's would be the guest's.
    keepsMetric: (name) => !isCpuMetric(name),
    measuredHosts,
    quietHost: measuredHosts[0]!,
    hostFailure: () => firstLostHost(hosts, used),
    close: () => hosts.close(),
  };
}
