import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseQgaReply } from '../../provisioning/kvm/guest-agent.js';
import { isobenchQemuName } from '../../provisioning/kvm/leftovers.js';
import { accelFromArgv, buildDomainXml, escapeXml, parseVirshVersion, virshAgentReply, type LibvirtDomainSpec } from '../../provisioning/kvm/libvirt.js';
import { buildQemuCommand } from '../../provisioning/kvm/qemu-command.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/kvm/${name}`, import.meta.url), 'utf8');
/** What `virsh qemu-agent-command` printed against a real guest (test/fixtures/kvm/capture.ts libvirt). */
const virsh = JSON.parse(fixture('libvirt-virsh-agent.json')) as Record<string, { ok: boolean; stdout: string; stderr: string }>;
/** The QEMU argv libvirt 9.0 built for a type='qemu' domain here. */
const libvirtArgv = JSON.parse(fixture('libvirt-qemu-argv.json')) as string[];

const spec: LibvirtDomainSpec = {
  name: 'isobench-kvm-run1',
  type: 'qemu',
  cpuModel: 'max',
  vcpus: 2,
  memoryMiB: 2048,
  kernel: '/var/tmp/isobench-libvirt-run1/vmlinuz-6.1.0-50-amd64',
  initrd: '/var/tmp/isobench-libvirt-run1/initrd.img-6.1.0-50-amd64',
  cmdline: 'console=ttyS0 root=/dev/vda rw init=/sbin/isobench-init isobench.addr=198.18.0.10/24 net.ifnames=0 panic=-1',
  disk: { path: '/var/tmp/isobench-libvirt-run1/kvm-disk.raw', format: 'raw', cache: 'none', aio: 'native' },
  net: { tap: 'ib-tap0', mac: '52:54:00:12:00:0a', vhost: false },
  serialLog: '/work/results/run1-kvm-serial.log',
  emulator: '/usr/bin/qemu-system-x86_64',
};

test('domain XML: the same guest as the QEMU argv — type, CPU, direct boot, no reboot', () => {
  const xml = buildDomainXml(spec);
  assert.match(xml, /^<domain type='qemu'>/);
  assert.match(xml, /<name>isobench-kvm-run1<\/name>/);
  assert.match(xml, /<memory unit='MiB'>2048<\/memory>\s*<vcpu>2<\/vcpu>/);
  assert.match(xml, /<type arch='x86_64' machine='q35'>hvm<\/type>/);
  assert.match(xml, /<cmdline>console=ttyS0 root=\/dev\/vda rw init=\/sbin\/isobench-init isobench\.addr=198\.18\.0\.10\/24 net\.ifnames=0 panic=-1<\/cmdline>/);
  assert.match(xml, /<cpu mode='maximum' check='none'\/>/);
  assert.match(xml, /<on_reboot>destroy<\/on_reboot>/);
  assert.match(buildDomainXml({ ...spec, type: 'kvm', cpuModel: 'host' }), /^<domain type='kvm'>[\s\S]*<cpu mode='host-passthrough' check='none'\/>/);
  assert.match(buildDomainXml({ ...spec, type: 'kvm', cpuModel: 'qemu64' }), /<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64<\/model><\/cpu>/);
});

test('domain XML: virtio-blk cache=none io=native; a qcow2 backing file libvirt must not relabel', () => {
  const xml = buildDomainXml(spec);
  assert.match(xml, /<driver name='qemu' type='raw' cache='none' io='native' discard='unmap'\/>\s*<source file='\/var\/tmp\/isobench-libvirt-run1\/kvm-disk\.raw'\/>\s*<target dev='vda' bus='virtio'\/>/);
  assert.doesNotMatch(xml, /backingStore/);
  const qcow2 = buildDomainXml({
    ...spec,
    disk: { path: '/d/kvm-disk.qcow2', format: 'qcow2', cache: 'none', aio: 'native', backing: { path: '/var/cache/isobench/disk-x-4g.qcow2', format: 'qcow2' } },
  });
  assert.match(qcow2, /<backingStore type='file'>\s*<format type='qcow2'\/>\s*<source file='\/var\/cache\/isobench\/disk-x-4g\.qcow2'>\s*<seclabel model='dac' relabel='no'\/>/);
  assert.throws(() => buildDomainXml({ ...spec, disk: { ...spec.disk, cache: 'writeback' } }), /aio=native needs O_DIRECT/);
});

test('domain XML: the pre-made tap (managed=no), vhost only when asked, the agent channel, the serial file', () => {
  const xml = buildDomainXml(spec);
  assert.match(xml, /<interface type='ethernet'>\s*<mac address='52:54:00:12:00:0a'\/>\s*<target dev='ib-tap0' managed='no'\/>\s*<model type='virtio'\/>\s*<driver name='qemu'\/>/);
  assert.match(buildDomainXml({ ...spec, net: { ...spec.net!, vhost: true } }), /<driver name='vhost'\/>/);
  assert.doesNotMatch(buildDomainXml({ ...spec, net: undefined }), /<interface/);
  assert.match(xml, /<channel type='unix'>\s*<target type='virtio' name='org\.qemu\.guest_agent\.0'\/>/);
  assert.match(xml, /<serial type='file'>\s*<source path='\/work\/results\/run1-kvm-serial\.log'\/>/);
  assert.throws(() => buildDomainXml({ ...spec, name: 'vm1' }), /must start with isobench-/);
});

test('domain XML: text is escaped', () => {
  assert.equal(escapeXml(`a<b>&'"`), 'a&lt;b&gt;&amp;&apos;&quot;');
  assert.match(buildDomainXml({ ...spec, cmdline: 'x=<1> & y' }), /<cmdline>x=&lt;1&gt; &amp; y<\/cmdline>/);
});

test('virsh agent replies: a return passes through; an agent error becomes the agent\'s error reply', () => {
  assert.deepEqual(parseQgaReply(virshAgentReply(virsh['ping']!)), { kind: 'return', value: {} });
  assert.deepEqual(parseQgaReply(virshAgentReply(virsh['exec']!)), { kind: 'return', value: { pid: 192 } });
  const missing = parseQgaReply(virshAgentReply(virsh['missing']!));
  assert.ok(missing.kind === 'error');
  assert.match(missing.description, /Failed to execute child process “\/no\/such\/program”/);
  const unknown = parseQgaReply(virshAgentReply(virsh['unknownCommand']!));
  assert.ok(unknown.kind === 'error' && /has not been found/.test(unknown.description));
});

test('virsh agent replies: libvirt failing to reach the agent is an error, not a reply', () => {
  assert.throws(
    () => virshAgentReply({ ok: false, stdout: '', stderr: 'error: Guest agent is not responding: QEMU guest agent is not connected\n' }),
    /libvirt could not reach the guest agent: Guest agent is not responding/,
  );
});

test('what accel really ran, from QEMU\'s argv: libvirt\'s and isobench\'s own', () => {
  assert.equal(accelFromArgv(libvirtArgv), 'tcg');
  assert.equal(isobenchQemuName(libvirtArgv), 'isobench-fixture-libvirt', 'cleanup recognises libvirt\'s QEMU too');
  const own = buildQemuCommand({
    name: 'isobench-x',
    accel: 'kvm',
    cpuModel: 'host',
    vcpus: 1,
    memoryMiB: 512,
    kernel: '/k',
    initrd: '/i',
    append: 'console=ttyS0',
    serialLog: '/s',
  });
  assert.equal(accelFromArgv(own), 'kvm');
  assert.equal(accelFromArgv(['qemu-system-x86_64', '-machine', 'pc,accel=kvm']), 'kvm');
  assert.equal(accelFromArgv(['qemu-system-x86_64']), null);
});

test('libvirt\'s version line for the results, from real `virsh version` output', () => {
  assert.equal(parseVirshVersion(fixture('libvirt-virsh-version.txt')), 'libvirt 9.0.0, QEMU 7.2.22');
});
