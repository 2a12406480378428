import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

async function runningStore(): Promise<ResultsStore> {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-test-'));
  return ResultsStore.create(directory, { ...(await realRun()), runId: 'test-run', status: 'running' as const, finishedAt: null });
}

test('an update replaces the file by rename: a reader that opened the old file still reads it whole', async () => {
  const store = await runningStore();
  // A hard link keeps the old inode reachable, as a reader's open descriptor would.
  const readerView = join(store.path, '..', 'reader-view');
  await link(store.path, readerView);
  const before = await stat(store.path);
  await store.update((draft) => {
    draft.status = 'completed';
  });
  assert.notEqual((await stat(store.path)).ino, before.ino, 'renamed over, not rewritten in place');
  assert.equal(JSON.parse(await readFile(readerView, 'utf8')).status, 'running');
  assert.equal(JSON.parse(await readFile(store.path, 'utf8')).status, 'completed');
});

test('a reader never sees a torn file while many updates of a large file run at once', async () => {
  const store = await runningStore();
  let writing = true;
  let reads = 0;
  const reader = (async () => {
    while (writing) {
      const text = await readFile(store.path, 'utf8');
      const parsed = JSON.parse(text) as ResultsFile; // throws on a torn file
      assert.ok(parsed.reason === undefined || /^update \d+ x+$/.test(parsed.reason), 'a whole reason');
      reads++;
    }
  })();
  await Promise.all(Array.from({ length: 20 }, (_, index) => store.update((draft) => {
    draft.reason = `update ${index} ${'x'.repeat(500_000)}`;
  })));
  writing = false;
  await reader;
  assert.ok(reads > 0, 'the reader read while the updates ran');
  assert.deepEqual(await readdir(join(store.path, '..')), ['test-run.json']);
});

test('the last update wins on disk: the Ctrl-C handler\'s small update while a trial\'s large one is still writing', async () => {
  const store = await runningStore();
  for (let round = 0; round < 3; round++) {
    // The trial's update is large (slow to write); the interrupt handler's is small and comes second.
    const trialUpdate = store.update((draft) => {
      draft.status = 'running';
      draft.reason = `trial ${round} ${'x'.repeat(3_000_000)}`;
    });
    const interruptUpdate = store.update((draft) => {
      draft.status = 'interrupted';
      draft.reason = `stopped by SIGINT in round ${round}`;
    });
    await Promise.all([trialUpdate, interruptUpdate]);
    const onDisk = await readResultsFile(store.path);
    assert.equal(onDisk.status, 'interrupted', 'the file says what the last update said, not running');
    assert.equal(onDisk.reason, `stopped by SIGINT in round ${round}`);
    assert.deepEqual(JSON.parse(await readFile(store.path, 'utf8')), JSON.parse(JSON.stringify(store.snapshot)));
  }
});

test('a write that fails rejects its own update only; the next update lands', async () => {
  const store = await runningStore();
  const directory = join(store.path, '..');
  // A file where the directory was: the write cannot even create it (ENOTDIR), as with a full disk.
  await rm(directory, { recursive: true });
  await writeFile(directory, 'not a directory');
  await assert.rejects(store.update((draft) => {
    draft.reason = 'lost';
  }), /ENOTDIR|EEXIST/);
  await rm(directory);
  await mkdir(directory);
  await store.update((draft) => {
    draft.status = 'completed';
  });
  const onDisk = await readResultsFile(store.path);
  assert.equal(onDisk.status, 'completed');
  assert.equal(onDisk.reason, 'lost', 'the failed update\'s change is kept in memory and written by the next');
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
  assert.ok(rows.length > 0);
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
  assert.doesNotMatch(toTable(rows), /†/, 'nothing below zero, no mark');
  // n = 2 of a noisy metric: the t-interval (t(1) = 12.7) reaches below zero, marked and explained.
  const wide = toTable([{ ...rows[0]!, n: 2, mean: 30, sd: 9, ci95_low: -50.9, ci95_high: 110.9 }]);
  assert.match(wide, / -50\.90 † +110\.9 /);
  assert.match(wide, /\n\n† The 95 % interval, as computed, reaches below 0.*t\(1\) = 12\.7 at n = 2/);
});
