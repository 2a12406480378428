import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { captureCli } from './capture.js';
import { BENCH_USAGE, parseBenchOptions } from '../../harness/commands/bench.js';
import { LAB_DOCKER_SUITES, LAB_SUITES, labToolsOf } from '../../harness/lab.js';
import { parseOnlineCores } from '../../harness/lab-host-checks.js';
import { SUITES } from '../../suites/index.js';
import type { LabHost } from '../../results/schema.js';
import { readResultsFile } from '../../results/store.js';
import { REPO_ROOT } from '../helpers.js';

const LAB = join(REPO_ROOT, 'test/fixtures/hosts/lab.yaml');

/** Runs `bench` in-process: exit code and stderr; nothing may be created for these inputs. */
async function bench(argv: string[]): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await captureCli(['bench', ...argv]);
  return { code, stderr: stderr.join('\n') };
}

test('bench --hosts: every refusal is one line, exit code 2, before anything is created', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--server', 'sut', '--target', 'native', '--suite', 'tcp-bulk'], /^isobench: --server names an inventory host: give the inventory with --hosts FILE$/],
    [['--hosts', LAB, '--server', 'peer', '--target', 'native', '--suite', 'tcp-bulk'], /--server peer: host peer does not have the role server/],
    [['--hosts', LAB, '--client', 'ghost', '--target', 'native', '--suite', 'tcp-bulk'], /--client ghost: no such host in .*lab\.yaml \(hosts: sut, peer\)/],
    [['--hosts', LAB, '--target', 'kvm', '--suite', 'tcp-bulk'], /^isobench: the kvm target on host sut needs its bridge and guest-address in /],
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'docker-host,docker-nat', '--suite', 'tcp-rr'], /lab mode runs docker-nat alone: docker-nat publishes the suites' ports on sut's one test address 198\.18\.1\.2, so Docker's DNAT would take the traffic meant for docker-host on the same ports; run it in a run of its own$/],
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'docker-nat,docker-nat:overlay', '--suite', 'tcp-rr'], /lab mode runs docker-nat, docker-nat:overlay alone: .* meant for docker-nat:overlay on the same ports/],
    [['--hosts', LAB, '--target', 'native', '--suite', 'tcp-bulk', '--guard-range', '10.1.0.0/16', '--subnet', '10.1.0.0/24'], /test-address 198\.18\.1\.2 lies outside the test range 10\.1\.0\.0\/16/],
    [['--hosts', join(REPO_ROOT, 'no-such.yaml'), '--target', 'native', '--suite', 'tcp-bulk'], /--hosts .*no-such\.yaml cannot be read \(ENOENT\)/],
    // A valid lab command line now runs (test/integration/lab-bench.test.ts, lab-io-mysql.test.ts); a suite lab mode cannot run yet is refused, saying why.
    // Migration runs in a lab run of its own (harness/lab-migration.ts), between hosts whose inventory says how.
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'migration,random-io'], /^isobench: lab mode runs --suite migration in a run of its own \(its guest moves between --source and --dest\), not with random-io: run those with --server and --client$/],
    [['--hosts', LAB, '--target', 'kvm', '--suite', 'migration', '--source', 'sut', '--dest', 'peer'], /^isobench: host sut has no shared-dir in the inventory: a migration between sut and peer needs a directory both see \(NFS\)/],
    [['--hosts', LAB, '--target', 'kvm', '--suite', 'migration', '--source', 'peer'], /^isobench: --source peer: host peer does not have the role migration-source in .*lab\.yaml: add it to its roles$/],
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'tcp-rr', '--source', 'sut'], /^isobench: --source names the host a migration starts on: add --suite migration --target kvm, or leave --source out$/],
    // The kvm target on the server host: its guest's disk is a qcow2 overlay (a raw row would be mislabelled), and the inventory fields its guest needs.
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'kvm:raw', '--suite', 'random-io'], /^isobench: lab mode's kvm guest boots from a qcow2 overlay over the image copied to sut \(a raw disk would cross the link at its full size\), not kvm:raw: use --target kvm or kvm:qcow2$/],
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'kvm', '--disk', 'raw', '--suite', 'random-io'], /^isobench: lab mode's kvm guest boots from a qcow2 overlay over the image on the host \(a raw disk would cross the link at its full size\), not --disk raw: leave --disk out, or use --disk qcow2$/],
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'kvm', '--suite', 'tcp-rr'], /^isobench: the kvm target on host sut needs its bridge and guest-address in .*lab\.yaml \(the image and disk go in data-dir, the guest's tap joins bridge on the lab link, the guest takes guest-address\): add e\.g\. `bridge: br-lab`, `guest-address: 198\.18\.1\.50\/24`$/],
    [['--hosts', LAB, '--target', 'native', '--suite', 'migration'], /^isobench: lab mode migrates the kvm target between hosts, not native: use --target kvm --suite migration --source HOST --dest HOST$/],
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'kvm', '--suite', 'tcp-rr', '--vm-manager', 'libvirt'], /^isobench: lab mode runs the kvm guest as a libvirt domain for the migration suite only so far .*: leave --vm-manager out for the load suites$/],
    [['--source', 'sut', '--target', 'kvm', '--suite', 'migration'], /^isobench: --source names an inventory host: give the inventory with --hosts FILE$/],
    [['--dest', 'peer', '--target', 'kvm', '--suite', 'migration', '--vm-manager', 'libvirt'], /^isobench: --dest peer names an inventory host: give the inventory with --hosts FILE, or a libvirt URI with --vm-manager libvirt$/],
  ];
  for (const [argv, says] of cases) {
    const { code, stderr } = await bench(argv);
    assert.equal(code, 2, `${argv.join(' ')}: ${stderr}`);
    assert.equal(stderr.split('\n').length, 1, stderr);
    assert.match(stderr, says);
  }
});

test('bench --hosts --target all: what the inventory cannot place is left out, saying why and how to run it; the rest runs', async () => {
  const options = await parseBenchOptions(['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'all', '--suite', 'tcp-rr,startup']);
  assert.deepEqual(options.targets.map(({ id }) => id), ['native', 'docker-host']);
  assert.deepEqual(options.suites.map(({ name }) => name), ['tcp-rr', 'startup']);
  const reasons = new Map((options.leftOut ?? []).map((target) => [target.id, target.reasons.join('; ')]));
  assert.match(reasons.get('docker-nat') ?? '', /^lab mode runs it alone \(it publishes the suites' ports on sut's one test address.*\): run it with --target docker-nat$/);
  assert.match(reasons.get('kvm') ?? '', /^the kvm target on host sut needs its bridge and guest-address in .*lab\.yaml/);
  // Named, the same gaps are refusals.
  assert.match((await bench(['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'native,kvm', '--suite', 'tcp-rr'])).stderr, /^isobench: the kvm target on host sut needs its bridge/);
});

/**
 * A lab run's results file to resume, from a real one-repetition native tcp-bulk/tcp-rr file: its
 * command line names `inventory`, its `hosts` are the issue's example inventory's two hosts as the
 * runner records them (LabHost.via is Host.via), as `change` leaves them. peer carries the error of
 * an earlier session, as a run whose host died does.
 */
async function labRunFile(directory: string, inventory: string, change: (hosts: LabHost[]) => LabHost[] = (hosts) => hosts): Promise<string> {
  const fixture = await readResultsFile(join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json'));
  const command = ['--hosts', inventory, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'tcp-bulk,tcp-rr', '--quick', '--reps', '1', '--quiet-wait', '5'];
  const hosts: LabHost[] = [
    { name: 'sut', via: 'ssh root@lab-sut.example:22', roles: ['server', 'migration-source'], testAddress: '198.18.1.2', facts: null, clockOffset: null },
    { name: 'peer', via: 'ssh root@lab-peer.example', roles: ['client', 'migration-dest'], testAddress: '198.18.1.3', facts: null, clockOffset: null, error: 'host peer: the connection was lost' },
  ];
  const file = { ...fixture, status: 'interrupted' as const, plan: { ...fixture.plan, command, adaptive: null }, hosts: change(hosts) };
  const path = join(directory, `${fixture.runId}.json`);
  await writeFile(path, JSON.stringify(file));
  return path;
}

test('--resume of a lab run: the recorded inventory and --server/--client are read again and the run placed on the same hosts', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-lab-resume-'));
  try {
    const inventory = join(directory, 'lab.yaml');
    await copyFile(LAB, inventory);
    const path = await labRunFile(directory, inventory);
    const options = await parseBenchOptions(['--resume', path]);
    assert.equal(options.resume?.path, path);
    assert.equal(options.lab?.kind, 'load');
    if (options.lab?.kind !== 'load') return;
    assert.equal(options.lab.server.name, 'sut');
    assert.equal(options.lab.client.name, 'peer');
    assert.equal(options.lab?.inventory.source, inventory);
    assert.deepEqual(options.targets.map(({ id }) => id), ['native']);
    assert.deepEqual(options.quietHost, { maxWaitMs: 5000 });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('--resume of a lab run is refused in one line, exit 2, when its inventory is gone or names other hosts than the file measured', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-lab-resume-'));
  try {
    const inventory = join(directory, 'lab.yaml');
    const text = await readFile(LAB, 'utf8');
    const cases: Array<[string, string, (hosts: LabHost[]) => LabHost[], RegExp]> = [
      ['missing', '', (hosts) => hosts, /^isobench: cannot resume .*\.json: its inventory: --hosts .*lab\.yaml cannot be read \(ENOENT\); a lab run resumes only with the inventory it ran with, at the same path$/],
      ['another ssh address', text.replace('root@lab-sut.example:22', 'root@lab-sut2.example:22'), (hosts) => hosts, /cannot resume .*: host sut is ssh root@lab-sut2\.example:22, test address 198\.18\.1\.2 in .*lab\.yaml now, but the run measured ssh root@lab-sut\.example:22, test address 198\.18\.1\.2: resume with the inventory it ran with/],
      ['another test address', text.replace('198.18.1.3', '198.18.1.9'), (hosts) => hosts, /host peer is ssh root@lab-peer\.example, test address 198\.18\.1\.9 in .* now, but the run measured ssh root@lab-peer\.example, test address 198\.18\.1\.3/],
      ['a host the file does not record', text, (hosts) => hosts.filter((host) => host.name !== 'peer'), /cannot resume .*: host peer of .*lab\.yaml is not among the hosts the run measured on \(sut\)/],
      ['an inventory no longer valid', text.replace('name: peer', 'name: Peer'), (hosts) => hosts, /cannot resume .*: its inventory: --hosts .*lab\.yaml: hosts\[1\].*name/],
    ];
    for (const [what, content, change, says] of cases) {
      await rm(inventory, { force: true });
      if (content !== '') await writeFile(inventory, content);
      const path = await labRunFile(directory, inventory, change);
      const { code, stderr } = await bench(['--resume', path]);
      assert.equal(code, 2, `${what}: ${stderr}`);
      assert.equal(stderr.split('\n').length, 1, `${what}: ${stderr}`);
      assert.match(stderr, says, what);
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('each lab host is checked for its side\'s tools only: fio and MariaDB on the server host, sysbench on the client host, iperf3 and sockperf on both', () => {
  const bySuite = (names: string[]) => SUITES.filter((suite) => names.includes(suite.name));
  const commands = (role: 'server' | 'client', names: string[]) => labToolsOf(bySuite(names), role).map((tool) => tool.command);
  assert.deepEqual(commands('server', ['random-io', 'mysql']), ['fio', 'mariadbd', 'mariadb-install-db', 'mariadb']);
  assert.deepEqual(commands('client', ['random-io', 'mysql']), ['sysbench']);
  assert.deepEqual(commands('server', ['tcp-bulk', 'tcp-rr']), ['iperf3', 'sockperf']);
  assert.deepEqual(commands('client', ['tcp-bulk', 'tcp-rr']), ['iperf3', 'sockperf']);
  assert.deepEqual(commands('client', ['random-io']), [], 'random-io has no client program');
  // Every suite lab mode runs says on which side each of its tools runs, or needs it on both.
  assert.deepEqual(labToolsOf(bySuite(['mysql']), 'server').map((tool) => tool.debianPackage), ['mariadb-server', 'mariadb-server', 'mariadb-client']);
});

test('the server host\'s cores, what fio\'s numjobs and mysql\'s full sweep scale to in lab mode: getconf\'s answer, or an error naming the host', () => {
  assert.equal(parseOnlineCores('sut', { ok: true, stdout: '2\n', stderr: '' }), 2);
  assert.equal(parseOnlineCores('sut', { ok: true, stdout: '64', stderr: '' }), 64);
  assert.throws(() => parseOnlineCores('sut', { ok: true, stdout: '0\n', stderr: '' }), /^Error: host sut: getconf _NPROCESSORS_ONLN printed "0", not a core count$/);
  assert.throws(() => parseOnlineCores('sut', { ok: true, stdout: 'undefined\n', stderr: '' }), /printed "undefined"/);
  assert.throws(() => parseOnlineCores('sut', { ok: false, stdout: '', stderr: 'sh: 1: getconf: not found\n' }), /host sut: getconf _NPROCESSORS_ONLN failed: sh: 1: getconf: not found, not a core count/);
});

test('bench --hosts: docker-host, docker-nat and their configurations are lab targets now', async () => {
  const { lab, targets } = await parseBenchOptions(['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'docker-host,docker-host:overlay,native', '--suite', 'tcp-bulk,tcp-rr']);
  assert.deepEqual(targets.map(({ id }) => id), ['docker-host', 'docker-host:overlay', 'native']);
  const nat = await parseBenchOptions(['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'docker-nat:overlay', '--suite', 'tcp-rr']);
  assert.deepEqual(nat.targets.map(({ id }) => id), ['docker-nat:overlay']);
  assert.equal(lab?.kind, 'load');
  if (lab?.kind !== 'load') return;
  assert.equal(lab.server.name, 'sut');
  assert.equal(lab.client.name, 'peer');
});

test('bench --hosts: the Docker targets take random-io and mysql too, beside native and as overlay configurations', async () => {
  assert.deepEqual(LAB_DOCKER_SUITES, LAB_SUITES);
  const mixed = await parseBenchOptions(['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'native,docker-host,docker-host:overlay', '--suite', 'random-io,mysql']);
  assert.deepEqual(mixed.targets.map(({ id }) => id), ['native', 'docker-host', 'docker-host:overlay']);
  assert.equal(mixed.lab?.kind, 'load');
  const nat = await parseBenchOptions(['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'docker-nat:overlay', '--suite', 'tcp-bulk,tcp-rr,random-io,mysql']);
  assert.deepEqual(nat.targets.map(({ id }) => id), ['docker-nat:overlay']);
  assert.equal(nat.lab?.kind, 'load');
  // --help lists what each lab target runs, from the same constants.
  assert.match(BENCH_USAGE, /docker-host and docker-nat with tcp-bulk, tcp-rr, random-io, mysql, startup;/);
});
