/**
 * Lab mode's Docker targets through the real CLI (issue 14): `bench --hosts … --server sut --client
 * peer --target docker-host`, then `--target docker-nat` (it runs alone in lab mode), where `sut` is a network namespace with its own sshd AND its
 * own dockerd (lab-hosts.ts, `docker: true`), reached only over SSH through `docker system
 * dial-stdio`. The containers must be made by sut's daemon (its events name them, the facts name its
 * data root), never by this machine's, the traffic must go to sut's test address, and nothing may be
 * left in either daemon, on the hosts or here. Also: a host whose daemon does not answer (one line,
 * exit 2), a run killed with SIGKILL (`cleanup` removes its container on sut over SSH), and Ctrl-C
 * (the run removes it itself).
 *
 * Each run also runs random-io and mysql, one point each: fio in the container on its volume on
 * sut's daemon (the disk figure read on sut), MariaDB in the container (docker-host: on sut's test
 * address; docker-nat: on its container address, reached through Docker's DNAT on sut's test
 * address), sysbench on peer.
 *
 * The image is a small stand-in tree (iperf3, sockperf, ss, findmnt, sleep, mkdir and their
 * libraries copied from this machine, and /tmp; ~10 MB; with fio and MariaDB's server, client and
 * install script for the first test, ~140 MB) in a temp cache under the real recipe's hash, so the
 * run imports it over SSH in seconds instead of streaming the 1.3 GB tree into a second daemon.
 * Root, dockerd, the docker CLI, and fio, mariadb-server and sysbench here (the tree and peer's
 * client are this machine's programs); about eight minutes here (each run's host facts take ~18 s
 * of it, mysql's prepare ~50 s). Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { runChecked, runCommand } from '../../core/exec.js';
import { findExecutable } from '../../core/tools.js';
import { computeRecipeHash } from '../../provisioning/image/recipe.js';
import { findStaleLedgers } from '../../core/ledger.js';
import { cleanupLeftovers } from '../../harness/commands/cleanup.js';
import { assertNoLeftovers, completedRun, REPO_ROOT, runCli, waitFor } from '../helpers.js';
import { createLab, strangersAfterInterrupt, strangersIn, sweepLabLeftovers, watchMariadbListeners } from './lab-hosts.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces and start dockerd';

/** The programs the stand-in image must hold: the suites' servers and what the driver runs in the container. */
const IMAGE_PROGRAMS = ['iperf3', 'sockperf', 'ss', 'findmnt', 'sleep', 'mkdir'];
/**
 * What random-io and mysql run in the container beside those: fio; MariaDB's server, its client
 * and `mariadb-install-db` with what that script calls (sh, my_print_defaults, resolveip, uname,
 * sed, chmod, chown, dirname); what the suites exec there (cat of /proc/meminfo, rm, tail of the
 * error log).
 */
const IO_DATABASE_PROGRAMS = ['fio', 'mariadbd', 'mariadb-install-db', 'my_print_defaults', 'resolveip', 'mariadb', 'sh', 'cat', 'rm', 'tail', 'chmod', 'chown', 'dirname', 'uname', 'sed'];

/**
 * Copies `IMAGE_PROGRAMS` and every library `ldd` names (the loader too) into `tree`, at their own
 * paths; with `ioAndDatabase`, also IO_DATABASE_PROGRAMS, MariaDB's share files (/usr/share/mysql:
 * system tables, error messages), /bin as /usr/bin (the install script's `#!/bin/sh`), and an
 * /etc with root in passwd and group (`mariadb-install-db --user=root` chowns to it) and host
 * lookups from files only (the script resolves the host name; nothing answers DNS in the lab).
 */
async function standInTree(tree: string, ioAndDatabase = false): Promise<void> {
  const files = new Set<string>();
  for (const name of ioAndDatabase ? [...IMAGE_PROGRAMS, ...IO_DATABASE_PROGRAMS] : IMAGE_PROGRAMS) {
    const path = await findExecutable(name);
    assert.ok(path, `${name} is installed here`);
    files.add(path);
    const ldd = await runCommand(['ldd', path], { timeoutMs: 10_000 });
    // A script (mariadb-install-db) is "not a dynamic executable": it has no libraries of its own.
    if (!ldd.ok && /not a dynamic executable/.test(ldd.stdout + ldd.stderr)) continue;
    assert.ok(ldd.ok, `ldd ${path}: ${ldd.stderr}`);
    for (const line of ldd.stdout.split('\n')) {
      const library = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)/.exec(line)?.[1];
      if (library) files.add(library);
    }
  }
  for (const file of files) {
    await mkdir(join(tree, dirname(file)), { recursive: true });
    await cp(file, join(tree, file), { dereference: true });
  }
  // iperf3 makes its stream buffers with mkstemp in /tmp: without it a server fails its first test.
  await mkdir(join(tree, 'tmp'));
  await chmod(join(tree, 'tmp'), 0o1777);
  if (!ioAndDatabase) return;
  await cp('/usr/share/mysql', join(tree, 'usr/share/mysql'), { recursive: true, dereference: true });
  if (!existsSync(join(tree, 'bin'))) await symlink('usr/bin', join(tree, 'bin'));
  await mkdir(join(tree, 'etc'), { recursive: true });
  await writeFile(join(tree, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(tree, 'etc/group'), 'root:x:0:\n');
  await writeFile(join(tree, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files\n');
}

/**
 * A temp image cache holding the stand-in tree under the real recipe's hash (standInTree), for
 * ISOBENCH_CACHE_DIR; removed again when the tree cannot be made (a program missing here).
 * @returns The cache directory.
 */
async function standInCache(ioAndDatabase = false): Promise<string> {
  const cache = await mkdtemp(join(tmpdir(), 'isobench-lab-docker-cache-'));
  try {
    await standInTree(join(cache, `rootfs-${await computeRecipeHash()}`), ioAndDatabase);
  } catch (error) {
    await rm(cache, { recursive: true, force: true });
    throw error;
  }
  return cache;
}

/** `docker -H DOCKER_HOST ARGS…`, its stdout lines. */
async function dockerAt(dockerHost: string, args: string[]): Promise<string[]> {
  const outcome = await runChecked(['docker', '-H', dockerHost, ...args], { timeoutMs: 30_000 });
  return outcome.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
}

/** What each run measures: every lab suite, one point each. */
const RUNS = [
  { target: 'docker-host', suites: 'tcp-bulk,tcp-rr,random-io,mysql', points: 'tcp-bulk/client-to-server,tcp-rr/tcp,random-io/randread,mysql/threads-2' },
  { target: 'docker-nat', suites: 'tcp-bulk,tcp-rr,random-io,mysql', points: 'tcp-bulk/client-to-server,tcp-rr/tcp,random-io/randread,mysql/threads-2' },
] as const;

test('bench --hosts --target docker-host (tcp-bulk, tcp-rr, random-io, mysql), then docker-nat: containers on sut\'s own daemon over SSH, driven from peer, nothing left', { skip, timeout: 20 * 60_000 }, async (t) => {
  if (!(await findExecutable('dockerd')) || !(await findExecutable('docker'))) {
    t.skip('dockerd and the docker CLI are needed (apt-get install docker.io)');
    return;
  }
  await assertNoLeftovers('this machine is clean before the run');
  const cache = await standInCache(true);
  const out = await mkdtemp(join(tmpdir(), 'isobench-lab-results-'));
  const cacheBefore = process.env.ISOBENCH_CACHE_DIR;
  process.env.ISOBENCH_CACHE_DIR = cache;
  const lab = await createLab([{ name: 'sut', roles: ['server'], docker: true }, { name: 'peer', roles: ['client'] }]);
  // Where MariaDB listens while the runs go on, sampled in sut's namespace (docker-host's container
  // shares it) and in this one.
  const mariadb = watchMariadbListeners(lab.hosts[0]!.netns);
  try {
    const [sut, peer] = lab.hosts;
    const labDocker = sut!.dockerHost!;
    const dataRoot = dirname(labDocker.replace(/^unix:\/\//, ''));
    // docker-nat runs alone in lab mode (its DNAT on sut's one test address would take docker-host's
    // ports): two runs, docker-host first (it imports the image), then docker-nat (it finds it).
    for (const [index, { target, suites, points }] of RUNS.entries()) {
      const since = Math.floor(Date.now() / 1000) - 1;
      const runOut = join(out, target);
      await mkdir(runOut);
      const began = performance.now();
      const outcome = await runCli(['bench', '--hosts', lab.inventoryPath, '--server', 'sut', '--client', 'peer', '--target', target, '--suite', suites,
        '--points', points, '--reps', '1', '--quick', '--out', runOut, '--quiet-wait', '5']);
      // completedRun: a failed point's reason leads the message (CI shows only its start).
      const { results } = await completedRun(runOut, outcome);
      console.log(`# ${target}: the CLI run took ${((performance.now() - began) / 1000).toFixed(1)} s (--suite ${suites})`);
      const until = Math.floor(Date.now() / 1000) + 1;
      assert.equal(results.status, 'completed', results.reason);
      assert.deepEqual(results.points.map((point) => point.key).sort(), points.split(',').map((point) => `${target}/${point}`).sort());

      // Made by sut's daemon: its events name the container; the facts name its data root and sut.
      const created = await dockerAt(labDocker, ['events', '--since', String(since), '--until', String(until), '--filter', 'type=container', '--filter', 'event=create', '--format', '{{.Actor.Attributes.name}}']);
      assert.ok(created.some((name) => name.startsWith(`isobench-${target}-`)), `sut's daemon created the ${target} container: ${created.join(', ')}`);
      const facts = results.targets.find((candidate) => candidate.target === target);
      assert.equal(facts?.state, 'ready', facts?.reason);
      assert.equal(facts?.labels.host, 'sut');
      assert.equal(facts?.serverAddress, sut!.address);
      assert.ok(String(facts?.labels.dockerRootDir).startsWith(dataRoot), `data root ${facts?.labels.dockerRootDir} is sut's daemon's`);
      // The volume is sut's daemon's, named with its directory there (under that data root).
      assert.equal(facts?.labels.storage, 'volume');
      assert.ok(facts?.storage.startsWith(`Docker volume isobench-${target}-`) && facts.storage.includes(` at /data on host sut (${dataRoot}/`), facts?.storage);
      assert.ok(facts?.degraded.some((line) => /container's own CPU time \(its cgroup\) is not read on lab hosts/.test(line)), 'absent container CPU is said');
      // Imported once over SSH, then found by its recipe label.
      assert.equal(facts?.labels.imageReused, index > 0, `${target}: image reused ${facts?.labels.imageReused}`);
      if (target === 'docker-nat') assert.match(String(facts?.labels.natRule), new RegExp(`^${sut!.address.replaceAll('.', '\\.')}:5201 -> `));
      console.log(`# ${target}: ${facts?.networkPath}; ${facts?.storage}; image ${facts?.labels.image} reused=${facts?.labels.imageReused} in ${facts?.labels.imageSeconds} s`);

      for (const point of results.points) {
        const [trial] = point.trials;
        assert.equal(trial?.state, 'completed', `${point.key}: ${point.reason ?? ''}`);
        if (trial?.state !== 'completed') continue;
        const value = (name: string) => trial.metrics.find((metric) => metric.name === name)?.value;
        const lines = trial.commands.map((command) => command.join(' '));
        // Container CPU is absent (never this machine's cgroup); per-host CPU is there where the suite measures CPU.
        assert.ok(!trial.metrics.some((metric) => /container|docker-proxy/.test(metric.name)), `${point.key}: no container CPU metric`);
        if (point.suite === 'tcp-bulk' || point.suite === 'tcp-rr') {
          const [server, client] = lines;
          assert.ok(server!.startsWith(`docker exec isobench-${target}-`), server);
          assert.ok(client!.includes(`root@${peer!.address}`) && client!.includes(sut!.address), client);
          const gbps = value('throughput_gbps');
          const rtt = value('latency_mean_us');
          if (point.suite === 'tcp-bulk') assert.ok(gbps !== undefined && gbps > 0.1 && gbps < 400, `${point.key}: ${gbps} Gbit/s`);
          else assert.ok(rtt !== undefined && rtt > 1 && rtt < 100_000, `${point.key}: ${rtt} µs`);
          console.log(`# ${point.key}: ${gbps !== undefined ? `${gbps.toFixed(2)} Gbit/s` : `${rtt!.toFixed(1)} µs mean round trip`}, peer ${peer!.address} -> sut ${sut!.address}`);
        } else if (point.suite === 'random-io') {
          // fio ran in the container, on its /data (the volume), stored as the target ran it.
          assert.deepEqual(trial.commands[0]?.slice(0, 3), ['fio', '--name=randread', '--filename=/data/isobench-fio.dat'], lines.join('\n'));
          const iops = value('iops');
          assert.ok(iops !== undefined && iops > 10 && iops < 10_000_000, `${point.key}: ${iops} IOPS`);
          // The disk figure is sut's (read in its session; the namespaces share this machine's disk, which the volume's O_DIRECT reads reach).
          const request = trial.metrics.find((metric) => metric.name === 'host_disk_request_kib');
          assert.ok(request, `${point.key}: host_disk_request_kib read on sut`);
          assert.match(request.method ?? '', /^host sut \/sys\/block\/\{[^}]+\}\/stat, reads$/);
          assert.ok(request.value > 0.5 && request.value < 4096, `${point.key}: ${request.value} KiB a request`);
          console.log(`# ${point.key}: ${iops.toFixed(0)} IOPS in the container on sut (numjobs ${point.params.numjobs}), host_disk_request_kib ${request.value.toFixed(1)} (${request.method})`);
        } else {
          const tps = value('transactions_per_s');
          assert.ok(tps !== undefined && tps > 1 && tps < 1_000_000, `${point.key}: ${tps} tx/s`);
          // MariaDB in the container on sut's test address, its files on the volume; sysbench on peer against that address.
          const server = lines.find((line) => line.includes('mariadbd --no-defaults'));
          // docker-host's binds sut's test address; docker-nat's its container's address, which Docker's DNAT on sut's test address reaches.
          const bind = target === 'docker-nat' ? String(facts?.labels.natRule).split(' -> ')[1]?.split(':')[0] : sut!.address;
          assert.ok(server?.startsWith(`docker exec isobench-${target}-`) && server.includes(`--bind-address=${bind}`) && server.includes('--datadir=/data/isobench-mariadb-'), `${server ?? 'no mariadbd command stored'} (bind ${bind})`);
          assert.ok(lines.some((line) => line.startsWith('mariadb-install-db ') && line.includes('--datadir=/data/isobench-mariadb-')), lines.join('\n'));
          const clients = lines.filter((line) => line.includes('sysbench'));
          assert.ok(clients.length >= 3 && clients.every((line) => line.includes(`root@${peer!.address}`) && line.includes(`--mysql-host=${sut!.address}`)), clients.join('\n'));
          assert.ok(lines.every((line) => !/--mysql-password=(?!<generated>)/.test(line)), 'the generated password is in no stored command');
          const cpu = trial.metrics.filter((metric) => /cpu/.test(metric.name)).map((metric) => metric.name);
          assert.deepEqual(cpu.sort(), ['cpu_busy_percent_host peer', 'cpu_busy_percent_host sut', 'cpu_us_per_tx_host peer', 'cpu_us_per_tx_host sut']);
          console.log(`# ${point.key}: ${tps.toFixed(1)} tx/s, sysbench on peer ${peer!.address} -> MariaDB in the container on sut ${sut!.address}`);
        }
      }
    }
    const listeners = await mariadb.stop();
    assert.ok(listeners.sut.size > 0 && [...listeners.sut].every((address) => address.startsWith(`${sut!.address}:`)), `MariaDB listened in sut's namespace on ${[...listeners.sut].join(', ')}`);
    assert.deepEqual([...listeners.here], [], 'no MariaDB of the run listened in this machine\'s namespace');

    // Nothing left: in sut's daemon (containers, volumes), in this machine's, on the hosts, here.
    assert.deepEqual(await dockerAt(labDocker, ['ps', '-aq', '--filter', 'label=isobench']), []);
    assert.deepEqual(await dockerAt(labDocker, ['volume', 'ls', '-q', '--filter', 'label=isobench']), []);
    assert.deepEqual(await strangersIn(lab, ['dockerd', 'containerd']), []);
    await assertNoLeftovers();
  } finally {
    await mariadb.stop();
    await lab.teardown();
    if (cacheBefore === undefined) delete process.env.ISOBENCH_CACHE_DIR;
    else process.env.ISOBENCH_CACHE_DIR = cacheBefore;
    await rm(out, { recursive: true, force: true });
    await rm(cache, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), [], 'the lab left nothing, its dockerd included');
});

test("bench --hosts --target docker-host on a host without a daemon: one line naming the host, exit 2, nothing created", { skip, timeout: 5 * 60_000 }, async () => {
  // sut's sessions point the docker CLI at a socket nothing serves (the namespaces share this
  // machine's file system, so the default socket would be this machine's own daemon).
  const lab = await createLab([{ name: 'sut', roles: ['server'], dockerHost: 'unix:///nonexistent/isobench-lab/docker.sock' }, { name: 'peer', roles: ['client'] }]);
  const out = await mkdtemp(join(tmpdir(), 'isobench-lab-results-'));
  try {
    const outcome = await runCli(['bench', '--hosts', lab.inventoryPath, '--server', 'sut', '--client', 'peer', '--target', 'docker-host', '--suite', 'tcp-rr', '--reps', '1', '--quick', '--out', out]);
    assert.equal(outcome.code, 2, `${outcome.stdout}\n${outcome.stderr}`);
    const lines = outcome.stderr.trim().split('\n');
    const line = lines.find((candidate) => /docker does not answer over SSH/.test(candidate));
    assert.match(line ?? '', /host sut: docker does not answer over SSH: .*(Cannot connect|nonexistent)/, outcome.stderr);
    console.log(`# ${line}`);
    assert.deepEqual(await readdir(out), []);
  } finally {
    await lab.teardown();
    await rm(out, { recursive: true, force: true });
  }
});

/**
 * A lab run of `target` × tcp-rr (20 quick repetitions, so it is still running) started as its own
 * process group on a fresh lab whose sut has its own dockerd, returned once its container runs on sut
 * and a sockperf server listens in it: what the kill and Ctrl-C tests interrupt. On a failure to get
 * there the lab and the temp directories are removed before the error is thrown.
 */
async function startLabDockerRun(target: 'docker-host' | 'docker-nat') {
  const cache = await standInCache();
  const out = await mkdtemp(join(tmpdir(), 'isobench-lab-results-'));
  const lab = await createLab([{ name: 'sut', roles: ['server'], docker: true }, { name: 'peer', roles: ['client'] }]);
  const labDocker = lab.hosts[0]!.dockerHost!;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), 'bench', '--hosts', lab.inventoryPath, '--server', 'sut', '--client', 'peer', '--target', target, '--suite', 'tcp-rr', '--quick', '--reps', '20', '--out', out, '--quiet-wait', '2'],
    { cwd: REPO_ROOT, stdio: 'ignore', detached: true, env: { ...process.env, ISOBENCH_CACHE_DIR: cache } },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const onSut = () => dockerAt(labDocker, ['ps', '-aq', '--filter', 'label=isobench']);
  try {
    await waitFor(async () => (await onSut()).length === 1, 180_000, 'the container on sut');
    // A server started in it too (its kill over SSH is in the ledger).
    await waitFor(async () => (await runCommand(['ip', 'netns', 'exec', lab.hosts[0]!.netns, 'ss', '-Hltn', 'sport', '= :11111'], { timeoutMs: 10_000 })).stdout.trim() !== '', 120_000, 'a sockperf server');
  } catch (error) {
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    await endLabDockerRun(lab, out, cache);
    throw error;
  }
  return { lab, labDocker, child, exited, onSut, cache, out };
}

/** Removes what startLabDockerRun made: the lab (its dockerd included), the results and the image cache. */
async function endLabDockerRun(lab: Awaited<ReturnType<typeof createLab>>, out: string, cache: string): Promise<void> {
  await lab.teardown();
  await rm(out, { recursive: true, force: true });
  await rm(cache, { recursive: true, force: true });
}

test('a lab Docker run killed half-way leaves its container on sut; `cleanup` removes it there over SSH', { skip, timeout: 10 * 60_000 }, async (t) => {
  if (!(await findExecutable('dockerd')) || !(await findExecutable('docker'))) {
    t.skip('dockerd and the docker CLI are needed (apt-get install docker.io)');
    return;
  }
  await assertNoLeftovers('this machine is clean before the run');
  const { lab, labDocker, child, exited, onSut, cache, out } = await startLabDockerRun('docker-nat');
  try {
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    await waitFor(async () => (await findStaleLedgers()).length === 1, 30_000, "the killed run's ledger to be stale");
    assert.equal((await onSut()).length, 1, 'the killed run left its container on sut');

    const lines: string[] = [];
    const report = await cleanupLeftovers((line) => lines.push(line));
    assert.deepEqual(report.failed, [], lines.join('\n'));
    console.log(`# cleanup: ${report.removed.join('; ')}`);
    assert.ok(report.removed.some((item) => /Docker container isobench-docker-nat-.* on host sut/.test(item)), report.removed.join('; '));
    assert.deepEqual(await onSut(), [], "cleanup removed the container from sut's daemon");
    assert.deepEqual(await dockerAt(labDocker, ['volume', 'ls', '-q', '--filter', 'label=isobench']), [], 'and its volume');
    await assertNoLeftovers();
  } finally {
    await endLabDockerRun(lab, out, cache);
  }
  assert.deepEqual(await sweepLabLeftovers(), [], 'the lab left nothing, its dockerd included');
});

test('Ctrl-C in a lab Docker run: the run tears its container down on sut itself, nothing is left', { skip, timeout: 10 * 60_000 }, async (t) => {
  if (!(await findExecutable('dockerd')) || !(await findExecutable('docker'))) {
    t.skip('dockerd and the docker CLI are needed (apt-get install docker.io)');
    return;
  }
  const { lab, labDocker, child, exited, onSut, cache, out } = await startLabDockerRun('docker-host');
  try {
    // As a terminal's Ctrl-C: SIGINT to the whole process group (the CLI and its ssh children).
    process.kill(-child.pid!, 'SIGINT');
    assert.equal(await exited, 130, 'the run stops with 128 + SIGINT');
    assert.deepEqual(await onSut(), [], "the run removed its container from sut's daemon");
    assert.deepEqual(await dockerAt(labDocker, ['volume', 'ls', '-q', '--filter', 'label=isobench']), [], 'and its volume');
    assert.deepEqual(await findStaleLedgers(), [], 'nothing left for cleanup');
    // Commands in flight when the SIGINT ended their ssh clients end on the hosts on their own: seconds, never minutes.
    const { left, lastSeen, goneAfterMs } = await strangersAfterInterrupt(lab, ['dockerd', 'containerd'], 20_000);
    assert.deepEqual(left, [], 'still on the hosts 20 s after the run exited');
    if (lastSeen.length > 0) console.log(`# ended on the hosts ${(goneAfterMs / 1000).toFixed(1)} s after the run: ${lastSeen.join('; ')}`);
    await assertNoLeftovers();
  } finally {
    await endLabDockerRun(lab, out, cache);
  }
  assert.deepEqual(await sweepLabLeftovers(), [], 'the lab left nothing, its dockerd included');
});
