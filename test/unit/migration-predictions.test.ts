import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { predictMigrationTrial, traceForTrial } from '../../models/precopy/index.js';
import { MigrationPredictions, type MigrationTrialDetail } from '../../results/migration.js';
import { countedRounds, measuredPrecopyRounds, predictionRows, relativeError, toPredictionTable } from '../../results/migration-predictions.js';
import { parseResultsFile } from '../../results/schema.js';
import { migrationMetrics } from '../../suites/migration/detail.js';

/** A real run here, written before predictions were stored: an idle migration that converged, a flat-out dirtier that did not. */
const raw = JSON.parse(readFileSync(new URL('../fixtures/results/migration-idle-dirty-1rep.json', import.meta.url), 'utf8')) as { points: Array<{ trials: Array<{ detail?: Record<string, unknown> }> }> };
const file = parseResultsFile(raw, 'migration-idle-dirty-1rep.json');
const details = file.points.flatMap((point) => point.trials.flatMap((trial) => (trial.detail?.kind === 'migration' ? [trial.detail] : [])));
const [idle, dirty] = details as [MigrationTrialDetail, MigrationTrialDetail];

test('the trace: the dirtier\'s own account for dirty (QEMU\'s polls understate it), QEMU\'s polled dirty-pages-rate for idle', () => {
  const fromDirtier = traceForTrial(dirty);
  assert.equal(fromDirtier.source.source, 'dirtier');
  assert.equal(fromDirtier.source.workingSetBytes, 128 * 1_048_576);
  // 27203.7 MiB/s of page writes in 128 MiB: any interval over 5 ms holds the whole set.
  assert.equal(fromDirtier.trace.pagesDirtied(0, 1000), 32768);
  const fromPolls = traceForTrial(idle);
  assert.equal(fromPolls.source.source, 'query-migrate');
  assert.match(fromPolls.source.description, /154–154 pages\/s/);
  assert.equal(fromPolls.source.dirtyBytesPerSecond, 154 * 4096);
});

test('predictions of the two real trials: stored shape, QEMU\'s rule close on the idle guest, cancelled like the trial on the dirtier', () => {
  const idlePrediction = predictMigrationTrial(idle);
  const dirtyPrediction = predictMigrationTrial(dirty);
  for (const prediction of [idlePrediction, dirtyPrediction]) assert.deepEqual(MigrationPredictions.parse(prediction), prediction, 'the stored shape is the schema\'s');
  assert.equal(idlePrediction.kind, 'predicted');
  assert.equal(dirtyPrediction.kind, 'predicted');
  if (idlePrediction.kind !== 'predicted' || dirtyPrediction.kind !== 'predicted') return;
  // ram.total 537665536 bytes = 131266 pages; the first pass sent 380027505 bytes: 29.3 % zero pages.
  assert.equal(idlePrediction.inputs.memoryBytes, 537_665_536);
  assert.ok(Math.abs(idlePrediction.inputs.zeroPageFraction - (1 - 380_027_505 / 537_665_536)) < 1e-12);
  assert.deepEqual([idlePrediction.qemu.stopReason, idlePrediction.qemu.precopyRounds, idlePrediction.qemu.switchedOver], ['converged', 1, true]);
  assert.ok(Math.abs(idlePrediction.qemu.totalTimeMs - 5748) / 5748 < 0.02, `QEMU's rule: ${idlePrediction.qemu.totalTimeMs} ms against 5748 measured`);
  // Clark starts at a fifth of the link and sends every page: 512 MiB at 12.8 MiB/s is 40 s.
  assert.equal(idlePrediction.clark.stopReason, 'few-pages');
  assert.ok(idlePrediction.clark.totalTimeMs > 39_000 && idlePrediction.clark.totalTimeMs < 41_000, `${idlePrediction.clark.totalTimeMs}`);
  assert.deepEqual([dirtyPrediction.qemu.stopReason, dirtyPrediction.qemu.switchedOver, dirtyPrediction.qemu.downtimeMs, dirtyPrediction.qemu.precopyRounds], ['time-limit', false, null, 4]);
  // Clark: the flat-out dirtier is above any cap: stop after round 2, the 128 MiB set copied at the link's 64 MiB/s.
  assert.equal(dirtyPrediction.clark.stopReason, 'rate-cap');
  assert.ok(Math.abs(dirtyPrediction.clark.downtimeMs! - 2000) < 1, `${dirtyPrediction.clark.downtimeMs}`);
});

test('no prediction, with the reason, for a variant the models do not describe or a trial without ram.total', () => {
  assert.deepEqual(predictMigrationTrial({ ...idle, variant: 'xbzrle' }), { kind: 'not-predicted', reason: 'the models describe plain pre-copy; this trial ran the xbzrle variant' });
  assert.equal(predictMigrationTrial({ ...idle, qemu: { ...idle.qemu, ramBytes: null } }).kind, 'not-predicted');
});

test('old files still read; a trial with stored predictions round-trips through the results schema', () => {
  assert.equal(idle.predictions, undefined, 'the fixture predates stored predictions');
  const copy = structuredClone(raw);
  copy.points[0]!.trials[0]!.detail!.predictions = predictMigrationTrial(idle);
  const again = parseResultsFile(copy, 'with-predictions.json');
  const detail = again.points[0]!.trials[0]!.detail!;
  assert.deepEqual(detail.kind === 'migration' ? detail.predictions : null, predictMigrationTrial(idle));
  const bad = structuredClone(raw);
  bad.points[0]!.trials[0]!.detail!.predictions = { kind: 'predicted' };
  assert.throws(() => parseResultsFile(bad, 'bad.json'), /predictions/);
});

test('measured against predicted: rounds, total time and downtime with relative errors; the text table says what each column is', () => {
  assert.equal(measuredPrecopyRounds(idle), 2, 'four syncs less setup and completion');
  assert.equal(measuredPrecopyRounds(dirty), 4, 'cancelled in round 4');
  // The trial's metrics carry the same count beside QEMU's dirty-sync-count.
  const value = (detail: MigrationTrialDetail, name: string) => migrationMetrics(detail).find((metric) => metric.name === name)?.value;
  assert.deepEqual([value(idle, 'migration_precopy_rounds'), value(idle, 'migration_rounds')], [2, 4]);
  assert.deepEqual([value(dirty, 'migration_precopy_rounds'), value(dirty, 'migration_rounds')], [4, 4]);
  assert.equal(relativeError(110, 100), 0.1);
  assert.equal(relativeError(5, 0), null);
  assert.equal(relativeError(null, 3), null);
  const withoutModels = predictionRows(file);
  assert.deepEqual(withoutModels.map((row) => row.predictions), ['none', 'none'], 'results/ alone cannot run the models');
  const rows = predictionRows(file, predictMigrationTrial);
  assert.deepEqual(rows.map((row) => row.predictions), ['computed', 'computed']);
  const [idleRow, dirtyRow] = rows;
  assert.equal(idleRow!.downtimeMs.measured, 41);
  assert.ok(idleRow!.downtimeMs.qemuError! > 3, 'QEMU\'s rule copies the last 13.7 MiB at the 64 MiB/s limit; QEMU lifted it and took 41 ms');
  assert.equal(dirtyRow!.downtimeMs.measured, null);
  assert.equal(dirtyRow!.downtimeMs.qemu, null);
  const table = toPredictionTable(rows).split('\n');
  assert.match(table[0]!, /^point +rep +pre-copy rounds +Clark +QEMU +total s +Clark s +err +QEMU s +err +down ms +Clark ms +err +QEMU ms +err +stops \(Clark \/ QEMU\)$/);
  assert.match(table[1]!, /^kvm\/idle-bw64-dl300-precopy +1 +2 +2 +1 +5\.7 +40\.1 +\+597 % +5\.7 +−1 % +41 +0 +−100 % +215 +\+423 % +few-pages \/ converged \(computed on read\)$/);
  assert.match(table[2]!, /^kvm\/dirty0-wws128-bw64-dl300-precopy +1 +4 +2 +4 +10\.0 +32\.1 +\+220 % +10\.0 +±0 % +– +2000 +– +– +– +rate-cap \/ time-limit/);
  assert.match(table[3]!, /^pre-copy rounds: rounds sent while the guest ran/);
  assert.match(table[4]!, /err: \(predicted − measured\) \/ measured/);
});

test('countedRounds: the figures\' pre-copy rounds are the table\'s, the switch-over\'s sync folded into the last round, no byte lost', () => {
  const trialsOf = (name: string) =>
    parseResultsFile(JSON.parse(readFileSync(new URL(`../fixtures/results/${name}`, import.meta.url), 'utf8')), name).points.flatMap((point) =>
      point.trials.flatMap((trial) => (trial.detail?.kind === 'migration' ? [{ pointId: point.pointId, repetition: trial.repetition, detail: trial.detail }] : [])),
    );
  const all = ['migration-idle-dirty-1rep.json', 'migration-sweep-2reps.json', 'migration-wws-trace.json'].flatMap(trialsOf);
  for (const { pointId, repetition, detail } of all) {
    const counted = countedRounds(detail);
    const precopy = counted.filter((round) => round.phase === 'pre-copy');
    assert.equal(precopy.length, measuredPrecopyRounds(detail), `${pointId} #${repetition + 1}: as many pre-copy rounds as the table`);
    const sum = (rounds: readonly { sentBytes: number }[]) => rounds.reduce((total, round) => total + round.sentBytes, 0);
    assert.equal(sum(counted), sum(detail.rounds), `${pointId} #${repetition + 1}: every byte still in a round`);
  }
  // The web trial of the --wws-trace run: dirty-sync-count 4 (two pre-copy rounds), and 126 794 bytes
  // interpolated into the 7.7 ms between the sync that decided the switch-over and the completion's.
  const web = trialsOf('migration-wws-trace.json').find((trial) => trial.pointId.startsWith('web-'))!.detail;
  assert.deepEqual(web.rounds.map((round) => [round.round, round.phase, round.sentBytes]), [
    [1, 'pre-copy', 241274457],
    [2, 'pre-copy', 4337676],
    [3, 'pre-copy', 126794],
    [4, 'stop-and-copy', 17015417],
  ]);
  assert.deepEqual(countedRounds(web).map((round) => [round.round, round.phase, round.sentBytes]), [
    [1, 'pre-copy', 241274457],
    [2, 'pre-copy', 4337676 + 126794],
    [4, 'stop-and-copy', 17015417],
  ]);
  assert.equal(countedRounds(web)[1]!.endMs, web.rounds[2]!.endMs, 'the last pre-copy round ends at the completion\'s sync');
  assert.deepEqual(countedRounds(dirty), dirty.rounds, 'a cancelled migration keeps the rounds it was in');
});
