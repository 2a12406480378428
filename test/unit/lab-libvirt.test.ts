import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDomjobinfo } from '../../provisioning/kvm/libvirt-jobinfo.js';
import { buildDomainXml } from '../../provisioning/kvm/libvirt.js';
import { figuresFromJob, labMigrateCommand, snapshotFromJob } from '../../provisioning/kvm/lab/lab-libvirt-target.js';
import { REPO_ROOT } from '../helpers.js';

const COMPLETED = parseDomjobinfo(readFileSync(join(REPO_ROOT, 'test/fixtures/kvm/libvirt-domjobinfo-completed.txt'), 'utf8'), ['virsh', 'domjobinfo']);

test('a lab migration\'s virsh migrate: live, persistent, --unsafe (isobench checked the shared-dir), the stream to the destination\'s test address', () => {
  assert.deepEqual(
    labMigrateCommand({ sourceUri: 'qemu+ssh://root@198.19.214.2/system', domain: 'isobench-lab-x', destinationUri: 'qemu+ssh://root@198.19.214.3/system', bandwidthMiBs: 128, xmlFile: '/tmp/m.xml', destinationAddress: '198.19.214.3' }),
    ['virsh', '-c', 'qemu+ssh://root@198.19.214.2/system', 'migrate', '--live', '--persistent', '--unsafe', '--bandwidth', '128', '--xml', '/tmp/m.xml', 'isobench-lab-x', 'qemu+ssh://root@198.19.214.3/system', '--migrateuri', 'tcp://198.19.214.3', '--listen-address', '198.19.214.3'],
  );
});

test('libvirt\'s completed-job rows become the lab outcome\'s figures and snapshot; what virsh did not print is null, never 0', () => {
  const figures = figuresFromJob(COMPLETED);
  assert.equal(figures.totalTimeMs, COMPLETED.timeElapsedMs);
  assert.equal(figures.downtimeMs, COMPLETED.downtimeMs);
  assert.equal(figures.dirtySyncCount, COMPLETED.iterations);
  assert.equal(figures.transferredBytes, COMPLETED.dataProcessedBytes);
  assert.equal(figures.ramBytes, COMPLETED.memoryTotalBytes);
  assert.equal(figures.downtimeBytes, null, 'domjobinfo has no downtime-bytes row');
  const snapshot = snapshotFromJob(COMPLETED, 'completed', 1_000);
  assert.deepEqual([snapshot.atMs, snapshot.status, snapshot.expectedDowntimeMs, snapshot.error], [1_000, 'completed', null, null]);
  const none = snapshotFromJob(null, 'failed', 5, 'refused');
  assert.deepEqual([none.totalTimeMs, none.syncCount, none.mbps, none.error], [null, null, null, 'refused']);
});

test('a lab domain: libvirt makes the tap on the host\'s bridge, and QEMU runs as root without relabelling the shared disk', () => {
  const xml = buildDomainXml({
    name: 'isobench-lab-x', type: 'qemu', cpuModel: 'max', vcpus: 1, memoryMiB: 256, kernel: '/srv/i/boot/vmlinuz', initrd: '/srv/i/boot/initrd.img', cmdline: 'console=ttyS0',
    disk: { path: '/srv/i/disk.qcow2', format: 'qcow2', cache: 'none', aio: 'native' }, net: { bridge: 'br-lab', mac: '52:54:00:12:34:56' }, serialLog: '/srv/i/serial-0.log',
    emulator: '/usr/bin/qemu-system-x86_64', dacUser: 'root',
  });
  assert.match(xml, /<interface type='bridge'>\s*<mac address='52:54:00:12:34:56'\/>\s*<source bridge='br-lab'\/>/);
  assert.doesNotMatch(xml, /<interface type='ethernet'>|managed='no'/, 'no tap named by isobench');
  assert.match(xml, /<seclabel type='static' model='dac' relabel='no'><label>\+0:\+0<\/label><\/seclabel>/);
  const plain = buildDomainXml({
    name: 'isobench-x', type: 'qemu', cpuModel: 'max', vcpus: 1, memoryMiB: 256, kernel: '/k', initrd: '/i', cmdline: '', disk: { path: '/d', format: 'raw', cache: 'none', aio: 'native' },
    net: { tap: 'ib-tap1', mac: '52:54:00:12:34:56', vhost: false }, serialLog: '/s', emulator: '/q',
  });
  assert.doesNotMatch(plain, /seclabel/, 'the single-host domain keeps libvirt\'s default user');
});
