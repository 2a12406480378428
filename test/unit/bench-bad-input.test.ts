/**
 * Bad input, table-driven, through the CLI entry in this process (harness/cli.ts runCli): every
 * malformed flag, value, results file, output directory or host condition gives exactly one line on
 * stderr naming the problem and the fix, exit code 2, no stack trace, and leaves no lock, ledger,
 * results file or directory behind. Host conditions that cannot be made safely here (Docker down
 * and not startable, a missing tool, a routed range) come through the runner's seams.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CliOptions } from '../../harness/cli.js';
import type { HostFacts } from '../../results/schema.js';
import { readResultsFile } from '../../results/store.js';
import { SUITE_NAMES } from '../../suites/index.js';
import { REPO_ROOT } from '../helpers.js';
import { captureCli as capture } from './capture.js';

const FAKE_HOST: HostFacts = {
  hostname: 'bad-input-test',
  cpuModel: 'fake',
  cores: 2,
  cpuMHz: null,
  memoryBytes: 2 ** 31,
  kernel: '6.1.0',
  distro: 'test',
  nodeVersion: process.version,
  tools: [],
  perfCounters: false,
  kvmDevice: false,
  kvmUsable: null,
  vhostNet: false,
  docker: null,
};
/** Every tool is found: the installs phase does nothing and the test does not depend on this host's packages. */
const everyTool = async (command: string) => `/usr/bin/${command}`;

let scratch = '';
let state = '';
let cwd = '';
/** Files the results-file cases read, by name. */
const files = new Map<string, string>();

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'isobench-bad-input-'));
  state = join(scratch, 'state');
  process.env.ISOBENCH_STATE_DIR = state;
  // The run lock's directory is made by the first run that takes the lock; it is no leftover.
  await mkdir(state);
  cwd = process.cwd();
  // The default --out is ./results: a refused run must not leave one here.
  process.chdir(scratch);
  const fixture = await readResultsFile(join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json'));
  const text = `${JSON.stringify(fixture, null, 2)}\n`;
  const write = async (name: string, content: string) => {
    const path = join(scratch, 'files', name);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, content);
    files.set(name, path);
  };
  const interrupted = { ...fixture, status: 'interrupted', host: { ...fixture.host, hostname: 'another-machine' } };
  await write('completed/run.json', text);
  await write(`completed/${fixture.runId}.json`, text);
  await write(`elsewhere/${fixture.runId}.json`, JSON.stringify(interrupted));
  await write(`renamed/my-run.json`, JSON.stringify(interrupted));
  await write(`unregistered/${fixture.runId}.json`, JSON.stringify({ ...interrupted, plan: { ...interrupted.plan, suites: ['tcp-bulk', 'netperf'] } }));
  await write('empty.json', '');
  await write('truncated.json', text.slice(0, Math.floor(text.length / 2)));
  await write(`truncated-run/${fixture.runId}.json`, text.slice(0, 1000));
  const edited = structuredClone(fixture) as unknown as { points: Array<{ trials: Array<{ metrics?: Array<{ value: unknown }> }> }> };
  edited.points[0]!.trials[0]!.metrics![0]!.value = 'fast';
  await write('edited.json', JSON.stringify(edited));
  await write('future.json', JSON.stringify({ ...fixture, version: 3 }));
  await write('package.json', JSON.stringify({ name: 'isobench', version: '0.1.0', type: 'module' }));
  await write('other-schema.json', JSON.stringify({ schema: 'someone-else/results', version: 1 }));
  await write('not-a-dir', 'a file where a directory should be');
});

after(async () => {
  process.chdir(cwd);
  delete process.env.ISOBENCH_STATE_DIR;
  await rm(scratch, { recursive: true, force: true });
});

interface Case {
  name: string;
  argv: () => string[];
  /** The one error line, after `isobench: `. */
  line: RegExp;
  options?: CliOptions;
  /** Must fail within this many ms (default 20 s). */
  withinMs?: number;
}

const file = (name: string) => files.get(name)!;
// No routes unless a case gives some: another run's guard range on this host must not change the refusal.
const seams = (extra: NonNullable<CliOptions['benchSeams']>): CliOptions => ({ benchSeams: { host: FAKE_HOST, readRoutes: async () => [], tools: { install: false, findExecutable: everyTool }, ...extra } });

const CASES: Case[] = [
  // Flags and values.
  { name: 'unknown flag', argv: () => ['bench', '--turbo'], line: /^unknown flag --turbo: see npm run bench -- --help for the flags$/ },
  { name: 'a flag without its value', argv: () => ['bench', '--target', 'native', '--reps'], line: /^--reps needs a value, e\.g\. --reps VALUE: see npm run bench -- --help$/ },
  { name: 'a stray argument', argv: () => ['bench', 'native'], line: /^unexpected argument "native": name targets and suites with --target and --suite \(see npm run bench -- --help\)$/ },
  { name: 'unknown command (it printed the 7-line usage after the line)', argv: () => ['benchmark'], line: /^unknown command "benchmark": choose one of bench, doctor, results, cleanup, calibrate, report \(npm run COMMAND -- --help for its flags\)$/ },
  { name: 'no command', argv: () => [], line: /^name a command: choose one of bench, doctor, results, cleanup, calibrate, report / },
  // A single-valued flag given twice: parseArgs kept the last one silently.
  { name: '--resume given twice (the second won)', argv: () => ['bench', '--resume', 'A.json', '--resume', 'B.json'], line: /^--resume given twice \("A\.json", then "B\.json"\): give it once$/ },
  { name: '--out given twice', argv: () => ['bench', '--target', 'native', '--out', 'a', '--out=b'], line: /^--out given twice \("a", then "b"\): give it once$/ },
  { name: '--seed given twice', argv: () => ['bench', '--target', 'native', '--seed', '1', '--seed', '2'], line: /^--seed given twice \("1", then "2"\): give it once$/ },
  { name: '--reps given twice', argv: () => ['bench', '--target', 'native', '--reps', '3', '--reps', '3'], line: /^--reps given twice \("3", then "3"\): give it once$/ },
  { name: 'a suite flag given twice', argv: () => ['bench', '--target', 'kvm', '--suite', 'migration', '--wws', '64', '--wws', '128'], line: /^--wws given twice \("64", then "128"\): give it once$/ },
  { name: 'results: --format given twice', argv: () => ['results', '--format', 'csv', '--format', 'json', file('completed/run.json')], line: /^--format given twice \("csv", then "json"\): give it once$/ },
  { name: 'results: no file (it printed the usage in the line)', argv: () => ['results'], line: /^name a results file: npm run results -- runs\/RUN-ID\.json$/ },
  { name: 'results: an unknown flag names the command\'s help', argv: () => ['results', '--out', 'x'], line: /^unknown flag --out: see npm run results -- --help for the flags$/ },
  { name: 'doctor: an argument (Node\'s own words)', argv: () => ['doctor', 'extra'], line: /^unexpected argument "extra": this command takes only flags \(see npm run doctor -- --help\)$/ },
  { name: 'doctor: --hosts given twice', argv: () => ['doctor', '--hosts', 'a.yaml', '--hosts', 'b.yaml'], line: /^--hosts given twice \("a\.yaml", then "b\.yaml"\): give it once$/ },
  { name: 'calibrate: an argument (it spoke of --target and --suite)', argv: () => ['calibrate', 'extra'], line: /^unexpected argument "extra": this command takes only flags \(see npm run calibrate -- --help\)$/ },
  { name: 'calibrate: --pairs 1e1 (was 10)', argv: () => ['calibrate', '--pairs', '1e1'], line: /^--pairs takes a whole number from 2 to 100, not "1e1"$/ },
  { name: 'report: --out given twice (the second won)', argv: () => ['report', file('completed/run.json'), '--out', 'a.html', '--out', 'b.html'], line: /^--out given twice \("a\.html", then "b\.html"\): give it once$/ },
  { name: 'report: no file (it printed the whole usage in one line)', argv: () => ['report'], line: /^name a results file: npm run report -- runs\/RUN-ID\.json \(two to compare: BEFORE AFTER\)$/ },
  { name: 'unknown target', argv: () => ['bench', '--target', 'lxc'], line: /^unknown target "lxc": choose from native, docker-host, docker-nat, runc-criu, kvm or all$/ },
  { name: '--dest without a libvirt migration', argv: () => ['bench', '--target', 'kvm', '--suite', 'migration', '--dest', 'qemu+ssh://lab2/system'], line: /^--dest is the destination libvirtd of a libvirt migration: add --vm-manager libvirt --suite migration, or leave --dest out$/ },
  { name: 'a libvirt migration without --dest', argv: () => ['bench', '--target', 'kvm', '--suite', 'migration', '--vm-manager', 'libvirt'], line: /^a libvirt migration needs its destination: add --dest URI/ },
  { name: 'a migration-only target with other suites', argv: () => ['bench', '--target', 'kvm,runc-criu', '--suite', 'migration,tcp-rr'], line: /^runc-criu runs only the migration suite, not tcp-rr: run it with --suite migration$/ },
  { name: 'a migration-only target with the default suites', argv: () => ['bench', '--target', 'runc-criu'], line: /^runc-criu runs only the migration suite, not tcp-bulk, tcp-rr, random-io, mysql, startup: run it with --suite migration$/ },
  { name: 'a target that cannot run the suite', argv: () => ['bench', '--target', 'native', '--suite', 'migration'], line: /^native cannot run --suite migration: the migration suite runs only on kvm and runc-criu; name a target that can: --target kvm or --target runc-criu$/ },
  { name: 'unknown suite', argv: () => ['bench', '--target', 'native', '--suite', 'netperf'], line: new RegExp(`^unknown suite "netperf": choose from ${SUITE_NAMES.join(', ')} or all$`) },
  { name: 'an option a target does not take', argv: () => ['bench', '--target', 'native:qcow2'], line: /^--target native:qcow2: "qcow2" is not an option of native \(native takes no options\)$/ },
  { name: '--reps 0', argv: () => ['bench', '--target', 'native', '--reps', '0'], line: /^--reps takes a whole number from 1 to 1000, not "0"$/ },
  { name: '--reps 1e3 (not plain decimal)', argv: () => ['bench', '--target', 'native', '--reps', '1e3'], line: /^--reps takes a whole number from 1 to 1000, not "1e3"$/ },
  { name: '--reps 0x3', argv: () => ['bench', '--target', 'native', '--reps', '0x3'], line: /^--reps takes a whole number from 1 to 1000, not "0x3"$/ },
  { name: 'an empty --seed (was seed 0)', argv: () => ['bench', '--target', 'native', '--seed', ''], line: /^--seed takes a whole number from 0 to 2147483647, not ""$/ },
  { name: 'an empty --max-steal (was 0 %)', argv: () => ['bench', '--target', 'native', '--max-steal', ''], line: /^--max-steal takes a number from 0 to 100, not ""$/ },
  { name: 'an empty --out (was the working directory)', argv: () => ['bench', '--target', 'native', '--out', ''], line: /^--out takes a directory, not an empty value: give a path, or leave --out out for runs\/$/ },
  // Named twice: the duplicate was dropped, while the recorded command (a report's "Reproduce" line)
  // kept it. `--reps 0`, refused later in the parse: should the refusal go, the case fails there
  // rather than starting a run.
  { name: 'a target named twice (silently dropped)', argv: () => ['bench', '--target', 'native,native', '--suite', 'tcp-rr', '--quick', '--reps', '0'], line: /^--target names native twice: name each configuration once$/ },
  { name: 'a configuration named twice, written two ways', argv: () => ['bench', '--target', 'docker-nat:overlay,docker-nat:storage=overlay', '--reps', '0'], line: /^--target names docker-nat:overlay twice: name each configuration once$/ },
  { name: 'a suite named twice (silently dropped)', argv: () => ['bench', '--target', 'native', '--suite', 'tcp-rr, tcp-rr', '--quick', '--reps', '0'], line: /^--suite names tcp-rr twice: name each suite once$/ },
  { name: 'a point named twice (silently dropped)', argv: () => ['bench', '--target', 'native', '--points', 'tcp-rr/tcp,tcp-rr/tcp', '--quick', '--reps', '0'], line: /^--points names tcp-rr\/tcp twice: name each point once$/ },
  { name: 'all inside a list', argv: () => ['bench', '--target', 'native', '--suite', 'all,tcp-rr'], line: /^--suite all,tcp-rr: all stands alone \(it already includes every one\); give --suite all, or a list without it$/ },
  { name: 'a list that names nothing', argv: () => ['bench', '--target', 'native', '--suite', ','], line: /^--suite "," names nothing: name at least one, or all$/ },
  { name: '--reps 2.5', argv: () => ['bench', '--target', 'native', '--reps', '2.5'], line: /^--reps takes a whole number from 1 to 1000, not "2\.5"$/ },
  // parseArgs took -1 for a flag: the line told how to write a value starting with "-", not what the flag takes.
  { name: '--margin -1', argv: () => ['bench', '--target', 'native', '--margin', '-1'], line: /^--margin takes a percentage above 0 and at most 100, not "-1"$/ },
  { name: '--reps -1 (it said how to write a value starting with "-")', argv: () => ['bench', '--target', 'native', '--reps', '-1'], line: /^--reps takes a whole number from 1 to 1000, not "-1"$/ },
  { name: '--seed -5', argv: () => ['bench', '--target', 'native', '--seed', '-5'], line: /^--seed takes a whole number from 0 to 2147483647, not "-5"$/ },
  { name: '--reps -x (not a number: still how to write it)', argv: () => ['bench', '--target', 'native', '--reps', '-x'], line: /^--reps needs a value; write a value that starts with "-" as --reps=VALUE$/ },
  { name: '--margin=-1', argv: () => ['bench', '--target', 'native', '--margin=-1'], line: /^--margin takes a percentage above 0 and at most 100, not "-1"$/ },
  { name: '--max-reps below --reps', argv: () => ['bench', '--target', 'native', '--quick', '--reps', '6', '--max-reps', '5'], line: /^--max-reps 5 is below --reps 6: raise --max-reps$/ },
  { name: '--budget 5x', argv: () => ['bench', '--target', 'native', '--quick', '--budget', '5x'], line: /^--budget "5x" is not a duration: write it like 90s, 10m, 1h or 1h30m$/ },
  // Without --quick it was told to add --until-decided, and then refused for the value.
  { name: '--budget 5x without --quick', argv: () => ['bench', '--target', 'native', '--budget', '5x'], line: /^--budget "5x" is not a duration: write it like 90s, 10m, 1h or 1h30m$/ },
  { name: '--max-reps lots without --quick', argv: () => ['bench', '--target', 'native', '--max-reps', 'lots'], line: /^--max-reps takes a whole number from 1 to 1000, not "lots"$/ },
  { name: '--budget 10m without --quick (a good value: the run\'s mode is the problem)', argv: () => ['bench', '--target', 'native', '--budget', '10m'], line: /^--budget limits --until-decided, which is off in this run: add --until-decided or drop --budget$/ },
  { name: '--quick with --full', argv: () => ['bench', '--quick', '--full'], line: /^--quick and --full contradict each other: choose one$/ },
  { name: 'bad --storage', argv: () => ['bench', '--target', 'native', '--storage', 'aufs'], line: /^--storage takes one of volume, overlay, not "aufs"$/ },
  { name: '--vcpus 0', argv: () => ['bench', '--target', 'kvm', '--vcpus', '0'], line: /^--vcpus takes a whole number from 1 to 256, not "0"$/ },
  { name: 'a suite flag out of range', argv: () => ['bench', '--target', 'native', '--streams', '500'], line: /^--streams takes .*, not "500"$/ },
  { name: '--baseline not in the run', argv: () => ['bench', '--target', 'native,kvm', '--baseline', 'docker-nat'], line: /^--baseline docker-nat is not one of this run's targets \(native, kvm\): name one of them$/ },
  { name: '--aa with two targets', argv: () => ['bench', '--target', 'native,kvm', '--aa'], line: /^--aa measures one target against itself: name exactly one with --target, not native, kvm$/ },
  { name: '--subnet 198.18.0.0/33', argv: () => ['bench', '--target', 'native', '--subnet', '198.18.0.0/33'], line: /^--subnet 198\.18\.0\.0\/33: the prefix length must be at most 32: write an IPv4 range as ADDRESS\/PREFIX, e.g\. --subnet 198\.18\.0\.0\/24$/ },
  { name: '--subnet outside the guard range', argv: () => ['bench', '--target', 'native', '--subnet', '198.20.0.0/24'], line: /^--subnet 198\.20\.0\.0\/24 must lie inside --guard-range 198\.18\.0\.0\/15$/ },
  { name: '--guard-range 10.0.0.0/8', argv: () => ['bench', '--target', 'native', '--guard-range', '10.0.0.0/8', '--subnet', '10.1.0.0/24'], line: /^--guard-range 10\.0\.0\.0\/8 is wider than a \/15: .*choose a \/15 or narrower \(the default is 198\.18\.0\.0\/15\)$/ },
  { name: 'a public --guard-range', argv: () => ['bench', '--target', 'native', '--guard-range', '8.8.0.0/16', '--subnet', '8.8.8.0/24'], line: /^--guard-range 8\.8\.0\.0\/16 lies outside the ranges never routed on the internet \(198\.18\.0\.0\/15, 10\.0\.0\.0\/8, .*\): choose a range inside one of them$/ },
  {
    name: 'a subnet the host already routes',
    argv: () => ['bench', '--target', 'native', '--suite', 'tcp-rr', '--quick', '--subnet', '192.168.77.0/24', '--guard-range', '192.168.0.0/16'],
    options: seams({ readRoutes: async () => [{ dst: 'default', dev: 'eth0' }, { dst: '192.168.1.0/24', dev: 'wlan0' }] }),
    line: /^the host already routes 192\.168\.1\.0\/24 via wlan0, inside isobench's test range 192\.168\.0\.0\/16: choose another range with --subnet and --guard-range, or run `npm run cleanup` if a crashed isobench run left it$/,
  },
  // Output directories.
  {
    name: '--out /proc/nonexistent/dir (fails within a second)',
    argv: () => ['bench', '--out', '/proc/nonexistent/dir', '--target', 'native', '--suite', 'random-io', '--quick'],
    line: /^--out \/proc\/nonexistent\/dir: cannot create \/proc\/nonexistent \(ENOENT: no such file or directory\): choose a directory you can write$/,
    withinMs: 1000,
  },
  { name: '--out under /sys', argv: () => ['bench', '--out', '/sys/isobench-results', '--target', 'native'], line: /^--out \/sys\/isobench-results: cannot create \/sys\/isobench-results \((EPERM: operation not permitted|EACCES: permission denied)\): choose a directory you can write$/ },
  { name: '--out through a file', argv: () => ['bench', '--out', join(file('not-a-dir'), 'results'), '--target', 'native'], line: /: a part of the path is a file, not a directory: choose a directory$/ },
  { name: '--out that is a file', argv: () => ['bench', '--out', file('not-a-dir'), '--target', 'native'], line: /not-a-dir is a file, not a directory: choose a directory$/ },
  // Host conditions, through seams.
  {
    name: 'a missing tool that cannot be installed',
    argv: () => ['bench', '--target', 'native', '--suite', 'tcp-rr', '--quick'],
    options: { benchSeams: { host: FAKE_HOST, readRoutes: async () => [], tools: { install: false, findExecutable: async (command) => (command === 'sockperf' ? null : `/usr/bin/${command}`) } } },
    line: /^sockperf is missing \(needed for the tcp-rr suite\): install it with `apt-get install sockperf`, or run `npm run bench` as root so isobench installs it$/,
  },
  {
    name: 'Docker down and not startable',
    argv: () => ['bench', '--target', 'docker-nat', '--suite', 'tcp-rr', '--quick'],
    options: seams({ availability: async (configuration) => (configuration.driver.name.startsWith('docker') ? 'no Docker daemon answers on /var/run/docker.sock and starting dockerd needs root' : null) }),
    line: /^docker-nat cannot run on this host: no Docker daemon answers on \/var\/run\/docker\.sock and starting dockerd needs root; fix that, or leave docker-nat out of --target$/,
  },
  // Results files given to results, report and --resume.
  { name: 'a suite\'s flag without its suite (it was ignored)', argv: () => ['bench', '--target', 'native', '--suite', 'tcp-rr', '--bandwidth', '64'], line: /^--bandwidth is a flag of the migration suite, which this run does not include: add --suite migration, or leave --bandwidth out$/ },
  { name: 'a suite\'s flag the default matrix does not use', argv: () => ['bench', '--workload', 'web'], line: /^--workload is a flag of the migration suite, which this run does not include: add --suite migration, or leave --workload out$/ },
  { name: 'a working set larger than the guest', argv: () => ['bench', '--target', 'kvm', '--suite', 'migration', '--workload', 'dirty', '--wws', '4096', '--memory', '512'], line: /^--wws 4096 MiB does not fit in the kvm guest's 512 MiB \(--memory\): choose a --wws well below --memory, or a larger --memory$/ },
  { name: 'cleanup: an unknown flag (it used to run the cleanup)', argv: () => ['cleanup', '--bogus'], line: /^unknown flag --bogus: see npm run cleanup -- --help for the flags$/ },
  { name: 'cleanup: an argument', argv: () => ['cleanup', 'runs/x.json'], line: /^cleanup takes no arguments, not "runs\/x\.json": it finds every crashed run's leftovers itself \(see npm run cleanup -- --help\)$/ },
  { name: 'report: an unknown flag', argv: () => ['report', '--bogus', join(scratch, 'x.json')], line: /^unknown flag --bogus: see npm run report -- --help for the flags$/ },
  { name: 'results: a missing file', argv: () => ['results', join(scratch, 'nope.json')], line: /nope\.json is not a valid isobench results file: cannot be read \(ENOENT\); check the path/ },
  { name: 'results: an empty file', argv: () => ['results', file('empty.json')], line: /empty\.json is not a valid isobench results file: is not JSON \(Unexpected end of JSON input\); it is cut short or was edited: restore it from a copy, or rerun npm run bench$/ },
  { name: 'results: a truncated file', argv: () => ['results', file('truncated.json')], line: /truncated\.json is not a valid isobench results file: is not JSON \(.*\); it is cut short or was edited/ },
  { name: 'results: a hand-edited value', argv: () => ['results', file('edited.json')], line: /edited\.json is not a valid isobench results file: points\.0\.trials\.0\.metrics\.0\.value.*; it was edited or damaged: restore the file as isobench wrote it, or rerun npm run bench$/ },
  // Another program's JSON was called a results file of schema version 0.1.0 (package.json's own version).
  { name: 'results: another program\'s JSON (package.json)', argv: () => ['results', file('package.json')], line: /package\.json is not an isobench results file \(it has no "schema": "isobench\/results" field, nor a run's runId, plan and points\): name a results file npm run bench wrote, e\.g\. runs\/RUN-ID\.json$/ },
  { name: 'results: JSON of another schema', argv: () => ['results', file('other-schema.json')], line: /other-schema\.json is not an isobench results file \(its "schema" is "someone-else\/results", not "isobench\/results"\): name a results file/ },
  { name: 'report: another program\'s JSON', argv: () => ['report', file('package.json')], line: /package\.json is not an isobench results file \(it has no "schema"/ },
  { name: 'results: a future schema version', argv: () => ['results', file('future.json')], line: /future\.json is not a valid isobench results file: schema version 3 was written by a newer isobench; .*: upgrade isobench to read it$/ },
  { name: 'report: a truncated file', argv: () => ['report', file('truncated.json'), '--out', join(scratch, 'report.html')], line: /truncated\.json is not a valid isobench results file: is not JSON .*; it is cut short or was edited/ },
  { name: '--resume of a completed run', argv: () => ['bench', '--resume', file('completed/run.json')], line: /run\.json is a completed run: there is nothing to resume; start a new run with npm run bench$/ },
  { name: 'an empty --resume (named results/, where runs are not written)', argv: () => ['bench', '--resume', ''], line: /^--resume needs the results file of the run to finish: --resume runs\/RUN-ID\.json$/ },
  { name: '--resume with other flags', argv: () => ['bench', '--resume', file('completed/run.json'), '--reps', '5', '--quick'], line: /^--resume takes the plan, seed and options from the results file: drop --reps --quick$/ },
  { name: '--resume of a truncated file', argv: () => ['bench', '--resume', Array.from(files.entries()).find(([name]) => name.startsWith('truncated-run/'))![1]], line: /is not a valid isobench results file: is not JSON .*; it is cut short or was edited/ },
  { name: '--resume of a future schema version', argv: () => ['bench', '--resume', file('future.json')], line: /future\.json is not a valid isobench results file: schema version 3 was written by a newer isobench/ },
  {
    name: '--resume on another host',
    argv: () => ['bench', '--resume', Array.from(files.entries()).find(([name]) => name.startsWith('elsewhere/'))![1]],
    line: /was measured on another host \(hostname "another-machine" there, ".*" here.*\): resume it on that host, or start a new run here$/,
  },
  {
    name: '--resume of a plan whose suite is no longer registered',
    argv: () => ['bench', '--resume', Array.from(files.entries()).find(([name]) => name.startsWith('unregistered/'))![1]],
    line: new RegExp(`^cannot rebuild the plan of .*: suite "netperf" is no longer registered \\(registered: ${SUITE_NAMES.join(', ')}\\); resume it with the isobench that started it, or start a new run$`),
  },
  { name: '--resume of a renamed file', argv: () => ['bench', '--resume', file('renamed/my-run.json')], line: /my-run\.json holds run \S+, and a resumed run writes to \S+\.json: rename the file back to \S+\.json$/ },
];

test(`at least 25 malformed inputs are in the table (${CASES.length})`, () => {
  assert.ok(CASES.length >= 25);
});

for (const entry of CASES) {
  test(`bad input: ${entry.name} is one line naming the problem and the fix, exit code 2, nothing left`, async () => {
    const before = await readdir(scratch);
    const outcome = await capture(entry.argv(), entry.options);
    assert.equal(outcome.code, 2, outcome.stderr.join('\n'));
    assert.deepEqual(outcome.stdout, []);
    const errors = outcome.stderr.filter((line) => !/^isobench: (targets|resuming) /.test(line));
    assert.equal(errors.length, 1, `one line besides the banner:\n${outcome.stderr.join('\n')}`);
    assert.match(errors[0]!, /^isobench: /);
    assert.match(errors[0]!.slice('isobench: '.length), entry.line);
    assert.doesNotMatch(outcome.stderr.join('\n'), /\n\s+at /, 'no stack trace');
    assert.ok(outcome.ms < (entry.withinMs ?? 20_000), `took ${Math.round(outcome.ms)} ms`);
    assert.deepEqual(await readdir(state), [], 'no lock or ledger');
    assert.deepEqual(await readdir(scratch), before, 'no results file or directory');
    assert.ok(!existsSync(join(scratch, 'results')), 'no default results directory');
  });
}

test('bad input: the refused resume leaves its file as it was', async () => {
  const path = Array.from(files.entries()).find(([name]) => name.startsWith('elsewhere/'))![1];
  const before = await readFile(path, 'utf8');
  await capture(['bench', '--resume', path]);
  assert.equal(await readFile(path, 'utf8'), before);
  assert.deepEqual(await readdir(join(path, '..')), [path.split('/').at(-1)]);
});

test('bad input: a crashed run\'s leftovers refuse the start with one line, before the plan line or anything else', async () => {
  // A ledger whose process is gone (pid above the kernel's pid_max) is what a crashed run leaves.
  const ledger = join(state, 'ledger-crashed.json');
  await writeFile(ledger, JSON.stringify({ runId: 'crashed', pid: 2 ** 22 + 12345, startedAt: '', resources: [{ id: 1, description: 'bridge ib-br0', undo: { kind: 'path', path: join(scratch, 'gone') } }] }));
  try {
    const before = await readdir(scratch);
    // The default matrix also prints `leaving out …` lines: they come after the refusal, never before.
    for (const argv of [['bench', '--target', 'native', '--suite', 'tcp-rr', '--quick'], ['bench']]) {
      const outcome = await capture(argv, seams({}));
      assert.equal(outcome.code, 2, outcome.stderr.join('\n'));
      assert.deepEqual(outcome.stdout, []);
      assert.deepEqual(outcome.stderr, [`isobench: a crashed isobench run (pid ${2 ** 22 + 12345}) left 1 resource(s) behind: run \`npm run cleanup\` first`], argv.join(' '));
      assert.deepEqual(await readdir(scratch), before, 'no results file or directory');
    }
  } finally {
    await rm(ledger);
  }
  assert.deepEqual(await readdir(state), []);
});

test('bad input: a held run lock and a routed subnet refuse with one line, before the plan line (issue 13: the plan line came first)', async () => {
  const before = await readdir(scratch);
  const lock = join(state, 'run.lock');
  // This process is alive: the lock is held by a run in progress.
  await writeFile(lock, `${process.pid} another-run\n`);
  try {
    for (const argv of [['bench', '--target', 'native', '--suite', 'tcp-rr', '--quick'], ['bench']]) {
      const outcome = await capture(argv, seams({}));
      assert.equal(outcome.code, 2, outcome.stderr.join('\n'));
      assert.deepEqual(outcome.stdout, []);
      assert.deepEqual(outcome.stderr, [`isobench: another isobench run (pid ${process.pid}) is in progress: wait for it to finish or stop it`], argv.join(' '));
    }
    // calibrate too, before its installs print anything.
    const calibrate = await capture(['calibrate']);
    assert.equal(calibrate.code, 2);
    assert.deepEqual(calibrate.stderr, [`isobench: another isobench run (pid ${process.pid}) is in progress: wait for it to finish or stop it`]);
  } finally {
    await rm(lock);
  }
  const routed = await capture(
    ['bench', '--target', 'native', '--suite', 'tcp-rr', '--quick', '--subnet', '192.168.77.0/24', '--guard-range', '192.168.0.0/16'],
    seams({ readRoutes: async () => [{ dst: '192.168.1.0/24', dev: 'wlan0' }] }),
  );
  assert.equal(routed.code, 2);
  assert.equal(routed.stderr.length, 1, routed.stderr.join('\n'));
  assert.match(routed.stderr[0]!, /^isobench: the host already routes 192\.168\.1\.0\/24 via wlan0/);
  const elsewhere = await capture(['bench', '--resume', Array.from(files.entries()).find(([name]) => name.startsWith('elsewhere/'))![1]]);
  assert.equal(elsewhere.code, 2);
  assert.equal(elsewhere.stderr.length, 1, elsewhere.stderr.join('\n'));
  assert.match(elsewhere.stderr[0]!, /was measured on another host/);
  assert.deepEqual(await readdir(state), [], 'no lock or ledger');
  assert.deepEqual(await readdir(scratch), before, 'no results file or directory');
});
