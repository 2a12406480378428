import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { resultsCommand } from '../../harness/commands/results.js';
import { predictMigrationTrial } from '../../models/precopy/index.js';
import { LIBVIRT_NOT_COMPARED, predictionRows, toPredictionTable } from '../../results/migration-predictions.js';
import { LIBVIRT_ROWS_NOTE, migrationRows, noMigrationTrialsLine, outcomeText, roundDurations, toMigrationTable } from '../../results/migration-table.js';
import { parseResultsFile } from '../../results/schema.js';

/** A real run's file from test/fixtures/results. */
function fixture(name: string) {
  return parseResultsFile(JSON.parse(readFileSync(new URL(`../fixtures/results/${name}`, import.meta.url), 'utf8')), name);
}
const fixturePath = (name: string) => new URL(`../fixtures/results/${name}`, import.meta.url).pathname;

/** A real idle migration that converged (4 syncs) and a flat-out dirtier cancelled in round 4. */
const idleDirty = fixture('migration-idle-dirty-1rep.json');
/** A real web trial (blackout 0, brownout 1600 ms) and a 48 MiB/s dirtier, both converged. */
const webDirty = fixture('migration-wws-trace.json');

/**
 * A fixed-width table's header and rows as cells keyed by header. Columns are two or more spaces
 * apart; no header or cell of these tables holds two spaces in a row. A repeated header (the
 * prediction table's `err`) keeps its first column; callers here read only unique ones.
 */
function parseTable(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split('\n');
  const header = lines[0]!.split(/ {2,}/);
  const rows = lines.slice(1).map((line) => line.split(/ {2,}/)).filter((cells) => cells.length === header.length);
  return { header, rows };
}

/** Headers of columns that are counts, not quantities with a unit. */
const COUNTS = new Set(['rep', 'pre-copy rounds', 'dirty-sync-count', 'Clark', 'QEMU']);
/** A header that ends in its unit. */
const WITH_UNIT = / (s|ms|MiB|MiB\/s)$/;

test('results --format migration: every numeric column\'s header names its unit (counts excepted), in both tables', () => {
  for (const file of [idleDirty, webDirty]) {
    const tables = [toMigrationTable(migrationRows(file)), toPredictionTable(predictionRows(file, predictMigrationTrial))];
    for (const table of tables) {
      const { header, rows } = parseTable(table);
      assert.ok(rows.length >= 2, 'both trials parsed');
      header.forEach((title, column) => {
        const cells = rows.map((row) => row[column]!.replace(/!$/, ''));
        if (!cells.every((cell) => cell === '–' || /^[+−±]?\d+(\.\d+)?( %)?$/.test(cell))) return;
        if (cells.every((cell) => cell === '–' || cell.endsWith(' %'))) return; // the errors carry their % in every cell
        if (COUNTS.has(title)) return;
        assert.match(title, WITH_UNIT, `column "${title}" holds ${cells.join(', ')} and names no unit`);
      });
    }
  }
  const web = parseTable(toMigrationTable(migrationRows(webDirty)));
  const blackout = web.header.indexOf('blackout ms');
  const brownout = web.header.indexOf('brownout ms');
  assert.deepEqual([web.rows[0]![blackout], web.rows[0]![brownout]], ['0', '1600'], 'the web trial\'s blackout and brownout, in ms as stored');
});

test('the per-trial table\'s pre-copy rounds are the prediction table\'s, trial by trial; dirty-sync-count is QEMU\'s own count beside them', () => {
  for (const file of [idleDirty, webDirty, fixture('migration-sweep-2reps.json')]) {
    const measured = parseTable(toMigrationTable(migrationRows(file)));
    const predicted = parseTable(toPredictionTable(predictionRows(file, predictMigrationTrial)));
    const pick = (table: typeof measured, title: string) => {
      const column = table.header.indexOf(title);
      assert.ok(column >= 0, `a column "${title}" in ${table.header.join(' | ')}`);
      return table.rows.map((row) => `${row[0]} #${row[1]}: ${row[column]}`);
    };
    // A trial that failed before it kept a record is a row of the measured table only (nothing to predict from).
    const predictedRows = pick(predicted, 'pre-copy rounds');
    const keys = new Set(predictedRows.map((line) => line.split(':')[0]));
    const measuredRows = pick(measured, 'pre-copy rounds');
    assert.ok(measuredRows.filter((line) => !keys.has(line.split(':')[0])).every((line) => line.endsWith(': –')), file.runId);
    assert.deepEqual(measuredRows.filter((line) => keys.has(line.split(':')[0])), predictedRows, file.runId);
  }
  const rows = migrationRows(idleDirty);
  // The idle trial switched over: 4 syncs = setup + 2 rounds + completion. The cancelled one was in round 4.
  assert.deepEqual(rows.map((row) => [row.precopyRounds, row.dirtySyncCount]), [[2, 4], [4, 4]]);
  for (const table of [toMigrationTable(rows), toPredictionTable(predictionRows(idleDirty, predictMigrationTrial))]) {
    assert.match(table, /\npre-copy rounds: rounds sent while the guest ran = QEMU's final dirty-sync-count less its setup and completion syncs/, 'both tables define the rounds alike');
  }
});

test('a duration in a reason is rounded as the columns are; the stored reason keeps its digits', () => {
  // The reason of a real guest-unhealthy trial (issue 12's evidence, 20261130T092613Z-cb20), verbatim.
  const reason =
    'the workload stopped answering: echoes arrived after the switch-over; the guest agent did not answer on the destination: the guest agent on /var/tmp/isobench-run-7IhKgG/kvm-20261130T092613Z-cb20/migration-13/qga.sock did not answer guest-sync within 30000 ms: /var/tmp/isobench-run-7IhKgG/kvm-20261130T092613Z-cb20/migration-13/qga.sock: no reply within 1972.3240060000098 ms';
  const outcome = { kind: 'guest-unhealthy' as const, reason };
  const text = outcomeText(outcome);
  assert.match(text, /within 30000 ms: .*qga\.sock: no reply within 1972 ms$/);
  assert.equal(outcome.reason, reason);
  assert.equal(outcomeText({ kind: 'failed', error: 'QMP migrate: no reply within 200.5ms' }), 'failed: QMP migrate: no reply within 201ms');
  assert.equal(roundDurations('paused 0.26 s, then 12.04 s; 1.5 seconds and 3.75 µs untouched; address 0000000000000028'), 'paused 0.3 s, then 12.0 s; 1.5 seconds and 3.75 µs untouched; address 0000000000000028');
});

test('a file without migration trials: one line naming its suites, exit 0; beside a file with some, that file\'s tables', async () => {
  let out = '';
  const write = (text: string) => {
    out += text;
  };
  const network = fixturePath('native-network-1rep.json');
  assert.equal(await resultsCommand([network, '--format', 'migration'], write), 0);
  assert.equal(out, `no migration trials in ${network} (its suites: tcp-bulk, tcp-rr)\n`);
  out = '';
  assert.equal(await resultsCommand([fixturePath('migration-idle-dirty-1rep.json'), network, '--format', 'migration'], write), 0);
  assert.match(out, /^point +rep +total s +pre-copy rounds/);
  assert.ok(out.endsWith(`\nno migration trials in ${network} (its suites: tcp-bulk, tcp-rr)\n`), out.slice(-200));
});

test('a file whose only migrations are container ones (CRIU) says it has no VM migration trials and where those are drawn', () => {
  // The real captured container trials (test/fixtures/criu) as the only points of a file.
  const trials = readFileSync(new URL('../fixtures/criu/container-trials.jsonl', import.meta.url), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const raw = JSON.parse(readFileSync(fixturePath('migration-idle-dirty-1rep.json'), 'utf8')) as { points: Array<Record<string, unknown>> };
  const template = raw.points[0]!;
  raw.points = [{ ...template, key: 'runc-criu/migration/idle', target: 'runc-criu', trials: trials.map((trial, repetition) => ({ repetition, startedAt: '2026-11-30T09:20:00.000Z', durationMs: 9_000, round: repetition, ...trial })), summaries: [] }];
  const file = parseResultsFile(raw, 'containers.json');
  assert.equal(migrationRows(file).length, 0);
  assert.equal(noMigrationTrialsLine(file, 'containers.json'), `no VM migration trials in containers.json (its suites: migration; ${trials.length} container migration trials, drawn by npm run report)`);
});

test('a migration trial that failed before it kept a record is a row with its reason, not "no migration trials"', () => {
  // The newcomer's run: --wws 4096 on a 512 MiB guest, whose dirtier could not map its working set.
  const file = structuredClone(idleDirty);
  const reason = 'the dirtier in the guest wrote no progress within 30000.123456 ms: isobench-dirtier: mmap: Cannot allocate memory';
  const point = file.points[1]!;
  point.trials = [{ ...point.trials[0]!, state: 'failed', reason, detail: undefined, metrics: undefined } as unknown as (typeof point.trials)[number]];
  const rows = migrationRows(file);
  assert.equal(rows.length, 2);
  const failed = rows.find((row) => row.pointId === point.pointId)!;
  assert.equal(failed.outcome, 'failed: the dirtier in the guest wrote no progress within 30000 ms: isobench-dirtier: mmap: Cannot allocate memory');
  assert.deepEqual([failed.totalS, failed.precopyRounds, failed.qemuDowntimeMs, failed.probeGapMs], [null, null, null, null], 'nothing measured is –, never 0');
  assert.match(toMigrationTable(rows), /–\s+failed: the dirtier/);
});

test('a lab libvirt run\'s rows are marked ‡ and the legend says whose figures they are; the models are not compared with libvirt\'s whole-job times', () => {
  const results = fixture('lab-libvirt-migration-2reps.json');
  const rows = migrationRows(results);
  assert.deepEqual(rows.map((row) => row.figuresFrom), ['libvirt', 'libvirt']);
  const table = toMigrationTable(rows);
  assert.match(table, /^kvm\/idle-bw128-dl300-precopy ‡ +1 +3\.2 /m);
  assert.ok(table.includes(LIBVIRT_ROWS_NOTE), table);
  const predicted = predictionRows(results, predictMigrationTrial);
  assert.deepEqual(predicted.map((row) => [row.predictions, row.reason, row.totalMs.measured]), [['none', LIBVIRT_NOT_COMPARED, null], ['none', LIBVIRT_NOT_COMPARED, null]]);
  // A QEMU run's rows carry no mark.
  assert.ok(migrationRows(fixture('migration-idle-dirty-1rep.json')).every((row) => row.figuresFrom === 'qemu'));
});
