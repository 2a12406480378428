/** Lab QEMU's pure parts (issue 14): the SSH forward's command line, the lab guest's spec, the shared-dir rule, ports, URI and figures. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SshHost } from '../../hosts/host.js';
import type { InventoryHost } from '../../hosts/inventory.js';
import { forwardCommand } from '../../hosts/ssh-forward.js';
import { labGuestSpec } from '../../provisioning/kvm/lab/lab-guest.js';
import { parseRemoteQemuCpu } from '../../provisioning/kvm/lab/remote-qemu.js';
import { completedFigures, freePort, listeningPorts, migrationUri } from '../../provisioning/kvm/lab/lab-migration.js';
import { sharedDirOf } from '../../provisioning/kvm/lab/shared-dir.js';
import { destinationSpec } from '../../provisioning/kvm/migration/destination.js';
import { toMigrationSnapshot } from '../../provisioning/kvm/migration/query-migrate.js';
import { buildQemuCommand } from '../../provisioning/kvm/qemu-command.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/kvm/${name}`, import.meta.url), 'utf8');

test('the forward rides on the host\'s shared connection: ssh -O forward/cancel -L LOCAL:REMOTE with its options; a path with ":" or relative is refused', () => {
  const host = new SshHost('sut', { user: 'root', address: '198.19.214.2' }, { controlDirectory: '/tmp/isobench-ssh-x', configFile: '/tmp/lab/ssh_config' });
  const forward = forwardCommand(host, 'forward', '/tmp/fwd/q.qmp', '/srv/data/g/qmp.sock');
  assert.deepEqual(forward.slice(-6), ['-O', 'forward', '-L', '/tmp/fwd/q.qmp:/srv/data/g/qmp.sock', '--', 'root@198.19.214.2']);
  assert.ok(forward.includes('ControlPath=/tmp/isobench-ssh-x/sut'), forward.join(' '));
  assert.deepEqual(forwardCommand(host, 'cancel', '/tmp/fwd/q.qmp', '/srv/data/g/qmp.sock').slice(-6, -4), ['-O', 'cancel']);
  assert.throws(() => forwardCommand(host, 'forward', '/tmp/a:b', '/srv/qmp.sock'), /must be absolute and free of ':'/);
  assert.throws(() => forwardCommand(host, 'forward', '/tmp/a', 'qmp.sock'), /must be absolute/);
});

const PLAN = {
  name: 'isobench-lab-x1',
  accel: 'tcg' as const,
  cpuModel: 'max',
  vcpus: 1,
  memoryMiB: 256,
  kernel: '/srv/shared/image/rootfs-h/boot/vmlinuz-6.1.0-50-amd64',
  initrd: '/srv/shared/image/rootfs-h/boot/initrd.img-6.1.0-50-amd64',
  disk: '/srv/shared/isobench-lab-x1/disk.qcow2',
  directory: '/srv/data/g-x1',
  net: { tap: 'ib-tap0', mac: '52:54:00:13:d6:32', address: '198.19.214.50/24' },
};

test('a lab guest\'s spec: the host\'s paths, cache=none on the shared qcow2, no vhost; its destination lists the same devices in the same order with -incoming defer', () => {
  const spec = labGuestSpec(PLAN);
  const argv = buildQemuCommand(spec);
  assert.ok(argv.includes('file=/srv/shared/isobench-lab-x1/disk.qcow2,format=qcow2,if=none,id=disk0,cache=none,aio=native,discard=unmap'), argv.join(' '));
  assert.ok(argv.includes('socket,id=qmp0,path=/srv/data/g-x1/qmp.sock,server=on,wait=off'));
  assert.ok(argv.includes('file,id=serial0,path=/srv/data/g-x1/serial.log'));
  assert.ok(argv.includes('tap,id=net0,ifname=ib-tap0,script=no,downscript=no,vhost=off'));
  assert.match(spec.append, /isobench\.addr=198\.19\.214\.50\/24 net\.ifnames=0 panic=-1$/);
  const incoming = destinationSpec(spec, { name: 'isobench-lab-x1-m1', tap: 'ib-tap3', directory: '/srv/peer/g-x1-m1', serialLog: '/srv/peer/g-x1-m1/serial.log' });
  const devices = (command: string[]) => command.filter((_, index) => command[index - 1] === '-device');
  assert.deepEqual(devices(buildQemuCommand(incoming)), devices(argv));
  assert.deepEqual(buildQemuCommand(incoming).slice(-2), ['-incoming', 'defer']);
  assert.equal(incoming.disk?.path, spec.disk?.path, 'one disk file, on the shared dir');
  assert.throws(() => labGuestSpec({ ...PLAN, name: 'lab-x1' }), /must start with isobench-/);
  assert.doesNotMatch(labGuestSpec({ ...PLAN, net: undefined }).append, /isobench\.addr/);
});

const host = (name: string, sharedDir?: string): InventoryHost => ({ name, testAddress: '198.18.1.2', roles: [], ...(sharedDir ? { sharedDir } : {}) });

test('a migration between two hosts needs one shared-dir named on both, at the same path', () => {
  assert.deepEqual(sharedDirOf(host('a', '/nfs/ib'), host('b', '/nfs/ib')), { directory: '/nfs/ib' });
  assert.match((sharedDirOf(host('a', '/nfs/ib'), host('b')) as { reason: string }).reason, /^host b has no shared-dir in the inventory: a migration between a and b needs/);
  assert.match((sharedDirOf(host('a', '/nfs/ib'), host('b', '/mnt/ib')) as { reason: string }).reason, /^hosts a and b name different shared-dirs \(\/nfs\/ib, \/mnt\/ib\)/);
});

test('the stream\'s port: the first of the range no socket listens on, from real ss -Htln output (IPv4 and IPv6)', () => {
  const used = listeningPorts(fixture('ss-Htln.txt'));
  assert.deepEqual([...used].sort(), [2024, 49152, 49153]);
  assert.equal(freePort(used), 49154);
  assert.equal(freePort(new Set([1, 2]), { first: 1, last: 2 }), null);
  assert.equal(freePort(new Set(), { first: 7, last: 9 }), 7);
  assert.throws(() => listeningPorts('LISTEN 0 128 nowhere 0.0.0.0:*'), /without a port/);
});

test('the migration URI goes to an IPv4 test address and a real port only', () => {
  assert.equal(migrationUri('198.19.214.3', 49152), 'tcp:198.19.214.3:49152');
  assert.throws(() => migrationUri('lab-peer', 49152), /not an IPv4 address/);
  assert.throws(() => migrationUri('198.19.214.300', 49152), /not an IPv4 address/);
  assert.throws(() => migrationUri('198.19.214.3', 0), /not a TCP port/);
});

/** The `query-migrate` return of a captured QMP session line (test/fixtures/kvm/*-qmp.jsonl). */
function completedReturn(file: string, zeroTotal: boolean): unknown {
  const lines = fixture(file).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { line: string });
  const found = lines.map((entry) => JSON.parse(entry.line) as { return?: { status?: string; 'total-time'?: number } }).find((message) => message.return?.status === 'completed' && (message.return['total-time'] === 0) === zeroTotal);
  assert.ok(found, `${file} has a completed query-migrate with total-time ${zeroTotal ? '0' : '> 0'}`);
  return found.return;
}

test('a completed migration\'s figures from real query-migrate answers; QEMU 7.2\'s early 0 total-time and downtime are "not reported", never 0', () => {
  const early = completedFigures(toMigrationSnapshot(completedReturn('migration-idle-qmp.jsonl', true), 1));
  assert.equal(early.totalTimeMs, null);
  assert.equal(early.downtimeMs, null);
  assert.equal(early.dirtySyncCount, 3);
  assert.equal(early.transferredBytes, 264_482_653);
  const settled = completedFigures(toMigrationSnapshot(completedReturn('migration-postcopy-qmp.jsonl', false), 1));
  assert.deepEqual(settled, { totalTimeMs: 9816, downtimeMs: 7, setupTimeMs: 4, dirtySyncCount: 3, transferredBytes: 397_375_096, downtimeBytes: 0, ramBytes: 537_665_536, mbps: 324.13972604973503 });
});

test("QEMU's CPU seconds on a lab host: the remote timeout's child's /proc/PID/stat over the host's clock ticks; another process or a failed read is an error naming the host", () => {
  // Captured here: REMOTE_CHILD_STAT for a `timeout 20 qemu-system-x86_64 …` (comm cut to 15 bytes by the kernel).
  const captured = readFileSync(new URL('../fixtures/kvm/remote-qemu-cpu.txt', import.meta.url), 'utf8');
  assert.equal(parseRemoteQemuCpu({ ok: true, stdout: captured, stderr: '' }, 'sut', 5285), (0 + 1) / 100);
  assert.equal(parseRemoteQemuCpu({ ok: true, stdout: captured.replace(/\n100\n$/, '\n250\n'), stderr: '' }, 'sut', 5285), 1 / 250, 'the host\'s CLK_TCK, not this one\'s');
  const bash = readFileSync(new URL('../fixtures/kvm/remote-qemu-cpu-not-qemu.txt', import.meta.url), 'utf8');
  assert.throws(() => parseRemoteQemuCpu({ ok: true, stdout: bash, stderr: '' }, 'sut', 1136), /^Error: host sut: the child of pid 1136 is not QEMU with a clock-tick count: "5281 \(bash\) S/);
  assert.throws(() => parseRemoteQemuCpu({ ok: false, stdout: '', stderr: 'cut: /proc/99/task/99/children: No such file or directory\n' }, 'peer', 99), /^Error: host peer: reading QEMU's CPU time \(the child of pid 99\) failed: cut: \/proc\/99\/task\/99\/children: No such file or directory$/);
});
