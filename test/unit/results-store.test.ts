import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { summarizePoint } from '../../harness/point-summary.js';
import { parseResultsFile, ResultsFormatError, type ResultsFile, type TrialRecord } from '../../results/schema.js';
import { readResultsFile, ResultsStore } from '../../results/store.js';
import { summaryRows, SUMMARY_COLUMNS, toCsv, toTable } from '../../results/table.js';

const FIXTURE = new URL('../fixtures/results/native-network-1rep.json', import.meta.url);
const realRun = async (): Promise<ResultsFile> => readResultsFile(FIXTURE.pathname);

test('a real run\'s results file validates, and every point is ok with summaries', async () => {
  const results = await realRun();
  assert.equal(results.status, 'completed');
  assert.ok(results.points.length > 0);
  for (const point of results.points) {
    assert.equal(point.status, 'ok');
    assert.ok(point.summaries.length > 0);
  }
});

test('malformed files are clear errors naming the file and the field', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-test-'));
  const broken = join(directory, 'broken.json');
  await writeFile(broken, '{"schema": "isobench/results", "version": 1, "runId": 7}');
  await assert.rejects(readResultsFile(broken), (error: unknown) => error instanceof ResultsFormatError && /broken\.json.*runId/.test(error.message));
  await writeFile(broken, 'not json');
  await assert.rejects(readResultsFile(broken), /is not JSON/);
  await assert.rejects(readResultsFile(join(directory, 'absent.json')), /cannot be read \(ENOENT\)/);
  const future = { ...(await realRun()), version: 99 };
  assert.throws(() => parseResultsFile(future, 'future.json'), /schema version 99 is not supported/);
});

test('the store writes atomically after each update and leaves no temp file', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-test-'));
  const initial = { ...(await realRun()), runId: 'test-run', status: 'running' as const, finishedAt: null };
  const store = await ResultsStore.create(directory, initial);
  await store.update((draft) => {
    draft.status = 'completed';
  });
  assert.deepEqual(await readdir(directory), ['test-run.json']);
  assert.equal(JSON.parse(await readFile(store.path, 'utf8')).status, 'completed');
  // An update that would make the file invalid is refused, and the file on disk stays valid.
  await assert.rejects(store.update((draft) => {
    (draft as { runId: unknown }).runId = 42;
  }), ResultsFormatError);
  assert.equal((await readResultsFile(store.path)).runId, 'test-run');
});

function trial(value: number, repetition: number): TrialRecord {
  return {
    state: 'completed', repetition, startedAt: '2026-11-25T00:00:00Z', durationMs: 1000, commands: [['true']],
    metrics: [{ name: 'iops', unit: 'IOPS', value }, { name: 'clat_p99_us', unit: 'µs', value: value / 100 }],
  };
}

test('point summary: ok, noisy above the CV threshold, failed trials kept and counted', async () => {
  const point = { key: 'native/random-io/randread', target: 'native', suite: 'random-io', pointId: 'randread', params: {}, trials: [], summaries: [], status: 'pending' as const };
  const steady = summarizePoint({ ...point, trials: [trial(1000, 0), trial(1010, 1), trial(990, 2)] }, 0.05);
  assert.equal(steady.status, 'ok');
  assert.equal(steady.summaries[0]!.metric, 'iops');
  assert.equal(steady.summaries[0]!.mean, 1000);
  const noisy = summarizePoint({ ...point, trials: [trial(500, 0), trial(1500, 1)] }, 0.05);
  assert.equal(noisy.status, 'noisy');
  assert.match(noisy.reason ?? '', /iops varies by 70\.7 %/);
  const failedTrial: TrialRecord = { state: 'failed', reason: 'fio exited with code 1', repetition: 1, startedAt: '', durationMs: 1, commands: [] };
  const partly = summarizePoint({ ...point, trials: [trial(1000, 0), failedTrial] }, 0.05);
  assert.equal(partly.status, 'ok');
  assert.match(partly.reason ?? '', /1 of 2 trials failed: fio exited/);
  const failed = summarizePoint({ ...point, trials: [failedTrial] }, 0.05);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.reason, 'fio exited with code 1');
});

test('summary rows carry the documented columns; CSV quotes what needs quoting', async () => {
  const results = await realRun();
  const rows = summaryRows(results);
  assert.equal(rows.length, results.points.reduce((sum, point) => sum + point.summaries.length, 0));
  for (const column of ['target', 'suite', 'metric', 'params', 'unit', 'n', 'mean', 'ci95_low', 'ci95_high', 'status']) {
    assert.ok((SUMMARY_COLUMNS as readonly string[]).includes(column), column);
  }
  const csv = toCsv(rows);
  assert.ok(csv.startsWith('target,suite,point,metric,params,unit,n,mean,sd,ci95_low,ci95_high,cv,status,reason,ratio,ratio_low,ratio_high,verdict\n'));
  assert.match(csv, /native,tcp-bulk,client-to-server,throughput_gbps,direction=client-to-server;streams=1;seconds=4,Gbit\/s,1,/);
  // A native-only run has no verdicts: the four verdict cells are empty, never 0.
  for (const line of csv.trim().split('\n').slice(1)) assert.ok(line.endsWith(',,,,'), line);
  assert.match(toCsv([{ ...rows[0]!, reason: 'a "quoted", reason' }]), /"a ""quoted"", reason"/);
  assert.match(toTable(rows), /^target\s+suite\s+point\s+metric/);
});
