import { appendFileSync, constants } from 'node:fs';
import { access, chmod, copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runCommand, type CommandOptions, type CommandOutcome } from '../../core/exec.js';
import { findExecutable } from '../../core/tools.js';
import { parseProcStat } from '../../core/cpu-meter.js';
import type { TargetFacts } from '../../results/schema.js';
import { cloneDiskImage, findBootFiles, guestKernelCommandLine } from '../image/index.js';
import { decideAccel, probeKvm, type AccelDecision, type KvmProbe } from '../kvm/accel-probe.js';
import { Guest, type RunningGuest } from '../kvm/guest.js';
import { QemuMigration } from '../kvm/migration/qemu-migration.js';
import { LibvirtMigration } from '../kvm/migration/libvirt-migration.js';
import { LIBVIRT_FILES_PARENT, LIBVIRT_FILES_PREFIX, libvirtdStatus, libvirtUri, LibvirtGuest, loadLibvirtBindings, type LibvirtDomainSpec } from '../kvm/libvirt.js';
import type { GuestProcess } from '../kvm/guest-agent.js';
import { pollUntil } from '../../core/poll.js';
import { macForAddress, QEMU_BINARY, QEMU_NAME_PREFIX, virtioDevices, type DiskSpec, type QemuGuestSpec } from '../kvm/qemu-command.js';
import { createTap } from '../kvm/tap.js';
import { waitForListening } from '../service-readiness.js';
import type { CpuCounter } from '../../core/cpu-meter.js';
import type { ProvisionedTarget, ServiceSpec, TargetService } from '../../contracts/target.js';
import { kvmLeftovers } from '../kvm/leftovers.js';
import type { ProvisionContext, TargetDriver } from '../types.js';
import { nextInstanceSuffix } from '../instance-suffix.js';
import { StepError } from '../../core/errors.js';
import { GUEST_DATA_DIRECTORY, GUEST_ROOT_DEVICE, prepareGuestDataDirectory } from '../kvm/guest-data-dir.js';

const DISK_CACHE: DiskSpec['cache'] = 'none';
const DISK_AIO: DiskSpec['aio'] = 'native';
/** Asked for (vhost=on) when isobench can open it; without it virtio-net runs in QEMU's userspace. */
export const VHOST_DEVICE = '/dev/vhost-net';
/** The `degraded` entry of a guest without vhost-net; reports show it as a banner. */
export const NO_VHOST_DEGRADED = 'no vhost-net: userspace virtio-net';
/**
 * Appended to the guest kernel's command line. net.ifnames=0: the initrd's udev would rename eth0
 * (to enp0s2), and the init configures eth0. panic=-1 with -no-reboot: a guest kernel that panics
 * ends QEMU instead of hanging.
 */
export const GUEST_KERNEL_EXTRA = ['net.ifnames=0', 'panic=-1'];

async function canOpen(path: string): Promise<boolean> {
  return access(path, constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
}

/**
 * QEMU's version as it reports it: what follows `version` on the first line of `BINARY --version`
 * (the whole line when there is no such word). Recorded in the target's labels.
 * @param binary Default QEMU_BINARY.
 * @throws Error with QEMU's output when it fails or takes more than 10 s.
 */
export async function qemuVersionLine(binary = QEMU_BINARY): Promise<string> {
  const outcome = await runCommand([binary, '--version'], { timeoutMs: 10_000 });
  if (!outcome.ok) throw new Error(`\`${binary} --version\` failed: ${outcome.stderr.trim() || outcome.stdout.trim()}`);
  const line = outcome.stdout.split('\n')[0]?.trim() ?? '';
  return /version\s+(.+)$/.exec(line)?.[1] ?? line;
}

/**
 * The KVM row: a QEMU guest booted from the project's one image (direct kernel boot into the
 * image's init), a virtio-blk disk (cache=none, aio=native) that is the guest's own copy, virtio-net
 * on a tap on isobench's bridge (vhost when /dev/vhost-net exists), driven over QMP and the guest
 * agent. Acceleration is probed; a TCG guest is labelled as emulation everywhere.
 */
export const kvmDriver: TargetDriver = {
  name: 'kvm',
  display: { label: 'kvm', order: 3, colour: '#e45756' },
  configurable: { disk: ['raw', 'qcow2'], accel: ['auto', 'kvm', 'tcg'], vmManager: ['qemu', 'libvirt'] },
  leftovers: kvmLeftovers,
  description: 'QEMU guest from the project image; client netns -> veth -> bridge -> tap -> virtio-net; guest ext4 on virtio-blk',
  hostTools: [
    { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', why: 'to run the KVM target\'s guest' },
    { command: 'qemu-img', debianPackage: 'qemu-utils', why: 'to make qcow2 guest disks' },
    { command: 'mkfs.ext4', debianPackage: 'e2fsprogs', why: 'to write the image into a guest disk' },
    { command: 'debootstrap', debianPackage: 'debootstrap', why: 'to build the image the guest boots' },
    { command: 'ip', debianPackage: 'iproute2', why: 'to put the guest\'s tap on the test bridge' },
  ],

  async defaultAvailability() {
    // KVM or not, a guest runs (TCG); the probe decides and the results say which.
    return (await canOpen('/dev/net/tun')) ? null : 'there is no /dev/net/tun for the guest\'s tap';
  },

  async provision(context: ProvisionContext): Promise<ProvisionedTarget> {
    return provisionKvm(context);
  },
};

interface Step {
  name: string;
}

/** Records which step of provisioning runs, so a failure anywhere names it. */
async function track<T>(current: Step, name: string, run: () => Promise<T>): Promise<T> {
  current.name = name;
  return run();
}

/**
 * With `ISOBENCH_QMP_TRANSCRIPT=FILE`, every QMP line of every QEMU the kvm target starts (guests and
 * migration destinations) is appended to FILE as one JSON line `{qemu, direction, line, atMs}`: how
 * the migration fixtures in test/fixtures/kvm/ were captured. Unset: nothing is written.
 */
export function qmpTranscriptWriter(file = process.env.ISOBENCH_QMP_TRANSCRIPT): ((qemu: string, direction: 'sent' | 'received', line: string) => void) | undefined {
  if (!file) return undefined;
  return (qemu, direction, line) => appendFileSync(file, `${JSON.stringify({ qemu, direction, line, atMs: Date.now() })}\n`);
}

async function provisionKvm(context: ProvisionContext): Promise<ProvisionedTarget> {
  const { topology, resources, options, log } = context;
  const transcript = qmpTranscriptWriter();
  const current: Step = { name: 'starting' };
  const viaLibvirt = options.vmManager === 'libvirt';
  const uri = libvirtUri();
  const logDirectory = context.logDirectory ?? context.runDirectory;
  const instance = `${resources.runId}${nextInstanceSuffix(resources.runId, 'kvm')}`;
  const serialLog = join(logDirectory, `${instance}-kvm-serial.log`);
  let guest: RunningGuest | undefined;
  const created: number[] = [];
  try {
    const qemuVersion = await track(current, 'checking QEMU', () => qemuVersionLine());
    let libvirtVersion: string | null = null;
    if (viaLibvirt) {
      libvirtVersion = await track(current, 'connecting to libvirtd', async () => {
        const status = await libvirtdStatus(uri);
        if (status.problem) throw new Error(`${status.problem}: start libvirtd (and virtlogd), or use --vm-manager qemu`);
        await loadLibvirtBindings();
        return status.version;
      });
    }
    const rootfs = await track(current, 'building or finding the image', () => context.image.rootfs(log));
    const boot = await track(current, 'finding the guest kernel', () => findBootFiles(rootfs.tree));

    let probe: KvmProbe | null = null;
    if (options.accel !== 'tcg') {
      probe = await track(current, 'probing KVM', () =>
        probeKvm({ kernel: boot.kernel, initrd: boot.initrd, workDirectory: join(context.runDirectory, 'kvm-probe'), resources, qemuVersion, log }),
      );
      log(`KVM probe${probe.cached ? ' (cached for this host boot)' : ''}: ${probe.works ? 'KVM works' : 'KVM does not work'} — ${probe.reason}`);
    }
    const accel: AccelDecision = await track(current, 'choosing the accelerator', async () => decideAccel(options.accel, probe));
    if (accel.accel === 'tcg') log(`${context.configuration}: ${accel.explanation}`);

    const image = await track(current, `making the ${options.disk} disk image`, () => context.image.disk(options.disk, log));
    // libvirt's QEMU runs as its own user (libvirt-qemu on Debian): its files go in a directory it can
    // reach (the run directory is private to root); libvirt gives it the files themselves.
    const guestFiles = viaLibvirt ? join(LIBVIRT_FILES_PARENT, `${LIBVIRT_FILES_PREFIX}${instance}`) : context.runDirectory;
    const diskCopy = join(guestFiles, `kvm-disk-${instance}.${options.disk}`);
    const kernelFiles = await track(current, 'copying the disk image for this guest', async () => {
      if (viaLibvirt) {
        created.push(await resources.register(`libvirt guest files ${guestFiles}`, { kind: 'path', path: guestFiles }));
        await mkdir(guestFiles, { recursive: true, mode: 0o755 });
        await chmod(guestFiles, 0o755);
      } else {
        created.push(await resources.register(`guest disk ${diskCopy}`, { kind: 'path', path: diskCopy }));
      }
      await cloneDiskImage(image, diskCopy);
      if (!viaLibvirt) return { kernel: image.kernel, initrd: image.initrd };
      // Copies, so libvirt relabels files of this run, never the image cache.
      const kernel = join(guestFiles, basename(image.kernel));
      const initrd = join(guestFiles, basename(image.initrd));
      await copyFile(image.kernel, kernel);
      await copyFile(image.initrd, initrd);
      return { kernel, initrd };
    });

    const address = topology.allocateAddress('kvm guest');
    const vhost = await canOpen(VHOST_DEVICE);
    const tap = await track(current, 'creating the guest\'s tap', () => createTap(topology.bridge, resources));
    created.push(tap.resourceId);
    await topology.allowBridgeForwarding();
    await mkdir(logDirectory, { recursive: true });
    const sockets = join(context.runDirectory, `kvm-${instance}`);
    await mkdir(sockets, { recursive: true });

    const name = `${QEMU_NAME_PREFIX}kvm-${instance}`;
    // GUEST_KERNEL_EXTRA says why each of its parameters is there.
    const append = guestKernelCommandLine({ address: `${address}/${topology.prefixLength}`, extra: GUEST_KERNEL_EXTRA });
    const disk: DiskSpec = { path: diskCopy, format: options.disk, cache: DISK_CACHE, aio: DISK_AIO };
    const net = { tap: tap.name, mac: macForAddress(address), vhost };
    const spec: QemuGuestSpec = {
      name,
      accel: accel.accel,
      cpuModel: accel.cpuModel,
      vcpus: options.vcpus,
      memoryMiB: options.memoryMiB,
      kernel: kernelFiles.kernel,
      initrd: kernelFiles.initrd,
      append,
      disk,
      net,
      qmpSocket: join(sockets, 'qmp.sock'),
      agentSocket: join(sockets, 'qga.sock'),
      serialLog,
    };
    const expectedNetwork = `${address}/${topology.prefixLength}`;
    current.name = 'launching the guest';
    if (viaLibvirt) {
      const domain: LibvirtDomainSpec = {
        name,
        type: accel.accel === 'kvm' ? 'kvm' : 'qemu',
        cpuModel: accel.cpuModel,
        vcpus: options.vcpus,
        memoryMiB: options.memoryMiB,
        kernel: kernelFiles.kernel,
        initrd: kernelFiles.initrd,
        cmdline: append,
        disk: { ...disk, ...(options.disk === 'qcow2' ? { backing: { path: image.path, format: 'qcow2' as const } } : {}) },
        net,
        serialLog,
        emulator: (await findExecutable(QEMU_BINARY)) ?? `/usr/bin/${QEMU_BINARY}`,
      };
      guest = await LibvirtGuest.launch({ spec: domain, uri, resources, expectedNetwork, log });
    } else {
      guest = await Guest.launch({
        spec,
        expectedNetwork,
        resources,
        cwd: sockets,
        log,
        ...(transcript
          ? {
              transcript: (channel: 'qmp' | 'qga', direction: 'sent' | 'received', line: string) => {
                if (channel === 'qmp') transcript(name, direction, line);
              },
            }
          : {}),
      });
    }
    const running = guest;

    // What really runs, from QEMU itself: never a label that did not happen.
    const kvmEnabled = await track(current, 'asking QEMU whether KVM is enabled', () => running.kvmEnabled());
    if (kvmEnabled !== (accel.accel === 'kvm')) {
      throw new Error(`QEMU reports KVM ${kvmEnabled ? 'enabled' : 'disabled'} but isobench asked for ${accel.accel}`);
    }
    const vhostRunning = await running.usesVhostNet();
    // With type='qemu' libvirt drops a vhost request without a word; only QEMU's open files tell.
    if (vhost && !vhostRunning && !viaLibvirt) throw new Error(`vhost=on was asked for but QEMU holds no ${VHOST_DEVICE}`);

    const dataMount = await track(current, 'preparing the guest\'s data directory', () => prepareGuestDataDirectory((command, commandOptions) => running.agent.exec(command, commandOptions)));
    if (dataMount.fstype !== 'ext4') log(`${context.configuration}: the guest's data directory is on ${dataMount.fstype}, not ext4`);

    const degraded = [...accel.degraded, ...(vhostRunning ? [] : [NO_VHOST_DEGRADED])];
    const facts: TargetFacts = {
      target: context.configuration,
      state: 'ready',
      serverAddress: address,
      networkPath: `client netns -> veth -> ${topology.bridge} -> ${tap.name} -> virtio-net (${vhostRunning ? 'vhost-net' : 'userspace QEMU'}) -> guest`,
      storage: `guest ${dataMount.fstype} on virtio-blk ${GUEST_ROOT_DEVICE} (${options.disk} file, cache=${DISK_CACHE}, aio=${DISK_AIO})`,
      labels: {
        isolation: 'hardware virtualization',
        accel: accel.accel,
        accelRequested: options.accel,
        accelDecision: accel.explanation,
        kvmUsable: probe ? probe.works : null,
        kvmProbe: probe ? `${probe.reason}${probe.cached ? ` (cached from ${probe.probedAt})` : ''}` : 'not probed (--accel tcg)',
        kvmProbeSeconds: probe ? Number(probe.seconds.toFixed(1)) : null,
        cpuModel: accel.cpuModel,
        vcpus: options.vcpus,
        memoryMiB: options.memoryMiB,
        machine: 'q35',
        disk: options.disk,
        cacheMode: DISK_CACHE,
        aio: DISK_AIO,
        virtioDevices: virtioDevices(spec).join(','),
        vhost: vhostRunning,
        qemuVersion,
        vmManager: options.vmManager,
        ...(viaLibvirt ? { libvirtUri: uri, libvirtVersion, libvirtDomainType: accel.accel === 'kvm' ? 'kvm' : 'qemu' } : {}),
        guestKernel: boot.kernelVersion,
        imageRecipe: rootfs.recipeHash,
        bootSeconds: Number(running.bootSeconds.toFixed(1)),
        serialLog,
      },
      degraded,
    };
    log(`${context.configuration} ready: ${accel.accel.toUpperCase()} guest${viaLibvirt ? ' (libvirt)' : ''} at ${address}, ${options.vcpus} vCPU, ${options.memoryMiB} MiB, vhost ${vhostRunning ? 'on' : 'off'}`);
    // The tap moves with the guest when it migrates, so the slot owns it; the rest stays with the target.
    const slot = { guest: running, tapResourceId: tap.resourceId };
    const owned = created.filter((id) => id !== tap.resourceId).reverse();
    const migration =
      running instanceof Guest
        ? new QemuMigration({
            slot: { guest: running, tapResourceId: tap.resourceId },
            resources,
            bridge: topology.bridge,
            workDirectory: sockets,
            logDirectory,
            instance,
            qemuVersion,
            diskDescription: `${options.disk}, cache=${DISK_CACHE}`,
            ...(transcript ? { transcript } : {}),
          })
        : undefined;
    const libvirtMigration =
      running instanceof LibvirtGuest
        ? new LibvirtMigration({
            slot: { guest: running, tapResourceId: tap.resourceId },
            resources,
            bridge: topology.bridge,
            workDirectory: sockets,
            libvirtVersion: libvirtVersion ?? 'libvirt',
            diskDescription: `${options.disk}, cache=${DISK_CACHE}`,
          })
        : undefined;
    return kvmTarget(migration ? migration.slot : (libvirtMigration?.slot ?? slot), facts, address, owned, context, migration, libvirtMigration);
  } catch (error) {
    // Nothing of a failed guest stays: QEMU stopped (Guest.launch already did if it failed there),
    // its tap and disk copy removed. The serial log stays, beside the results.
    await guest?.stop().catch(() => {});
    for (const id of [...created].reverse()) await resources.undo(id).catch(() => {});
    const message = (error as Error).message;
    const where = message.includes(serialLog) ? '' : guest || current.name === 'launching the guest' ? `; serial log kept at ${serialLog}` : '';
    const detail = `${message}${where}`;
    throw new StepError(current.name, detail, { cause: error, message: `${context.configuration} target, step "${current.name}": ${detail}` });
  }
}

/**
 * The kvm target around whatever guest `slot` holds now: a completed migration puts the destination
 * there, and every call below reaches it from then on.
 */
function kvmTarget(
  slot: { readonly guest: RunningGuest; readonly tapResourceId: number },
  facts: TargetFacts,
  address: string,
  ownedResources: number[],
  context: ProvisionContext,
  migration: QemuMigration | undefined,
  libvirtMigration?: LibvirtMigration,
): ProvisionedTarget {
  const { resources } = context;
  let tornDown = false;

  const exec = async (command: readonly string[], options?: CommandOptions): Promise<CommandOutcome> => {
    if (slot.guest.exited) throw new Error(`the kvm guest is gone: ${slot.guest.describeExit()}`);
    return slot.guest.agent.exec(command, options);
  };

  async function startService(spec: ServiceSpec): Promise<TargetService> {
    const command = spec.command({ address, port: spec.port });
    const server: GuestProcess = await slot.guest.agent.spawn(command, { timeoutMs: spec.timeoutMs });
    let alive = true;
    const watching = new AbortController();
    // Notices a server that exits early (so waitForListening stops waiting for it), for as long as
    // the server may live; stop() ends the watch.
    const watcher = pollUntil(
      async () => {
        const status = await server.poll().catch(() => null);
        if (status?.exited) alive = false;
        return !alive;
      },
      { timeoutMs: spec.timeoutMs, intervalMs: 200, what: `watching ${spec.name} in the guest`, signal: watching.signal },
    ).catch(() => {});
    const stop = async () => {
      watching.abort();
      await watcher;
      await server.kill().catch(() => {});
    };
    try {
      await waitForListening(exec, spec.protocols, address, spec.port, () => alive);
    } catch (error) {
      await stop();
      const status = server.finalStatus;
      const detail = status ? Buffer.from(status['err-data'] ?? '', 'base64').toString('utf8').trim().split('\n').slice(-3).join(' | ') : '';
      throw new Error(`${(error as Error).message}${detail ? `; ${spec.name} said: ${detail}` : ''}`, { cause: error });
    }
    return { spec, command, stop };
  }

  async function cpuCounters(): Promise<CpuCounter[]> {
    const counters: CpuCounter[] = [];
    if (!slot.guest.exited) counters.push({ source: 'qemu', seconds: await slot.guest.qemuCpuSeconds() });
    // The guest's own accounting (its /proc/stat busy time across its vCPUs).
    const stat = await slot.guest.agent.exec(['cat', '/proc/stat'], { timeoutMs: 10_000 }).catch(() => null);
    if (stat?.ok) counters.push({ source: 'guest', seconds: parseProcStat(stat.stdout).busySeconds });
    return counters;
  }

  return {
    name: context.configuration,
    facts,
    serverAddress: address,
    dataDirectory: GUEST_DATA_DIRECTORY,
    exec,
    startService,
    cpuCounters,
    pause: () => slot.guest.pause(),
    resume: () => slot.guest.resume(),
    ...(migration ? { migration } : {}),
    ...(libvirtMigration ? { libvirtMigration } : {}),
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      // A migration interrupted mid-way: its destination and tap go first, then the guest itself.
      await migration?.abandonCurrent().catch(() => {});
      await libvirtMigration?.abandonCurrent().catch(() => {});
      await slot.guest.stop();
      await resources.undo(slot.tapResourceId);
      for (const id of ownedResources) await resources.undo(id);
      context.topology.releaseAddress(address);
    },
  };
}
