/**
 * The lab migration trial's record and metrics (suites/migration/lab-trial.ts), from outcomes shaped
 * after a real lab run here (2026-12-01: the TCG guest, 256 MiB, peer -> sut at 32 MiB/s, idle:
 * total 6,745 ms, setup 3 ms, downtime 21 ms, dirty-sync-count 3, 221.8 MiB sent, a 122.7 ms gap at
 * the watch host; the byte counts and the snapshot's other fields are made up to fit).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabMigrationOutcome, LabMigrationReport } from '../../contracts/lab-migration.js';
import type { MigrationSnapshot } from '../../contracts/target.js';
import { MigrationTrialDetail } from '../../results/migration.js';
import { measuredPrecopyRounds } from '../../results/migration-predictions.js';
import { buildLabDetail, labHealth, labMigrationMetrics } from '../../suites/migration/lab-trial.js';
import type { LabWatchOutcome } from '../../suites/migration/lab-watch.js';
import type { MigrationTrialParams } from '../../suites/migration/trial.js';

const PARAMS: MigrationTrialParams = { workload: 'idle', variant: 'precopy', bandwidthMiBs: 32, downtimeLimitMs: 300, timeLimitS: 30, roundLimit: 30 };
const STARTED = 1_764_549_756_000;
const SNAPSHOT: MigrationSnapshot = {
  atMs: STARTED + 6_760, status: 'completed', syncCount: 3, transferredBytes: 232_587_264, remainingBytes: 0, totalBytes: 268_763_136, downtimeBytes: 1_200_000,
  dirtyPagesRate: 0, mbps: 276.4, expectedDowntimeMs: null, totalTimeMs: 6_745, setupTimeMs: 3, downtimeMs: 21, throttlePercent: null, error: null,
};
const ENDS = { source: { host: 'sut', testAddress: '198.19.214.2' }, destination: { host: 'peer', testAddress: '198.19.214.3' }, uri: 'tcp:198.19.214.3:49152' };
const COMPLETED: LabMigrationOutcome = {
  ...ENDS, kind: 'completed', destinationRunState: 'running', sourceGone: true, startedAtMs: STARTED, wallMs: 6_770, last: SNAPSHOT,
  figures: { totalTimeMs: 6_745, downtimeMs: 21, setupTimeMs: 3, dirtySyncCount: 3, transferredBytes: 232_587_264, downtimeBytes: 1_200_000, ramBytes: 268_763_136, mbps: 276.4 },
};
const SWITCH = { runState: 'running', serialProblem: null, agentProblem: null };
const WATCHED: LabWatchOutcome = { kind: 'observed', host: 'watch', gapMs: 122.7, fromMs: STARTED + 6_700, toMs: STARTED + 6_822.7, sent: 14_000, received: 13_870 };

const report = (outcome: LabMigrationOutcome, switchOver: LabMigrationReport['switchOver'] = SWITCH): LabMigrationReport => ({ outcome, figuresFrom: 'qemu', switchOver, destinationSerialLog: switchOver ? '/srv/g/serial.log on host peer' : null });
const values = (metrics: { name: string; value: number }[]) => Object.fromEntries(metrics.map((metric) => [metric.name, metric.value]));

test('a completed lab migration: QEMU\'s figures and the watch host\'s gap, each labelled with where it was read; the record validates', () => {
  const health = labHealth('idle', report(COMPLETED), WATCHED, null, null);
  assert.equal(health.workloadAnswered, true, health.detail);
  const detail = buildLabDetail(PARAMS, report(COMPLETED), { kind: 'converged' }, health, 'QEMU pre-copy over TCP between lab hosts sut and peer', { probeReport: null, probeCommand: [], watched: WATCHED, clockOffset: { offsetMs: 0.19, uncertaintyMs: 0.45 }, dirtyAfter: null });
  assert.equal(MigrationTrialDetail.safeParse(detail).success, true, JSON.stringify(MigrationTrialDetail.safeParse(detail).error?.issues));
  assert.deepEqual(detail.lab, { source: 'sut', destination: 'peer', uri: 'tcp:198.19.214.3:49152', watch: WATCHED, watchClockOffset: { offsetMs: 0.19, uncertaintyMs: 0.45 } });
  assert.equal(detail.qemu.ramBytes, 268_763_136);
  const metrics = labMigrationMetrics(report(COMPLETED), WATCHED, detail);
  assert.deepEqual(values(metrics), {
    migration_total_ms: 6_745, migration_setup_ms: 3, downtime_qemu_ms: 21, migration_rounds: 3, migration_precopy_rounds: 1,
    migration_transferred_mib: 232_587_264 / 1_048_576, downtime_probe_ms: 122.7,
  });
  // Direction-free: a point's mean spans trials there and back.
  assert.equal(metrics.find((metric) => metric.name === 'downtime_qemu_ms')!.method, 'QEMU query-migrate on the source, between lab hosts peer and sut, downtime');
  assert.match(metrics.find((metric) => metric.name === 'downtime_probe_ms')!.method!, /lab host watch/);
});

test('not converged: the time to the cancel, no downtime and no pre-copy round count; a failure before any figure gives none (never 0)', () => {
  const cancelled: LabMigrationOutcome = { ...ENDS, kind: 'not-converged', timeLimitMs: 30_000, last: { ...SNAPSHOT, status: 'cancelled', totalTimeMs: 30_104, downtimeMs: null, syncCount: 41 } };
  const detail = buildLabDetail(PARAMS, report(cancelled, null), { kind: 'not-converged', limit: 'time', detail: 'cancelled' }, null, 'm', { probeReport: null, probeCommand: [], watched: null, clockOffset: null, dirtyAfter: null });
  const metrics = labMigrationMetrics(report(cancelled, null), null, detail);
  assert.equal(values(metrics).migration_total_ms, 30_104);
  assert.match(metrics[0]!.method!, /until the cancel$/);
  assert.equal(values(metrics).downtime_qemu_ms, undefined);
  assert.equal(values(metrics).migration_precopy_rounds, undefined);
  assert.equal(values(metrics).migration_rounds, 41);

  const failed: LabMigrationOutcome = { ...ENDS, uri: null, kind: 'failed', stage: 'starting the destination QEMU', reason: 'host peer: the migration destination QEMU exited with code 1', last: null };
  const none = buildLabDetail(PARAMS, report(failed, null), { kind: 'failed', error: 'x' }, null, 'm', { probeReport: null, probeCommand: [], watched: null, clockOffset: null, dirtyAfter: null });
  assert.deepEqual(labMigrationMetrics(report(failed, null), null, none), []);
  assert.equal(none.qemu.totalTimeMs, null);
});

test('health: the agent not answering, no echo at the watch host after the switch-over, a dirtier that stopped: each makes the guest unhealthy, saying why', () => {
  assert.equal(labHealth('idle', report(COMPLETED, { ...SWITCH, agentProblem: 'no reply' }), null, null, null).workloadAnswered, false);
  const lost: LabWatchOutcome = { kind: 'lost', host: 'watch', reason: 'host watch got no echo from the guest after the migration ended (no echo at all)', sent: 10, received: 0 };
  const unseen = labHealth('idle', report(COMPLETED), lost, null, null);
  assert.equal(unseen.workloadAnswered, false);
  assert.match(unseen.detail, /host watch got no echo/);
  const stats = { wws_mib: 64, rate_mib_s: 16, page_bytes: 4096, elapsed_s: 10, pages_written: 40_000, last_second_mib_s: 16, late_slices: 0, running: true };
  assert.equal(labHealth('dirty', report(COMPLETED), WATCHED, stats, { ...stats, pages_written: 40_000 }).workloadAnswered, false);
  const moving = labHealth('dirty', report(COMPLETED), WATCHED, stats, { ...stats, pages_written: 52_000 });
  assert.equal(moving.workloadAnswered, true);
  assert.match(moving.detail, /the dirtier wrote 12000 more pages after the switch-over/);
});

test('a converged lab trial (no rounds recorded) counts dirty-sync-count − 2 pre-copy rounds in the prediction table, as its metric does (it said 3 for 1)', () => {
  const detail = buildLabDetail(PARAMS, report(COMPLETED), { kind: 'converged' }, labHealth('idle', report(COMPLETED), WATCHED, null, null), 'm', { probeReport: null, probeCommand: [], watched: WATCHED, clockOffset: { offsetMs: 0.19, uncertaintyMs: 0.45 }, dirtyAfter: null });
  assert.equal(measuredPrecopyRounds(detail), 1);
  assert.equal(values(labMigrationMetrics(report(COMPLETED), WATCHED, detail)).migration_precopy_rounds, 1);
  // Cancelled: the round it was cut in.
  assert.equal(measuredPrecopyRounds({ ...detail, outcome: { kind: 'not-converged', limit: 'time', detail: 'cancelled' } }), 3);
});
