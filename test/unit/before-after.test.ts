import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exitCodeOf, UsageError } from '../../core/errors.js';
import { runReportCommand } from '../../reports/command.js';
import { writeResultsFile } from '../../results/store.js';
import { seededRandom } from '../../core/random.js';
import {
  compareBeforeAfter,
  comparePoint,
  describeSweep,
  permutationPValue,
  smallestPValue,
  type BeforeAfter,
  type PointComparison,
} from '../../results/before-after.js';
import { RANDOM_IO_METRICS } from '../../results/metrics.js';
import type { ResultsFile } from '../../results/schema.js';
import { FIXTURES, loadFixtures, standardNormal, withRepetitions, withScaledSamples } from '../fixtures/reports/derive.js';

// Derived from the real quick runs in test/fixtures/reports: every trial is a real one times a
// seeded lognormal factor, so each number below is the same on every run.

const [network, storage] = await loadFixtures();

/** The network run with 10 repetitions at the given noise, and its margin set. */
function networkRun(cv: number, seed: number, marginPercent = 5): ResultsFile {
  const file = withRepetitions(network!, 10, cv, seed);
  file.plan.marginPercent = marginPercent;
  return file;
}

/** The storage run with each fio job's declared headline (suites/random-io) and 10 repetitions. */
function storageRun(cv: number, seed: number): ResultsFile {
  const file = structuredClone(storage!);
  for (const point of file.points) {
    const definition = point.pointId === 'randread-latency' ? RANDOM_IO_METRICS.clatMean : RANDOM_IO_METRICS.iops;
    point.headline = { metric: definition.name, unit: definition.unit, direction: definition.direction };
  }
  return withRepetitions(file, 10, cv, seed);
}

const allPoints = (result: BeforeAfter): PointComparison[] => result.sweeps.flatMap((sweep) => sweep.points);

describe('before/after decisions', () => {
  test('a 20 % slowdown at 1 % noise is `changed` (worse) on every point and holds across every sweep', (t) => {
    const before = networkRun(0.01, 1);
    const after = withScaledSamples(networkRun(0.01, 2), 0.8, 'after');
    const result = compareBeforeAfter(before, after);
    assert.equal(allPoints(result).length, 4);
    for (const point of allPoints(result)) {
      const { decision } = point;
      assert.equal(decision.decision, 'changed', point.key);
      if (decision.decision !== 'changed') continue;
      assert.equal(decision.change, 'worse', point.key);
      assert.ok(decision.pValue < 0.01, `${point.key}: p ${decision.pValue}`);
      t.diagnostic(`${point.key}: ratio ${decision.ratio.toFixed(3)}, worse by ${decision.changePercent.toFixed(1)} %, p ${decision.pValue.toFixed(5)}`);
    }
    for (const sweep of result.sweeps) {
      assert.equal(sweep.verdict.verdict, 'holds', `${sweep.target} ${sweep.suite}`);
      assert.match(describeSweep(sweep), /^holds across the sweep \(2 of 2 points\): worse by /);
      t.diagnostic(`${sweep.suite}: ${describeSweep(sweep)}`);
    }
  });

  test('the same shift the other way is `better`, by the metric direction (throughput up, latency down)', () => {
    const result = compareBeforeAfter(networkRun(0.01, 1), withScaledSamples(networkRun(0.01, 2), 1.25, 'after'));
    assert.equal(allPoints(result).length, 4);
    for (const point of allPoints(result)) {
      assert.equal(point.decision.decision === 'changed' && point.decision.change, 'better', point.key);
    }
  });

  test('identical files are `unchanged` everywhere, with p = 1', () => {
    const before = networkRun(0.03, 1);
    const result = compareBeforeAfter(before, withScaledSamples(before, 1, 'again'));
    assert.equal(allPoints(result).length, 4);
    assert.equal(result.sweeps.length, 2);
    for (const point of allPoints(result)) {
      assert.equal(point.decision.decision, 'unchanged', point.key);
      if (point.decision.decision === 'unchanged') assert.equal(point.decision.pValue, 1, point.key);
    }
    for (const sweep of result.sweeps) assert.deepEqual(sweep.verdict, { verdict: 'no-change', decided: 2 });
    assert.deepEqual(result.hostDifferences, []);
  });

  test('a 20 % shift on one of six points is "only at some points", naming it', (t) => {
    const before = storageRun(0.01, 3);
    const after = withScaledSamples(storageRun(0.01, 4), 0.8, 'after', (point) => point.pointId === 'randread');
    const [sweep] = compareBeforeAfter(before, after).sweeps;
    assert.ok(sweep);
    assert.equal(sweep.points.length, 6);
    const verdict = sweep.verdict;
    assert.equal(verdict.verdict, 'some-points');
    if (verdict.verdict !== 'some-points') return;
    assert.deepEqual(verdict.changed.map((point) => [point.pointId, point.change]), [['randread', 'worse']]);
    assert.equal(verdict.decided, 6);
    t.diagnostic(describeSweep(sweep));
    assert.match(describeSweep(sweep), /^only at some points \(randread: worse by 20\.\d %; 1 of 6 points\)$/);
  });

  test('a 2 % shift with a 5 % margin is never called, though the test alone would call it', (t) => {
    let significant = 0;
    let compared = 0;
    for (let seed = 0; seed < 10; seed++) {
      const before = networkRun(0.005, 100 + seed);
      const after = withScaledSamples(networkRun(0.005, 200 + seed), 0.98, 'after');
      for (const point of allPoints(compareBeforeAfter(before, after))) {
        compared++;
        assert.equal(point.decision.decision, 'unchanged', point.key);
        if (point.decision.decision === 'unchanged' && point.decision.significant) significant++;
      }
    }
    t.diagnostic(`${significant} of ${compared} 2 % shifts had p < 0.01 and were held back by the 5 % floor`);
    assert.ok(significant > compared / 2, `${significant} of ${compared}`);
  });

  test('the floor is the larger of the AFTER plan\'s margin and noise floor', () => {
    const before = networkRun(0.01, 1, 5);
    const after = withScaledSamples(networkRun(0.01, 2, 5), 0.9, 'after');
    const unfloored = allPoints(compareBeforeAfter(before, after));
    assert.equal(unfloored.length, 4);
    assert.ok(unfloored.every((point) => point.decision.decision === 'changed'));
    after.plan.noiseFloorPercent = 12;
    const result = compareBeforeAfter(before, after);
    assert.equal(result.floorPercent, 12);
    assert.equal(allPoints(result).length, 4);
    assert.ok(allPoints(result).every((point) => point.decision.decision === 'unchanged' && point.decision.significant && !point.decision.beyondFloor));
  });
});

describe('what cannot be compared', () => {
  test('a point missing in one file, too few samples, and another headline metric each say why', () => {
    const before = networkRun(0.01, 1);
    const after = withScaledSamples(networkRun(0.01, 2), 0.8, 'after');
    after.points = after.points.filter((point) => point.pointId !== 'server-to-client');
    const udp = after.points.find((point) => point.pointId === 'udp')!;
    udp.trials = udp.trials.slice(0, 1);
    const tcp = after.points.find((point) => point.pointId === 'tcp')!;
    tcp.headline = { metric: 'latency_p99_us', unit: 'µs', direction: 'lower' };
    const byId = new Map(allPoints(compareBeforeAfter(before, after)).map((point) => [point.pointId, point.decision]));
    const reason = (id: string) => {
      const decision = byId.get(id);
      assert.equal(decision?.decision, 'not-comparable', id);
      return decision.decision === 'not-comparable' ? `${decision.cause}: ${decision.reason}` : '';
    };
    assert.match(reason('server-to-client'), /^missing: only in BEFORE/);
    assert.match(reason('udp'), /^too-few-samples: .*before 10, after 1/);
    assert.match(reason('tcp'), /^different-headline: .*latency_mean_us.*latency_p99_us/);
    assert.equal(byId.get('client-to-server')?.decision, 'changed');
  });

  test('points from files without declared headlines are not comparable, not silently unchanged', () => {
    const result = compareBeforeAfter(storage!, withScaledSamples(storage!, 0.5, 'after'));
    assert.equal(allPoints(result).length, 6);
    for (const point of allPoints(result)) assert.equal(point.decision.decision === 'not-comparable' && point.decision.cause, 'no-headline', point.key);
    assert.deepEqual(result.sweeps.map((sweep) => sweep.verdict.verdict), ['not-comparable']);
  });

  test('3 trials a side cannot reach p < 0.01, so even a 50 % change is not comparable rather than unchanged', () => {
    const decision = comparePoint([10, 10.1, 9.9], [5, 5.1, 4.9], { metric: 'iops', unit: 'IOPS', direction: 'higher', floorPercent: 5, seed: 1 });
    assert.equal(decision.decision, 'not-comparable');
    assert.match(decision.decision === 'not-comparable' ? decision.reason : '', /smallest p .* is 0\.10.*at least 5 repetitions/);
  });

  test('different hosts are named (CPU, kernel, cores), and do not stop the comparison', () => {
    const before = networkRun(0.01, 1);
    const after = withScaledSamples(networkRun(0.01, 2), 0.8, 'after');
    after.host.kernel = '6.8.0-upgraded';
    after.host.cores = 4;
    const result = compareBeforeAfter(before, after);
    assert.deepEqual(result.hostDifferences, [
      { field: 'kernel', before: before.host.kernel, after: '6.8.0-upgraded' },
      { field: 'cores', before: String(before.host.cores), after: '4' },
    ]);
    assert.equal(allPoints(result).length, 4);
    assert.ok(allPoints(result).every((point) => point.decision.decision === 'changed'));
  });
});

describe('the permutation test', () => {
  test('identical samples give p = 1', () => {
    const samples = [9.41, 9.62, 9.38, 9.55, 9.47];
    assert.equal(permutationPValue(samples, [...samples], 10_000, 1), 1);
  });

  test('the same samples and seed give the same p; a complete separation at 5 a side gives about 2/252', () => {
    const before = [10.3, 10.1, 9.7, 10.0, 9.9];
    const after = [12.1, 11.8, 12.4, 12.0, 11.9];
    const p = permutationPValue(before, after, 10_000, 7);
    assert.equal(permutationPValue(before, after, 10_000, 7), p);
    assert.ok(Math.abs(p - 2 / 252) < 0.003, `p ${p}`);
    assert.ok(Math.abs(smallestPValue(5, 5) - 2 / 252) < 1e-12);
    assert.ok(Math.abs(smallestPValue(3, 3) - 0.1) < 1e-12);
  });

  test('A/A: 500 comparisons of one lognormal (CV 5 %, n = 10 a side) have p < 0.01 about 1 % of the time', (t) => {
    const random = seededRandom(20050101);
    const draw = () => Array.from({ length: 10 }, () => 100 * Math.exp(0.05 * standardNormal(random)));
    let rejected = 0;
    for (let index = 0; index < 500; index++) if (permutationPValue(draw(), draw(), 2000, index) < 0.01) rejected++;
    t.diagnostic(`${rejected} of 500 A/A comparisons had p < 0.01`);
    assert.ok(rejected <= 15, `${rejected} of 500`);
  });
});

describe('npm run report -- BEFORE AFTER', () => {
  /** Writes the derived runs into a fresh directory; returns their paths and a cleanup. */
  async function files(...runs: ResultsFile[]): Promise<{ paths: string[]; directory: string }> {
    const directory = await mkdtemp(join(tmpdir(), 'isobench-before-after-'));
    const paths: string[] = [];
    for (const [index, run] of runs.entries()) {
      const path = join(directory, `run-${index}.json`);
      await writeResultsFile(path, run);
      paths.push(path);
    }
    return { paths, directory };
  }

  function capture() {
    const lines = { out: [] as string[], err: [] as string[] };
    return { lines, output: { print: (line: string) => lines.out.push(line), warn: (line: string) => lines.err.push(line) } };
  }

  test('writes a page with the before/after section and prints a short summary, then the path', async (t) => {
    const before = networkRun(0.01, 1);
    const after = withScaledSamples(networkRun(0.01, 2), 0.8, 'after-upgrade');
    after.host.kernel = '6.8.0-upgraded';
    const { paths, directory } = await files(before, after);
    const out = join(directory, 'report.html');
    const { lines, output } = capture();
    assert.equal(await runReportCommand([...paths, '--out', out], undefined, output), 0);
    t.diagnostic(['', ...lines.err, ...lines.out].join('\n'));
    assert.equal(lines.out.at(-1), out);
    assert.ok(lines.out.length <= 20, `${lines.out.length} lines`);
    assert.match(lines.out.join('\n'), /native tcp-bulk +holds across the sweep \(2 of 2 points\): worse by/);
    assert.deepEqual(lines.err.length, 1);
    assert.match(lines.err[0]!, /^warning: the two runs measured different hosts \(kernel .* -> 6\.8\.0-upgraded\)/);
    const page = await readFile(out, 'utf8');
    assert.match(page, /<section id="before-after"><h2>Before \/ after<\/h2>/);
    assert.equal(page.match(/<tr class="ba-worse">/g)?.length, 4);
    assert.match(page, /class="ba-verdict ba-worse">holds across the sweep/);
    assert.match(page, /kernel: .* → 6\.8\.0-upgraded/);
    assert.doesNotMatch(page, /beyond noise/, 'the CI-overlap table gives way to the decision');
    await rm(directory, { recursive: true });
  });

  test('one file keeps the plain report: no summary, no section', async () => {
    const { paths, directory } = await files(networkRun(0.01, 1));
    const { lines, output } = capture();
    assert.equal(await runReportCommand([paths[0]!, '--format', 'csv', '--out', join(directory, 'csv')], undefined, output), 0);
    assert.deepEqual(lines, { out: [join(directory, 'csv')], err: [] });
    await rm(directory, { recursive: true });
  });

  test('bad input is one line that says what to do, exit code 2', async () => {
    const { paths, directory } = await files(networkRun(0.01, 1), withScaledSamples(networkRun(0.01, 2), 0.8, 'after'));
    const copy = join(directory, 'copy.json');
    await writeFile(copy, await readFile(paths[0]!, 'utf8'));
    const notResults = new URL(import.meta.url).pathname;
    for (const [why, argv, message] of [
      ['three files', [...paths, FIXTURES.network], /^3 results files given: name one for a report, or two \(BEFORE AFTER\)/],
      ['the same file twice', [paths[0]!, paths[0]!], /^BEFORE and AFTER are the same file .*: name the results of two different runs/],
      ['a copy of the same run', [paths[0]!, copy], /^BEFORE and AFTER hold the same run/],
      ['a missing file', [paths[0]!, join(directory, 'missing.json')], /cannot be read \(ENOENT\); name two results files written by npm run bench, BEFORE then AFTER$/],
      ['a file that is not results', [notResults, paths[1]!], /is not JSON .*; name two results files written by npm run bench/],
    ] as const) {
      await assert.rejects(runReportCommand([...argv, '--format', 'csv', '--out', join(directory, 'csv')], undefined, capture().output), (error: unknown) => {
        assert.ok(error instanceof UsageError, why);
        assert.equal(exitCodeOf(error), 2, why);
        assert.doesNotMatch(error.message, /\n/, why);
        assert.match(error.message, message, why);
        return true;
      });
    }
    await rm(directory, { recursive: true });
  });
});
