import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { MigrationRun, MigrationSnapshot, TimedEvent } from '../../contracts/target.js';
import { toMigrationSnapshot } from '../../provisioning/kvm/migration/query-migrate.js';
import { buildDetail, migrationMetrics } from '../../suites/migration/detail.js';

/**
 * Every QMP line of a real migration here that never converged: a flat-out dirtier rewriting 64 MiB
 * against a 64 MiB/s link, cancelled by isobench past its 30-round limit (captured with
 * ISOBENCH_QMP_TRANSCRIPT during the quick suite).
 */
const lines = readFileSync(new URL('../fixtures/kvm/migration-cancelled-qmp.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((text) => JSON.parse(text) as { qemu: string; direction: 'sent' | 'received'; line: string; atMs: number });
const destination = lines[0]!.qemu;
const source = lines.find((entry) => entry.qemu !== destination)!.qemu;
const stamp = (message: { timestamp: { seconds: number; microseconds: number } }) => message.timestamp.seconds * 1000 + message.timestamp.microseconds / 1000;

/** The run as the suite saw it: the source's query-migrate answers and both sides' events. */
function replay(): { run: MigrationRun; snapshots: MigrationSnapshot[] } {
  const commands = new Map<string, string>();
  const snapshots: MigrationSnapshot[] = [];
  const events: TimedEvent[] = [];
  let startedAtMs = 0;
  for (const entry of lines) {
    const message = JSON.parse(entry.line) as { id?: string; execute?: string; event?: string; data?: { status?: string; pass?: number }; timestamp?: { seconds: number; microseconds: number }; return?: unknown };
    if (entry.direction === 'sent') {
      if (entry.qemu === source) commands.set(message.id!, message.execute!);
      if (entry.qemu === source && message.execute === 'migrate') startedAtMs = entry.atMs;
      continue;
    }
    if (message.event && message.timestamp && startedAtMs > 0) {
      const detail = message.data?.status ?? message.data?.pass;
      events.push({ atMs: stamp(message as { timestamp: { seconds: number; microseconds: number } }), side: entry.qemu === source ? 'source' : 'destination', event: message.event, ...(detail !== undefined ? { detail } : {}) });
    }
    if (entry.qemu === source && message.id && commands.get(message.id) === 'query-migrate') snapshots.push(toMigrationSnapshot(message.return, entry.atMs));
  }
  const unused = async () => Promise.reject(new Error('not in a replay'));
  const run: MigrationRun = {
    startedAtMs,
    destinationSerialLog: '/results/m8.log',
    poll: unused,
    startPostcopy: unused,
    cancel: unused,
    switchOver: unused,
    abandon: async () => {},
    events: () => events,
  };
  return { run, snapshots };
}

test('a migration cancelled at its round limit: QEMU\'s figures from its last full answer, its rounds, no stop-and-copy and no downtime', () => {
  const { run, snapshots } = replay();
  assert.deepEqual([snapshots.at(-2)!.status, snapshots.at(-1)!.status], ['cancelling', 'cancelled']);
  assert.equal(snapshots.at(-1)!.totalTimeMs, null, 'the answer after the cancel holds only the status');
  const probeReport = {
    startedAtMs: run.startedAtMs - 5_000, endedAtMs: run.startedAtMs + 40_000, intervalMs: 1, gapThresholdMs: 5, sent: 45_000, received: 44_900, duplicates: 0,
    firstEchoAtMs: run.startedAtMs - 4_999, lastEchoAtMs: run.startedAtMs + 39_999, gaps: [], gapsDropped: 0, maxSendLateMs: 3, sendErrors: 0, perSecond: [],
  } satisfies Parameters<typeof buildDetail>[0]['probeReport'];
  const detail = buildDetail({
    params: { workload: 'dirty', variant: 'precopy', bandwidthMiBs: 64, downtimeLimitMs: 300, wwsMiB: 64, dirtyRateMiBs: 128, timeLimitS: 30, roundLimit: 30 },
    run,
    loop: { end: { kind: 'limit', limit: 'rounds', detail: 'cancelled in round 31 (limit 30)' }, snapshots, maxThrottlePercent: null, postcopyStarted: false },
    outcome: { kind: 'not-converged', limit: 'rounds', detail: 'cancelled in round 31 (limit 30)' },
    health: null,
    method: 'QEMU 7.2.22 live migration over a unix socket',
    freezes: [],
    probeReport,
    probeCommand: [],
    loadReport: null,
    loadCommand: [],
    baseline: { fromMs: run.startedAtMs - 2_000, toMs: run.startedAtMs },
    endedAtMs: snapshots.at(-1)!.atMs,
    watchEndMs: snapshots.at(-1)!.atMs + 2_000,
    dirtyAfter: null,
  });
  assert.equal(detail.qemu.totalTimeMs, 28_180);
  assert.equal(detail.qemu.syncCount, 31);
  assert.equal(detail.qemu.downtimeMs, null);
  assert.equal(detail.qemu.eventDowntimeMs, null, 'no switch-over: the source\'s STOP never came');
  assert.equal(detail.rounds.length, 31);
  assert.ok(detail.rounds.every((round) => round.phase === 'pre-copy' && round.boundary === 'event'));
  const mib = detail.rounds.map((round) => round.sentBytes / 1_048_576);
  assert.ok(mib[0]! > 300 && mib.slice(1, -1).every((value) => value > 40 && value < 80), `after the first pass each round resends about the 64 MiB set (${mib.map(Math.round).join(', ')})`);
  assert.ok(detail.events.some((event) => event.side === 'destination' && event.detail === 'failed'), 'the destination saw the stream end');
  const metrics = migrationMetrics(detail);
  assert.deepEqual(metrics.map((metric) => metric.name), ['migration_total_ms', 'migration_setup_ms', 'migration_rounds', 'migration_precopy_rounds', 'migration_transferred_mib']);
  assert.equal(metrics.find((metric) => metric.name === 'migration_precopy_rounds')?.value, 31, 'cancelled in its 31st round');
  assert.match(metrics[0]!.method!, /last answer before the migration stopped/);
});
