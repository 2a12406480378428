/**
 * Lab mode's random-io and mysql through the real CLI (issue 14): `bench --hosts … --server sut
 * --client peer --target native --suite random-io,mysql`, one point of each, hosts being network
 * namespaces with their own sshd (lab-hosts.ts). fio's file must be made under sut's inventory
 * `data-dir` (never peer's), MariaDB must listen on sut's test address inside sut's namespace (never
 * loopback), sysbench must run on peer, and the host disk figure must name sut. The namespaces
 * share this machine's file system, so a watch on each data-dir sees which host's directory the run
 * wrote to. Root; about two minutes. Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertNoLeftovers, completedRun, runCli } from '../helpers.js';
import { createLab, strangersIn, sweepLabLeftovers, watchMariadbListeners } from './lab-hosts.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';

test('bench --hosts: native × random-io and mysql on sut, driven from peer: fio on sut\'s data-dir, MariaDB on sut\'s test address', { skip, timeout: 15 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  const sutData = await mkdtemp(join(tmpdir(), 'isobench-lab-sut-data-'));
  const peerData = await mkdtemp(join(tmpdir(), 'isobench-lab-peer-data-'));
  const lab = await createLab([{ name: 'sut', roles: ['server'], dataDir: sutData }, { name: 'peer', roles: ['client'], dataDir: peerData }]);
  const out = await mkdtemp(join(tmpdir(), 'isobench-lab-results-'));
  // What appears in each data-dir during the run (the namespaces share this file system).
  const created = { sut: new Set<string>(), peer: new Set<string>() };
  const watchers = [watch(sutData, (_event, name) => name && created.sut.add(name)), watch(peerData, (_event, name) => name && created.peer.add(name))];
  // Where MariaDB listens, sampled in sut's namespace and in this one while the run goes on.
  const mariadb = watchMariadbListeners(lab.hosts[0]!.netns);
  try {
    const [sut, peer] = lab.hosts;
    const outcome = await runCli([
      'bench', '--hosts', lab.inventoryPath, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'random-io,mysql',
      '--points', 'random-io/randread,mysql/threads-2', '--reps', '1', '--quick', '--out', out, '--quiet-wait', '5',
    ]);
    const listeners = await mariadb.stop();
    const { path, results } = await completedRun(out, outcome);
    assert.equal(results.status, 'completed');
    assert.deepEqual(results.points.map((point) => point.key).sort(), ['native/mysql/threads-2', 'native/random-io/randread']);

    // fio: its file under sut's data-dir, never peer's; the disk figure read on sut and named so.
    const io = results.points.find((point) => point.suite === 'random-io')!;
    const [ioTrial] = io.trials;
    assert.equal(ioTrial?.state, 'completed', `${io.key}: ${io.reason ?? ''}`);
    if (ioTrial?.state === 'completed') {
      const iops = ioTrial.metrics.find((metric) => metric.name === 'iops')?.value;
      assert.ok(iops !== undefined && iops > 10, `${io.key}: ${iops} IOPS`);
      assert.ok(ioTrial.commands.some((command) => command.includes(`--filename=${sutData}/isobench-fio.dat`)), JSON.stringify(ioTrial.commands));
      const request = ioTrial.metrics.find((metric) => metric.name === 'host_disk_request_kib');
      // Read in sut's session (the namespaces share this machine's disk, so O_DIRECT reads reach it): the figure names sut.
      assert.ok(request, 'host_disk_request_kib read on sut');
      assert.match(request.method ?? '', /^host sut \/sys\/block\/\{[^}]+\}\/stat, reads$/);
      const cpu = ioTrial.metrics.filter((metric) => /cpu|cycles/.test(metric.name));
      assert.ok(cpu.every((metric) => / host (sut|peer)$/.test(metric.name.replace(/_host /, ' host '))), cpu.map((metric) => metric.name).join(', '));
      console.log(`# ${io.key}: ${iops.toFixed(0)} IOPS on sut (${sutData}), host_disk_request_kib ${request.value.toFixed(1)} KiB (${request.method})`);
    }
    assert.ok(created.sut.has('isobench-fio.dat'), `fio's file made in sut's data-dir: saw ${[...created.sut].join(', ')}`);

    // mysql: the server on sut, bound to its test address in its namespace, sysbench on peer.
    const db = results.points.find((point) => point.suite === 'mysql')!;
    const [dbTrial] = db.trials;
    assert.equal(dbTrial?.state, 'completed', `${db.key}: ${db.reason ?? ''}`);
    if (dbTrial?.state === 'completed') {
      const tps = dbTrial.metrics.find((metric) => metric.name === 'transactions_per_s')?.value;
      assert.ok(tps !== undefined && tps > 1, `${db.key}: ${tps} tx/s`);
      const lines = dbTrial.commands.map((command) => command.join(' '));
      const server = lines.find((line) => line.includes('mariadbd --no-defaults'));
      assert.ok(server?.includes(`root@${sut!.address}`) && server.includes(`--bind-address=${sut!.address}`) && server.includes(`--datadir=${sutData}/isobench-mariadb-`), server ?? 'no mariadbd command stored');
      const clients = lines.filter((line) => line.includes('sysbench'));
      assert.ok(clients.length >= 2 && clients.every((line) => line.includes(`root@${peer!.address}`) && line.includes(`--mysql-host=${sut!.address}`)), clients.join('\n'));
      assert.ok(lines.every((line) => !/--mysql-password=(?!<generated>)/.test(line)), 'the generated password is in no stored command');
      const cpu = dbTrial.metrics.filter((metric) => /cpu/.test(metric.name)).map((metric) => metric.name);
      assert.deepEqual(cpu.sort(), ['cpu_busy_percent_host peer', 'cpu_busy_percent_host sut', 'cpu_us_per_tx_host peer', 'cpu_us_per_tx_host sut']);
      console.log(`# ${db.key}: ${tps.toFixed(1)} tx/s, sysbench on peer ${peer!.address} -> MariaDB on sut ${sut!.address}`);
    }
    assert.ok([...created.sut].some((name) => name.startsWith('isobench-mariadb-')), `MariaDB's directory made in sut's data-dir: saw ${[...created.sut].join(', ')}`);
    assert.deepEqual([...created.peer], [], 'nothing written to peer\'s data-dir');
    assert.ok(listeners.sut.size > 0 && [...listeners.sut].every((address) => address.startsWith(`${sut!.address}:`)), `MariaDB listened in sut's namespace on ${[...listeners.sut].join(', ')}`);
    assert.deepEqual([...listeners.here], [], 'no MariaDB of the run listened in this machine\'s namespace');

    // Where the figures were measured: the target's facts name sut and its data-dir; both hosts' facts are there.
    const target = results.targets.find((facts) => facts.target === 'native');
    assert.equal(target?.labels.host, 'sut');
    assert.equal(target?.storage, `host file system of sut (${sutData})`);
    assert.deepEqual(results.hosts?.map((host) => host.name).sort(), ['peer', 'sut']);

    const table = await runCli(['results', path]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /random-io/);
    assert.match(table.stdout, /mysql/);

    // Nothing left: no server on the hosts, nothing in either data-dir, nothing here.
    assert.deepEqual(await strangersIn(lab), []);
    assert.deepEqual(await readdir(sutData), [], 'sut\'s data-dir is empty again');
    await assertNoLeftovers();
  } finally {
    await mariadb.stop();
    for (const watcher of watchers) watcher.close();
    await lab.teardown();
    for (const directory of [out, sutData, peerData]) await rm(directory, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});
