import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resultsCommand } from '../../harness/commands/results.js';
import type { ResultsFile } from '../../results/schema.js';
import { readResultsFile, writeResultsFile } from '../../results/store.js';
import { headlineNoise, summaryRows, SUMMARY_COLUMNS, TABLE_WIDTH, toCsv, toVerdictTable, verdictWords } from '../../results/table.js';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { collectRows } from '../../reports/model/rows.js';
import { labelRuns } from '../../reports/model/runs.js';
import { TargetStyles } from '../../reports/model/targets.js';
import { withVerdicts } from '../../results/verdict.js';
import { FIXTURES, loadFixtures, loadRealRun, withRepetitions, withScaledTarget, withZeroAndNegativeSample } from '../fixtures/reports/derive.js';

const [network, storage] = await loadFixtures();
if (!network || !storage) throw new Error('fixture missing');

/**
 * The real native network run with 5 repetitions of 1 % CV, plus docker-nat at exactly 0.8x native
 * (every throughput x 0.8, every latency / 0.8) and docker-host at exactly native's samples.
 */
const shifted: ResultsFile = withVerdicts(withScaledTarget(withScaledTarget(withRepetitions(network, 5, 0.01, 11), 'docker-nat', 0.8), 'docker-host', 1));

/** Parses our own CSV (no quoted commas in these rows) into objects by header. */
function csvRecords(csv: string): Record<string, string>[] {
  const [header, ...lines] = csv.trim().split('\n');
  const columns = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((cell, index) => [columns[index]!, cell])));
}

/** What `npm run results -- ARGS` prints, and that it exits 0. */
async function results(...argv: string[]): Promise<string> {
  let out = '';
  assert.equal(
    await resultsCommand(argv, (text) => {
      out += text;
    }),
    0,
  );
  return out;
}

describe('CSV export with verdicts', () => {
  it('appends ratio, ratio_low, ratio_high and verdict after every earlier column', () => {
    assert.deepEqual(SUMMARY_COLUMNS.slice(0, 14), ['target', 'suite', 'point', 'metric', 'params', 'unit', 'n', 'mean', 'sd', 'ci95_low', 'ci95_high', 'cv', 'status', 'reason']);
    assert.deepEqual(SUMMARY_COLUMNS.slice(14), ['ratio', 'ratio_low', 'ratio_high', 'verdict']);
  });

  it('fills them on the headline row of a candidate with the known shift, and leaves them empty elsewhere', () => {
    const records = csvRecords(toCsv(summaryRows(shifted)));
    const row = (target: string, point: string, metric: string) => {
      const found = records.find((record) => record.target === target && record.point === point && record.metric === metric);
      assert.ok(found, `${target} ${point} ${metric}`);
      return found;
    };
    const throughput = row('docker-nat', 'client-to-server', 'throughput_gbps');
    assert.ok(Math.abs(Number(throughput.ratio) - 0.8) < 1e-12, throughput.ratio);
    assert.ok(Number(throughput.ratio_low) < 0.8 && Number(throughput.ratio_high) > 0.8 && Number(throughput.ratio_high) < 0.9);
    assert.equal(throughput.verdict, 'slower');
    const latency = row('docker-nat', 'tcp', 'latency_mean_us');
    assert.ok(Math.abs(Number(latency.ratio) - 1.25) < 1e-12, latency.ratio);
    assert.equal(latency.verdict, 'slower');
    assert.equal(row('docker-host', 'udp', 'latency_mean_us').verdict, 'equivalent');
    // Not the headline: the verdict judged throughput, not CPU per byte.
    const cost = row('docker-nat', 'client-to-server', 'cpu_ns_per_byte');
    assert.deepEqual([cost.ratio, cost.ratio_low, cost.ratio_high, cost.verdict], ['', '', '', '']);
    // The baseline's rows: empty, never 0.
    const native = records.filter((record) => record.target === 'native');
    assert.ok(native.length > 0);
    for (const record of native) assert.deepEqual([record.ratio, record.ratio_low, record.ratio_high, record.verdict], ['', '', '', '']);
  });

  it('a not-comparable verdict has its word and no interval', async () => {
    const broken = withZeroAndNegativeSample(await loadRealRun(), 'docker-nat/tcp-rr/tcp', 'docker-nat:overlay/random-io/randread');
    const records = csvRecords(toCsv(summaryRows(broken)));
    const tcp = records.find((record) => record.target === 'docker-nat' && record.point === 'tcp' && record.metric === 'latency_mean_us')!;
    assert.deepEqual([tcp.ratio, tcp.ratio_low, tcp.ratio_high, tcp.verdict], ['', '', '', 'not-comparable']);
  });
});

describe('the verdict table of npm run results', () => {
  it('says the baseline and margin, groups by suite, and words each verdict', () => {
    const table = toVerdictTable(shifted);
    const lines = table.split('\n');
    assert.match(lines[1]!, /^baseline native; margin ±5 % \(equivalent inside 95\.2–105\.0 % of native\)/);
    assert.equal(lines.filter((line) => line === 'tcp-bulk').length, 1);
    assert.equal(lines.filter((line) => line === 'tcp-rr').length, 1);
    const line = (target: string, after: string) => {
      const start = lines.indexOf(lines.find((candidate) => candidate.startsWith(after))!);
      assert.ok(start >= 0, after);
      return lines.slice(start).find((candidate) => candidate.startsWith(`  ${target} `))!;
    };
    assert.match(line('docker-nat', 'client-to-server · throughput_gbps (Gbit/s, higher is better)'), /80\.0 \(\d+\.\d–\d+\.\d\)\s+±\d+\.\d\s+slower by 20\.0 %$/);
    assert.match(line('docker-nat', 'tcp · latency_mean_us (µs, lower is better)'), /125\.0 \(\d+\.\d–\d+\.\d\)\s+±\d+\.\d\s+slower by 25\.0 %$/);
    assert.match(line('docker-host', 'tcp · latency_mean_us'), /100\.0 \(9\d\.\d–10\d\.\d\)\s+±\d+\.\d\s+equivalent$/);
    assert.match(line('native', 'tcp · latency_mean_us'), /\s100\s+baseline$/);
    for (const text of lines) assert.ok(text.length <= TABLE_WIDTH, `${text.length} columns: ${text}`);
  });

  it('a noisy baseline says so, with the words and cv of the report\'s row for it', async () => {
    // The report flagged native's randread noisy (iops varies by 12.0 %); the table said only "baseline".
    const real = await loadRealRun();
    const unwrapped = toVerdictTable(real).replace(/\n {20,}/g, ' ');
    const randread = unwrapped.split('\n').slice(unwrapped.split('\n').findIndex((line) => line.startsWith('randread ·'))).find((line) => line.startsWith('  native '))!;
    assert.match(randread, /\s100\s+baseline — noisy: iops varies by 12\.0 % \(threshold 5 %\)$/);
    const [row] = collectRows(labelRuns([real]), { suite: 'random-io', metric: 'iops', pointIds: ['randread'] }, { baseline: 'native', multiRun: false, styles: new TargetStyles(displayOf) });
    assert.equal(row!.target, 'native');
    assert.equal(`baseline — noisy: ${row!.reason}`, randread.replace(/^.*?(baseline — )/, '$1'), 'the same flag and words as the report');
    const quiet = real.points.find((point) => point.target === 'native' && point.status === 'ok');
    if (quiet) assert.equal(headlineNoise(quiet), null);
    assert.equal(headlineNoise({ ...real.points.find((point) => point.key === 'native/random-io/randread')!, reason: undefined }), 'iops varies by 12.0 %', 'no reason stored: the headline\'s own cv');
  });

  it('on the real noisy run: undecided with the repetitions still needed, wrapped within 100 columns', async () => {
    const real = await loadRealRun();
    const randread = real.points.find((point) => point.key === 'docker-nat/random-io/randread')!.verdict!;
    assert.equal(randread.verdict, 'undecided');
    assert.ok(randread.verdict === 'undecided' && randread.repetitionsNeeded !== null);
    assert.equal(verdictWords(randread), `undecided — ${randread.repetitionsNeeded - 3} more reps would decide`);
    // Two samples a side: no estimate to plan by (it said "1 more rep" beside a 12.5–151,935 % interval).
    assert.equal(verdictWords({ ...randread, n: { baseline: 2, candidate: 2 } }), 'undecided — 2 samples a side are too few to say how many more reps would decide');
    const broken = withZeroAndNegativeSample(real, 'docker-nat/tcp-rr/tcp', 'docker-nat:overlay/random-io/randread');
    const table = toVerdictTable(broken);
    // A long reason wraps under the verdict column: read it as one line.
    const unwrapped = table.replace(/\n {20,}/g, ' ');
    assert.match(unwrapped, /not comparable: the candidate has a sample of 0: a ratio needs positive/);
    assert.match(unwrapped, /not comparable: the candidate has a sample of -\d/);
    for (const text of table.split('\n')) assert.ok(text.length <= TABLE_WIDTH, `${text.length} columns: ${text}`);
  });

  it('npm run results prints it by default, and the summaries with --format metrics', async () => {
    const table = await results(FIXTURES.realThreeReps);
    assert.match(table, /^run 20261130T024702Z-c6fc \(completed\), 3 repetitions a point\nbaseline native; margin ±5 %/);
    assert.match(table, /\n {2}docker-nat {10}78\.9 {2}123\.6 \(103\.6–147\.5\) {2}±26\.6 {2}slower by 23\.6 %\n/);
    const metrics = await results(FIXTURES.realThreeReps, '--format', 'metrics');
    assert.match(metrics, /^target\s+suite\s+point\s+metric/);
    const csv = await results(FIXTURES.realThreeReps, '--format', 'csv');
    assert.match(csv, /\ndocker-nat,tcp-rr,udp,latency_mean_us,.*,1\.23\d+,1\.03\d+,1\.47\d+,slower\n/);
    assert.ok(csv.startsWith(`${SUMMARY_COLUMNS.join(',')}\n`), 'one file: no run column');
  });

  it('with several files, the CSV keeps each row\'s run id as its first column', async () => {
    const csv = await results(FIXTURES.realThreeReps, FIXTURES.network, '--format', 'csv');
    const [header, ...lines] = csv.trim().split('\n');
    assert.equal(header, `run,${SUMMARY_COLUMNS.join(',')}`);
    const runs = new Set(lines.map((line) => line.split(',')[0]));
    assert.equal(runs.size, 2, [...runs].join(' '));
    assert.ok(runs.has('20261130T024702Z-c6fc'));
    assert.match(csv, /\n20261130T024702Z-c6fc,docker-nat,tcp-rr,udp,latency_mean_us,/);
  });

  it('an A/A run\'s table ends with the per-suite A/A summary bench printed (a real A/A run, cut to two suites)', async () => {
    const table = await results(new URL('../fixtures/results/aa-native-tcp-bulk-startup.json', import.meta.url).pathname);
    assert.match(table, /\nA\/A tcp-bulk: 0 of 2 point\(s\) claimed a difference \(0 %, expected ≤ 5 %\); median \|A\/A ratio − 1\| 3\.24 %; median MDE 34\.81 %\n/);
    assert.match(table, /\nA\/A startup: 0 of 1 point/);
    assert.doesNotMatch(await results(FIXTURES.realThreeReps), /A\/A/, 'a compare run has no A/A lines');
  });

  it('--format json says null where the CSV leaves a cell empty, never ""', async () => {
    const rows = JSON.parse(await results(FIXTURES.realThreeReps, '--format', 'json')) as Record<string, unknown>[];
    const baseline = rows.find((row) => row.target === 'native' && row.metric === 'latency_mean_us');
    assert.ok(baseline, 'a native row');
    assert.equal(baseline.verdict, null, 'the baseline has no verdict');
    assert.equal(baseline.ratio, null);
    assert.ok(rows.every((row) => Object.values(row).every((value) => value !== '')), 'no empty strings');
    const judged = rows.find((row) => row.target === 'docker-nat' && row.point === 'udp' && row.metric === 'latency_mean_us');
    assert.equal(judged?.verdict, 'slower');
  });
});

describe('npm run results -- FILE --format csv and untrusted text', () => {
  it('defuses spreadsheet formulas in a hand-edited file\'s cells (= + - @ tab CR), as the report\'s CSV does', async () => {
    const starts = ['=HYPERLINK("http://x","y")', '+cmd|/C calc', '-2+3', '@SUM(A1)', '\t=1+1', '\r=1+1'];
    const edited = structuredClone(storage);
    assert.ok(edited.points.length >= starts.length, 'a point for each formula start');
    starts.forEach((reason, index) => (edited.points[index]!.reason = reason));
    edited.points[0]!.params = { ...edited.points[0]!.params, note: '=1' };
    const directory = await mkdtemp(join(tmpdir(), 'isobench-csv-'));
    try {
      const path = join(directory, 'edited.json');
      await writeResultsFile(path, edited);
      const csv = await results(path, '--format', 'csv');
      for (const reason of starts) {
        const cell = `'${reason}`;
        const quoted = /[",\r]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
        assert.ok(csv.includes(`,${quoted},`), `${JSON.stringify(reason)} is written as ${JSON.stringify(quoted)}`);
        assert.ok(!csv.includes(`,${reason.replace(/"/g, '""')},`) && !csv.includes(`,"${reason.replace(/"/g, '""')}",`), `${JSON.stringify(reason)} never starts a cell`);
      }
      // The params cell starts with its first key, not with the value: it needs nothing.
      assert.match(csv, /,rw=randread;blockSize=4k;[^,\n]*;note==1,/);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('one repetition', () => {
  it('leaves sd, the interval and cv empty (null in JSON) instead of a measured zero spread', async () => {
    const { readFile } = await import('node:fs/promises');
    const file = JSON.parse(await readFile(new URL('../fixtures/reports/native-network-quick.json', import.meta.url), 'utf8')) as ResultsFile;
    const rows = summaryRows(file).filter((row) => row.n === 1);
    assert.ok(rows.length > 0, 'the fixture is a one-repetition run');
    for (const row of rows) {
      assert.equal(typeof row.mean, 'number');
      assert.deepEqual([row.sd, row.ci95_low, row.ci95_high, row.cv], ['', '', '', ''], `${row.point} ${row.metric}`);
    }
  });
});

describe('what the default view leaves out', () => {
  it('says where every metric is, and for a migration run where its downtime and rounds are', async () => {
    const migration = toVerdictTable(await readResultsFile(new URL('../fixtures/results/migration-idle-dirty-1rep.json', import.meta.url).pathname));
    assert.match(migration, /every metric of every point: --format metrics; each\nmigration trial's downtime, rounds and MiB sent: --format migration\n$/);
    const network = toVerdictTable(await readResultsFile(new URL('../fixtures/results/native-network-1rep.json', import.meta.url).pathname));
    assert.match(network, /every metric of every point: --format metrics\n$/);
  });
});
