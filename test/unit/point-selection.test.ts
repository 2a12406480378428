/**
 * harness/point-selection.ts and the first look: which points a bare `npm run bench`, `--points` and
 * a resume of either measure, and the one line a bad `--points` item gets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchOptions, parseSuiteOptions } from '../../harness/commands/bench.js';
import { buildPlan } from '../../harness/planner.js';
import { FIRST_LOOK_BUDGET_SECONDS, firstLook, parsePointList } from '../../harness/point-selection.js';
import { DEFAULT_SUITES } from '../../suites/index.js';

const config = { quick: true, cores: 2, options: {} };

test('the first look: the headline point of tcp-bulk, tcp-rr and random-io on every target, quick, 3 reps, until decided within 5 minutes', async () => {
  const options = await parseBenchOptions([]);
  assert.deepEqual(options.points, ['tcp-bulk/client-to-server', 'tcp-rr/tcp', 'random-io/randread']);
  assert.deepEqual(options.suites.map(({ name }) => name), ['tcp-bulk', 'tcp-rr', 'random-io']);
  assert.deepEqual(options.targets.map(({ id }) => id), ['native', 'docker-host', 'docker-nat', 'kvm']);
  assert.equal(options.quick, true);
  assert.equal(options.repetitions, 3);
  assert.equal(FIRST_LOOK_BUDGET_SECONDS, 300);
  assert.deepEqual(options.adaptive, { maxRepetitions: 10, budgetSeconds: 300 });
  assert.deepEqual((await parseBenchOptions(['--budget', '8m'])).adaptive, { maxRepetitions: 10, budgetSeconds: 480 }, 'a given --budget wins');
  // The plan the runner builds from these options: 3 points x 4 targets.
  const plan = buildPlan(options.targets.map(({ id }) => id), options.suites.map(({ name }) => name), { quick: true, cores: 2 }, options.suiteOptions, options.repetitions, options.seed, new Map(), options.points);
  assert.equal(plan.cells.length, 12);
  assert.deepEqual([...new Set(plan.cells.map((cell) => `${cell.suite}/${cell.point.id}`))], options.points);
});

test('naming a target or suite leaves the first look: every point, no default budget', async () => {
  for (const argv of [['--target', 'native'], ['--suite', 'random-io', '--quick'], ['--suite', 'all', '--quick']]) {
    const options = await parseBenchOptions(argv);
    assert.equal(options.points, null, argv.join(' '));
    assert.ok(!options.adaptive || options.adaptive.budgetSeconds === null, argv.join(' '));
  }
});

test('--points keeps the points it names; without --suite, only their suites', async () => {
  const options = await parseBenchOptions(['--target', 'native,kvm', '--points', 'random-io/seqread,mysql/threads-4', '--quick']);
  assert.deepEqual(options.points, ['random-io/seqread', 'mysql/threads-4']);
  assert.deepEqual(options.suites.map(({ name }) => name), ['random-io', 'mysql'], 'registry order, not the list\'s');
  const plan = buildPlan(['native', 'kvm'], ['random-io', 'mysql'], { quick: true, cores: 2 }, options.suiteOptions, 1, 1, new Map(), options.points);
  assert.deepEqual(plan.cells.map((cell) => cell.key), ['native/random-io/seqread', 'kvm/random-io/seqread', 'native/mysql/threads-4', 'kvm/mysql/threads-4']);
  // A point that exists only through a suite's own flag is found with that flag.
  assert.deepEqual((await parseBenchOptions(['--target', 'native', '--points', 'mysql/threads-8', '--threads', '8,16'])).points, ['mysql/threads-8']);
});

test('a bad --points item is one line naming it and the fix', async () => {
  const cases: Array<[string[], string]> = [
    [['--points', 'randread'], '--points randread: write each point as SUITE/POINT, e.g. random-io/randread'],
    [['--points', 'random-io/'], '--points random-io/: write each point as SUITE/POINT, e.g. random-io/randread'],
    [['--points', ','], '--points "," names nothing: name points as SUITE/POINT, e.g. --points tcp-bulk/client-to-server,random-io/randread'],
    // It was dropped, while the recorded command line (the report's "Reproduce") kept it.
    [['--points', 'random-io/seqread,mysql/threads-4,random-io/seqread'], '--points names random-io/seqread twice: name each point once'],
    [['--points', 'random-io/randwrote'], '--points random-io/randwrote: random-io has no point "randwrote" in this run; its points: randread, randwrite, randrw70, seqread, seqwrite, randread-latency'],
    [['--points', 'migration/idle'], '--points migration/idle: no suite "migration" in this run (suites: tcp-bulk, tcp-rr, random-io, mysql, startup); name an opt-in suite with --suite'],
    [['--suite', 'tcp-rr', '--points', 'random-io/randread'], '--points random-io/randread is a point of random-io, which --suite leaves out: add random-io to --suite, or drop the point'],
    [['--suite', 'tcp-rr,random-io', '--points', 'random-io/randread'], '--points names no point of tcp-rr, which --suite names: add one of its points, or drop it from --suite'],
  ];
  for (const [argv, line] of cases) {
    await assert.rejects(parseBenchOptions(argv), (error: Error) => {
      assert.equal(error.name, 'UsageError', argv.join(' '));
      assert.equal(error.message, line);
      return true;
    });
  }
});

test('firstLook keeps only suites that declare points; parsePointList checks against the suites as configured', () => {
  const look = firstLook(DEFAULT_SUITES);
  assert.deepEqual(look.suites.map(({ name }) => name), ['tcp-bulk', 'tcp-rr', 'random-io']);
  assert.throws(() => parsePointList('mysql/threads-8', DEFAULT_SUITES, false, (suite) => ({ ...config, options: parseSuiteOptions({}).get(suite.name)! })), /mysql has no point "threads-8" in this run; its points: threads-1, threads-2, threads-4/);
});

test('the planner refuses a selection no suite plans (the backstop behind the CLI check)', () => {
  assert.throws(() => buildPlan(['native'], ['tcp-rr'], config, new Map(), 1, 1, new Map(), ['tcp-rr/tcp', 'tcp-rr/sctp']), /the point selection names tcp-rr\/sctp, which no suite of this run plans/);
});
