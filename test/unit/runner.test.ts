/**
 * runBench with a fake driver, a fake suite and a fake topology: no root, no network, no Docker or
 * QEMU. The lock and the ledger live in a temporary ISOBENCH_STATE_DIR; the quiet-host check samples
 * for a few ms and never waits.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import type { AnySuite, PointParams, SuiteContext, SuiteOptions, SuitePoint, TrialContext, TrialOutcome } from '../../contracts/suite.js';
import type { ProvisionedTarget } from '../../contracts/target.js';
import { buildPlan } from '../../harness/planner.js';
import { Progress } from '../../harness/progress.js';
import { runBench, type BenchOptions } from '../../harness/runner.js';
import type { TargetConfiguration } from '../../provisioning/targets/configuration.js';
import type { Topology } from '../../provisioning/topology.js';
import type { ProvisionContext, TargetDriver } from '../../provisioning/types.js';
import type { MetricDefinition } from '../../results/metrics.js';
import { ParamValue, type HostFacts, type ResultsFile } from '../../results/schema.js';
import { CommandFailedError } from '../../core/exec.js';
import { readResultsFile } from '../../results/store.js';
import { sleep } from '../../core/poll.js';

const HOST: HostFacts = {
  hostname: 'unit-test',
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

const SCORE: MetricDefinition = { name: 'score_ops', unit: 'ops', direction: 'higher' };

const FAKE_TOPOLOGY = {
  clientExec: () => Promise.reject(new Error('the fake topology runs nothing')),
  wrapClient: (command: readonly string[]) => ['fake-netns', ...command],
  verifyDestination: async () => {},
} as unknown as Topology;

/** What happened, in order, across the fake targets and suites of one run. */
type Journal = string[];

interface FakeTarget extends ProvisionedTarget {
  running: boolean;
}

/** Per-target behaviour of a fake driver's steps, by target name: return a promise that never settles to hang the step. */
interface TargetHooks {
  provision?: (name: string) => Promise<void>;
  pause?: (name: string) => Promise<void>;
  resume?: (name: string) => Promise<void>;
  teardown?: (name: string) => Promise<void>;
}

/** A promise that never settles: a step that hangs. */
const never = () => new Promise<never>(() => {});

/** A driver whose targets record pause/resume/teardown; `failProvision` makes provision throw it. */
function fakeDriver(journal: Journal, live: Map<string, FakeTarget>, failProvision?: string, hooks: TargetHooks = {}): TargetDriver {
  return {
    name: 'fake',
    description: 'a test double',
    display: { label: 'Fake', order: 0, colour: '#888888' },
    configurable: {},
    hostTools: [],
    defaultAvailability: async () => null,
    provision: async (context: ProvisionContext) => {
      journal.push(`${context.configuration}:provision ${context.runDirectory}`);
      if (failProvision) throw new Error(failProvision);
      const name = context.configuration;
      await hooks.provision?.(name);
      const target: FakeTarget = {
        name,
        running: true,
        facts: { target: name, state: 'ready', networkPath: 'fake', storage: 'fake', labels: {}, degraded: [] },
        serverAddress: '198.18.0.2',
        dataDirectory: '/nonexistent',
        exec: () => Promise.reject(new Error('not in this test')),
        startService: () => Promise.reject(new Error('not in this test')),
        cpuCounters: async () => [],
        pause: async () => {
          await hooks.pause?.(name);
          target.running = false;
          journal.push(`${name}:pause`);
        },
        resume: async () => {
          await hooks.resume?.(name);
          target.running = true;
          journal.push(`${name}:resume`);
        },
        teardown: async () => {
          await hooks.teardown?.(name);
          target.running = false;
          journal.push(`${name}:teardown`);
        },
      };
      live.set(name, target);
      return target;
    },
  };
}

interface SuiteHooks {
  prepare?: (context: SuiteContext) => Promise<unknown>;
  /** Returns the outcome, or undefined for the default completed one. */
  runTrial?: (point: SuitePoint, context: TrialContext) => Promise<TrialOutcome | undefined>;
  finish?: (context: SuiteContext, state: unknown) => Promise<void>;
}

/** A suite with two points (`p1`, `p2`) whose trials record `target/suite/point` and return one metric. */
function fakeSuite(name: string, journal: Journal, hooks: SuiteHooks = {}): AnySuite {
  const params: z.ZodType<PointParams> = z.record(z.string(), ParamValue);
  const options: z.ZodType<SuiteOptions> = z.record(z.string(), ParamValue);
  return {
    name,
    description: 'a test double',
    figure: 'none',
    hostTools: [],
    ports: [],
    flags: [],
    options,
    params,
    points: () => [
      { id: 'p1', params: { size: 1 }, headline: SCORE },
      { id: 'p2', params: { size: 2 }, headline: SCORE },
    ],
    prepare: hooks.prepare,
    finish: hooks.finish,
    runTrial: async (point, context) => {
      journal.push(`trial ${context.target.name}/${name}/${point.id}`);
      const outcome = await hooks.runTrial?.(point, context);
      return outcome ?? { state: 'completed', metrics: [{ name: SCORE.name, unit: SCORE.unit, value: 100 }], commands: [['fake', point.id]] };
    },
  };
}

const silent = new Progress({ isTTY: false, write: () => true } as unknown as NodeJS.WriteStream);
let stateDirectory = '';
let scratch = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'isobench-runner-test-'));
  stateDirectory = join(scratch, 'state');
  process.env.ISOBENCH_STATE_DIR = stateDirectory;
});

after(async () => {
  delete process.env.ISOBENCH_STATE_DIR;
  await rm(scratch, { recursive: true, force: true });
});

let runs = 0;
function benchOptions(targets: TargetConfiguration[], suites: AnySuite[], overrides: Partial<BenchOptions> = {}): BenchOptions {
  return {
    targets,
    suites,
    quick: true,
    repetitions: 3,
    outDirectory: join(scratch, `results-${++runs}`),
    seed: 7,
    cvThreshold: 0.1,
    subnet: '198.18.0.0/24',
    guardRange: '198.18.0.0/15',
    targetOptions: { storage: 'volume', accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true },
    suiteOptions: new Map(),
    quietHost: { maxWaitMs: 0, sampleMs: 5 },
    progress: silent,
    seams: { host: HOST, createTopology: async () => FAKE_TOPOLOGY },
    ...overrides,
  };
}

const configuration = (id: string, driver: TargetDriver): TargetConfiguration => ({ id, driver, overrides: {} });
const trials = (journal: Journal) => journal.filter((line) => line.startsWith('trial ')).map((line) => line.slice('trial '.length));
const point = (results: ResultsFile, key: string) => results.points.find((candidate) => candidate.key === key)!;

/** After every run: no lock, no ledger left in the state directory. */
async function assertStateDirectoryClean(): Promise<void> {
  assert.deepEqual(existsSync(stateDirectory) ? await readdir(stateDirectory) : [], []);
}

async function twoTargetRun(seed: number) {
  const journal: Journal = [];
  const live = new Map<string, FakeTarget>();
  const driver = fakeDriver(journal, live);
  const suite = fakeSuite('fake', journal, {
    runTrial: async (_point, context) => {
      // Only the target under test runs; the other is paused while it is measured.
      for (const target of live.values()) assert.equal(target.running, target.name === context.target.name, `${target.name} running during a trial on ${context.target.name}`);
      return undefined;
    },
  });
  const targets = [configuration('fake-a', driver), configuration('fake-b', driver)];
  const outcome = await runBench(benchOptions(targets, [suite], { seed }));
  const plan = buildPlan(['fake-a', 'fake-b'], ['fake'], { quick: true, cores: HOST.cores }, new Map(), 3, seed, new Map([['fake', suite]]));
  return { journal, outcome, plan };
}

test('every round runs every target x point once, in the order the seed shuffles; the same seed repeats it', async () => {
  const { journal, outcome, plan } = await twoTargetRun(7);
  const order = trials(journal);
  const keys = ['fake-a/fake/p1', 'fake-a/fake/p2', 'fake-b/fake/p1', 'fake-b/fake/p2'];
  assert.equal(order.length, 3 * keys.length);
  const rounds = [order.slice(0, 4), order.slice(4, 8), order.slice(8, 12)];
  for (const round of rounds) assert.deepEqual([...round].sort(), keys);
  assert.deepEqual(order, plan.rounds.flat().map((cell) => cell.key), 'the runner follows the planned, seeded order');
  assert.ok(new Set(rounds.map((round) => round.join())).size > 1, 'rounds are shuffled anew');

  const again = await twoTargetRun(7);
  assert.deepEqual(trials(again.journal), order, 'the same seed gives the same order');
  const other = await twoTargetRun(8);
  assert.notDeepEqual(trials(other.journal), order, 'another seed another order');

  const results = await readResultsFile(outcome.resultsPath);
  assert.equal(results.status, 'completed');
  for (const key of keys) {
    const result = point(results, key);
    assert.equal(result.status, 'ok');
    assert.deepEqual(result.trials.map((trial) => trial.repetition), [0, 1, 2]);
  }
  assert.ok(journal.includes('fake-a:teardown') && journal.includes('fake-b:teardown'));
  const runDirectory = journal[0]!.split(' ')[1]!;
  assert.ok(!existsSync(runDirectory), `the run directory ${runDirectory} is removed`);
  await assertStateDirectoryClean();
  assert.equal(process.listenerCount('SIGINT'), 0);
  assert.equal(process.listenerCount('SIGTERM'), 0);
});

test('a run with a private state directory makes its run directory beside it, never among the host\'s in /var/tmp', async () => {
  // A concurrent integration test's leftover check (and a concurrent `cleanup`, which holds only the
  // host's lock) would see a /var/tmp/isobench-run-* directory this test run made: one CI run failed so.
  const journal: Journal = [];
  const outcome = await runBench(benchOptions([configuration('fake-a', fakeDriver(journal, new Map()))], [fakeSuite('fake', journal)], { repetitions: 1 }));
  assert.equal(outcome.results.status, 'completed');
  const runDirectory = journal[0]!.split(' ')[1]!;
  assert.match(runDirectory, /\/isobench-run-[A-Za-z0-9]{6}$/);
  assert.equal(join(runDirectory, '..'), scratch, `${runDirectory} lies beside the state directory ${stateDirectory}`);
  assert.ok(!existsSync(runDirectory), 'and is removed');
  await assertStateDirectoryClean();
});

test('a target whose provisioning fails has its points failed with the reason; the other runs and is torn down', async () => {
  const journal: Journal = [];
  const live = new Map<string, FakeTarget>();
  const broken = fakeDriver(journal, live, 'no hypervisor here');
  const working = fakeDriver(journal, live);
  const suite = fakeSuite('fake', journal);
  const { resultsPath } = await runBench(benchOptions([configuration('broken', broken), configuration('working', working)], [suite]));
  const results = await readResultsFile(resultsPath);
  assert.equal(results.status, 'completed');
  assert.deepEqual(
    results.targets.map(({ target, state }) => [target, state]),
    [['broken', 'failed'], ['working', 'ready']],
  );
  for (const id of ['p1', 'p2']) {
    const failed = point(results, `broken/fake/${id}`);
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /provisioning failed: no hypervisor here/);
    assert.equal(failed.trials.length, 0);
    const ran = point(results, `working/fake/${id}`);
    assert.equal(ran.status, 'ok');
    assert.equal(ran.trials.length, 3);
  }
  assert.deepEqual(trials(journal).filter((key) => key.startsWith('broken/')), []);
  assert.equal(journal.filter((line) => line === 'working:teardown').length, 1);
  await assertStateDirectoryClean();
});

test('a trial that throws is a failed trial with the reason, not a crash', async () => {
  const journal: Journal = [];
  const suite = fakeSuite('fake', journal, {
    runTrial: async (point) => {
      if (point.id === 'p2') throw new Error('the tool crashed');
      return undefined;
    },
  });
  const { resultsPath } = await runBench(benchOptions([configuration('only', fakeDriver(journal, new Map()))], [suite]));
  const results = await readResultsFile(resultsPath);
  assert.equal(results.status, 'completed');
  const crashed = point(results, 'only/fake/p2');
  assert.equal(crashed.status, 'failed');
  assert.equal(crashed.trials.length, 3);
  for (const trial of crashed.trials) {
    assert.equal(trial.state, 'failed');
    assert.equal(trial.state === 'failed' ? trial.reason : '', 'the tool crashed');
  }
  assert.equal(point(results, 'only/fake/p1').status, 'ok');
  // Paused after the last trial as after any other, then resumed for finish and torn down.
  assert.deepEqual(journal.slice(-3), ['only:pause', 'only:resume', 'only:teardown']);
});

test('prepare that throws fails that target x suite only; what prepare returns reaches every trial and finish', async () => {
  const journal: Journal = [];
  const states = new Map<string, object>();
  const seen: string[] = [];
  const flaky = fakeSuite('flaky', journal, {
    prepare: async (context) => {
      if (context.target.name === 'fake-a') throw new Error('database did not start');
      const state = { preparedFor: context.target.name };
      states.set(context.target.name, state);
      return state;
    },
    runTrial: async (_point, context) => {
      assert.equal(context.state, states.get(context.target.name), 'the trial gets the very object prepare returned');
      seen.push(`trial ${context.target.name}`);
      return undefined;
    },
    finish: async (context, state) => {
      assert.equal(state, states.get(context.target.name));
      seen.push(`finish ${context.target.name}`);
    },
  });
  let outDirectory = '';
  const steady = fakeSuite('steady', journal, {
    runTrial: async (point, context) => {
      // Mid-run, the file must not call this suite's points failed for the other suite's prepare.
      const [file] = (await readdir(outDirectory)).filter((name) => name.endsWith('.json'));
      const onDisk = await readResultsFile(join(outDirectory, file!));
      assert.notEqual(onDisk.points.find((candidate) => candidate.key === `${context.target.name}/steady/${point.id}`)?.status, 'failed');
      return undefined;
    },
  });
  const driver = fakeDriver(journal, new Map());
  const options = benchOptions([configuration('fake-a', driver), configuration('fake-b', driver)], [flaky, steady], { repetitions: 1 });
  outDirectory = options.outDirectory;
  const { resultsPath } = await runBench(options);
  const results = await readResultsFile(resultsPath);
  for (const id of ['p1', 'p2']) {
    const failed = point(results, `fake-a/flaky/${id}`);
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /^preparing flaky on fake-a failed: database did not start$/);
    assert.equal(point(results, `fake-a/steady/${id}`).status, 'ok', 'the other suite still runs on that target');
    assert.equal(point(results, `fake-b/flaky/${id}`).status, 'ok');
  }
  assert.deepEqual(seen, ['trial fake-b', 'trial fake-b', 'finish fake-b']);
});

test('the results file is rewritten after every trial', async () => {
  const journal: Journal = [];
  const seenOnDisk: number[] = [];
  let outDirectory = '';
  const suite = fakeSuite('fake', journal, {
    runTrial: async () => {
      const [file] = (await readdir(outDirectory)).filter((name) => name.endsWith('.json'));
      const onDisk = await readResultsFile(join(outDirectory, file!));
      assert.equal(onDisk.status, 'running');
      seenOnDisk.push(onDisk.points.reduce((sum, candidate) => sum + candidate.trials.length, 0));
      return undefined;
    },
  });
  const driver = fakeDriver(journal, new Map());
  const options = benchOptions([configuration('fake-a', driver), configuration('fake-b', driver)], [suite], { repetitions: 2 });
  outDirectory = options.outDirectory;
  await runBench(options);
  assert.deepEqual(seenOnDisk, [0, 1, 2, 3, 4, 5, 6, 7], 'each trial sees every earlier trial on disk');
});

/**
 * The runner's exit seam for a signal test: when runBench calls exit, `snapshot` reads what stood then
 * (the real exit would end the process there); `called` settles once it has.
 */
function exitSeam<T>(snapshot: (code: number) => Promise<T>): { exit: (code: number) => void; called: Promise<void>; seen: () => T | undefined } {
  let seen: T | undefined;
  let done = () => {};
  const called = new Promise<void>((resolve) => (done = resolve));
  return {
    exit: (code) => {
      void snapshot(code).then((value) => {
        seen = value;
        done();
      });
    },
    called,
    seen: () => seen,
  };
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`${signal}: the file is marked interrupted, targets torn down, the lock released, then exit ${code}`, async () => {
    const journal: Journal = [];
    let resultsPath = '';
    let outDirectory = '';
    const seam = exitSeam(async (exitCode) => ({
      code: exitCode,
      results: await readResultsFile(resultsPath),
      stateFiles: existsSync(stateDirectory) ? await readdir(stateDirectory) : [],
      journal: [...journal],
    }));
    let count = 0;
    const suite = fakeSuite('fake', journal, {
      runTrial: async () => {
        if (++count !== 2) return undefined;
        resultsPath = join(outDirectory, (await readdir(outDirectory)).find((name) => name.endsWith('.json'))!);
        process.emit(signal, signal);
        await seam.called;
        return undefined;
      },
    });
    const driver = fakeDriver(journal, new Map());
    const options = benchOptions([configuration('fake-a', driver), configuration('fake-b', driver)], [suite], {
      seams: {
        host: HOST,
        createTopology: async () => FAKE_TOPOLOGY,
        exit: seam.exit,
      },
    });
    outDirectory = options.outDirectory;
    // The real exit ends the process here. The double returns, so runBench carries on against torn-down
    // targets and may settle either way: only what had happened when exit was called is asserted.
    await Promise.allSettled([runBench(options)]);
    const atExit = seam.seen();
    assert.ok(atExit, 'exit was called');
    assert.equal(atExit.code, code);
    assert.equal(atExit.results.status, 'interrupted');
    assert.equal(atExit.results.reason, `stopped by ${signal}`);
    assert.notEqual(atExit.results.finishedAt, null);
    assert.equal(atExit.results.points.reduce((sum, candidate) => sum + candidate.trials.length, 0), 1, 'the first trial was kept');
    assert.deepEqual(atExit.stateFiles, [], 'lock and ledger are gone before exit');
    assert.ok(atExit.journal.includes('fake-a:teardown') && atExit.journal.includes('fake-b:teardown'), 'both targets torn down before exit');
    const runDirectory = journal[0]!.split(' ')[1]!;
    assert.ok(!existsSync(runDirectory), 'the run directory is removed');
    assert.equal(trials(atExit.journal).length, 2);
    assert.equal(process.listenerCount('SIGINT'), 0);
    assert.equal(process.listenerCount('SIGTERM'), 0);
  });
}

test('SIGTERM while a trial starts its server: the server made mid-teardown is removed, and no ledger outlives the run', async () => {
  // Seen in CI: SIGTERM ~1 s after a trial ended; the next trial registered its server while the
  // teardown ran, the process exited with it in the ledger, and every later run refused to start.
  const journal: Journal = [];
  let registry: ProvisionContext['resources'] | undefined;
  const base = fakeDriver(journal, new Map());
  const driver: TargetDriver = {
    ...base,
    provision: async (context) => {
      registry = context.resources;
      // Slow to undo, so the trial below registers while undoAll runs.
      await context.resources.register(`slow resource of ${context.configuration}`, { kind: 'command', command: ['sleep', '0.4'] });
      return base.provision(context);
    },
  };
  const server = join(scratch, 'late-server');
  const seam = exitSeam(async () => ({ stateFiles: existsSync(stateDirectory) ? await readdir(stateDirectory) : [], serverLeft: existsSync(server) }));
  let count = 0;
  const suite = fakeSuite('fake', journal, {
    runTrial: async () => {
      if (++count !== 2) return undefined;
      process.emit('SIGTERM', 'SIGTERM');
      // The targets are torn down first, then undoAll begins with the slow resource.
      while (!journal.includes('fake-a:teardown')) await sleep(5);
      await sleep(100);
      await writeFile(server, '');
      await registry!.register('server started mid-teardown', { kind: 'path', path: server });
      await seam.called;
      return undefined;
    },
  });
  const options = benchOptions([configuration('fake-a', driver)], [suite], {
    seams: {
      host: HOST,
      createTopology: async () => FAKE_TOPOLOGY,
      exit: seam.exit,
    },
  });
  await Promise.allSettled([runBench(options)]);
  const atExit = seam.seen();
  assert.ok(atExit, 'exit was called');
  assert.deepEqual(atExit.stateFiles, [], 'no ledger at exit: the next run would refuse on it');
  assert.equal(atExit.serverLeft, false, 'the server registered mid-teardown is removed');
});

/** A completed outcome of the fake suite's headline metric. */
const scored = (value: number, point: SuitePoint): TrialOutcome => ({ state: 'completed', metrics: [{ name: SCORE.name, unit: SCORE.unit, value }], commands: [['fake', point.id]] });

/** Captures the progress line's texts; prints nothing. */
class CapturedProgress extends Progress {
  readonly updates: string[] = [];
  readonly lines: string[] = [];
  constructor() {
    super({ isTTY: false, write: () => true } as unknown as NodeJS.WriteStream);
  }
  override update(text: string): void {
    this.updates.push(text);
  }
  override log(text: string): void {
    this.lines.push(text);
  }
}

/** The keys each round of the file's `order` ran, flattened, must be what the journal saw. */
function assertOrderIsJournal(results: ResultsFile, journal: Journal): void {
  assert.deepEqual(results.order.flat(), trials(journal));
}

test('until decided: rounds are added for the undecided point and its baseline only, until it is decided', async () => {
  const journal: Journal = [];
  // p1 wobbles by up to ±6 % on both targets, out of step (undecided at n = 3 and 4, equivalent at 5
  // with the run's seed 7); p2 is constant (equivalent at once).
  const wobble = [1.06, 0.94, 1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.01, 0.99, 1.0, 1.0];
  const seen = new Map<string, number>();
  const suite = fakeSuite('fake', journal, {
    runTrial: async (point, context) => {
      const key = `${context.target.name}/${point.id}`;
      const index = seen.get(key) ?? 0;
      seen.set(key, index + 1);
      const shift = context.target.name === 'native' ? 0 : 5;
      return scored(point.id === 'p2' ? 100 : 100 * wobble[(index + shift) % wobble.length]!, point);
    },
  });
  const driver = fakeDriver(journal, new Map());
  const progress = new CapturedProgress();
  const { resultsPath } = await runBench(benchOptions([configuration('native', driver), configuration('fake-b', driver)], [suite], {
    progress,
    adaptive: { maxRepetitions: 12, budgetSeconds: null },
    command: ['--target', 'native,fake-b', '--until-decided'],
  }));
  const results = await readResultsFile(resultsPath);
  assert.equal(results.status, 'completed');
  assert.deepEqual(results.plan.adaptive, { maxRepetitions: 12, budgetSeconds: null });
  assert.deepEqual(results.plan.command, ['--target', 'native,fake-b', '--until-decided']);
  assert.equal(results.plan.baseline, 'native');
  assert.equal(point(results, 'fake-b/fake/p2').verdict?.verdict, 'equivalent');
  assert.equal(point(results, 'fake-b/fake/p2').trials.length, 3, 'a decided point is not run again');
  assert.equal(point(results, 'native/fake/p2').trials.length, 3, 'nor is its baseline');
  const chased = point(results, 'fake-b/fake/p1');
  assert.equal(chased.verdict?.verdict, 'equivalent');
  assert.equal(chased.trials.length, 5, 'two rounds were added');
  assert.equal(point(results, 'native/fake/p1').trials.length, chased.trials.length, 'the baseline point runs in every added round');
  assert.deepEqual(chased.trials.map((trial) => trial.repetition), chased.trials.map((_, index) => index));
  assert.deepEqual(chased.trials.map((trial) => trial.round), chased.trials.map((_, index) => index));
  assert.equal(results.order.length, chased.trials.length);
  for (const round of results.order.slice(3)) assert.deepEqual([...round].sort(), ['fake-b/fake/p1', 'native/fake/p1']);
  assert.equal(results.stopReason, 'all 2 compared point(s) decided');
  assertOrderIsJournal(results, journal);
  assert.ok(progress.lines.includes('stopped: all 2 compared point(s) decided'));
  assert.ok(progress.updates.some((line) => /^round 4 · until decided: 1 undecided, 1 chased, ≤ 12 reps · trial 1\/2 · (fake-b|native) · fake · p1$/.test(line)), progress.updates.join('\n'));
  assert.ok(progress.updates.some((line) => /^round 1\/3 then until decided · trial 1\/12 · (fake-b|native) · fake · p[12]$/.test(line)));
  // The adaptive rounds are counterbalanced too: round 4 (index 3) reverses round 3's order of these two points.
  const third = results.order[2]!.filter((key) => key.endsWith('/p1'));
  assert.deepEqual(results.order[3], [...third].reverse());
});

test('until decided: a point that would need more than --max-reps is not chased, and the file says why', async () => {
  const journal: Journal = [];
  // ±8 % noise: at n = 3 the verdicts want about 30 repetitions, more than --max-reps 5.
  const noise = [1.08, 0.92, 1.0];
  const counts = new Map<string, number>();
  const suite = fakeSuite('fake', journal, {
    runTrial: async (point, context) => {
      const key = `${context.target.name}/${point.id}`;
      const index = counts.get(key) ?? 0;
      counts.set(key, index + 1);
      return scored(100 * noise[(index + (context.target.name === 'native' ? 0 : 1)) % 3]!, point);
    },
  });
  const driver = fakeDriver(journal, new Map());
  const { results } = await runBench(benchOptions([configuration('native', driver), configuration('fake-b', driver)], [suite], { adaptive: { maxRepetitions: 5, budgetSeconds: null } }));
  assert.equal(results.order.length, 3, 'no round was added');
  const verdict = point(results, 'fake-b/fake/p1').verdict;
  assert.equal(verdict?.verdict, 'undecided');
  assert.ok(verdict?.verdict === 'undecided' && verdict.repetitionsNeeded !== null && verdict.repetitionsNeeded > 5, JSON.stringify(verdict));
  assert.equal(results.stopReason, 'nothing more can decide: 2 point(s) undecided (2 would need more than 5 repetitions)');
});

test('without --until-decided the run stops after its rounds and says so', async () => {
  const journal: Journal = [];
  const { results } = await runBench(benchOptions([configuration('fake-a', fakeDriver(journal, new Map()))], [fakeSuite('fake', journal)]));
  assert.equal(results.stopReason, 'all 3 round(s) of --reps 3 run');
  assert.equal(results.plan.adaptive, null);
  assert.equal(results.plan.baseline, 'fake-a', 'without native the first target is the baseline');
  assert.deepEqual(results.plan.pinning, { oversubscribed: true, cpuSets: null, reason: '2 cores: client, servers and targets share them, nothing is pinned (pinning needs 4 or more)' });
  assertOrderIsJournal(results, journal);
});

test('A/A: the one target is provisioned and prepared once and measured as two interleaved arms, the second judged against the first', async () => {
  const journal: Journal = [];
  const prepared: string[] = [];
  const suite = fakeSuite('fake', journal, {
    prepare: async (context) => {
      prepared.push(context.target.name);
      return { preparedFor: context.target.name };
    },
  });
  const driver = fakeDriver(journal, new Map());
  const { results } = await runBench(benchOptions([configuration('fake-a', driver)], [suite], { mode: 'aa', repetitions: 4 }));
  assert.equal(journal.filter((line) => line.includes(':provision ')).length, 1);
  assert.deepEqual(prepared, ['fake-a']);
  assert.equal(journal.filter((line) => line === 'fake-a:teardown').length, 1);
  assert.equal(results.plan.mode, 'aa');
  assert.deepEqual(results.plan.targets, ['fake-a', 'fake-a~aa']);
  assert.equal(results.plan.baseline, 'fake-a');
  assert.deepEqual(results.targets.map((facts) => facts.target), ['fake-a', 'fake-a~aa']);
  assert.deepEqual(results.points.map((candidate) => candidate.key), ['fake-a/fake/p1', 'fake-a~aa/fake/p1', 'fake-a/fake/p2', 'fake-a~aa/fake/p2']);
  for (const candidate of results.points) assert.equal(candidate.trials.length, 4);
  // Every trial ran on the one provisioned target; the arms interleave within each round.
  assert.deepEqual(trials(journal).sort(), Array.from({ length: 8 }, () => ['fake-a/fake/p1', 'fake-a/fake/p2']).flat().sort());
  assert.equal(results.order.flat().filter((key) => key.startsWith('fake-a~aa/')).length, 8);
  assert.equal(point(results, 'fake-a~aa/fake/p1').verdict?.verdict, 'equivalent', 'identical arms are equivalent');
  assert.equal(point(results, 'fake-a~aa/fake/p1').verdict?.baseline, 'fake-a');
  assert.equal(point(results, 'fake-a/fake/p1').verdict, undefined, 'the first arm is the baseline');
});

test('bad run settings are a UsageError before anything is created', async () => {
  const journal: Journal = [];
  const driver = fakeDriver(journal, new Map());
  const two = [configuration('fake-a', driver), configuration('fake-b', driver)];
  const cases: Array<[Partial<BenchOptions>, RegExp, TargetConfiguration[]]> = [
    [{ mode: 'aa' }, /^--aa measures one target against itself: name exactly one with --target, not 2$/, two],
    [{ baseline: 'kvm' }, /^--baseline kvm is not one of this run's targets \(fake-a, fake-b\): name one of them$/, two],
    [{ adaptive: { maxRepetitions: 10, budgetSeconds: null }, repetitions: 2 }, /^--until-decided needs at least 3 rounds before it judges/, two],
    [{ adaptive: { maxRepetitions: 4, budgetSeconds: null }, repetitions: 5 }, /^--max-reps 4 is below --reps 5: raise --max-reps$/, two],
  ];
  for (const [overrides, message, targets] of cases) {
    const options = benchOptions(targets, [fakeSuite('fake', journal)], overrides);
    await assert.rejects(runBench(options), (error: Error) => error.name === 'UsageError' && message.test(error.message));
    assert.ok(!existsSync(options.outDirectory), 'no results directory');
  }
  assert.deepEqual(journal, [], 'nothing provisioned');
  await assertStateDirectoryClean();
});

test('steal time is read around every trial, stored, flagged above --max-steal and noted in the reason', async () => {
  const journal: Journal = [];
  let stealTicks = 0;
  let totalTicks = 1_000;
  const suite = fakeSuite('fake', journal, {
    runTrial: async (point) => {
      // p2's trials lose 30 of the window's 100 ticks to the hypervisor, p1's 5.
      stealTicks += point.id === 'p2' ? 30 : 5;
      return undefined;
    },
  });
  const readSteal = async () => {
    totalTicks += 100;
    return { stealTicks, totalTicks };
  };
  const { results } = await runBench(benchOptions([configuration('fake-a', fakeDriver(journal, new Map()))], [suite], {
    maxStealPercent: 10,
    // The real host may be busy (its busy-host note is not what this test is about).
    quietHost: { maxWaitMs: 0, sampleMs: 5, busyThreshold: 1 },
    seams: { host: HOST, createTopology: async () => FAKE_TOPOLOGY, readSteal },
  }));
  for (const trial of point(results, 'fake-a/fake/p1').trials) assert.deepEqual(trial.steal, { fraction: 0.05, flagged: false });
  for (const trial of point(results, 'fake-a/fake/p2').trials) assert.deepEqual(trial.steal, { fraction: 0.3, flagged: true });
  assert.equal(point(results, 'fake-a/fake/p1').reason, undefined);
  assert.equal(point(results, 'fake-a/fake/p2').reason, '3 trial(s) lost CPU time to the hypervisor above the steal limit (up to 30.0 % steal)');
});

test('with 4 cores the client commands are pinned with taskset and the plan says only that', async () => {
  const journal: Journal = [];
  const wrapped: string[][] = [];
  const suite = fakeSuite('fake', journal, {
    runTrial: async (_point, context) => {
      wrapped.push(context.client.wrap(['iperf3', '-c', '198.18.0.2']));
      return undefined;
    },
  });
  const { results } = await runBench(benchOptions([configuration('fake-a', fakeDriver(journal, new Map()))], [suite], {
    repetitions: 1,
    seams: { host: { ...HOST, cores: 4 }, createTopology: async () => FAKE_TOPOLOGY },
  }));
  assert.deepEqual(wrapped, [
    ['fake-netns', 'taskset', '-c', '0', 'iperf3', '-c', '198.18.0.2'],
    ['fake-netns', 'taskset', '-c', '0', 'iperf3', '-c', '198.18.0.2'],
  ]);
  assert.deepEqual(results.plan.pinning.cpuSets, { client: '0', 'fake-a': '1-3' });
  assert.equal(results.plan.pinning.oversubscribed, false);
  assert.match(results.plan.pinning.reason, /^client commands pinned to CPU 0 \(taskset -c\); CPUs 1-3 planned for fake-a but not applied/);
});

/* ---- issue 13: runner paths, hung steps, resume, phases ---- */

/** Deadlines short enough for a test; every fake step takes well under a millisecond. */
const SHORT = { provisionMs: 200, prepareMs: 200, trialMs: 200, finishMs: 200, pauseMs: 200, teardownMs: 200, imageMs: 200 };

test('a target that will not resume for prepare fails that suite on that target only; the run goes on', async () => {
  const journal: Journal = [];
  let refusals = 0;
  const driver = fakeDriver(journal, new Map(), undefined, {
    resume: async (name) => {
      // The first resume of fake-a is its prepare's.
      if (name === 'fake-a' && refusals++ === 0) throw new Error('the container is gone');
    },
  });
  const progress = new CapturedProgress();
  const { results } = await runBench(benchOptions([configuration('fake-a', driver), configuration('fake-b', driver)], [fakeSuite('fake', journal)], { progress }));
  assert.equal(results.status, 'completed');
  for (const id of ['p1', 'p2']) {
    assert.equal(point(results, `fake-a/fake/${id}`).status, 'failed');
    assert.equal(point(results, `fake-a/fake/${id}`).reason, 'preparing fake on fake-a failed: the container is gone');
    assert.equal(point(results, `fake-b/fake/${id}`).status, 'ok');
    assert.equal(point(results, `fake-b/fake/${id}`).trials.length, 3);
  }
  assert.ok(progress.lines.includes('preparing fake on fake-a failed: the container is gone'));
  await assertStateDirectoryClean();
});

for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
  test(`a trial whose metric is ${bad} is one failed trial naming the metric, not a failed run`, async () => {
    const journal: Journal = [];
    let count = 0;
    const suite = fakeSuite('fake', journal, {
      runTrial: async (point, context) => (point.id === 'p2' && context.target.name === 'fake-a' && count++ === 1 ? scored(bad, point) : undefined),
    });
    const { results, resultsPath } = await runBench(benchOptions([configuration('fake-a', fakeDriver(journal, new Map()))], [suite]));
    assert.equal(results.status, 'completed');
    const trialsOfP2 = point(await readResultsFile(resultsPath), 'fake-a/fake/p2').trials;
    assert.deepEqual(trialsOfP2.map((trial) => trial.state), ['completed', 'failed', 'completed']);
    const failed = trialsOfP2[1]!;
    assert.equal(failed.state === 'failed' ? failed.reason : '', `metric score_ops is ${bad}, not a finite number: the fake trial's output gave no measurement`);
    assert.deepEqual(failed.commands, [['fake', 'p2']], 'the commands that produced it are kept');
    assert.equal(point(results, 'fake-a/fake/p2').status, 'ok', 'the two measured trials still make the point');
  });
}

test('a trial that throws is saved with the commands it ran, and with the failed command of a CommandFailedError', async () => {
  const journal: Journal = [];
  const suite = fakeSuite('fake', journal, {
    runTrial: async (point, context) => {
      if (point.id === 'p1') {
        await context.target.exec(['fio', '--name=randread']).catch(() => {});
        await context.client.exec(['sockperf', 'ping-pong']);
      }
      const outcome = { command: ['iperf3', '-c', '198.18.0.2'], ok: false, exitCode: 1, signal: null, timedOut: false, stdout: '', stderr: 'unable to connect', durationMs: 3 };
      throw new CommandFailedError(outcome);
    },
  });
  const { results } = await runBench(benchOptions([configuration('fake-a', fakeDriver(journal, new Map()))], [suite], { repetitions: 1 }));
  assert.equal(results.status, 'completed');
  const [first] = point(results, 'fake-a/fake/p1').trials;
  assert.equal(first?.state, 'failed');
  assert.equal(first?.state === 'failed' ? first.reason : '', 'the fake topology runs nothing');
  assert.deepEqual(first?.commands, [['fio', '--name=randread'], ['fake-netns', 'sockperf', 'ping-pong']]);
  const [second] = point(results, 'fake-a/fake/p2').trials;
  assert.equal(second?.state === 'failed' ? second.reason : '', '`iperf3 -c 198.18.0.2` exited with code 1: unable to connect');
  assert.deepEqual(second?.commands, [['iperf3', '-c', '198.18.0.2']]);
});

test('hung steps: provisioning, prepare, trial, finish, pause and teardown are cut off by their deadlines and the run goes on', async () => {
  const journal: Journal = [];
  const progress = new CapturedProgress();
  const driver = fakeDriver(journal, new Map(), undefined, {
    provision: async (name) => (name === 'boots-never' ? never() : undefined),
    pause: async (name) => (name === 'freezes-never' ? never() : undefined),
    teardown: async (name) => (name === 'fake-c' ? never() : undefined),
  });
  let hungTrial = false;
  const slow = fakeSuite('slow', journal, { prepare: async (context) => (context.target.name === 'fake-b' ? never() : undefined) });
  const steady = fakeSuite('steady', journal, {
    runTrial: async (point, context) => {
      if (context.target.name === 'fake-a' && point.id === 'p1' && !hungTrial) {
        hungTrial = true;
        return never();
      }
      return undefined;
    },
    finish: async (context) => (context.target.name === 'fake-c' ? never() : undefined),
  });
  const names = ['boots-never', 'freezes-never', 'fake-a', 'fake-b', 'fake-c'];
  const begin = performance.now();
  const { results } = await runBench(benchOptions(names.map((name) => configuration(name, driver)), [slow, steady], {
    progress,
    repetitions: 2,
    seams: { host: HOST, createTopology: async () => FAKE_TOPOLOGY, deadlines: SHORT },
  }));
  assert.ok(performance.now() - begin < 10_000, 'every hang was cut off');
  assert.equal(results.status, 'completed');
  const facts = new Map(results.targets.map((target) => [target.target, target]));
  assert.equal(facts.get('boots-never')?.reason, 'provisioning failed: provisioning boots-never did not finish within 200 ms: cut off (something in it stopped answering)');
  assert.equal(facts.get('freezes-never')?.reason, 'provisioning failed: pausing freezes-never did not finish within 200 ms: cut off (something in it stopped answering)');
  assert.ok(journal.includes('freezes-never:teardown'), 'a target that could not be paused after provisioning is torn down');
  assert.equal(point(results, 'fake-b/slow/p1').reason, 'preparing slow on fake-b failed: preparing slow on fake-b did not finish within 200 ms: cut off (something in it stopped answering)');
  assert.equal(point(results, 'fake-b/steady/p1').trials.length, 2, 'the other suite still runs on that target');
  // fake-a's hung trial is a failed trial, and fake-a runs nothing after it.
  const cut = results.points.filter((candidate) => candidate.target === 'fake-a').flatMap((candidate) => candidate.trials).filter((trial) => trial.state === 'failed');
  assert.equal(cut.length, 1);
  assert.equal(cut[0]?.state === 'failed' ? cut[0].reason : '', 'the trial fake-a/steady/p1 did not finish within 200 ms: cut off (something in it stopped answering)');
  const afterCut = trials(journal).slice(trials(journal).indexOf('fake-a/steady/p1') + 1);
  assert.deepEqual(afterCut.filter((key) => key.startsWith('fake-a/')), [], 'no trial on fake-a after its trial was cut off');
  assert.ok(progress.lines.some((line) => line.startsWith('fake-a: the trial fake-a/steady/p1 did not finish within 200 ms') && line.endsWith('the run goes on with the other targets')));
  for (const candidate of results.points.filter((entry) => entry.target === 'fake-a' && entry.trials.length === 0)) {
    assert.equal(candidate.status, 'failed');
    assert.match(candidate.reason ?? '', /^the trial fake-a\/steady\/p1 did not finish within 200 ms/);
  }
  for (const key of ['fake-c/slow/p1', 'fake-c/steady/p2']) assert.equal(point(results, key).trials.length, 2);
  assert.ok(progress.lines.includes('finishing steady on fake-c failed: finishing steady on fake-c did not finish within 200 ms: cut off (something in it stopped answering)'));
  assert.ok(progress.lines.some((line) => line.startsWith('tearing down fake-c did not finish within 200 ms')));
  await assertStateDirectoryClean();
});

test('every phase of a run is timed into the file: installs, host probe, provisioning, prepare, trials, finish and teardown', async () => {
  const journal: Journal = [];
  const driver = fakeDriver(journal, new Map());
  const { results } = await runBench(benchOptions([configuration('fake-a', driver), configuration('fake-b', driver)], [fakeSuite('fake', journal)], { repetitions: 1 }));
  assert.deepEqual(results.phases?.map((phase) => phase.name), [
    'installs', 'host probe', 'provision fake-a', 'provision fake-b', 'prepare fake on fake-a', 'prepare fake on fake-b', 'trials', 'finish and teardown',
  ]);
  for (const phase of results.phases ?? []) assert.ok(Number.isInteger(phase.ms) && phase.ms >= 0, JSON.stringify(phase));
});

test('the default matrix leaves out a target this host cannot run, saying why; a named one is refused before anything is created', async () => {
  const journal: Journal = [];
  const driver = fakeDriver(journal, new Map());
  const availability = async (candidate: TargetConfiguration) => (candidate.id === 'fake-b' ? 'no Docker daemon answers and dockerd cannot start' : null);
  const progress = new CapturedProgress();
  const { results } = await runBench(benchOptions([configuration('fake-a', driver), configuration('fake-b', driver)], [fakeSuite('fake', journal)], {
    defaultMatrix: true,
    progress,
    seams: { host: HOST, createTopology: async () => FAKE_TOPOLOGY, availability },
  }));
  assert.deepEqual(results.plan.targets, ['fake-a']);
  assert.equal(results.plan.baseline, 'fake-a');
  assert.ok(progress.lines.includes('leaving out fake-b: no Docker daemon answers and dockerd cannot start'));

  const named = benchOptions([configuration('fake-a', driver), configuration('fake-b', driver)], [fakeSuite('fake', journal)], {
    seams: { host: HOST, createTopology: async () => FAKE_TOPOLOGY, availability },
  });
  journal.length = 0;
  await assert.rejects(runBench(named), {
    name: 'UsageError',
    message: 'fake-b cannot run on this host: no Docker daemon answers and dockerd cannot start; fix that, or leave fake-b out of --target',
  });
  assert.deepEqual(journal, []);
  assert.ok(!existsSync(named.outDirectory), 'the results directory it created is removed again');
  await assertStateDirectoryClean();
});

/**
 * Runs until `afterTrials` trials have been recorded, then SIGINT during the next: the file is left
 * `interrupted` with those trials. Returns its path.
 */
async function interruptedRun(options: BenchOptions, suiteHooks: { count: number; stopAt: number }): Promise<string> {
  let resultsPath = '';
  let exited = () => {};
  const exitCalled = new Promise<void>((resolve) => (exited = resolve));
  options.seams = {
    ...options.seams,
    exit: () => exited(),
  };
  stopHook = async () => {
    if (++suiteHooks.count !== suiteHooks.stopAt) return;
    resultsPath = join(options.outDirectory, (await readdir(options.outDirectory)).find((name) => name.endsWith('.json'))!);
    process.emit('SIGINT', 'SIGINT');
    await exitCalled;
  };
  await Promise.allSettled([runBench(options)]);
  stopHook = async () => {};
  return resultsPath;
}
let stopHook: () => Promise<void> = async () => {};

test('--resume: an interrupted run finishes in its own file with the points, rounds and order an uninterrupted run has', async () => {
  const journal: Journal = [];
  const driver = fakeDriver(journal, new Map());
  const suite = fakeSuite('fake', journal, { runTrial: async () => (await stopHook(), undefined) });
  const targets = [configuration('fake-a', driver), configuration('fake-b', driver)];
  const whole = await runBench(benchOptions(targets, [suite], { seed: 11 }));

  journal.length = 0;
  const options = benchOptions(targets, [suite], { seed: 11 });
  const path = await interruptedRun(options, { count: 0, stopAt: 6 });
  const stopped = await readResultsFile(path);
  assert.equal(stopped.status, 'interrupted');
  assert.equal(stopped.points.reduce((sum, candidate) => sum + candidate.trials.length, 0), 5, 'five trials recorded, the sixth cut by the signal');

  journal.length = 0;
  const progress = new CapturedProgress();
  const resumed = await runBench({ ...benchOptions(targets, [suite], { seed: 11, progress }), resume: { path, results: stopped } });
  assert.equal(resumed.resultsPath, path, 'the same file');
  const results = await readResultsFile(path);
  assert.equal(results.status, 'completed');
  assert.equal(results.runId, stopped.runId);
  assert.equal(results.startedAt, stopped.startedAt);
  assert.deepEqual(results.points.map((candidate) => candidate.key), whole.results.points.map((candidate) => candidate.key));
  assert.deepEqual(results.order, whole.results.order, 'the planned rounds continued where they stopped, in the seeded order');
  for (const candidate of results.points) {
    assert.deepEqual(candidate.trials.map((trial) => [trial.repetition, trial.round]), [[0, 0], [1, 1], [2, 2]], candidate.key);
  }
  assert.deepEqual(trials(journal), whole.results.order.flat().slice(5), 'only what was not recorded ran again');
  assert.ok(progress.lines.some((line) => line.startsWith(`resuming run ${stopped.runId}: 4 points x 3 repetitions`)));
  assert.ok(progress.lines.includes('resuming: 5 trial(s) already recorded count toward the plan; 7 planned trial(s) left'));
  // The signal came during the trials phase: the interrupted file says how long it had run.
  assert.deepEqual(stopped.phases?.at(-1)?.name, 'trials');
  assert.equal(stopped.phases?.at(-1)?.incomplete, 'interrupted');
  assert.ok(stopped.phases.at(-1)!.ms > 0);
  const names = results.phases?.map((phase) => phase.name) ?? [];
  // The interrupted session's phases, its cut trials included, then the resumed session's, prefixed.
  assert.deepEqual(names.slice(0, 7), ['installs', 'host probe', 'provision fake-a', 'provision fake-b', 'prepare fake on fake-a', 'prepare fake on fake-b', 'trials']);
  assert.deepEqual(results.phases!.slice(0, 7), stopped.phases, 'the interrupted session\'s phases are kept as they were');
  assert.deepEqual(names.slice(7).filter((name) => !name.startsWith('resume 1: ')), [], names.join(', '));
  assert.ok(names.includes('resume 1: trials') && names.includes('resume 1: provision fake-a'), names.join(', '));
  assert.deepEqual(results.resumes?.map((entry) => entry.session), [1]);
  assert.ok(Date.parse(results.resumes[0]!.startedAt) >= Date.parse(stopped.finishedAt!), 'the resumed session started after the interrupted one ended');
  await assertStateDirectoryClean();

  await assert.rejects(runBench({ ...benchOptions(targets, [suite], { seed: 11 }), resume: { path, results } }), {
    name: 'UsageError',
    message: `${path} is a completed run: there is nothing to resume; start a new run with npm run bench`,
  });
});

test('--resume after a kill: the killed session wrote no trials phase; its trials\' time is added to its phases, marked recovered', async () => {
  const journal: Journal = [];
  const driver = fakeDriver(journal, new Map());
  const suite = fakeSuite('fake', journal, { runTrial: async () => (await stopHook(), undefined) });
  const targets = [configuration('fake-a', driver), configuration('fake-b', driver)];
  const path = await interruptedRun(benchOptions(targets, [suite], { seed: 11 }), { count: 0, stopAt: 6 });
  // A SIGKILL leaves the file as it was at the last trial: no phase after prepare (cleanup marks it interrupted).
  const signalled = await readResultsFile(path);
  const killed = { ...signalled, phases: signalled.phases!.filter((phase) => phase.name !== 'trials') };
  const trialsMs = killed.points.reduce((sum, point) => sum + point.trials.reduce((total, trial) => total + trial.durationMs, 0), 0);
  assert.ok(trialsMs > 0);
  await runBench({ ...benchOptions(targets, [suite], { seed: 11 }), resume: { path, results: killed } });
  const results = await readResultsFile(path);
  assert.equal(results.status, 'completed');
  assert.deepEqual(results.phases!.slice(0, 7), [...killed.phases, { name: 'trials', ms: Math.round(trialsMs), incomplete: 'recovered' }]);
  assert.ok(results.phases!.slice(7).every((phase) => phase.name.startsWith('resume 1: ')));
  await assertStateDirectoryClean();
});

test('--resume: a target that failed to provision last time is tried again; a finished target is not provisioned', async () => {
  const journal: Journal = [];
  let broken = true;
  const driver = fakeDriver(journal, new Map(), undefined, {
    provision: async (name) => {
      if (name === 'fake-b' && broken) throw new Error('no daemon');
    },
  });
  const suite = fakeSuite('fake', journal, { runTrial: async () => (await stopHook(), undefined) });
  const targets = [configuration('fake-a', driver), configuration('fake-b', driver)];
  // fake-b fails to provision; fake-a's 4 trials run and the signal comes during the last.
  const path = await interruptedRun(benchOptions(targets, [suite], { repetitions: 2 }), { count: 0, stopAt: 4 });
  const stopped = await readResultsFile(path);
  assert.equal(point(stopped, 'fake-b/fake/p1').status, 'failed');
  broken = false;
  journal.length = 0;
  const { results } = await runBench({ ...benchOptions(targets, [suite], { repetitions: 2 }), resume: { path, results: stopped } });
  assert.equal(results.status, 'completed');
  for (const candidate of results.points) assert.equal(candidate.trials.length, 2, candidate.key);
  assert.deepEqual(results.targets.map((facts) => [facts.target, facts.state]), [['fake-a', 'ready'], ['fake-b', 'ready']]);
  assert.deepEqual(journal.filter((line) => line.includes(':provision ')).map((line) => line.split(':')[0]), ['fake-a', 'fake-b']);
});

test('--resume: adaptive rounds continue under the same limits after an interruption inside them', async () => {
  const journal: Journal = [];
  const wobble = [1.06, 0.94, 1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.01, 0.99, 1.0, 1.0];
  const seen = new Map<string, number>();
  const suite = fakeSuite('fake', journal, {
    runTrial: async (point, context) => {
      await stopHook();
      const key = `${context.target.name}/${point.id}`;
      const index = seen.get(key) ?? 0;
      seen.set(key, index + 1);
      return scored(point.id === 'p2' ? 100 : 100 * wobble[(index + (context.target.name === 'native' ? 0 : 5)) % wobble.length]!, point);
    },
  });
  const driver = fakeDriver(journal, new Map());
  const targets = [configuration('native', driver), configuration('fake-b', driver)];
  const adaptive = { maxRepetitions: 12, budgetSeconds: null };
  // 12 planned trials, then adaptive rounds of 2: stop during the 14th.
  const path = await interruptedRun(benchOptions(targets, [suite], { adaptive }), { count: 0, stopAt: 14 });
  const stopped = await readResultsFile(path);
  assert.equal(stopped.order.length, 4, 'interrupted inside the first adaptive round');
  const { results } = await runBench({ ...benchOptions(targets, [suite], { adaptive }), resume: { path, results: stopped } });
  assert.equal(results.status, 'completed');
  assert.ok(results.stopReason, 'the loop says why it stopped');
  assert.ok(results.order.length > 4);
  for (const candidate of results.points) {
    assert.ok(candidate.trials.length <= 12, `${candidate.key} within --max-reps`);
    assert.deepEqual(candidate.trials.map((trial) => trial.repetition), candidate.trials.map((_, index) => index));
    for (const trial of candidate.trials) assert.ok(results.order[trial.round!]!.includes(candidate.key), 'each trial sits in the round it names');
  }
});

test('--resume is refused with one line on another host, for a plan that is not rebuilt the same, and after a crash until cleanup', async () => {
  const journal: Journal = [];
  const driver = fakeDriver(journal, new Map());
  const suite = fakeSuite('fake', journal, { runTrial: async () => (await stopHook(), undefined) });
  const targets = [configuration('fake-a', driver)];
  const path = await interruptedRun(benchOptions(targets, [suite]), { count: 0, stopAt: 2 });
  const stopped = await readResultsFile(path);
  const before = await readdir(join(path, '..'));
  journal.length = 0;

  const elsewhere = { ...HOST, hostname: 'elsewhere', kernel: '6.12.0' };
  await assert.rejects(runBench({ ...benchOptions(targets, [suite], { seams: { host: elsewhere, createTopology: async () => FAKE_TOPOLOGY } }), resume: { path, results: stopped } }), {
    name: 'UsageError',
    message: `${path} was measured on another host (hostname "unit-test" there, "elsewhere" here; kernel "6.1.0" there, "6.12.0" here): resume it on that host, or start a new run here`,
  });
  const threePoints: AnySuite = { ...suite, points: () => [...suite.points({ quick: true, cores: 2, options: {} }), { id: 'p3', params: { size: 3 }, headline: SCORE }] };
  await assert.rejects(runBench({ ...benchOptions(targets, [threePoints]), resume: { path, results: stopped } }), {
    name: 'UsageError',
    message: `cannot rebuild the plan of ${path}: its 2 points are 3 in the plan rebuilt here; resume it with the isobench that started it, or start a new run`,
  });
  // A dead run's ledger: the resume waits for cleanup.
  await mkdir(stateDirectory, { recursive: true });
  const ledger = join(stateDirectory, 'ledger-dead.json');
  await writeFile(ledger, JSON.stringify({ runId: 'dead', pid: 2 ** 22 + 12345, startedAt: '', resultsPath: path, resources: [] }));
  await assert.rejects(runBench({ ...benchOptions(targets, [suite]), resume: { path, results: stopped } }), {
    name: 'UsageError',
    message: `a crashed isobench run (pid ${2 ** 22 + 12345}) left 0 resource(s) behind: run \`npm run cleanup\` first`,
  });
  await rm(ledger);
  assert.deepEqual(journal, [], 'nothing provisioned');
  assert.deepEqual(await readdir(join(path, '..')), before, 'the file is untouched');
  assert.equal((await readResultsFile(path)).status, 'interrupted');
  await assertStateDirectoryClean();
});

test('a package two targets need is announced once, and a failed install is not tried again for the second target', async () => {
  const journal: Journal = [];
  const plain = fakeDriver(journal, new Map());
  const docker = { command: 'dockerd', debianPackage: 'docker.io', why: 'to run the Docker targets' };
  const dockerHost: TargetDriver = { ...plain, hostTools: [docker] };
  const dockerNat: TargetDriver = { ...plain, hostTools: [docker, { command: 'docker', debianPackage: 'docker.io', why: 'to remove containers after a crash' }] };
  const suite: AnySuite = { ...fakeSuite('fake', journal), hostTools: [{ command: 'fio', debianPackage: 'fio', why: 'for the fake suite' }] };
  const progress = new CapturedProgress();
  const installs: string[][] = [];
  const installed = new Set<string>();
  // apt-get installs all or nothing: a package that cannot be installed fails the whole command.
  const run = async (command: readonly string[]) => {
    if (command[1] !== 'install') return;
    installs.push(command.slice(5));
    if (command.includes('docker.io')) throw new Error('E: Unable to locate package docker.io');
    for (const name of command.slice(5)) installed.add(name);
  };
  const findExecutable = async (command: string) => (command === 'fio' && !installed.has('fio')) || command.startsWith('docker') ? null : `/usr/bin/${command}`;
  const { results } = await runBench(benchOptions([configuration('fake-a', plain), configuration('fake-docker-host', dockerHost), configuration('fake-docker-nat', dockerNat)], [suite], {
    defaultMatrix: true,
    progress,
    repetitions: 1,
    seams: { host: HOST, createTopology: async () => FAKE_TOPOLOGY, tools: { install: true, run, findExecutable } },
  }));
  assert.deepEqual(results.plan.targets, ['fake-a']);
  assert.deepEqual(progress.lines.filter((line) => line.startsWith('installing ')), [
    'installing fio: fio is needed for the fake suite',
    'installing docker.io: dockerd is needed to run the Docker targets; docker is needed to remove containers after a crash',
  ], progress.lines.join('\n'));
  // All at once; then, to find the target whose package fails, the suite's and the first Docker target's: not the second's.
  assert.deepEqual(installs, [['fio', 'docker.io'], ['fio'], ['docker.io']]);
  const leftOut = progress.lines.filter((line) => line.startsWith('leaving out '));
  assert.deepEqual(leftOut.map((line) => line.split(':')[0]), ['leaving out fake-docker-host', 'leaving out fake-docker-nat']);
  for (const line of leftOut) assert.match(line, /`apt-get install docker\.io` failed \(E: Unable to locate package docker\.io\)/);
  await assertStateDirectoryClean();
});

test('the default matrix installs every candidate\'s tools; one whose tools cannot be installed is left out, saying why', async () => {
  const journal: Journal = [];
  const plain = fakeDriver(journal, new Map());
  const needsDocker: TargetDriver = { ...plain, hostTools: [{ command: 'dockerd', debianPackage: 'docker.io', why: 'to run the Docker targets' }] };
  const progress = new CapturedProgress();
  const findExecutable = async (command: string) => (command === 'dockerd' ? null : `/usr/bin/${command}`);
  const { results } = await runBench(benchOptions([configuration('fake-a', plain), configuration('fake-docker', needsDocker)], [fakeSuite('fake', journal)], {
    defaultMatrix: true,
    progress,
    repetitions: 1,
    seams: { host: HOST, createTopology: async () => FAKE_TOPOLOGY, tools: { install: false, findExecutable } },
  }));
  assert.deepEqual(results.plan.targets, ['fake-a']);
  assert.ok(progress.lines.includes('leaving out fake-docker: dockerd is missing (needed to run the Docker targets): install it with `apt-get install docker.io`, or run `npm run bench` as root so isobench installs it'), progress.lines.join('\n'));
  // Named, the same target is a refusal before anything is created.
  await assert.rejects(runBench(benchOptions([configuration('fake-a', plain), configuration('fake-docker', needsDocker)], [fakeSuite('fake', journal)], {
    seams: { host: HOST, createTopology: async () => FAKE_TOPOLOGY, tools: { install: false, findExecutable } },
  })), { name: 'MissingToolError' });
  await assertStateDirectoryClean();
});

test('--budget bounds the planned rounds too: after the first, a round that would end past it is not started, and the file says why', async () => {
  const journal: Journal = [];
  // Each trial takes 100 ms: a round of 4 trials about 0.4 s, so a 0.6 s budget holds one round, not two.
  const suite = fakeSuite('fake', journal, { runTrial: async () => { await sleep(100); return undefined; } });
  const driver = fakeDriver(journal, new Map());
  const progress = new CapturedProgress();
  const { results } = await runBench(benchOptions([configuration('native', driver), configuration('fake-b', driver)], [suite], {
    progress,
    adaptive: { maxRepetitions: 10, budgetSeconds: 0.6 },
  }));
  assert.equal(results.status, 'completed');
  assert.equal(results.order.length, 1, 'only the first planned round ran');
  assert.deepEqual(results.points.map((entry) => entry.trials.length), [1, 1, 1, 1]);
  assert.match(results.stopReason ?? '', /^budget \S+: \S+ used after 1 of the 3 planned rounds, round 2 \(~\S+\) would end past it$/);
  assert.ok(progress.lines.includes(`stopped: ${results.stopReason}`));
  // Without the budget the same run runs its 3 rounds (and then until decided).
  const unbounded = await runBench(benchOptions([configuration('native', driver), configuration('fake-b', driver)], [suite], { adaptive: { maxRepetitions: 10, budgetSeconds: null } }));
  assert.ok(unbounded.results.order.length >= 3);
});

test('a point selection plans only those points, the plan keeps it, and --resume rebuilds the same points', async () => {
  const journal: Journal = [];
  const driver = fakeDriver(journal, new Map());
  const suite = fakeSuite('fake', journal);
  const { results } = await runBench(benchOptions([configuration('fake-a', driver)], [suite], { points: ['fake/p2'], repetitions: 2 }));
  assert.deepEqual(results.points.map((entry) => entry.key), ['fake-a/fake/p2']);
  assert.deepEqual(results.plan.points, ['fake/p2']);
  assert.deepEqual(trials(journal), ['fake-a/fake/p2', 'fake-a/fake/p2']);
  const all = await runBench(benchOptions([configuration('fake-a', driver)], [suite], { repetitions: 1 }));
  assert.equal(all.results.plan.points, undefined, 'a run of every point stores no selection');
});

test('the bootstrap\'s npm ci time is the run\'s first phase', async () => {
  process.env.ISOBENCH_NPM_CI_MS = '21834';
  const journal: Journal = [];
  const { results } = await runBench(benchOptions([configuration('fake-a', fakeDriver(journal, new Map()))], [fakeSuite('fake', journal)], { repetitions: 1 }));
  assert.deepEqual(results.phases?.[0], { name: 'npm ci', ms: 21834 });
  assert.equal(process.env.ISOBENCH_NPM_CI_MS, undefined);
});
