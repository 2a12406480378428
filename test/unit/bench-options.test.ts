/**
 * harness/commands/bench.ts: the verdict, A/A, adaptive and steal flags, their defaults, and the one
 * line a bad value gets. Every case names its targets, so nothing probes the host.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_USAGE, parseBenchOptions, parseSuiteOptions } from '../../harness/commands/bench.js';
import { storedOptions } from '../../harness/runner.js';
import type { ParamValue } from '../../results/schema.js';
import { DEFAULT_SUITES, SUITES } from '../../suites/index.js';
import { readResultsFile } from '../../results/store.js';
import { REPO_ROOT } from '../helpers.js';

const base = ['--target', 'native,kvm', '--suite', 'tcp-rr'];

test('defaults: baseline native, margin 5 %, no floor, steal 10 %; until decided up to 10 in quick runs, off in full ones', async () => {
  const quick = await parseBenchOptions([...base, '--quick']);
  assert.equal(quick.mode, 'compare');
  assert.equal(quick.baseline, 'native');
  assert.equal(quick.marginPercent, 5);
  assert.equal(quick.noiseFloorPercent, null);
  assert.equal(quick.maxStealPercent, 10);
  assert.deepEqual(quick.adaptive, { maxRepetitions: 10, budgetSeconds: null });
  assert.deepEqual(quick.command, [...base, '--quick'], 'the arguments as given');
  const full = await parseBenchOptions(base);
  assert.equal(full.quick, false);
  assert.equal(full.adaptive, null);
  assert.deepEqual((await parseBenchOptions([...base, '--until-decided'])).adaptive, { maxRepetitions: 20, budgetSeconds: null });
  assert.equal((await parseBenchOptions(['--target', 'docker-host,kvm'])).baseline, 'docker-host', 'without native, the first target');
});

test('the flags are stored as given', async () => {
  const options = await parseBenchOptions([
    ...base, '--quick', '--reps', '4', '--baseline', 'kvm', '--margin', '2.5', '--noise-floor', '3', '--max-reps', '8', '--budget', '1h30m', '--max-steal', '20',
  ]);
  assert.equal(options.baseline, 'kvm');
  assert.equal(options.marginPercent, 2.5);
  assert.equal(options.noiseFloorPercent, 3);
  assert.equal(options.maxStealPercent, 20);
  assert.deepEqual(options.adaptive, { maxRepetitions: 8, budgetSeconds: 5400 });
  assert.equal((await parseBenchOptions([...base, '--quick', '--no-until-decided'])).adaptive, null);
  assert.equal((await parseBenchOptions([...base, '--quick', '--reps', '2'])).adaptive, null, 'a smoke run of 2 reps is not adaptive by default');
  assert.equal((await parseBenchOptions([...base, '--quick', '--reps', '15'])).adaptive, null, "--reps above a quick run's cap of 10: a plain 15-rep run, no round left to add");
  assert.deepEqual((await parseBenchOptions([...base, '--quick', '--reps', '15', '--until-decided'])).adaptive, { maxRepetitions: 15, budgetSeconds: null }, '--max-reps never defaults below --reps');
  assert.deepEqual((await parseBenchOptions([...base, '--quick', '--reps', '5'])).adaptive, { maxRepetitions: 10, budgetSeconds: null });
});

test('--aa: one target, two arms, the target is the baseline', async () => {
  const options = await parseBenchOptions(['--target', 'kvm:qcow2', '--aa', '--quick']);
  assert.equal(options.mode, 'aa');
  assert.equal(options.baseline, 'kvm:qcow2');
  assert.deepEqual(options.targets.map(({ id }) => id), ['kvm:qcow2']);
});

test('bad values are one UsageError line saying what to do', async () => {
  const cases: Array<[string[], string]> = [
    [[...base, '--baseline', 'docker-nat'], '--baseline docker-nat is not one of this run\'s targets (native, kvm): name one of them'],
    [[...base, '--aa'], '--aa measures one target against itself: name exactly one with --target, not native, kvm'],
    [['--target', 'kvm', '--aa', '--baseline', 'native'], '--baseline native is not one of this run\'s targets (kvm): name one of them'],
    [[...base, '--margin', '0'], '--margin takes a percentage above 0 and at most 100, not "0"'],
    [[...base, '--margin', 'five'], '--margin takes a percentage above 0 and at most 100, not "five"'],
    [[...base, '--noise-floor', '101'], '--noise-floor takes a percentage above 0 and at most 100, not "101"'],
    // A negative number is the flag's value, so the line says what the flag takes.
    [[...base, '--max-steal', '-1'], '--max-steal takes a number from 0 to 100, not "-1"'],
    [[...base, '--max-steal=-1'], '--max-steal takes a number from 0 to 100, not "-1"'],
    [[...base, '--until-decided', '--no-until-decided'], '--until-decided and --no-until-decided contradict each other: choose one'],
    [[...base, '--max-reps', '8'], '--max-reps limits --until-decided, which is off in this run: add --until-decided or drop --max-reps'],
    [[...base, '--quick', '--no-until-decided', '--budget', '10m'], '--budget limits --until-decided, which is off in this run: add --until-decided or drop --budget'],
    [[...base, '--until-decided', '--reps', '2'], '--until-decided needs at least 3 rounds before it judges: raise --reps to 3 or add --no-until-decided'],
    [[...base, '--quick', '--reps', '6', '--max-reps', '5'], '--max-reps 5 is below --reps 6: raise --max-reps'],
    [[...base, '--quick', '--max-reps', '0'], '--max-reps takes a whole number from 1 to 1000, not "0"'],
    [[...base, '--quick', '--budget', '90'], '--budget "90" is not a duration: write it like 90s, 10m, 1h or 1h30m'],
    [[...base, '--quick', '--budget', '0m'], '--budget "0m" is no time at all: give a duration above zero, like 90s or 10m'],
  ];
  for (const [argv, message] of cases) {
    await assert.rejects(parseBenchOptions(argv), (error: Error) => {
      assert.equal(error.name, 'UsageError', argv.join(' '));
      assert.equal(error.message, message);
      assert.ok(!error.message.includes('\n'));
      return true;
    });
  }
});

test('--resume FILE takes targets, suites, options, seed and limits from the file, and quiet-wait and max-steal from its command', async () => {
  const fixture = await readResultsFile(join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json'));
  const directory = await mkdtemp(join(tmpdir(), 'isobench-resume-options-'));
  try {
    const path = join(directory, `${fixture.runId}.json`);
    const command = ['--target', 'native', '--suite', 'tcp-bulk,tcp-rr', '--quick', '--reps', '1', '--streams', '4', '--quiet-wait', '5', '--max-steal', '20'];
    const file = { ...fixture, status: 'interrupted' as const, plan: { ...fixture.plan, options: { ...fixture.plan.options, streams: 4 }, command, adaptive: null } };
    await writeFile(path, JSON.stringify(file));
    const options = await parseBenchOptions(['--resume', path]);
    assert.equal(options.resume?.path, path);
    assert.equal(options.outDirectory, directory, 'the file\'s own directory');
    assert.deepEqual(options.targets.map(({ id }) => id), ['native']);
    assert.deepEqual(options.suites.map(({ name }) => name), ['tcp-bulk', 'tcp-rr']);
    assert.equal(options.seed, fixture.plan.seed);
    assert.equal(options.repetitions, 1);
    assert.equal(options.quick, true);
    assert.equal(options.suiteOptions.get('tcp-bulk')?.streams, 4);
    assert.deepEqual(options.targetOptions, { storage: 'volume', accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true });
    assert.deepEqual(options.quietHost, { maxWaitMs: 5000 });
    assert.equal(options.maxStealPercent, 20);
    assert.deepEqual(options.command, command, 'the command that made the run, unchanged');
    assert.equal(options.baseline, 'native');
    assert.equal(options.defaultMatrix, undefined, 'the file\'s targets, not a new default matrix');
    assert.equal(options.points, null, 'a file of every point resumes every point');
    // A first look (or --points) run keeps its selection: the resume plans the same points.
    const selected = join(directory, 'selected', `${fixture.runId}.json`);
    await mkdir(join(directory, 'selected'));
    await writeFile(selected, JSON.stringify({ ...file, plan: { ...file.plan, command: [], points: ['tcp-rr/tcp'] } }));
    assert.deepEqual((await parseBenchOptions(['--resume', selected])).points, ['tcp-rr/tcp']);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('--suite all and the default matrix leave out the opt-in suites; naming one runs it', async () => {
  const optIn = SUITES.filter((suite) => suite.optIn !== undefined).map((suite) => suite.name);
  assert.ok(optIn.includes('migration'), 'migration is opt-in');
  for (const argv of [['--target', 'kvm', '--suite', 'all'], ['--target', 'kvm']]) {
    const names = (await parseBenchOptions(argv)).suites.map((suite) => suite.name);
    assert.ok(names.length > 0 && names.every((name) => !optIn.includes(name)), `${argv.join(' ')}: ${names.join(',')}`);
    assert.deepEqual(names, DEFAULT_SUITES.map((suite) => suite.name));
  }
  assert.deepEqual((await parseBenchOptions(['--target', 'kvm', '--suite', 'migration'])).suites.map((suite) => suite.name), ['migration']);
  assert.match(BENCH_USAGE, /--suite all leaves out migration/);
});

test('an optional suite flag not given (migration --dest) is left out of the stored plan, which validates', async () => {
  const { storedOptions } = await import('../../harness/runner.js');
  const { parseResultsFile } = await import('../../results/schema.js');
  const { readFile } = await import('node:fs/promises');
  const options = await parseBenchOptions(['--target', 'kvm', '--suite', 'migration']);
  const migration = options.suiteOptions.get('migration')!;
  assert.ok('dest' in migration && migration.dest === undefined, 'the parsed options hold dest: undefined');
  const file = JSON.parse(await readFile(new URL('../fixtures/results/migration-idle-dirty-1rep.json', import.meta.url), 'utf8')) as { plan: { options: Record<string, string | number | boolean> } };
  const stored = storedOptions({ ...file.plan.options, ...migration });
  assert.equal('dest' in stored, false);
  parseResultsFile({ ...file, plan: { ...file.plan, options: stored } }, 'plan.json');
  assert.throws(() => parseResultsFile({ ...file, plan: { ...file.plan, options: { ...file.plan.options, ...migration } } }, 'plan.json'), /plan\.options\.dest/, 'without it the file would not validate');
});

test('--target all --suite migration plans only the targets that can run it, and says why it leaves out the others', async () => {
  const { buildPlan } = await import('../../harness/planner.js');
  const { leftOutLine } = await import('../../harness/target-fit.js');
  for (const argv of [['--target', 'all', '--suite', 'migration', '--quick'], ['--suite', 'migration', '--quick']]) {
    const options = await parseBenchOptions(argv);
    // runc-criu can run it too, but is opt-in: --target all never had it.
    assert.deepEqual(options.targets.map(({ id }) => id), ['kvm'], argv.join(' '));
    assert.equal(options.baseline, 'kvm');
    assert.deepEqual(options.leftOut?.map(leftOutLine), [
      'leaving out native: the migration suite runs only on kvm and runc-criu',
      'leaving out docker-host: the migration suite runs only on kvm and runc-criu',
      'leaving out docker-nat: the migration suite runs only on kvm and runc-criu',
    ]);
    // The plan the runner builds from these options (runner.ts planFor), dry: no host probed, nothing provisioned.
    const plan = buildPlan(options.targets.map(({ id }) => id), options.suites.map(({ name }) => name), { quick: true, cores: 2 }, options.suiteOptions, options.repetitions, options.seed);
    assert.ok(plan.cells.length > 0);
    assert.deepEqual([...new Set(plan.cells.map((cell) => cell.target))], ['kvm']);
  }
  const named = await parseBenchOptions(['--target', 'native,kvm,runc-criu', '--suite', 'migration']);
  assert.deepEqual(named.targets.map(({ id }) => id), ['kvm', 'runc-criu'], 'a named list keeps the targets that can');
  assert.deepEqual(named.leftOut?.map(({ id }) => id), ['native']);
});

test('--target native --suite migration leaves no target: one UsageError line naming the fix', async () => {
  const cases: Array<[string[], string]> = [
    [['--target', 'native', '--suite', 'migration'], 'native cannot run --suite migration: the migration suite runs only on kvm and runc-criu; name a target that can: --target kvm or --target runc-criu'],
    [['--target', 'native,docker-nat:overlay', '--suite', 'migration'], 'native, docker-nat:overlay cannot run --suite migration: the migration suite runs only on kvm and runc-criu; name a target that can: --target kvm or --target runc-criu'],
    [['--target', 'docker-host', '--suite', 'migration', '--aa'], 'docker-host cannot run --suite migration: the migration suite runs only on kvm and runc-criu; name a target that can: --target kvm or --target runc-criu'],
  ];
  for (const [argv, message] of cases) {
    await assert.rejects(parseBenchOptions(argv), (error: Error) => {
      assert.equal(error.name, 'UsageError', argv.join(' '));
      assert.equal(error.message, message);
      return true;
    });
  }
});

test('targets that can run a chosen suite stay: --suite tcp-bulk, mixed suites and the default matrix are unchanged', async () => {
  const all = ['native', 'docker-host', 'docker-nat', 'kvm'];
  for (const argv of [['--target', 'all', '--suite', 'tcp-bulk'], [], ['--suite', 'all'], ['--target', 'all']]) {
    const options = await parseBenchOptions(argv);
    assert.deepEqual(options.targets.map(({ id }) => id), all, argv.join(' ') || '(default matrix)');
    assert.deepEqual(options.leftOut, [], argv.join(' ') || '(default matrix)');
  }
  assert.equal((await parseBenchOptions([])).defaultMatrix, true);
  // native runs tcp-rr, so it stays; its migration points are skipped at trial time, as before.
  const mixed = await parseBenchOptions(['--target', 'native,kvm', '--suite', 'tcp-rr,migration']);
  assert.deepEqual(mixed.targets.map(({ id }) => id), ['native', 'kvm']);
  assert.equal(mixed.baseline, 'native');
  assert.deepEqual(mixed.leftOut, []);
});

test('every suite option a results file stores reads back to the same options, so --resume can rebuild the plan (a stored "auto" once refused every resume)', async () => {
  const cases = [
    ['--target', 'native', '--suite', 'tcp-rr'],
    ['--target', 'kvm', '--suite', 'migration', '--migration-time-limit', '12', '--bandwidth', '32,128', '--workload', 'idle,dirty', '--dirty-rate', '0,16', '--wws', '128'],
  ];
  for (const argv of cases) {
    const options = await parseBenchOptions(argv);
    // As the runner stores them (harness/runner.ts initialResults) and resume reads them (harness/resume.ts rebuildRun).
    const stored = storedOptions({ ...(Object.assign({}, ...options.suiteOptions.values()) as Record<string, ParamValue | undefined>) });
    const readBack = parseSuiteOptions(Object.fromEntries(Object.entries(stored).map(([key, value]) => [key, String(value)])));
    assert.ok(options.suiteOptions.size > 0);
    for (const [suite, parsed] of options.suiteOptions) assert.deepEqual(readBack.get(suite), parsed, `${suite}'s options read back unchanged`);
  }
});

test('--cv-threshold is in percent, as --margin and --noise-floor are (5 used to mean 500 %)', async () => {
  assert.equal((await parseBenchOptions(['--target', 'native', '--suite', 'tcp-rr', '--cv-threshold', '10'])).cvThreshold, 0.1);
  assert.equal((await parseBenchOptions(['--target', 'native', '--suite', 'tcp-rr'])).cvThreshold, 0.05);
  await assert.rejects(parseBenchOptions(['--target', 'native', '--suite', 'tcp-rr', '--cv-threshold', '0']), /^UsageError: --cv-threshold takes a percentage above 0 and at most 100, not "0"$/);
});
