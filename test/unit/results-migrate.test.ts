import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { upgradeResults } from '../../results/migrate.js';
import { parseResultsFile, ResultsFormatError } from '../../results/schema.js';
import { readResultsFile } from '../../results/store.js';
import { FIXTURES } from '../fixtures/reports/derive.js';
import { REPO_ROOT } from '../helpers.js';

/** The real 3-repetition run as written by isobench 0.1: schema version 1, no verdicts. */
const raw = JSON.parse(await readFile(FIXTURES.realThreeReps, 'utf8'));

interface RawPoint {
  key: string;
  target: string;
  suite: string;
  pointId: string;
  headline: { metric: string };
  trials: { state: string; metrics?: { name: string; value: number }[] }[];
}

/** A point's headline samples read straight from the JSON, not through isobench's own helpers. */
function samples(point: RawPoint): number[] {
  return point.trials.flatMap((trial) => (trial.metrics ?? []).filter((metric) => metric.name === point.headline.metric).map((metric) => metric.value));
}
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

describe('reading a version 1 results file', () => {
  it('is a version 1 file with no verdicts on disk', () => {
    assert.equal(raw.version, 1);
    assert.ok(raw.points.length > 0);
    assert.ok(raw.points.every((point: object) => !('verdict' in point)));
    assert.equal(raw.plan.mode, undefined);
  });

  it('reads as version 2: the plan gains its defaults, the command and order are unknown', async () => {
    const file = await readResultsFile(FIXTURES.realThreeReps);
    assert.equal(file.version, 2);
    assert.equal(file.plan.mode, 'compare');
    assert.equal(file.plan.baseline, 'native');
    assert.equal(file.plan.marginPercent, 5);
    assert.equal(file.plan.noiseFloorPercent, null);
    assert.equal(file.plan.adaptive, null);
    assert.deepEqual(file.plan.command, []);
    assert.deepEqual(file.order, []);
    // 2 cores: not enough to pin client, server and target apart.
    assert.equal(file.plan.pinning.oversubscribed, true);
    assert.equal(file.points.length, raw.points.length);
  });

  it('every candidate point carries a verdict whose ratio is the ratio of the raw means; baseline points none', async () => {
    const file = await readResultsFile(FIXTURES.realThreeReps);
    const rawByKey = new Map<string, RawPoint>((raw.points as RawPoint[]).map((point) => [point.key, point]));
    let candidates = 0;
    for (const point of file.points) {
      if (point.target === 'native') {
        assert.equal(point.verdict, undefined, point.key);
        continue;
      }
      candidates++;
      const verdict = point.verdict;
      assert.ok(verdict, `${point.key} has a verdict`);
      assert.equal(verdict.baseline, 'native');
      assert.equal(verdict.metric, rawByKey.get(point.key)!.headline.metric);
      assert.deepEqual(verdict.n, { baseline: 3, candidate: 3 });
      const candidate = samples(rawByKey.get(point.key)!);
      const baseline = samples(rawByKey.get(`native/${point.suite}/${point.pointId}`)!);
      assert.equal(candidate.length, 3);
      assert.ok(Math.abs(verdict.ratio! - mean(candidate) / mean(baseline)) < 1e-12, `${point.key}: ratio ${verdict.ratio}`);
      assert.ok(verdict.verdict !== 'not-comparable', point.key);
      assert.ok(verdict.ci95[0] < verdict.ratio && verdict.ratio < verdict.ci95[1], `${point.key}: the ratio lies inside its interval`);
    }
    assert.equal(candidates, 16);
    // docker-nat's UDP round trip: 78.9 µs against 63.8 µs, an interval that excludes 1.
    const udp = file.points.find((point) => point.key === 'docker-nat/tcp-rr/udp')!.verdict!;
    assert.equal(udp.verdict, 'slower');
    assert.ok(udp.verdict === 'slower' && Math.abs(udp.effectPercent - 23.6) < 0.05, `effect ${JSON.stringify(udp)}`);
    // With a CV of 7–40 % and 3 repetitions, everything else is undecided.
    assert.equal(file.points.filter((point) => point.verdict?.verdict === 'undecided').length, 15);
  });

  it('a version 2 file reads back unchanged', async () => {
    const file = await readResultsFile(FIXTURES.realThreeReps);
    assert.deepEqual(upgradeResults(JSON.parse(JSON.stringify(file)), 'v2.json'), parseResultsFile(JSON.parse(JSON.stringify(file)), 'v2.json'));
  });
});

describe('versions this isobench cannot read', () => {
  it('version 99 says a newer isobench wrote it, from a file on disk too', async () => {
    const future = { ...raw, version: 99 };
    assert.throws(
      () => upgradeResults(future, 'future.json'),
      (error: unknown) =>
        error instanceof ResultsFormatError &&
        error.exitCode === 2 &&
        /^future\.json is not a valid isobench results file: schema version 99 was written by a newer isobench/.test(error.message) &&
        /upgrade isobench/.test(error.message),
    );
    const directory = await mkdtemp(join(tmpdir(), 'isobench-migrate-'));
    const path = join(directory, 'future.json');
    await writeFile(path, JSON.stringify(future));
    await assert.rejects(readResultsFile(path), (error: unknown) => error instanceof ResultsFormatError && /newer isobench/.test(error.message));
    await rm(directory, { recursive: true });
  });

  it('a version that is not a number is rejected, not mistaken for a newer one', () => {
    assert.throws(
      () => upgradeResults({ ...raw, version: 'abc' }, 'odd.json'),
      (error: unknown) =>
        error instanceof ResultsFormatError && /schema version abc is not supported/.test(error.message) && !/newer/.test(error.message),
    );
  });

  it('another schema is rejected', () => {
    assert.throws(() => upgradeResults({ ...raw, schema: 'someone-else/results' }, 'other.json'), ResultsFormatError);
    assert.throws(() => upgradeResults([raw], 'array.json'), /is not a JSON object/);
  });

  it('JSON that is no results file is said to be none, not a results file of another schema version', async () => {
    // package.json's own `version` read as a schema version: "schema version 0.1.0 is not supported".
    assert.throws(
      () => upgradeResults({ name: 'isobench', version: '0.1.0' }, 'package.json'),
      (error: unknown) =>
        error instanceof ResultsFormatError &&
        error.exitCode === 2 &&
        /^package\.json is not an isobench results file \(it has no "schema": "isobench\/results" field/.test(error.message) &&
        !/schema version/.test(error.message),
    );
    // A results file that lost its schema field is a damaged one: the schema names the field.
    const unnamed = JSON.parse(await readFile(join(REPO_ROOT, 'test/fixtures/results/lab-native-network-2reps.json'), 'utf8')) as Record<string, unknown>;
    delete unnamed.schema;
    assert.throws(() => upgradeResults(unnamed, 'run.json'), (error: unknown) => error instanceof ResultsFormatError && /^run\.json is not a valid isobench results file: schema: /.test(error.message));
  });
});
