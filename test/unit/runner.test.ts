/**
 * runBench with a fake driver, a fake suite and a fake topology: no root, no network, no Docker or
 * QEMU. The lock and the ledger live in a temporary ISOBENCH_STATE_DIR; the quiet-host check samples
 * for a few ms and never waits.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
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
import { readResultsFile } from '../../results/store.js';

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

/** A driver whose targets record pause/resume/teardown; `failProvision` makes provision throw it. */
function fakeDriver(journal: Journal, live: Map<string, FakeTarget>, failProvision?: string): TargetDriver {
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
          target.running = false;
          journal.push(`${name}:pause`);
        },
        resume: async () => {
          target.running = true;
          journal.push(`${name}:resume`);
        },
        teardown: async () => {
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
      for (const target of live.values()) assert.equal(target.running, target === context.target, `${target.name} running during a trial on ${context.target.name}`);
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
    assert.match(failed.reason ?? '', /preparing flaky failed: database did not start/);
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

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`${signal}: the file is marked interrupted, targets torn down, the lock released, then exit ${code}`, async () => {
    const journal: Journal = [];
    let resultsPath = '';
    let outDirectory = '';
    let atExit: { code: number; results: ResultsFile; stateFiles: string[]; journal: Journal } | undefined;
    let exited = () => {};
    const exitCalled = new Promise<void>((resolve) => (exited = resolve));
    let count = 0;
    const suite = fakeSuite('fake', journal, {
      runTrial: async () => {
        if (++count !== 2) return undefined;
        resultsPath = join(outDirectory, (await readdir(outDirectory)).find((name) => name.endsWith('.json'))!);
        process.emit(signal, signal);
        await exitCalled;
        return undefined;
      },
    });
    const driver = fakeDriver(journal, new Map());
    const options = benchOptions([configuration('fake-a', driver), configuration('fake-b', driver)], [suite], {
      seams: {
        host: HOST,
        createTopology: async () => FAKE_TOPOLOGY,
        exit: (exitCode) => {
          void (async () => {
            atExit = {
              code: exitCode,
              results: await readResultsFile(resultsPath),
              stateFiles: existsSync(stateDirectory) ? await readdir(stateDirectory) : [],
              journal: [...journal],
            };
            exited();
          })();
        },
      },
    });
    outDirectory = options.outDirectory;
    // The real exit ends the process here. The double returns, so runBench carries on against torn-down
    // targets and may settle either way: only what had happened when exit was called is asserted.
    await Promise.allSettled([runBench(options)]);
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
