/**
 * The QEMU command line of an isobench guest, built from plain data so that it can be tested and
 * stored with the results exactly as it ran. One guest: direct kernel boot into the image's init,
 * a virtio-blk disk, virtio-net on a tap (vhost only when asked for, i.e. when /dev/vhost-net
 * exists), a virtio-serial port for the guest agent, QMP on a unix socket, the serial console in
 * a file.
 */

export const QEMU_BINARY = 'qemu-system-x86_64';
/** Every QEMU isobench starts is named with this prefix, so `cleanup` can find it. */
export const QEMU_NAME_PREFIX = 'isobench-';
export const GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0';

export type Accel = 'kvm' | 'tcg';

export interface DiskSpec {
  path: string;
  format: 'raw' | 'qcow2';
  /** none = O_DIRECT on the host (no host page cache), the paper's setting. */
  cache: 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
  /** native = Linux AIO; QEMU accepts it only with O_DIRECT (cache=none or directsync). */
  aio: 'native' | 'threads' | 'io_uring';
}

export interface NetSpec {
  /** An existing tap (isobench creates it, on its bridge, before QEMU starts). */
  tap: string;
  mac: string;
  vhost: boolean;
}

export interface QemuGuestSpec {
  /** `-name`; must start with QEMU_NAME_PREFIX. */
  name: string;
  accel: Accel;
  cpuModel: string;
  vcpus: number;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  append: string;
  disk?: DiskSpec;
  net?: NetSpec;
  /** QMP's socket; omit for a guest nobody controls (the accel probe, which powers itself off). */
  qmpSocket?: string;
  /** The guest agent's socket; omit for a guest without an agent (the accel probe). */
  agentSocket?: string;
  serialLog: string;
}

/** QEMU option values are comma-separated: a literal comma in a value is written twice. */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

export function accelArgs(accel: Accel): string[] {
  // Multi-threaded TCG: one host thread per vCPU, like KVM's vCPU threads.
  return accel === 'kvm' ? ['-accel', 'kvm'] : ['-accel', 'tcg,thread=multi'];
}

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

/** A locally administered unicast MAC (QEMU's 52:54:00 prefix) derived from the guest's IPv4 address. */
export function macForAddress(address: string): string {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((octet) => !Number.isInteger(octet) || octet < 0 || octet > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return ['52', '54', '00', ...octets.slice(1).map((octet) => octet.toString(16).padStart(2, '0'))].join(':');
}
