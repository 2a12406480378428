/**
 * The kvm target on a lab host (issue 14): a QEMU guest booted on the host over SSH, its disk a
 * qcow2 overlay over the image (copied to the host by RunImage.onHost), its tap on the host's
 * inventory `bridge` on the lab link, at the inventory's `guest-address`, so the client host reaches
 * it across the lab link. The guest agent is reached through an SSH forward of its socket
 * (RemoteQemu.openAgent), so suites start their servers in it as on this machine, and its data
 * directory (fio's file, MariaDB's files) is checked to be on its virtio disk, as the local kvm
 * target's is (guest-data-dir.ts). For the migration
 * suite (`destination` set) the disk is in the hosts' checked shared-dir and `labMigration.migrate`
 * moves the guest to the destination over the test addresses and, at the next trial, back.
 * Everything made on a host is in the ledger as a command run there.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { LabMigrationReport, LabMigrationRequest, LabWatchHost, TargetLabMigration } from '../../../contracts/lab-migration.js';
import type { ProvisionedTarget, ServiceSpec, TargetOptions, TargetService } from '../../../contracts/target.js';
import { parseProcStat, type CpuCounter } from '../../../core/cpu-meter.js';
import type { CommandOptions, CommandOutcome } from '../../../core/exec.js';
import type { ResourceRegistry } from '../../../core/ledger.js';
import type { SshHost } from '../../../hosts/host.js';
import type { InventoryHost } from '../../../hosts/inventory.js';
import type { LabHost, LabHostFacts, TargetFacts } from '../../../results/schema.js';
import { DEFAULT_DISK_SIZE_GIB } from '../../image/disk.js';
import { pickBootFileNames } from '../../image/boot-files.js';
import { DIRTIER_PATH, UDP_ECHO_PATH } from '../../image/recipe.js';
import type { HostImage, RunImage } from '../../image/run-image.js';
import { waitForListening } from '../../service-readiness.js';
import { LAB_CYCLES_NOT_MEASURED } from '../../lab-native.js';
import { NO_VHOST_DEGRADED } from '../../targets/kvm.js';
import type { GuestAgent } from '../guest-agent.js';
import { GUEST_DATA_DIRECTORY, GUEST_ROOT_DEVICE, prepareGuestDataDirectory } from '../guest-data-dir.js';
import { destinationSpec } from '../migration/destination.js';
import { serialProblem } from '../migration/qemu-migration.js';
import { macForAddress, QEMU_NAME_PREFIX } from '../qemu-command.js';
import { createTap } from '../tap.js';
import { chooseLabAccel } from './lab-accel.js';
import { bootLabGuest, createOverlay, LAB_DISK, labGuestSpec, makeHostDirectory, type LabGuest } from './lab-guest.js';
import { migrateLabGuest } from './lab-migration.js';
import { checkSharedDir } from './shared-dir.js';

/**
 * The lab kvm target's own CPU sources (cpuCounters): `qemu`, its QEMU process read on its host over
 * SSH, and `guest`, the guest's /proc/stat through its agent. Both are read where they run, so lab
 * mode keeps their figures (`cpu_ns_per_byte_qemu`, `cpu_us_per_tx_guest`, …) beside each host's.
 */
export const LAB_KVM_CPU_SOURCES = ['qemu', 'guest'] as const;

/** One end of the migration: the host's open connection and its inventory entry. */
export interface LabEnd {
  host: SshHost;
  entry: InventoryHost;
}

/**
 * What provisionLabKvm needs; the caller (harness/lab.ts, harness/lab-migration.ts) has checked the
 * inventory fields.
 */
export interface LabKvmPlan {
  /** The configuration id, e.g. `kvm`. */
  configuration: string;
  /** The host the guest boots on (lab mode's `--server`, or a migration's `--source`). */
  source: LabEnd;
  /** A migration's `--dest`; null for a guest that stays on its host (the load suites' kvm target). */
  destination: LabEnd | null;
  /**
   * Where the image and the guest's disk go on the source: a migration's shared-dir (checked again
   * here with a marker read on the destination), else the host's data-dir.
   */
  imageDirectory: string;
  /** The source's inventory `guest-address`. */
  guestAddress: { address: string; prefix: number };
  /** The third host's probe, or null. */
  watch: LabWatchHost | null;
  /** The hosts as the run's results record them (PlacementProvisionContext.hosts): their accel probes decide `--accel auto`. */
  hosts: readonly LabHost[];
  options: TargetOptions;
  image: RunImage;
  resources: ResourceRegistry;
  /** The run's test-traffic guard: the stream goes only to an address it accepts. */
  guard: (address: string) => Promise<void>;
  log: (line: string) => void;
}

/** The guest where it runs now, with its agent and what belongs to it on its host. */
interface Placed {
  guest: LabGuest;
  agent: GuestAgent | null;
  agentProblem: string | null;
  end: LabEnd;
  /** Ledger ids of its tap and its directory on its host, undone when it moves away. */
  owned: number[];
}

/** What prepareLabGuestDisk made on the source host: paths there. */
export interface LabGuestDisk {
  image: Extract<HostImage, { kind: 'ready' }> & { disk: string };
  /** The image's kernel and initrd (in its tree on the host). */
  kernel: string;
  initrd: string;
  /** This guest's instance suffix: `isobench-lab-<instance>` is its run directory, and names it. */
  instance: string;
  /** The run directory (in the ledger) under plan.imageDirectory. */
  runDirectory: string;
  /** The guest's qcow2 overlay over the image's disk, in runDirectory. */
  disk: string;
}

/**
 * For a migration, checks the shared-dir (a marker written on the source, read on the
 * destination); puts the image in plan.imageDirectory on the source (RunImage.onHost: copied only
 * when its manifest differs), finds its kernel and initrd, and makes the run directory with the
 * guest's overlay there.
 * @throws Error naming the host when a step fails; what was made is in the ledger.
 */
export async function prepareLabGuestDisk(plan: Pick<LabKvmPlan, 'source' | 'destination' | 'imageDirectory' | 'image' | 'resources' | 'log'>): Promise<LabGuestDisk> {
  const { source, destination, resources, log } = plan;
  if (destination) {
    const shared = await checkSharedDir(source.host, destination.host, plan.imageDirectory, resources);
    if (shared.kind !== 'shared') throw new Error(shared.reason);
  }
  const image = await plan.image.onHost(source.host, plan.imageDirectory, { diskGiB: DEFAULT_DISK_SIZE_GIB }, log);
  if (image.kind !== 'ready' || image.disk === undefined) throw new Error(image.kind === 'failed' ? image.reason : `host ${source.entry.name}: the image has no qcow2 disk`);
  const bootListing = await source.host.run(['ls', posix.join(image.tree, 'boot')], { timeoutMs: 20_000 });
  const boot = pickBootFileNames(bootListing.stdout.split('\n').filter(Boolean));
  if (!boot) throw new Error(`host ${source.entry.name}: no kernel and initrd in ${posix.join(image.tree, 'boot')} (${bootListing.stdout.trim() || bootListing.stderr.trim()})`);
  const instance = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const runDirectory = posix.join(plan.imageDirectory, `isobench-lab-${instance}`);
  await makeHostDirectory(source.host, runDirectory, resources, 'guest disk directory');
  const disk = posix.join(runDirectory, 'disk.qcow2');
  await createOverlay(source.host, image.disk, disk);
  return { image: { ...image, disk: image.disk }, kernel: posix.join(image.tree, 'boot', boot.kernel), initrd: posix.join(image.tree, 'boot', boot.initrd), instance, runDirectory, disk };
}

/**
 * Checks the shared-dir (a marker written on the source, read on the destination), puts the image
 * there (RunImage.onHost: copied only when its manifest differs), boots the guest on the source and
 * opens its agent.
 * @throws Error naming the host when the directory is not shared, the image cannot be put there, or
 *   the guest does not boot; what was made is in the ledger (the runner's teardown removes it).
 */
export async function provisionLabKvm(plan: LabKvmPlan): Promise<ProvisionedTarget> {
  const { source, destination, resources, log } = plan;
  const { image, kernel, initrd, instance, disk } = await prepareLabGuestDisk(plan);
  const localDirectory = await mkdtemp(join(tmpdir(), 'isobench-fwd-'));
  await resources.register(`forwarded sockets ${localDirectory}`, { kind: 'path', path: localDirectory });

  const ends = labEndFacts(plan.hosts, [source, ...(destination ? [destination] : [])]);
  const choice = chooseLabAccel(plan.options.accel, ends);
  const { accel, cpuModel } = choice;
  const { address, prefix } = plan.guestAddress;
  let sequence = 0;
  /** A directory for one QEMU's sockets and console on `end`'s host (its data-dir, else /tmp), and a tap on its bridge. */
  const prepare = async (end: LabEnd) => {
    const directory = posix.join(end.entry.dataDir ?? '/tmp', `isobench-lab-${instance}-q${sequence++}`);
    const directoryId = await makeHostDirectory(end.host, directory, resources, 'guest files');
    const tap = await createTap(end.entry.bridge!, resources, end.host);
    return { directory, tap, owned: [tap.resourceId, directoryId] };
  };

  const first = await prepare(source);
  /** A spec booting the image's kernel on the disk, its sockets and console in `directory`, its tap `tap`. */
  const specFor = (name: string, directory: string, tap: string) =>
    labGuestSpec({
      name,
      accel,
      cpuModel,
      vcpus: plan.options.vcpus,
      memoryMiB: plan.options.memoryMiB,
      kernel,
      initrd,
      disk,
      directory,
      net: { tap, mac: macForAddress(address), address: `${address}/${prefix}` },
    });
  const spec = specFor(`${QEMU_NAME_PREFIX}lab-${instance}`, first.directory, first.tap.name);
  const bootOn = (end: LabEnd, guestSpec: typeof spec) => bootLabGuest({ host: end.host, spec: guestSpec, resources, localDirectory, expectedNetwork: `${address}/${prefix}`, log });
  const booted = await bootOn(source, spec);
  let current: Placed = { guest: booted, agent: null, agentProblem: null, end: source, owned: first.owned };
  current = { ...current, ...(await openAgent(booted)) };
  if (!current.agent) throw new Error(`host ${source.entry.name}: the guest booted but its agent does not answer: ${current.agentProblem}`);
  const agent = current.agent;
  // fio's file and MariaDB's files go there: on the guest's virtio disk (the overlay on the host), checked.
  const dataMount = await prepareGuestDataDirectory((command, options) => agent.exec(command, options)).catch((error: unknown) => {
    throw new Error(`host ${source.entry.name}: the guest's data directory: ${(error as Error).message}`, { cause: error });
  });

  const other = (end: LabEnd) => (end === source ? destination! : source);
  const exec = async (command: readonly string[], options?: CommandOptions): Promise<CommandOutcome> => {
    if (current.guest.qemu.exitState.exited) throw new Error(`the lab guest is gone: ${current.guest.qemu.describeExit()}`);
    if (!current.agent) throw new Error(`the lab guest's agent on host ${current.end.entry.name} does not answer: ${current.agentProblem}`);
    return current.agent.exec(command, options);
  };

  const labMigration: TargetLabMigration | undefined = destination ? {
    method: `QEMU pre-copy over TCP between lab hosts ${source.entry.name} and ${destination.entry.name} (their test addresses); shared qcow2 disk in ${plan.imageDirectory}, cache=${LAB_DISK.cache}`,
    programs: { udpEcho: UDP_ECHO_PATH, dirtier: DIRTIER_PATH },
    watch: plan.watch,
    where: () => current.end.entry.name,
    alive: async () => !current.guest.qemu.exitState.exited,
    async recover() {
      const dead = current;
      const problem = serialProblem(await dead.guest.qemu.readSerial());
      const reason = `${dead.guest.qemu.describeExit()}${problem ? `; its console: ${problem}` : ''}`;
      dead.agent?.close();
      await dead.guest.qemu.stop();
      for (const id of dead.owned) await resources.undo(id).catch(() => {});
      const next = await prepare(dead.end);
      log(`${plan.configuration}: the guest on host ${dead.end.entry.name} is gone (${reason}); booting a fresh one from its disk there`);
      const fresh = await bootOn(dead.end, specFor(`${spec.name}-r${sequence}`, next.directory, next.tap.name));
      current = { guest: fresh, agent: null, agentProblem: null, end: dead.end, owned: next.owned };
      current = { ...current, ...(await openAgent(fresh)) };
      return { reason, bootSeconds: fresh.bootSeconds };
    },
    async migrate(request: LabMigrationRequest): Promise<LabMigrationReport> {
      const from = current;
      const to = other(from.end);
      const next = await prepare(to);
      const incomingSpec = destinationSpec(from.guest.qemu.spec, { name: `${spec.name}-m${sequence}`, tap: next.tap.name, directory: next.directory, serialLog: posix.join(next.directory, 'serial.log') });
      const result = await migrateLabGuest({
        guest: from.guest,
        source: from.end.entry,
        destination: to,
        destinationSpec: incomingSpec,
        resources,
        localDirectory,
        timeLimitMs: request.timeLimitMs,
        maxBandwidthBytesPerS: request.maxBandwidthBytesPerSecond,
        downtimeLimitMs: request.downtimeLimitMs,
        guard: plan.guard,
      });
      const { outcome } = result;
      if (outcome.kind !== 'completed') {
        for (const id of next.owned) await resources.undo(id).catch(() => {});
        return { outcome, figuresFrom: 'qemu', switchOver: null, destinationSerialLog: null };
      }
      // The guest runs on `to` now: the old agent's forward went with the source QEMU; the old tap and directory go too.
      from.agent?.close();
      for (const id of from.owned) await resources.undo(id).catch(() => {});
      const moved = result.guest!;
      current = { guest: moved, agent: null, agentProblem: null, end: to, owned: next.owned };
      current = { ...current, ...(await openAgent(moved)) };
      const serial = await moved.qemu.readSerial();
      return {
        outcome,
        figuresFrom: 'qemu',
        switchOver: { runState: outcome.destinationRunState, serialProblem: serialProblem(serial), agentProblem: current.agentProblem },
        destinationSerialLog: `${moved.qemu.spec.serialLog} on host ${to.entry.name}`,
      };
    },
  } : undefined;

  const facts: TargetFacts = {
    target: plan.configuration,
    state: 'ready',
    serverAddress: address,
    networkPath: destination
      ? `lab host ${plan.watch?.name ?? '(no watch host)'} -> lab link -> ${source.entry.name}'s bridge ${source.entry.bridge} -> ${first.tap.name} -> virtio-net (userspace QEMU) -> guest; after a migration the same through ${destination.entry.name}'s bridge ${destination.entry.bridge}`
      : `lab client host -> lab link -> ${source.entry.name}'s bridge ${source.entry.bridge} -> ${first.tap.name} -> virtio-net (userspace QEMU) -> guest`,
    storage: `guest ${dataMount.fstype} on virtio-blk ${GUEST_ROOT_DEVICE} (qcow2 overlay in ${destination ? 'shared-dir' : 'data-dir'} ${plan.imageDirectory} on host ${source.entry.name}, cache=${LAB_DISK.cache}, aio=${LAB_DISK.aio})`,
    labels: {
      isolation: 'hardware virtualization',
      accel,
      accelRequested: plan.options.accel,
      accelDecision: choice.decision,
      cpuModel,
      vcpus: plan.options.vcpus,
      memoryMiB: plan.options.memoryMiB,
      machine: 'q35',
      disk: 'qcow2',
      cacheMode: LAB_DISK.cache,
      aio: LAB_DISK.aio,
      vhost: false,
      vmManager: 'qemu',
      host: source.entry.name,
      ...(destination ? { labDestination: destination.entry.name, labWatch: plan.watch?.name ?? null, sharedDir: plan.imageDirectory } : {}),
      imageRecipe: image.recipeHash,
      bootSeconds: Number(booted.bootSeconds.toFixed(1)),
      serialLog: `${spec.serialLog} on host ${source.entry.name}`,
    },
    degraded: [
      ...choice.degraded,
      labVhostDegraded(ends),
      // What the load suites' CPU figures lack here; the migration suite measures neither.
      ...(destination ? [] : [LAB_CYCLES_NOT_MEASURED]),
    ],
  };
  log(`${plan.configuration} ready on lab host ${source.entry.name}: ${accel.toUpperCase()} guest at ${address}, ${plan.options.vcpus} vCPU, ${plan.options.memoryMiB} MiB${destination ? `; migrates to ${destination.entry.name} and back` : ''}`);

  let tornDown = false;
  return {
    name: plan.configuration,
    facts,
    serverAddress: address,
    dataDirectory: GUEST_DATA_DIRECTORY,
    exec,
    startService: (service) => startAgentService(exec, () => current.agent, address, service),
    // As the single-host kvm target's: QEMU's process (read on its host over SSH) and the guest's own
    // /proc/stat (through its agent), so the suites give cpu_*_qemu and cpu_*_guest here too.
    cpuCounters: async () => {
      const counters: CpuCounter[] = [];
      const [qemu, guest] = LAB_KVM_CPU_SOURCES;
      if (!current.guest.qemu.exitState.exited) counters.push({ source: qemu, seconds: await current.guest.qemu.cpuSeconds() });
      const stat = await exec(['cat', '/proc/stat'], { timeoutMs: 10_000 }).catch(() => null);
      if (stat?.ok) counters.push({ source: guest, seconds: parseProcStat(stat.stdout).busySeconds });
      return counters;
    },
    // A guest whose QEMU has ended (a panic after a switch-over) is neither paused nor resumed: the
    // migration trial boots a fresh one (labMigration.recover), and exec says it is gone.
    pause: async () => {
      if (!current.guest.qemu.exitState.exited) await current.guest.qemu.qmp.stop();
    },
    resume: async () => {
      if (!current.guest.qemu.exitState.exited) await current.guest.qemu.qmp.cont();
    },
    ...(labMigration ? { labMigration } : {}),
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      current.agent?.close();
      await current.guest.qemu.stop();
      for (const id of current.owned) await resources.undo(id).catch(() => {});
      // The disk's directory, the forwards' directory and the shared-dir marker stay with the ledger's undo.
    },
  };
}

/** Each end's name with the facts the run recorded for its host (null where none were read): what the accel choice and the vhost label read. */
export function labEndFacts(hosts: readonly LabHost[], ends: readonly LabEnd[]): Array<{ name: string; facts: LabHostFacts | null }> {
  return ends.map((end) => ({ name: end.entry.name, facts: hosts.find((host) => host.name === end.entry.name)?.facts ?? null }));
}

/**
 * The `degraded` entry of a lab guest's network: userspace virtio-net always (the lab guest does not
 * ask for vhost yet), and per host whether its facts saw /dev/vhost-net, so a host that has it says
 * what was left unused rather than nothing.
 */
export function labVhostDegraded(hosts: ReadonlyArray<{ name: string; facts: Pick<LabHostFacts, 'vhostNet'> | null }>): string {
  const words = hosts.map(({ name, facts }) =>
    facts === null ? `host ${name}'s /dev/vhost-net was not read` : facts.vhostNet ? `host ${name} has /dev/vhost-net, which the lab guest does not use yet` : `host ${name} has no /dev/vhost-net`,
  );
  return `${NO_VHOST_DEGRADED} (${words.join('; ')})`;
}

/** Opens the guest agent of a guest on a lab host; a failure is kept as a reason (the target then cannot exec). */
async function openAgent(guest: LabGuest): Promise<Pick<Placed, 'agent' | 'agentProblem'>> {
  try {
    return { agent: await guest.qemu.openAgent(), agentProblem: null };
  } catch (error) {
    return { agent: null, agentProblem: (error as Error).message };
  }
}

/**
 * A server started in the guest through the agent (as the local kvm target does), stopped with
 * `kill` through whichever agent reaches the guest then: a migration moves the process with the
 * guest but not the agent connection that spawned it.
 * @throws Error when it does not listen on `address:port` in time (the server is killed then).
 */
export async function startAgentService(
  exec: (command: readonly string[], options?: CommandOptions) => Promise<CommandOutcome>,
  agent: () => GuestAgent | null,
  address: string,
  spec: ServiceSpec,
): Promise<TargetService> {
  const spawner = agent();
  if (!spawner) throw new Error(`the lab guest's agent does not answer: ${spec.name} cannot start`);
  const command = spec.command({ address, port: spec.port });
  const server = await spawner.spawn(command, { timeoutMs: spec.timeoutMs });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The `timeout` wrapper leads the program's process group: TERM to the group. The `--` matters:
    // without it the guest's kill(1) read `-PID` otherwise, and qemu-ga died with the server (seen here).
    await exec(['kill', '-TERM', '--', `-${server.pid}`], { timeoutMs: 15_000 }).catch(() => null);
  };
  try {
    await waitForListening(exec, spec.protocols, address, spec.port, () => true);
  } catch (error) {
    await stop();
    throw error;
  }
  return { spec, command, stop };
}
