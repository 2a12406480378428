/**
 * What a run checks before it creates anything: the results directory (harness/output-directory.ts),
 * the test network's ranges (harness/network-range.ts), the tools (core/tools.ts), and how a crashed
 * run's file is marked for `--resume` (harness/crashed-run.ts).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureTools, installLines } from '../../core/tools.js';
import { markCrashedRun } from '../../harness/crashed-run.js';
import { refuseRoutedGuardRange, validateNetworkRanges } from '../../harness/network-range.js';
import { prepareOutputDirectory } from '../../core/output-directory.js';
import { phaseLines, PhaseClock } from '../../harness/phases.js';
import { roundsDone } from '../../harness/resume.js';
import { parseCidr } from '../../provisioning/ipv4.js';
import { readResultsFile, writeResultsFile } from '../../results/store.js';
import { REPO_ROOT } from '../helpers.js';

let scratch = '';
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'isobench-preflight-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

test('the results directory is created level by level and proved writable; the probe file is gone', async () => {
  const wanted = join(scratch, 'a', 'b', 'c');
  const prepared = await prepareOutputDirectory(wanted);
  assert.equal(prepared.path, wanted);
  assert.deepEqual(prepared.created, [wanted, join(scratch, 'a', 'b'), join(scratch, 'a')], 'deepest first');
  assert.deepEqual(await readdir(wanted), []);
  const again = await prepareOutputDirectory(wanted);
  assert.deepEqual(again.created, [], 'an existing directory is not created again');
});

test('a results directory under /proc fails at once instead of spinning in a recursive mkdir', async () => {
  const begin = performance.now();
  await assert.rejects(prepareOutputDirectory('/proc/nonexistent/dir'), {
    name: 'UsageError',
    message: '--out /proc/nonexistent/dir: cannot create /proc/nonexistent (ENOENT: no such file or directory): choose a directory you can write',
  });
  assert.ok(performance.now() - begin < 1000);
});

test('a file in the way, and a directory that cannot be written, are one line each', async () => {
  const file = join(scratch, 'file');
  await writeFile(file, 'x');
  await assert.rejects(prepareOutputDirectory(file), { message: `--out ${file}: ${file} is a file, not a directory: choose a directory` });
  await assert.rejects(prepareOutputDirectory(join(file, 'sub')), { message: `--out ${join(file, 'sub')}: a part of the path is a file, not a directory: choose a directory` });
  // /proc/self exists and takes no new files: the probe's failure is the one reported.
  await assert.rejects(prepareOutputDirectory('/proc/self'), { message: /^--out \/proc\/self: cannot write in \/proc\/self \(ENOENT: no such file or directory\): choose a directory you can write$/ });
});

test('a file system that does not answer in time is refused, and what was created is removed', async () => {
  const wanted = join(scratch, 'slow', 'results');
  // A 256 KiB probe cannot finish in 0 ms.
  await assert.rejects(prepareOutputDirectory(wanted, { timeoutMs: 0 }), { message: /^--out .*: the file system did not answer within 0 s: choose a directory on a local disk$/ });
  // The work cut off goes on in the background; once it settles, nothing it made stays.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(!existsSync(join(scratch, 'slow')), 'the directories made after the deadline are removed');
});

test('the guard range must be one never routed on the internet, a /15 or narrower, and hold the subnet', () => {
  assert.deepEqual(validateNetworkRanges({ subnet: '198.18.0.0/24', guardRange: '198.18.0.0/15' }).guard, parseCidr('198.18.0.0/15'));
  assert.doesNotThrow(() => validateNetworkRanges({ subnet: '10.99.1.0/24', guardRange: '10.99.0.0/16' }));
  assert.doesNotThrow(() => validateNetworkRanges({ subnet: '192.0.2.0/28', guardRange: '192.0.2.0/24' }));
  const refused: Array<[string, string, RegExp]> = [
    ['10.1.0.0/24', '10.0.0.0/8', /^--guard-range 10\.0\.0\.0\/8 is wider than a \/15: /],
    ['172.16.0.0/24', '172.16.0.0/12', /^--guard-range 172\.16\.0\.0\/12 is wider than a \/15: /],
    ['8.8.8.0/24', '8.8.0.0/16', /^--guard-range 8\.8\.0\.0\/16 lies outside the ranges never routed on the internet/],
    ['127.0.0.0/24', '127.0.0.0/16', /^--guard-range 127\.0\.0\.0\/16 lies outside/],
    ['198.18.0.0/24', '198.16.0.0/14', /^--guard-range 198\.16\.0\.0\/14 lies outside/],
    ['10.2.0.0/24', '10.1.0.0/16', /^--subnet 10\.2\.0\.0\/24 must lie inside --guard-range 10\.1\.0\.0\/16$/],
    ['198.18.0.0/33', '198.18.0.0/15', /^--subnet 198\.18\.0\.0\/33: the prefix length must be at most 32: write an IPv4 range as ADDRESS\/PREFIX, e\.g\. --subnet 198\.18\.0\.0\/24$/],
  ];
  for (const [subnet, guardRange, message] of refused) {
    assert.throws(() => validateNetworkRanges({ subnet, guardRange }), (error: Error) => error.name === 'UsageError' && message.test(error.message), `${subnet} in ${guardRange}`);
  }
});

test('a guard range the host routes any part of is refused; default, other and non-overlapping routes are not', () => {
  const guard = parseCidr('198.18.0.0/15');
  assert.doesNotThrow(() => refuseRoutedGuardRange(guard, [{ dst: 'default', dev: 'eth0' }, { dst: '192.0.2.0/24', dev: 'eth0' }, { dst: 'fe80::/64' }, { dst: '0.0.0.0/0' }]));
  assert.throws(() => refuseRoutedGuardRange(guard, [{ dst: '198.19.4.1', dev: 'wg0' }]), {
    message: "the host already routes 198.19.4.1 via wg0, inside isobench's test range 198.18.0.0/15: choose another range with --subnet and --guard-range, or run `npm run cleanup` if a crashed isobench run left it",
  });
  assert.throws(() => refuseRoutedGuardRange(guard, [{ dst: '198.0.0.0/8', type: 'unreachable' }]), /already routes 198\.0\.0\.0\/8, inside/, 'a wider route overlaps too');
});

test('a package two requirements need is announced once, with both reasons', () => {
  assert.deepEqual(installLines([
    { command: 'iperf3', debianPackage: 'iperf3', why: 'for the tcp-bulk suite' },
    { command: 'iperf3', debianPackage: 'iperf3', why: 'as the service the startup suite waits for' },
    { command: 'dockerd', debianPackage: 'docker.io', why: 'to run the Docker targets' },
    { command: 'docker', debianPackage: 'docker.io', why: 'to remove containers after a crash' },
    { command: 'iperf3', debianPackage: 'iperf3', why: 'for the tcp-bulk suite' },
  ]), [
    'installing iperf3: iperf3 is needed for the tcp-bulk suite and as the service the startup suite waits for',
    'installing docker.io: dockerd is needed to run the Docker targets; docker is needed to remove containers after a crash',
  ]);
});

test('installing runs apt-get update once per process and one install for every package; a failed install is one line', async () => {
  const ran: string[][] = [];
  const installed = new Set<string>();
  const lines: string[] = [];
  const find = async (command: string) => (installed.has(command) ? `/usr/bin/${command}` : null);
  const run = async (command: readonly string[]) => {
    ran.push([...command]);
    if (command[1] === 'install') for (const name of command.slice(5)) installed.add(name === 'docker.io' ? 'dockerd' : name);
  };
  await ensureTools([{ command: 'fio', debianPackage: 'fio', why: 'for random-io' }, { command: 'dockerd', debianPackage: 'docker.io', why: 'for Docker' }], (line) => lines.push(line), { install: true, run, findExecutable: find });
  await ensureTools([{ command: 'sockperf', debianPackage: 'sockperf', why: 'for tcp-rr' }], (line) => lines.push(line), { install: true, run, findExecutable: find });
  const updates = ran.filter((command) => command[1] === 'update').length;
  assert.ok(updates <= 1, 'apt-get update at most once in this process');
  assert.deepEqual(ran.filter((command) => command[1] === 'install'), [
    ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'fio', 'docker.io'],
    ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'sockperf'],
  ]);
  assert.deepEqual(lines, ['installing fio: fio is needed for random-io', 'installing docker.io: dockerd is needed for Docker', 'installing sockperf: sockperf is needed for tcp-rr']);

  const failing = async (command: readonly string[]) => {
    if (command[1] === 'install') throw new Error('`apt-get install …` exited with code 100: E: Unable to locate package sysbench-ng');
  };
  await assert.rejects(ensureTools([{ command: 'sysbench', debianPackage: 'sysbench-ng', why: 'for the mysql suite' }], () => {}, { install: true, run: failing, findExecutable: find }), {
    name: 'UsageError',
    message: 'sysbench is missing (needed for the mysql suite) and `apt-get install sysbench-ng` failed (`apt-get install …` exited with code 100: E: Unable to locate package sysbench-ng): install it by hand, then run again',
  });
  await assert.rejects(ensureTools([{ command: 'fio2', debianPackage: 'fio2', why: 'for x' }], () => {}, { install: false, findExecutable: find }), { name: 'MissingToolError' });
});

test('phases are timed whether the work succeeds or throws, and printed wrapped with a total', async () => {
  const seen: string[] = [];
  const clock = new PhaseClock('resume 2: ', (phase) => void seen.push(phase.name));
  assert.equal(await clock.time('installs', async () => 7), 7);
  await assert.rejects(clock.time('provision kvm', async () => {
    throw new Error('no guest');
  }), /no guest/);
  await clock.add('report', 1234.6);
  assert.deepEqual(clock.phases.map((phase) => phase.name), ['resume 2: installs', 'resume 2: provision kvm', 'resume 2: report']);
  assert.deepEqual(seen, clock.phases.map((phase) => phase.name));
  assert.equal(clock.phases[2]!.ms, 1235);
  const lines = phaseLines([
    { name: 'installs', ms: 42_000 }, { name: 'host probe', ms: 200 }, { name: 'provision native', ms: 10 }, { name: 'provision kvm', ms: 21_000 },
    { name: 'prepare random-io on native', ms: 500 }, { name: 'prepare random-io on kvm', ms: 1500 }, { name: 'trials', ms: 240_000 },
    { name: 'resume 1: provision kvm', ms: 19_000 }, { name: 'resume 1: trials', ms: 60_000 }, { name: 'resume 1: report', ms: 800 },
  ], 80);
  // Two sessions: each on its own lines with its own time, then the total over both.
  assert.deepEqual(lines, [
    'phases, first session: installs 42s · host probe 0.2s',
    '        provision 21s (kvm 21s, native 0.0s)',
    '        prepare 2.0s (2 steps, longest random-io on kvm 1.5s) · trials 4m00s',
    '        session 5m05s',
    'phases, resume 1: provision 19s (kvm 19s) · trials 1m00s · report 0.8s',
    '        session 1m20s',
    'phases: total 6m25s over 2 sessions (the time between them, when nothing ran, not counted)',
  ]);
  // One session: as before, one stream and its total.
  assert.deepEqual(phaseLines([{ name: 'installs', ms: 42_000 }, { name: 'provision kvm', ms: 21_000 }, { name: 'trials', ms: 240_000 }], 80), [
    'phases: installs 42s · provision 21s (kvm 21s) · trials 4m00s · total 5m03s',
  ]);
  assert.deepEqual(phaseLines([]), []);
});

test('rounds a point already ran: its trials\' rounds, unnumbered (version 1) trials filling the lowest free ones', () => {
  const trial = (round?: number) => ({ state: 'failed' as const, reason: 'x', commands: [], repetition: 0, startedAt: '', durationMs: 1, ...(round === undefined ? {} : { round }) });
  assert.deepEqual([...roundsDone({ trials: [trial(0), trial(2)] })].sort(), [0, 2]);
  assert.deepEqual([...roundsDone({ trials: [trial(), trial(), trial(1)] })].sort(), [0, 1, 2]);
  assert.deepEqual([...roundsDone({ trials: [] })], []);
});

test('cleanup marks a crashed run\'s running file interrupted, saying how to resume it; an ended or damaged file is left alone', async () => {
  const fixture = await readResultsFile(join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json'));
  const path = join(scratch, `${fixture.runId}.json`);
  await writeResultsFile(path, { ...fixture, status: 'running', finishedAt: null });
  const lastWrite = (await stat(path)).mtime.toISOString();
  assert.deepEqual(await markCrashedRun(path, 4242), { kind: 'marked', path });
  const marked = await readResultsFile(path);
  assert.equal(marked.status, 'interrupted');
  assert.equal(marked.reason, `the isobench process (pid 4242) died before the run ended (killed, or the machine went down): finish it with npm run bench -- --resume ${path}`);
  assert.equal(marked.finishedAt, lastWrite);
  assert.deepEqual(marked.points, fixture.points, 'the trials are untouched');
  assert.deepEqual(await markCrashedRun(path, 4242), { kind: 'ended', path, status: 'interrupted' });
  const broken = join(scratch, 'broken.json');
  await writeFile(broken, '{"schema":');
  const result = await markCrashedRun(broken, 1);
  assert.equal(result.kind, 'unreadable');
  assert.equal(await readFile(broken, 'utf8'), '{"schema":');
});
