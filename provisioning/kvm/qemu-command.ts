/**
 * The QEMU command line of an isobench guest, built from plain data so that it can be tested and
 * stored with the results exactly as it ran. One guest: direct kernel boot into the image's init,
 * a virtio-blk disk, virtio-net on a tap (vhost only when asked for, i.e. when /dev/vhost-net
 * exists), a virtio-serial port for the guest agent, QMP on a unix socket, the serial console in
 * a file.
 */
import { GUEST_AGENT_PORT_NAME } from '../image/recipe.js';

/** The QEMU system emulator isobench runs, looked up on PATH (Debian's qemu-system-x86). */
export const QEMU_BINARY = 'qemu-system-x86_64';
/** Every QEMU isobench starts is named with this prefix, so `cleanup` can find it. */
export const QEMU_NAME_PREFIX = 'isobench-';
/** The virtserialport name qemu-ga looks for by default; the guest init starts the agent on it. The image recipe owns it. */
export const GUEST_AGENT_CHANNEL = GUEST_AGENT_PORT_NAME;

/** `kvm`: hardware virtualization (`-accel kvm`). `tcg`: QEMU's emulator, multi-threaded. */
export type Accel = 'kvm' | 'tcg';

/** The guest's disk: `-drive …,if=none` plus a `virtio-blk-pci` device (the guest's /dev/vda). */
export interface DiskSpec {
  /** The guest's private copy (cloneDiskImage), never the cached image. */
  path: string;
  format: 'raw' | 'qcow2';
  /** none = O_DIRECT on the host (no host page cache), the paper's setting. */
  cache: 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
  /** native = Linux AIO; QEMU accepts it only with O_DIRECT (cache=none or directsync). */
  aio: 'native' | 'threads' | 'io_uring';
}

/** The guest's network: a `tap` netdev plus a `virtio-net-pci` device. */
export interface NetSpec {
  /** An existing tap (isobench creates it, on its bridge, before QEMU starts). */
  tap: string;
  /** Lower-case `xx:xx:xx:xx:xx:xx`, e.g. macForAddress's. */
  mac: string;
  /** `vhost=on`: virtio-net's data path in the host kernel; only when /dev/vhost-net opens. */
  vhost: boolean;
}

/** Everything buildQemuCommand needs for one guest; validateSpec says what is accepted. */
export interface QemuGuestSpec {
  /** `-name`; must start with QEMU_NAME_PREFIX. */
  name: string;
  accel: Accel;
  /** `-cpu`, e.g. `host`, `qemu64`, `max`. */
  cpuModel: string;
  /** `-smp`: a positive whole number. */
  vcpus: number;
  /** `-m`, in MiB: a whole number, at least 128. */
  memoryMiB: number;
  /** `-kernel`: the image's kernel (direct kernel boot, no boot loader). */
  kernel: string;
  /** `-initrd`. */
  initrd: string;
  /** `-append`: the kernel command line; must not be empty. */
  append: string;
  disk?: DiskSpec;
  net?: NetSpec;
  /** QMP's socket; omit for a guest nobody controls (the accel probe, which powers itself off). */
  qmpSocket?: string;
  /** The guest agent's socket; omit for a guest without an agent (the accel probe). */
  agentSocket?: string;
  /** File the guest's serial console (ttyS0) is written to. */
  serialLog: string;
  /**
   * `-incoming`: this QEMU is a migration destination. `defer` waits for QMP `migrate-incoming`, so
   * capabilities can be set first (QEMU's migration docs); the guest's state arrives instead of a boot.
   */
  incoming?: 'defer';
}

/** QEMU option values are comma-separated: a literal comma in a value is written twice. */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** `-accel kvm`, or `-accel tcg,thread=multi`. */
export function accelArgs(accel: Accel): string[] {
  // Multi-threaded TCG: one host thread per vCPU, like KVM's vCPU threads.
  return accel === 'kvm' ? ['-accel', 'kvm'] : ['-accel', 'tcg,thread=multi'];
}

/**
 * Checks a spec before it becomes an argv, so a bad value fails here with a message rather than as
 * a QEMU error or an option injected through a name.
 * @throws Error naming the first bad field: a name without QEMU_NAME_PREFIX or with characters other
 *   than letters, digits, `.`, `_`, `-`; vcpus not a positive integer; memory under 128 MiB;
 *   `aio=native` without O_DIRECT (cache none or directsync); a malformed MAC; a tap name that is not
 *   1-15 of `[A-Za-z0-9_-]` (15: the kernel's interface name limit, IFNAMSIZ less the NUL); an empty
 *   kernel command line.
 */
export function validateSpec(spec: QemuGuestSpec): void {
  if (!spec.name.startsWith(QEMU_NAME_PREFIX)) throw new Error(`a QEMU guest's name must start with ${QEMU_NAME_PREFIX}: ${spec.name}`);
  if (!/^[A-Za-z0-9._-]+$/.test(spec.name)) throw new Error(`a QEMU guest's name may hold letters, digits, '.', '_' and '-' only: ${spec.name}`);
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1) throw new Error(`vcpus must be a positive whole number, not ${spec.vcpus}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 128) throw new Error(`memory must be at least 128 MiB, not ${spec.memoryMiB}`);
  if (spec.disk && spec.disk.aio === 'native' && spec.disk.cache !== 'none' && spec.disk.cache !== 'directsync') {
    throw new Error(`aio=native needs O_DIRECT (cache=none or directsync), not cache=${spec.disk.cache}`);
  }
  if (spec.net && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(spec.net.mac)) throw new Error(`not a MAC address: ${spec.net.mac}`);
  if (spec.net && !/^[A-Za-z0-9_-]{1,15}$/.test(spec.net.tap)) throw new Error(`not a tap name: ${spec.net.tap}`);
  if (spec.append.trim() === '') throw new Error('the kernel command line is empty');
}

/**
 * QEMU's argv for the spec (argv[0] is `binary`, default QEMU_BINARY): q35, `-nodefaults
 * -no-user-config -display none -no-reboot`, the serial console to a file, and QMP, disk, network and
 * agent when the spec has them. Comma-bearing paths are escaped (escapeOptionValue).
 * @throws Error when validateSpec rejects the spec.
 */
export function buildQemuCommand(spec: QemuGuestSpec, binary: string = QEMU_BINARY): string[] {
  validateSpec(spec);
  const argv = [
    binary,
    '-name', `${spec.name},debug-threads=on`,
    '-nodefaults', '-no-user-config',
    '-machine', 'q35',
    ...accelArgs(spec.accel),
    '-cpu', spec.cpuModel,
    '-smp', String(spec.vcpus),
    '-m', String(spec.memoryMiB),
    '-display', 'none',
    '-no-reboot',
    '-kernel', spec.kernel,
    '-initrd', spec.initrd,
    '-append', spec.append,
    '-chardev', `file,id=serial0,path=${escapeOptionValue(spec.serialLog)}`,
    '-serial', 'chardev:serial0',
  ];
  if (spec.qmpSocket) {
    argv.push('-chardev', `socket,id=qmp0,path=${escapeOptionValue(spec.qmpSocket)},server=on,wait=off`, '-mon', 'chardev=qmp0,mode=control');
  }
  if (spec.disk) {
    const { path, format, cache, aio } = spec.disk;
    argv.push(
      '-drive', `file=${escapeOptionValue(path)},format=${format},if=none,id=disk0,cache=${cache},aio=${aio},discard=unmap`,
      '-device', 'virtio-blk-pci,drive=disk0,id=vda',
    );
  }
  if (spec.net) {
    argv.push(
      '-netdev', `tap,id=net0,ifname=${spec.net.tap},script=no,downscript=no,vhost=${spec.net.vhost ? 'on' : 'off'}`,
      '-device', `virtio-net-pci,netdev=net0,mac=${spec.net.mac},id=nic0`,
    );
  }
  if (spec.agentSocket) {
    argv.push(
      '-device', 'virtio-serial-pci,id=vser0',
      '-chardev', `socket,id=qga0,path=${escapeOptionValue(spec.agentSocket)},server=on,wait=off`,
      '-device', `virtserialport,bus=vser0.0,chardev=qga0,name=${GUEST_AGENT_CHANNEL}`,
    );
  }
  // Last, and not a device: source and destination must list the same devices in the same order.
  if (spec.incoming) argv.push('-incoming', spec.incoming);
  return argv;
}

/** The virtio devices a spec gives the guest, for the results' labels. */
export function virtioDevices(spec: Pick<QemuGuestSpec, 'disk' | 'net' | 'agentSocket'>): string[] {
  return [
    ...(spec.disk ? ['virtio-blk-pci'] : []),
    ...(spec.net ? ['virtio-net-pci'] : []),
    ...(spec.agentSocket ? ['virtio-serial-pci'] : []),
  ];
}

/**
 * A locally administered unicast MAC (QEMU's 52:54:00 prefix) derived from the guest's IPv4 address:
 * its last three octets in hex.
 * @throws Error when `address` is not a dotted-quad IPv4 address.
 */
export function macForAddress(address: string): string {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((octet) => !Number.isInteger(octet) || octet < 0 || octet > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return ['52', '54', '00', ...octets.slice(1).map((octet) => octet.toString(16).padStart(2, '0'))].join(':');
}
