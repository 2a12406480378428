import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cpuSecondsOf, parseProcessStat } from '../../core/proc.js';
import { parseReadyLine } from '../../provisioning/kvm/guest.js';
import { isobenchQemuName } from '../../provisioning/kvm/leftovers.js';
import { buildQemuCommand, macForAddress, virtioDevices, type QemuGuestSpec } from '../../provisioning/kvm/qemu-command.js';
import { freeTapName } from '../../provisioning/kvm/tap.js';

const spec: QemuGuestSpec = {
  name: 'isobench-kvm-run1',
  accel: 'tcg',
  cpuModel: 'max',
  vcpus: 2,
  memoryMiB: 2048,
  kernel: '/cache/rootfs/boot/vmlinuz-6.1.0-50-amd64',
  initrd: '/cache/rootfs/boot/initrd.img-6.1.0-50-amd64',
  append: 'console=ttyS0 root=/dev/vda rw init=/sbin/isobench-init isobench.addr=198.18.0.10/24',
  disk: { path: '/var/tmp/isobench-run-x/kvm-disk.raw', format: 'raw', cache: 'none', aio: 'native' },
  net: { tap: 'ib-tap0', mac: '52:54:00:12:00:0a', vhost: false },
  qmpSocket: '/var/tmp/isobench-run-x/kvm/qmp.sock',
  agentSocket: '/var/tmp/isobench-run-x/kvm/qga.sock',
  serialLog: '/work/results/run1-kvm-serial.log',
};

function valueOf(argv: string[], flag: string): string[] {
  return argv.flatMap((word, index) => (word === flag ? [argv[index + 1]!] : []));
}

test('qemu argv: accel, CPU, size, direct kernel boot, no display, no reboot', () => {
  const argv = buildQemuCommand(spec);
  assert.equal(argv[0], 'qemu-system-x86_64');
  assert.deepEqual(valueOf(argv, '-name'), ['isobench-kvm-run1,debug-threads=on']);
  assert.deepEqual(valueOf(argv, '-accel'), ['tcg,thread=multi']);
  assert.deepEqual(valueOf(buildQemuCommand({ ...spec, accel: 'kvm', cpuModel: 'host' }), '-accel'), ['kvm']);
  assert.deepEqual(valueOf(argv, '-cpu'), ['max']);
  assert.deepEqual(valueOf(argv, '-smp'), ['2']);
  assert.deepEqual(valueOf(argv, '-m'), ['2048']);
  assert.deepEqual(valueOf(argv, '-kernel'), [spec.kernel]);
  assert.deepEqual(valueOf(argv, '-initrd'), [spec.initrd]);
  assert.deepEqual(valueOf(argv, '-append'), [spec.append], 'the command line is one argument, never split by a shell');
  assert.deepEqual(valueOf(argv, '-display'), ['none']);
  assert.ok(argv.includes('-no-reboot') && argv.includes('-nodefaults'));
});

test('qemu argv: virtio-blk with cache=none,aio=native on the private copy', () => {
  const argv = buildQemuCommand(spec);
  assert.deepEqual(valueOf(argv, '-drive'), ['file=/var/tmp/isobench-run-x/kvm-disk.raw,format=raw,if=none,id=disk0,cache=none,aio=native,discard=unmap']);
  assert.ok(valueOf(argv, '-device').includes('virtio-blk-pci,drive=disk0,id=vda'));
  const qcow2 = buildQemuCommand({ ...spec, disk: { ...spec.disk!, path: '/d/disk.qcow2', format: 'qcow2' } });
  assert.match(valueOf(qcow2, '-drive')[0]!, /format=qcow2/);
});

test('qemu argv: aio=native without O_DIRECT is refused (QEMU would refuse it too)', () => {
  assert.throws(() => buildQemuCommand({ ...spec, disk: { ...spec.disk!, cache: 'writeback' } }), /aio=native needs O_DIRECT/);
  assert.doesNotThrow(() => buildQemuCommand({ ...spec, disk: { ...spec.disk!, cache: 'writeback', aio: 'threads' } }));
});

test('qemu argv: virtio-net on the tap, vhost only when asked for', () => {
  assert.deepEqual(valueOf(buildQemuCommand(spec), '-netdev'), ['tap,id=net0,ifname=ib-tap0,script=no,downscript=no,vhost=off']);
  assert.deepEqual(valueOf(buildQemuCommand({ ...spec, net: { ...spec.net!, vhost: true } }), '-netdev'), [
    'tap,id=net0,ifname=ib-tap0,script=no,downscript=no,vhost=on',
  ]);
  assert.ok(valueOf(buildQemuCommand(spec), '-device').includes('virtio-net-pci,netdev=net0,mac=52:54:00:12:00:0a,id=nic0'));
});

test('qemu argv: QMP and guest-agent sockets, serial console to a file, commas escaped', () => {
  const argv = buildQemuCommand({ ...spec, serialLog: '/results/a,b.log' });
  const chardevs = valueOf(argv, '-chardev');
  assert.ok(chardevs.includes('file,id=serial0,path=/results/a,,b.log'));
  assert.ok(chardevs.includes('socket,id=qmp0,path=/var/tmp/isobench-run-x/kvm/qmp.sock,server=on,wait=off'));
  assert.ok(chardevs.includes('socket,id=qga0,path=/var/tmp/isobench-run-x/kvm/qga.sock,server=on,wait=off'));
  assert.deepEqual(valueOf(argv, '-mon'), ['chardev=qmp0,mode=control']);
  assert.ok(valueOf(argv, '-device').includes('virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0'));
  assert.deepEqual(valueOf(argv, '-serial'), ['chardev:serial0']);
});

test('qemu argv: refuses names cleanup could not find and nonsense sizes', () => {
  assert.throws(() => buildQemuCommand({ ...spec, name: 'my-vm' }), /must start with isobench-/);
  assert.throws(() => buildQemuCommand({ ...spec, name: 'isobench-a,b' }), /letters, digits/);
  assert.throws(() => buildQemuCommand({ ...spec, vcpus: 0 }), /vcpus/);
  assert.throws(() => buildQemuCommand({ ...spec, memoryMiB: 64 }), /memory/);
});

test('virtio devices, MAC from the address, free tap names', () => {
  assert.deepEqual(virtioDevices(spec), ['virtio-blk-pci', 'virtio-net-pci', 'virtio-serial-pci']);
  assert.deepEqual(virtioDevices({}), []);
  assert.equal(macForAddress('198.18.0.10'), '52:54:00:12:00:0a');
  assert.throws(() => macForAddress('198.18.0'), /not an IPv4/);
  assert.equal(freeTapName(['lo', 'ib-br0']), 'ib-tap0');
  assert.equal(freeTapName(['ib-tap0', 'ib-tap2']), 'ib-tap1');
});

test('cleanup recognises isobench\'s QEMU by its -name, and only that', () => {
  assert.equal(isobenchQemuName(buildQemuCommand(spec)), 'isobench-kvm-run1');
  assert.equal(isobenchQemuName(['/usr/bin/qemu-system-x86_64', '-name', 'guest=isobench-x,debug-threads=on']), 'isobench-x');
  assert.equal(isobenchQemuName(['/usr/bin/qemu-system-x86_64', '-name', 'someone-else']), null);
  assert.equal(isobenchQemuName(['/usr/bin/qemu-system-x86_64', '-m', '512']), null);
  assert.equal(isobenchQemuName(['vim', '-name', 'isobench-x']), null);
});

test('the ready line of the real guest init, and process CPU time from /proc/PID/stat', () => {
  const serial = '[    9.163405] EXT4-fs (vda): re-mounted. Quota mode: none.\r\nISOBENCH-GUEST-READY network=eth0=198.18.0.10/24 agent=/dev/vport2p1\r\n';
  assert.deepEqual(parseReadyLine(serial), { network: 'eth0=198.18.0.10/24', agent: '/dev/vport2p1' });
  assert.deepEqual(parseReadyLine('ISOBENCH-GUEST-READY network=missing-eth0 agent=/dev/vport2p1\r\n'), { network: 'missing-eth0', agent: '/dev/vport2p1' });
  // Read while the guest was still writing it: not there yet, rather than a line without its fields.
  assert.equal(parseReadyLine('[   17.68] EXT4-fs (vda): re-mounted.\r\nISOBENCH-GUEST-READY'), null);
  assert.equal(parseReadyLine('ISOBENCH-GUEST-READY network=eth0=198.18.0.10/24 agent=/dev/vpo'), null);
  assert.equal(parseReadyLine('[    1.0] booting'), null);
  const seconds = cpuSecondsOf(parseProcessStat(readFileSync('/proc/self/stat', 'utf8')));
  assert.ok(seconds >= 0 && seconds <= process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 + 1);
  assert.equal(cpuSecondsOf(parseProcessStat('123 (qemu-system-x86) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 4 0 99')), 4);
});
