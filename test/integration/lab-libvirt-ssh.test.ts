/**
 * libvirt's own `qemu+ssh://` transport between lab hosts, through isobench's helper
 * (hosts/libvirt-ssh.ts) on the hosts' shared connections: the ground a libvirt migration between
 * lab hosts stands on. Two namespace hosts with their own libvirtd (lab-hosts.ts); a diskless 64 MiB
 * TCG domain with its NIC on sut's lab bridge (libvirt makes the tap) moves live to peer, whose
 * libvirtd makes its own tap on its bridge, over a stream between the hosts' test addresses.
 * Root; about 30 s. Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runChecked, runCommand } from '../../core/exec.js';
import { SshHost } from '../../hosts/host.js';
import { libvirtSshUri } from '../../hosts/libvirt-ssh.js';
import { parseDomjobinfo } from '../../provisioning/kvm/libvirt-jobinfo.js';
import { createLab, openLabHosts, sweepLabLeftovers } from './lab-hosts.js';
import { libvirtSkipReason } from './libvirt-fixture.js';

const skip = await libvirtSkipReason('lab hosts with their own libvirtd', [['unshare', 'util-linux'], ['nsenter', 'util-linux']]);
const DOMAIN = 'isobench-lab-libvirt-ssh';

/** A guest with no disk and no kernel (it idles in the firmware): enough for libvirt to move. */
function domainXml(bridge: string, serial: string): string {
  return `<domain type='qemu'>
  <name>${DOMAIN}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='bridge'><source bridge='${bridge}'/><model type='virtio'/></interface>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

test('a live migration between two lab hosts\' libvirtds over qemu+ssh://, each reached through its helper on the shared connection', { skip, timeout: 240_000 }, async () => {
  const lab = await createLab([
    { name: 'sut', roles: ['migration-source'], libvirt: true, linkBridge: 'br-lab' },
    { name: 'peer', roles: ['migration-dest'], libvirt: true, linkBridge: 'br-lab' },
  ]);
  const hosts = await openLabHosts(lab);
  // Namespaces share this machine's file system: one directory is the hosts' shared storage.
  const shared = await mkdtemp('/var/tmp/islab-shared-');
  try {
    const [source, dest] = ['sut', 'peer'].map((name) => hosts.get(name) as SshHost);
    const sourceUri = await libvirtSshUri(source!);
    const destUri = await libvirtSshUri(dest!);
    const virsh = (uri: string, ...words: string[]) => runChecked(['virsh', '-c', uri, ...words], { timeoutMs: 60_000 });
    // Each URI reaches its own host's daemon, not this machine's.
    assert.equal((await virsh(sourceUri.uri, 'hostname')).stdout.trim(), lab.hosts[0]!.netns);
    assert.equal((await virsh(destUri.uri, 'hostname')).stdout.trim(), lab.hosts[1]!.netns);

    const xml = join(shared, 'domain.xml');
    await writeFile(xml, domainXml('br-lab', join(shared, 'serial.log')));
    await virsh(sourceUri.uri, 'define', xml);
    await virsh(sourceUri.uri, 'start', DOMAIN);
    assert.match((await virsh(sourceUri.uri, 'domiflist', DOMAIN)).stdout, /vnet\d+ +bridge +br-lab/);
    const peerAddress = lab.hosts[1]!.address;
    const migrate = ['migrate', '--live', '--persistent', DOMAIN, destUri.uri, '--migrateuri', `tcp://${peerAddress}`, '--listen-address', peerAddress];
    await virsh(sourceUri.uri, ...migrate);
    const job = parseDomjobinfo((await virsh(sourceUri.uri, 'domjobinfo', DOMAIN, '--completed')).stdout, ['virsh', 'domjobinfo']);
    console.log(JSON.stringify(job));
    assert.equal(job.jobType, 'Completed');
    assert.equal(job.operation, 'Outgoing migration');
    assert.ok(job.downtimeMs! > 0 && job.downtimeMs! < 5_000, `downtime ${job.downtimeMs} ms`);
    assert.ok(Math.abs(job.memoryTotalBytes! - 64 * 1_048_576) < 2 * 1_048_576, `memory total ${job.memoryTotalBytes}`);
    assert.equal((await virsh(destUri.uri, 'domstate', DOMAIN)).stdout.trim(), 'running');
    assert.equal((await virsh(sourceUri.uri, 'domstate', DOMAIN)).stdout.trim(), 'shut off');
    // The destination's libvirtd put its own tap on its own bridge.
    assert.match((await runChecked(['ip', '-n', lab.hosts[1]!.netns, '-o', 'link', 'show', 'master', 'br-lab'], { timeoutMs: 10_000 })).stdout, /vnet\d+/);
  } finally {
    for (const host of lab.hosts) {
      const uri = host.libvirtd!.uri;
      await runCommand(['virsh', '-c', uri, 'destroy', DOMAIN], { timeoutMs: 30_000 });
      await runCommand(['virsh', '-c', uri, 'undefine', DOMAIN], { timeoutMs: 30_000 });
    }
    await hosts.close();
    await lab.teardown();
    await rm(shared, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});
