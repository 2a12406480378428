/**
 * Lab mode's kvm target through the real CLI (issue 14): `bench --hosts … --server sut --client peer
 * --target kvm --suite tcp-rr,tcp-bulk,random-io,mysql` (one point of random-io and of mysql), hosts
 * being network namespaces with their own sshd (lab-hosts.ts); sut's lab link on a bridge the guest's
 * tap joins, the guest at sut's guest-address, its image and disk in sut's data-dir; sockperf's,
 * iperf3's and MariaDB's servers in the guest, their clients (sysbench too) on peer across the lab
 * link; fio in the guest on its virtio disk, the host disk figure read on sut. One guest boot for all.
 * About 4-5 minutes on TCG (the boot, four short network runs, fio's file laid out in the guest, MariaDB
 * installed and loaded there; the first run also copies the 2.5 GB image into the data-dir). Root.
 * Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import { assertNoLeftovers, completedRun, runCli } from '../helpers.js';
import { createLab, LAB_GUEST_BRIDGE, LAB_SHARED_DIR, labQemuSkipReason, strangersIn, sweepLabLeftovers } from './lab-hosts.js';

const skip = await labQemuSkipReason();

/** The run's points: every network point, one of random-io and of mysql (CI time), and startup's, which a lab guest skips. */
const POINTS = ['tcp-rr/tcp', 'tcp-rr/udp', 'tcp-bulk/client-to-server', 'tcp-bulk/server-to-client', 'random-io/randread', 'mysql/threads-2', 'startup/cold-start'];

test('bench --hosts --target kvm --suite tcp-rr,tcp-bulk,random-io,mysql: the guest on sut answers peer across the lab link, fio and MariaDB run in it; nothing left but the image', { skip, timeout: 20 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  // The image stays between runs, as on a real host's data-dir (the migration tests' shared dir serves as one).
  await mkdir(LAB_SHARED_DIR, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'isobench-labkvm-'));
  const lab = await createLab([
    { name: 'sut', roles: ['server'], dataDir: LAB_SHARED_DIR, linkBridge: LAB_GUEST_BRIDGE, guestHost: 60 },
    { name: 'peer', roles: ['client'] },
  ]);
  const out = join(work, 'out');
  // What appears in sut's data-dir during the run (the namespaces share this file system): the guest's
  // directories, never fio's file or MariaDB's directory, which belong in the guest.
  const created = new Set<string>();
  const watcher = watch(LAB_SHARED_DIR, (_event, name) => name && created.add(name));
  // Where a mariadbd listens, sampled in sut's namespace and in this one: in neither (it is in the guest).
  const listeners: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const command of [['ip', 'netns', 'exec', lab.hosts[0]!.netns, 'ss', '-Hltnp'], ['ss', '-Hltnp']]) {
        const listening = await runCommand(command, { timeoutMs: 10_000 });
        listeners.push(...listening.stdout.split('\n').filter((line) => line.includes('mariadbd')).map((line) => `${command[0] === 'ip' ? 'sut' : 'here'}: ${line.trim()}`));
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
  try {
    const started = performance.now();
    const outcome = await runCli([
      'bench', '--hosts', lab.inventoryPath, '--server', 'sut', '--client', 'peer', '--target', 'kvm', '--suite', 'tcp-rr,tcp-bulk,random-io,mysql,startup',
      '--points', POINTS.join(','), '--accel', 'tcg', '--vcpus', '1', '--memory', '512', '--reps', '1', '--quick', '--out', out, '--quiet-wait', '5',
    ], 15 * 60_000);
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    const { results } = await completedRun(out, outcome);
    const [sut, peer] = lab.hosts;
    const guest = lab.subnet.replace(/\.0\/24$/, '.60');
    const target = results.targets.find((facts) => facts.target === 'kvm');
    assert.equal(target?.state, 'ready');
    assert.equal(target?.serverAddress, guest, 'the servers listen in the guest, at sut\'s guest-address');
    assert.equal(target?.labels.host, 'sut');
    assert.equal(target?.labels.accel, 'tcg');
    assert.ok(target?.degraded.some((line) => /TCG/.test(line)), 'TCG is labelled');
    assert.ok(!target?.degraded.some((line) => /own CPU time are not read/.test(line)), `QEMU's and the guest's own CPU time are read: ${JSON.stringify(target?.degraded)}`);
    assert.match(target?.storage ?? '', new RegExp(`^guest ext4 on virtio-blk /dev/vda \\(qcow2 overlay in data-dir ${LAB_SHARED_DIR} on host sut, cache=none, aio=native\\)$`));
    assert.deepEqual(results.points.map((point) => point.key).sort(), POINTS.map((point) => `kvm/${point}`).sort());
    for (const point of results.points.filter((candidate) => candidate.suite === 'tcp-rr' || candidate.suite === 'tcp-bulk')) {
      const [trial] = point.trials;
      assert.equal(trial?.state, 'completed', `${point.key}: ${JSON.stringify(trial)}`);
      if (trial?.state !== 'completed') continue;
      // tcp-rr: a TCG guest's echo across two bridges, tens of µs to a few ms; tcp-bulk: more than nothing, less than a veth can carry.
      const figure = trial.metrics.find((metric) => /latency_mean|throughput_gbps/.test(metric.name));
      assert.ok(figure && figure.value > (figure.name === 'throughput_gbps' ? 0.001 : 1) && figure.value < (figure.name === 'throughput_gbps' ? 400 : 100_000), `${point.key}: ${JSON.stringify(figure)}`);
      const client = trial.commands.map((command) => command.join(' ')).find((line) => line.includes('sockperf ping-pong') || line.includes('iperf3 --client'));
      assert.ok(client?.includes(`root@${peer!.address}`) && client.includes(guest), `the client ran on peer against the guest: ${client}`);
      console.log(`# ${point.key}: ${figure.name} ${figure.value.toFixed(2)} ${figure.unit}, peer ${peer!.address} -> guest ${guest} on sut ${sut!.address}`);
    }
    // startup: no second guest beside the one under test (it holds sut's one guest-address): skipped, saying so.
    const [cold] = results.points.find((point) => point.suite === 'startup')?.trials ?? [];
    assert.equal(cold?.state, 'skipped', JSON.stringify(cold));
    assert.match(cold?.state === 'skipped' ? cold.reason : '', /^lab mode starts no second guest on sut: the guest under test holds its one guest-address/);
    // Every CPU figure names a lab host or the target's own sources read where they run (QEMU's process
    // on sut, the guest's /proc/stat): none is this machine's.
    for (const point of results.points) {
      const [trial] = point.trials;
      if (trial?.state !== 'completed') continue;
      const cpu = trial.metrics.filter((metric) => /cpu|cycles/.test(metric.name)).map((metric) => metric.name);
      assert.ok(cpu.every((name) => /_(host (sut|peer)|qemu|guest)$/.test(name)), `${point.key}: ${cpu.join(', ')}`);
    }
    // tcp-bulk: QEMU's CPU per byte on sut is part of sut's whole-host figure (its window is a little
    // wider: the sources are read just outside the hosts' readings, over SSH), the guest's is its own.
    const bulk = results.points.find((point) => point.suite === 'tcp-bulk')?.trials[0];
    if (bulk?.state === 'completed') {
      const perByte = (name: string) => bulk.metrics.find((metric) => metric.name === name)?.value;
      const [qemu, guestCpu, host] = [perByte('cpu_ns_per_byte_qemu'), perByte('cpu_ns_per_byte_guest'), perByte('cpu_ns_per_byte_host sut')];
      assert.ok(qemu !== undefined && guestCpu !== undefined && host !== undefined, `QEMU's, the guest's and sut's CPU per byte: ${bulk.metrics.map((metric) => metric.name).join(', ')}`);
      assert.ok(qemu > 0 && qemu < host * 1.5, `QEMU ${qemu} ns/byte, sut's whole host ${host}`);
      assert.ok(guestCpu > 0, `guest ${guestCpu} ns/byte`);
      console.log(`# kvm/tcp-bulk CPU per byte: sut ${host.toFixed(2)}, QEMU ${qemu.toFixed(2)}, guest ${guestCpu.toFixed(2)} ns/byte`);
    }

    // random-io: fio in the guest on its virtio disk (stored as the guest ran it, no ssh), the disk figure read on sut.
    const io = results.points.find((point) => point.suite === 'random-io')!;
    const [ioTrial] = io.trials;
    assert.equal(ioTrial?.state, 'completed', `${io.key}: ${JSON.stringify(ioTrial)}`);
    if (ioTrial?.state === 'completed') {
      const iops = ioTrial.metrics.find((metric) => metric.name === 'iops')?.value;
      // A TCG guest's 4 KiB random reads through QEMU's qcow2 on a shared 2-core VM: hundreds to tens of thousands.
      assert.ok(iops !== undefined && iops > 10 && iops < 1_000_000, `${io.key}: ${iops} IOPS`);
      const fio = ioTrial.commands.find((command) => command[0] === 'fio');
      assert.ok(fio?.includes('--filename=/var/lib/isobench-data/isobench-fio.dat'), `fio ran in the guest: ${JSON.stringify(ioTrial.commands)}`);
      assert.equal(io.params.numjobs, results.hosts?.find((host) => host.name === 'sut')?.facts?.cores, 'numjobs follows sut\'s cores, as the single-host kvm target\'s follows this machine\'s');
      const request = ioTrial.metrics.find((metric) => metric.name === 'host_disk_request_kib');
      assert.ok(request, 'host_disk_request_kib read on sut');
      assert.match(request.method ?? '', /^host sut \/sys\/block\/\{[^}]+\}\/stat, reads$/);
      assert.ok(request.value > 0 && request.value < 4096, `${request.value} KiB`);
      console.log(`# ${io.key}: ${iops.toFixed(0)} IOPS in the TCG guest on sut (numjobs ${String(io.params.numjobs)}), host_disk_request_kib ${request.value.toFixed(1)} KiB (${request.method})`);
    }

    // mysql: MariaDB in the guest on its address and virtio disk, sysbench on peer against the guest.
    const db = results.points.find((point) => point.suite === 'mysql')!;
    const [dbTrial] = db.trials;
    assert.equal(dbTrial?.state, 'completed', `${db.key}: ${JSON.stringify(dbTrial)}`);
    if (dbTrial?.state === 'completed') {
      const tps = dbTrial.metrics.find((metric) => metric.name === 'transactions_per_s')?.value;
      // sysbench from peer against a 1-vCPU TCG guest: a few to a few thousand transactions a second.
      assert.ok(tps !== undefined && tps > 1 && tps < 100_000, `${db.key}: ${tps} tx/s`);
      const lines = dbTrial.commands.map((command) => command.join(' '));
      const server = lines.find((line) => line.includes('mariadbd --no-defaults'));
      assert.ok(server?.startsWith('mariadbd ') && server.includes(`--bind-address=${guest}`) && server.includes('--datadir=/var/lib/isobench-data/isobench-mariadb-'), server ?? 'no mariadbd command stored');
      const clients = lines.filter((line) => line.includes('sysbench'));
      assert.ok(clients.length >= 2 && clients.every((line) => line.includes(`root@${peer!.address}`) && line.includes(`--mysql-host=${guest}`)), clients.join('\n'));
      assert.ok(lines.every((line) => !/--mysql-password=(?!<generated>)/.test(line)), 'the generated password is in no stored command');
      const cpu = dbTrial.metrics.filter((metric) => /cpu/.test(metric.name)).map((metric) => metric.name);
      assert.deepEqual(cpu.sort(), ['cpu_busy_percent_host peer', 'cpu_busy_percent_host sut', 'cpu_us_per_tx_guest', 'cpu_us_per_tx_host peer', 'cpu_us_per_tx_host sut', 'cpu_us_per_tx_qemu']);
      console.log(`# ${db.key}: ${tps.toFixed(1)} tx/s, sysbench on peer ${peer!.address} -> MariaDB in the guest ${guest} on sut`);
    }
    assert.deepEqual(listeners, [], 'no mariadbd listened on sut or here: it ran in the guest');
    assert.deepEqual([...created].filter((name) => name === 'isobench-fio.dat' || name.startsWith('isobench-mariadb-')), [], 'neither fio\'s file nor MariaDB\'s files were made in sut\'s data-dir');
    console.log(`# the CLI run took ${seconds.toFixed(0)} s (one guest boot, six points): ${(results.phases ?? []).map((phase) => `${phase.name} ${(phase.ms / 1000).toFixed(1)} s`).join(', ')}`);
    assert.deepEqual(await strangersIn(lab), []);
    await assertNoLeftovers();
    assert.deepEqual((await readdir(LAB_SHARED_DIR)).filter((name) => name !== 'image' && name !== 'isobench-image.lock').sort(), [], 'only the image stays in the data-dir');
  } finally {
    sampling = false;
    await sampler;
    watcher.close();
    await lab.teardown();
    await rm(work, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});
