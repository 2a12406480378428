/**
 * A guest booted on a lab host (issue 14): the spec for the image copied there (RunImage.onHost),
 * a directory on the host for its sockets and console, a qcow2 overlay as its disk, QEMU started
 * over SSH (RemoteQemu), and the ready line read from its console on the host. Everything made on
 * the host is registered in the ledger as a command run there over SSH.
 */
import { posix } from 'node:path';
import type { ResourceRegistry } from '../../../core/ledger.js';
import { CommandFailedError } from '../../../core/exec.js';
import type { Host, SshHost } from '../../../hosts/host.js';
import { guestKernelCommandLine } from '../../image/guest-boot.js';
import { GUEST_KERNEL_EXTRA } from '../../targets/kvm.js';
import { BOOT_TIMEOUT_MS, waitForReady, type ReadyLine } from '../guest.js';
import type { Transcript } from '../json-socket.js';
import { QEMU_NAME_PREFIX, type DiskSpec, type QemuGuestSpec } from '../qemu-command.js';
import { RemoteQemu } from './remote-qemu.js';

/**
 * The disk as both ends of a migration open it: `cache=none` (O_DIRECT: no page cache on either
 * host holds blocks the other has not seen; QEMU's migration docs ask for it on shared storage) and
 * the kvm target's `aio=native`.
 */
export const LAB_DISK: Pick<DiskSpec, 'format' | 'cache' | 'aio'> = { format: 'qcow2', cache: 'none', aio: 'native' };
/** ms between reads of a lab guest's console while it boots: each read is one SSH round trip. */
export const LAB_SERIAL_POLL_MS = 500;

/** What labGuestSpec builds a spec from; every path is the host's. */
export interface LabGuestPlan extends Pick<QemuGuestSpec, 'name' | 'accel' | 'cpuModel' | 'vcpus' | 'memoryMiB' | 'kernel' | 'initrd'> {
  // name, accel, cpu, vcpus, memory as QemuGuestSpec says; kernel and initrd are the host's paths (the copied tree's /boot).
  /** The guest's qcow2 disk (an overlay, createOverlay's). */
  disk: string;
  /** The host directory for QMP, agent sockets and the console (makeHostDirectory's). */
  directory: string;
  /** The guest's network, when it has one: a tap on the host, its MAC, and the address its init sets (`ADDRESS/PREFIX`). */
  net?: { tap: string; mac: string; address?: string };
}

/**
 * The QEMU spec of a lab guest: the kvm target's kernel command line (its GUEST_KERNEL_EXTRA),
 * LAB_DISK, no vhost (not asked for on a lab host yet: see labVhostDegraded), and `qmp.sock`, `qga.sock`,
 * `serial.log` in `plan.directory`.
 * @throws Error when the name lacks QEMU_NAME_PREFIX.
 */
export function labGuestSpec(plan: LabGuestPlan): QemuGuestSpec {
  if (!plan.name.startsWith(QEMU_NAME_PREFIX)) throw new Error(`a QEMU guest's name must start with ${QEMU_NAME_PREFIX}: ${plan.name}`);
  return {
    name: plan.name,
    accel: plan.accel,
    cpuModel: plan.cpuModel,
    vcpus: plan.vcpus,
    memoryMiB: plan.memoryMiB,
    kernel: plan.kernel,
    initrd: plan.initrd,
    append: guestKernelCommandLine({ ...(plan.net?.address ? { address: plan.net.address } : {}), extra: GUEST_KERNEL_EXTRA }),
    disk: { path: plan.disk, ...LAB_DISK },
    ...(plan.net ? { net: { tap: plan.net.tap, mac: plan.net.mac, vhost: false } } : {}),
    qmpSocket: posix.join(plan.directory, 'qmp.sock'),
    agentSocket: posix.join(plan.directory, 'qga.sock'),
    serialLog: posix.join(plan.directory, 'serial.log'),
  };
}

/**
 * Makes `directory` on `host` (mkdir -p, mode 0700) and registers its removal there (`rm -rf` over
 * SSH), so it goes with the run whatever happens.
 * @returns the ledger id.
 * @throws CommandFailedError when mkdir fails; HostError when the host cannot be reached.
 */
export async function makeHostDirectory(host: Host, directory: string, resources: ResourceRegistry, description: string): Promise<number> {
  if (!posix.isAbsolute(directory) || posix.normalize(directory) === '/') throw new Error(`not a directory isobench may make and remove: ${directory}`);
  const made = await host.run(['mkdir', '-p', '-m', '0700', directory], { timeoutMs: 20_000 });
  if (!made.ok) throw new CommandFailedError(made);
  return resources.register(`${description} ${directory} on host ${host.name}`, { kind: 'command', command: host.commandLine(['rm', '-rf', '--', directory]) });
}

/**
 * A qcow2 overlay at `overlay` on `host` over `backing` (the image's qcow2, which stays unchanged):
 * `qemu-img create -f qcow2 -F qcow2 -b BACKING OVERLAY`. The caller's directory holds it (and its removal).
 * @throws CommandFailedError when qemu-img fails (e.g. the backing is missing); HostError.
 */
export async function createOverlay(host: Host, backing: string, overlay: string): Promise<void> {
  const made = await host.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', backing, overlay], { timeoutMs: 60_000 });
  if (!made.ok) throw new CommandFailedError(made);
}

/** A guest booted on a lab host. */
export interface LabGuest {
  qemu: RemoteQemu;
  ready: ReadyLine;
  /** Seconds from QEMU's start (as this side saw it) to the ready line. */
  bootSeconds: number;
}

/**
 * Starts QEMU on `host` (RemoteQemu.start) and waits for the guest's ready line on its console,
 * read on the host every LAB_SERIAL_POLL_MS. On failure QEMU is stopped before the error is thrown.
 * @throws Error from RemoteQemu.start; GuestStepError ("booting the guest", …) with the console's last lines.
 */
export async function bootLabGuest(options: {
  host: SshHost;
  spec: QemuGuestSpec;
  resources: ResourceRegistry;
  localDirectory: string;
  expectedNetwork?: string;
  bootTimeoutMs?: number;
  transcript?: Transcript;
  log?: (line: string) => void;
}): Promise<LabGuest> {
  const { host, spec } = options;
  const started = performance.now();
  const qemu = await RemoteQemu.start({
    host,
    spec,
    resources: options.resources,
    localDirectory: options.localDirectory,
    cwd: posix.dirname(spec.serialLog),
    role: 'guest',
    ...(options.transcript ? { transcript: options.transcript } : {}),
  });
  const bootTimeoutMs = options.bootTimeoutMs ?? BOOT_TIMEOUT_MS[spec.accel];
  options.log?.(`QEMU ${spec.name} is up on host ${host.name}; waiting for the guest to boot (up to ${Math.round(bootTimeoutMs / 1000)} s)…`);
  try {
    const { ready, bootSeconds } = await waitForReady({
      serialLog: `${spec.serialLog} on host ${host.name}`,
      readSerial: () => qemu.readSerial(),
      intervalMs: LAB_SERIAL_POLL_MS,
      started,
      bootTimeoutMs,
      exited: () => qemu.exitState.exited,
      died: () => qemu.describeExit(),
      ...(options.expectedNetwork ? { expectedNetwork: options.expectedNetwork } : {}),
    });
    options.log?.(`guest ${spec.name} booted on host ${host.name} in ${bootSeconds.toFixed(1)} s`);
    return { qemu, ready, bootSeconds };
  } catch (error) {
    await qemu.stop();
    throw error;
  }
}
