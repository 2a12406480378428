import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ToolOutputError } from '../../suites/parse-error.js';
import { fatalSummary } from '../../suites/mysql/index.js';
import { parseIntervalLine, parseSysbenchPrepare, parseSysbenchRun, SysbenchFatalError, type SysbenchReport, type SysbenchRun } from '../../suites/mysql/sysbench-report.js';

// Real sysbench 1.0.20 output (test/fixtures/sysbench/README.md says how each was captured).
const fixture = (name: string) => readFileSync(new URL(`../fixtures/sysbench/${name}`, import.meta.url), 'utf8');

function completed(run: SysbenchRun): SysbenchReport {
  assert.equal(run.state, 'completed', run.state === 'failed' ? run.fatal.join(' | ') : '');
  return (run).report;
}

function failed(run: SysbenchRun): Extract<SysbenchRun, { state: 'failed' }> {
  assert.equal(run.state, 'failed');
  return run;
}

describe('sysbench run reports (1.0.20, captured)', () => {
  it('read-only: every count, rate, time and latency of the report', () => {
    const report = completed(parseSysbenchRun(fixture('oltp-read-only-2threads.txt')));
    assert.deepEqual(report, {
      version: '1.0.20',
      threads: 2,
      intervals: [],
      queries: { read: 112392, write: 0, other: 16056, total: 128448 },
      transactions: 8028,
      transactionsPerSecond: 2674.34,
      queriesPerSecond: 42789.43,
      ignoredErrors: 0,
      reconnects: 0,
      totalSeconds: 3.0013,
      totalEvents: 8028,
      latencyMs: { min: 0.67, avg: 0.75, max: 2.54, sum: 5989.83, percentiles: { '95': 0.86 } },
      fairness: { eventsAvg: 4014, eventsStddev: 23, secondsAvg: 2.9949, secondsStddev: 0 },
    });
  });

  it('read-write: writes counted, 4 threads', () => {
    const report = completed(parseSysbenchRun(fixture('oltp-read-write-4threads.txt')));
    assert.equal(report.threads, 4);
    assert.deepEqual(report.queries, { read: 69426, write: 19836, other: 9918, total: 99180 });
    assert.equal(report.transactionsPerSecond, 1651.18);
    assert.equal(report.latencyMs.percentiles['95'], 4.1);
  });

  it('ignored errors (deadlocks under 16 threads on 50 rows) are counted, not fatal', () => {
    const report = completed(parseSysbenchRun(fixture('oltp-read-write-ignored-errors.txt')));
    assert.equal(report.ignoredErrors, 1925);
    assert.equal(report.transactions, 2795);
  });

  it('--report-interval lines become typed intervals; threads drop as they finish', () => {
    const report = completed(parseSysbenchRun(fixture('oltp-read-only-report-interval.txt')));
    assert.equal(report.intervals.length, 4);
    assert.deepEqual(report.intervals[0], {
      atSeconds: 1, threads: 2, transactionsPerSecond: 2338.11, queriesPerSecond: 37428.69, readsPerSecond: 32750.48, writesPerSecond: 0,
      otherPerSecond: 4678.21, latencyPercentile: 95, latencyMs: 2.14, errorsPerSecond: 0, reconnectsPerSecond: 0,
    });
    assert.equal(report.intervals[3]?.threads, 1);
    assert.equal(report.transactionsPerSecond, 2123.89);
  });
});

describe('sysbench runs that stopped (1.0.20, captured)', () => {
  it('the server killed mid-run: FATAL lines and the intervals before, never a report', () => {
    const run = failed(parseSysbenchRun(fixture('fatal-server-killed.txt')));
    assert.equal(run.intervals.length, 2);
    assert.match(run.fatal[0]!, /error 2013 \(Lost connection to server during query\) for query 'COMMIT'/);
    assert.equal(
      fatalSummary(run.fatal, run.intervals).replace(/ \| .*? \(after/, ' | … (after'),
      "mysql_stmt_execute() returned error 2013 (Lost connection to server during query) for query 'COMMIT' | … (after 2 s; the last interval reported 2824.81 tx/s with 2 threads)",
    );
  });

  it('the server shut down mid-run (read-write)', () => {
    const run = failed(parseSysbenchRun(fixture('fatal-server-shutdown.txt')));
    assert.equal(run.intervals.at(-1)?.writesPerSecond, 6970.97);
    assert.ok(run.fatal.some((line) => /errno = 2013/.test(line)));
  });

  it('connection refused, access denied, missing table: failed before any interval', () => {
    const refused = failed(parseSysbenchRun(fixture('fatal-connection-refused.txt')));
    assert.match(refused.fatal[1]!, /error 2002: Can't connect to server on '127\.0\.0\.1' \(115\)/);
    assert.match(fatalSummary(refused.fatal, refused.intervals), /\(before any interval report\)$/);
    // The same line twice says it once; the summary keeps at most three distinct lines.
    assert.equal(fatalSummary(refused.fatal, []).split(' | ').filter((line) => line.startsWith('unable to connect')).length, 1);
    assert.match(failed(parseSysbenchRun(fixture('fatal-access-denied.txt'))).fatal.join(' '), /error 1045: Access denied/);
    assert.match(failed(parseSysbenchRun(fixture('fatal-table-missing.txt'))).fatal.join(' '), /1146 "Table 'sbtest\.sbtest3' doesn't exist"/);
  });
});

describe('other sysbench versions (wording from sysbench\'s own tests, applied to captured output)', () => {
  it('1.1: a "Throughput:" block with events/s and "time elapsed" instead of "General statistics"', () => {
    const text = fixture('oltp-read-only-2threads.txt').replace(
      /General statistics:\n\s+total time:\s+3\.0013s\n/,
      'Throughput:\n    events/s (eps):                      2674.8203\n    time elapsed:                        3.0013s\n',
    );
    assert.notEqual(text, fixture('oltp-read-only-2threads.txt'));
    const report = completed(parseSysbenchRun(text));
    assert.equal(report.totalSeconds, 3.0013);
    assert.equal(report.totalEvents, 8028);
  });

  it('1.1: --warmup-time lines and fractional interval seconds; early 1.0: long interval wording', () => {
    const text = fixture('oltp-read-only-report-interval.txt')
      .replace('Initializing random number generator', 'Warmup time: 1\nInitializing random number generator')
      .replace('Threads started!\n', 'Threads started!\n\nWarming up for 1 seconds...\n');
    assert.equal(completed(parseSysbenchRun(text)).intervals.length, 4);
    // tests/t/api_reports.t (1.1): "err/s" without its colon
    assert.deepEqual(parseIntervalLine('[ 2.0s ] thds: 1 tps: 994.57 qps: 0.00 (r/w/o: 0.00/0.00/0.00) lat (ms,95%): 1.10 err/s 0.00 reconn/s: 0.00')?.atSeconds, 2);
    // tests/t/opt_report_interval.t (early 1.0)
    const early = parseIntervalLine('[   2s] threads: 1 tps: 511.00 qps: 10220.00 (r/w/o: 7154.00/2044.00/1022.00) latency (ms,95%): 2.57 errors/s: 0.00 reconnects/s: 0.00');
    assert.equal(early?.writesPerSecond, 2044);
    assert.equal(early?.latencyMs, 2.57);
  });
});

describe('output isobench does not know is an error that quotes it', () => {
  it('an unknown line names its number and quotes it', () => {
    const text = fixture('oltp-read-only-2threads.txt').replace('Latency (ms):\n', 'Latency (ms):\n         50th percentile: 0.74\n     histogram:  frobnicated\n');
    assert.throws(() => parseSysbenchRun(text), (error: unknown) => error instanceof ToolOutputError
      && /line 2\d in "Latency \(ms\)" is not one isobench knows: "histogram: {2}frobnicated"/.test(error.message));
  });

  it('an interval line of another test (the cpu test\'s events/s) is not read as SQL', () => {
    const text = fixture('oltp-read-only-report-interval.txt').replace(/^\[ 2s \].*$/m, '[ 2s ] thds: 2 eps: 1000.00 lat (ms,95%): 1.00');
    assert.throws(() => parseSysbenchRun(text), /line 14 before the statistics is not one isobench knows: "\[ 2s \] thds: 2 eps: 1000\.00 lat \(ms,95%\): 1\.00"/);
  });

  it('a report cut short without FATAL, a missing field, no header, nothing at all', () => {
    const cut = fixture('oltp-read-only-report-interval.txt').split('SQL statistics:')[0]!;
    assert.throws(() => parseSysbenchRun(cut), /no "SQL statistics" in the report; it ends with "\[ 4s \] thds: 1 tps: 1514\.38/);
    const noReconnects = fixture('oltp-read-only-2threads.txt').replace(/^\s+reconnects:.*\n/m, '');
    assert.throws(() => parseSysbenchRun(noReconnects), /lacks a field or has one out of range: reconnects/);
    const noHeader = fixture('oltp-read-only-2threads.txt').replace(/^sysbench 1\.0\.20.*\n/, '');
    assert.throws(() => parseSysbenchRun(noHeader), /no "sysbench VERSION" line/);
    assert.throws(() => parseSysbenchRun(''), /no "sysbench VERSION" line: \(empty output\)/);
  });

  it('queries performed and the queries count must agree', () => {
    const text = fixture('oltp-read-only-2threads.txt').replace(/(total:\s+)128448/, '$1128447');
    assert.throws(() => parseSysbenchRun(text), /queries performed \(128447\) and queries \(128448\) disagree/);
  });
});

describe('sysbench prepare', () => {
  it('counts the rows inserted into each table and the secondary indexes', () => {
    const prepared = parseSysbenchPrepare(fixture('prepare-2tables.txt'));
    assert.equal(prepared.version, '1.0.20');
    assert.deepEqual([...prepared.rowsInserted], [['sbtest1', 10000], ['sbtest2', 10000]]);
    assert.deepEqual(prepared.secondaryIndexes, ['sbtest1', 'sbtest2']);
  });

  it('a FATAL load is a SysbenchFatalError with the failed statement on one line', () => {
    assert.throws(() => parseSysbenchPrepare(fixture('prepare-table-exists.txt')), (error: unknown) => error instanceof SysbenchFatalError
      && /^sysbench prepare failed: FATAL: mysql_drv_query\(\) returned error 1050 \(Table 'sbtest1' already exists\) for query 'CREATE TABLE sbtest1\( id INTEGER/.test(error.message)
      && !error.message.includes('\n'));
  });

  it('an unknown line is quoted', () => {
    assert.throws(() => parseSysbenchPrepare(`${fixture('prepare-2tables.txt')}Vacuuming 'sbtest1'\n`), /line 11 of the prepare output is not one isobench knows: "Vacuuming 'sbtest1'"/);
  });
});
