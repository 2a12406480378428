import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ProbeReport } from '../../suites/migration/client/reports.js';
import { classifyOutcome, healthProblem } from '../../suites/migration/outcome.js';
import { gapCovering, judgeSelfTest, longestGapWithin } from '../../suites/migration/probe-analysis.js';
import { deriveRounds } from '../../suites/migration/rounds.js';
import { webImpact } from '../../suites/migration/web-analysis.js';
import type { MigrationSample } from '../../results/migration.js';
import { toMigrationSnapshot } from '../../provisioning/kvm/migration/query-migrate.js';
import { toSample } from '../../suites/migration/detail.js';

const T0 = 1_796_000_000_000;

function probe(gaps: Array<[number, number]>): ProbeReport {
  return {
    startedAtMs: T0, endedAtMs: T0 + 10_000, intervalMs: 1, gapThresholdMs: 5, sent: 10_000, received: 9_000, duplicates: 0,
    firstEchoAtMs: T0 + 1, lastEchoAtMs: T0 + 9_999, gaps, gapsDropped: 0, maxSendLateMs: 1.2, sendErrors: 0, perSecond: [],
  };
}

test('probe: the gap that covers a pause is the one overlapping it most, not merely the longest', () => {
  const gaps: Array<[number, number]> = [[T0 + 100, T0 + 106], [T0 + 1_000, T0 + 1_104], [T0 + 2_000, T0 + 2_600]];
  assert.deepEqual(gapCovering(gaps, T0 + 1_001, T0 + 1_101), { fromMs: T0 + 1_000, toMs: T0 + 1_104 });
  assert.equal(gapCovering(gaps, T0 + 5_000, T0 + 5_100), null, 'no gap there');
  assert.deepEqual(longestGapWithin(gaps, T0, T0 + 1_500), { fromMs: T0 + 1_000, toMs: T0 + 1_104 });
  assert.deepEqual(longestGapWithin(gaps, T0, T0 + 3_000), { fromMs: T0 + 2_000, toMs: T0 + 2_600 });
});

test('probe self-test: passes within ±10 ms, says which pause it misread, and has no resolution when a pause went unseen', () => {
  const freezes = [
    { requestedMs: 100, stoppedAtMs: T0 + 1_000.5, resumedAtMs: T0 + 1_101.5 },
    { requestedMs: 200, stoppedAtMs: T0 + 2_000.2, resumedAtMs: T0 + 2_201.2 },
    { requestedMs: 500, stoppedAtMs: T0 + 3_000, resumedAtMs: T0 + 3_501 },
  ];
  const good = judgeSelfTest(freezes, probe([[T0 + 999.8, T0 + 1_104], [T0 + 1_999, T0 + 2_203], [T0 + 2_999.5, T0 + 3_504]]));
  assert.equal(good.passed, true, good.reason);
  assert.deepEqual(good.pauses.map((pause) => Math.round(pause.errorMs! * 10) / 10), [3.2, 3, 3.5]);
  assert.equal(Math.round(good.resolutionMs! * 10) / 10, 3.5);

  const coarse = judgeSelfTest(freezes, probe([[T0 + 999.8, T0 + 1_104], [T0 + 1_999, T0 + 2_230], [T0 + 2_999.5, T0 + 3_504]]));
  assert.equal(coarse.passed, false);
  assert.match(coarse.reason!, /cannot resolve 10 ms here: 201\.0 ms read as 231\.0 ms/);
  assert.equal(coarse.resolutionMs, 30, 'the worst error is the resolution');

  const blind = judgeSelfTest(freezes, probe([[T0 + 999.8, T0 + 1_104]]));
  assert.equal(blind.passed, false);
  assert.equal(blind.resolutionMs, null, 'no resolution is claimed when a pause went unseen');
  assert.match(blind.reason!, /no gap for the 200 ms, 500 ms pause/);
});

/** A migration's QMP session as captured here with ISOBENCH_QMP_TRANSCRIPT: one JSON line per QMP line, the source's QEMU first to send `migrate`. */
function readSession(name: string) {
  return readFileSync(new URL(`../fixtures/kvm/${name}`, import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .map((text) => JSON.parse(text) as { qemu: string; direction: 'sent' | 'received'; line: string; atMs: number });
}
/** Every QMP line of a real idle migration here (QEMU 7.2, TCG, 512 MiB, 64 MiB/s). */
const idle = readSession('migration-idle-qmp.jsonl');

/** The source's query-migrate answers and MIGRATION_PASS events, timed from its `migrate` as the suite times them (the answer's arrival, QEMU's stamp). */
function replaySource(session: ReturnType<typeof readSession>) {
  const sourceName = session.find((entry) => entry.direction === 'sent' && entry.line.includes('"execute":"migrate"'))!.qemu;
  const sent = new Map<string, string>();
  let startMs: number | null = null;
  const samples: MigrationSample[] = [];
  const passes: Array<{ pass: number; tMs: number }> = [];
  let finishedMs = 0;
  let postcopyFromMs: number | null = null;
  for (const entry of session.filter((candidate) => candidate.qemu === sourceName)) {
    const message = JSON.parse(entry.line) as {
      id?: string;
      execute?: string;
      event?: string;
      data?: { pass?: number; status?: string };
      timestamp?: { seconds: number; microseconds: number };
      return?: unknown;
    };
    if (entry.direction === 'sent') {
      sent.set(message.id!, message.execute!);
      if (message.execute === 'migrate') startMs = entry.atMs;
      continue;
    }
    if (startMs === null) continue;
    const stamp = message.timestamp ? message.timestamp.seconds * 1000 + message.timestamp.microseconds / 1000 - startMs : 0;
    if (message.event === 'MIGRATION_PASS') passes.push({ pass: message.data!.pass!, tMs: stamp });
    if (message.event === 'MIGRATION' && message.data!.status === 'completed') finishedMs = stamp;
    if (message.event === 'MIGRATION' && message.data!.status === 'postcopy-active') postcopyFromMs = stamp;
    if (message.id !== undefined && sent.get(message.id) === 'query-migrate') samples.push(toSample(toMigrationSnapshot(message.return, entry.atMs), startMs));
  }
  return { samples, passes, finishedMs, postcopyFromMs };
}
const idleMigration = () => replaySource(idle);

test('rounds of a real idle migration: pass events set the boundaries, the stop-and-copy carries QEMU\'s downtime-bytes', () => {
  const { samples, passes, finishedMs } = idleMigration();
  assert.equal(samples.length, 75);
  assert.deepEqual(passes.map((pass) => pass.pass), [1, 2, 3]);
  const rounds = deriveRounds(samples, passes, { tMs: finishedMs });
  assert.deepEqual(rounds.map((round) => [round.round, round.boundary, round.phase, round.bytesFrom]), [
    [1, 'event', 'pre-copy', 'interpolated'],
    [2, 'event', 'pre-copy', 'interpolated'],
    [3, 'event', 'stop-and-copy', 'downtime-bytes'],
  ]);
  assert.equal(rounds[2]!.sentBytes, 16_063_253, 'the stop-and-copy sent ram.downtime-bytes');
  const total = rounds.reduce((sum, round) => sum + round.sentBytes, 0);
  assert.ok(Math.abs(total - 264_482_653) < 1_000, `the rounds add up to ram.transferred (${total})`);
  assert.ok(rounds[0]!.sentBytes > 230 * 1_048_576 && rounds[0]!.sentBytes <= 248_419_400, 'the first pass sent almost all of the pre-copy bytes (ram.precopy-bytes 248,419,400)');
  assert.ok(rounds[1]!.endMs - rounds[1]!.startMs < 5, 'the second pass was a millisecond: little was dirty');
  assert.equal(rounds[0]!.remainingAtStartBytes, 529_993_728);
  assert.deepEqual(deriveRounds(samples.slice(0, 1), [], { tMs: 10 }), [], 'no pass, no round');
});

test('a completed query-migrate read a moment too early says total-time 0 and downtime 0 (QEMU 7.2): captured as such', () => {
  const { samples } = idleMigration();
  const completed = idle.find((entry) => entry.line.includes('"status": "completed", "setup-time"'));
  const snapshot = toMigrationSnapshot(JSON.parse(completed!.line).return, completed!.atMs);
  assert.deepEqual([snapshot.status, snapshot.totalTimeMs, snapshot.downtimeMs, snapshot.downtimeBytes], ['completed', 0, 0, 16_063_253]);
  assert.equal(samples.at(-1)!.status, 'completed');
  assert.equal(samples[0]!.status, 'setup');
  assert.equal(samples[0]!.syncCount, null, 'during setup there is no count yet, and null is not 0');
});

test('web: baseline from whole pre-migration buckets, blackout the longest empty run, brownout every bucket under half', () => {
  const completed = [10, 10, 10, 10, 10, 4, 0, 0, 0, 6, 10, 3];
  const load = { startedAtMs: T0, endedAtMs: T0 + 1_150, bucketMs: 100, connections: 4, completed, failed: completed.map(() => 0), errors: [] };
  const impact = webImpact(load, { fromMs: T0, toMs: T0 + 500 }, { fromMs: T0 + 500, toMs: T0 + 1_250 });
  assert.deepEqual(impact, { baselinePerSecond: 100, blackoutMs: 300, brownoutMs: 400 });
  // The last bucket (3 requests, cut short by the client's stop) is not judged.
  assert.deepEqual(webImpact({ ...load, completed: completed.map(() => 0) }, { fromMs: T0, toMs: T0 + 500 }, { fromMs: T0 + 500, toMs: T0 + 1_250 }).blackoutMs, null, 'no baseline, no verdict');
});

test('outcome: failure and limits first, then health, then forced, else converged', () => {
  const healthy = { runState: 'running', serialProblem: null, workloadAnswered: true, detail: 'echoes arrived' };
  const evidence = { variant: 'precopy' as const, maxThrottlePercent: null, postcopyStarted: false, health: healthy };
  assert.deepEqual(classifyOutcome({ kind: 'completed' }, evidence), { kind: 'converged' });
  assert.deepEqual(classifyOutcome({ kind: 'failed', error: 'Unable to write to socket' }, evidence), { kind: 'failed', error: 'Unable to write to socket' });
  assert.equal(classifyOutcome({ kind: 'limit', limit: 'time', detail: 'cancelled at the 30 s limit in round 14' }, evidence).kind, 'not-converged');
  assert.deepEqual(classifyOutcome({ kind: 'completed' }, { ...evidence, variant: 'auto-converge', maxThrottlePercent: 40 }), {
    kind: 'forced', by: 'auto-converge', detail: 'auto-converge throttled the vCPUs up to 40 %',
  });
  assert.equal(classifyOutcome({ kind: 'completed' }, { ...evidence, variant: 'auto-converge', maxThrottlePercent: 0 }).kind, 'converged', 'auto-converge that never throttled did not force');
  assert.equal(classifyOutcome({ kind: 'completed' }, { ...evidence, variant: 'postcopy', postcopyStarted: true }).kind, 'forced');
  const panicked = classifyOutcome({ kind: 'completed' }, { ...evidence, health: { ...healthy, serialProblem: 'Kernel panic - not syncing: Fatal exception' } });
  assert.deepEqual(panicked, { kind: 'guest-unhealthy', reason: 'its console says: Kernel panic - not syncing: Fatal exception' });
  assert.match(healthProblem({ ...healthy, runState: 'paused' })!, /is paused, not running/);
  assert.match(healthProblem({ ...healthy, workloadAnswered: false, detail: 'no echo arrived after the switch-over' })!, /stopped answering: no echo/);
  assert.equal(healthProblem(null), 'the guest was not checked after the switch-over');
});

test('rounds of a real post-copy migration: one pre-copy pass, then post-copy, no stop-and-copy; QEMU\'s figures once settled', () => {
  const { samples, passes, finishedMs, postcopyFromMs } = replaySource(readSession('migration-postcopy-qmp.jsonl'));
  assert.ok(postcopyFromMs !== null && postcopyFromMs > 9_000, 'switched to post-copy after the first pass (about 9.5 s at 32 MiB/s)');
  const rounds = deriveRounds(samples, passes, { tMs: finishedMs, postcopyFromMs });
  assert.deepEqual(rounds.map((round) => [round.round, round.phase]), [[1, 'pre-copy'], [2, 'pre-copy'], [3, 'post-copy']]);
  const last = samples.at(-1)!;
  assert.equal(last.status, 'completed');
  assert.equal(last.downtimeBytes, 0, 'post-copy has no stop-and-copy bytes');
  const total = rounds.reduce((sum, round) => sum + round.sentBytes, 0);
  assert.ok(Math.abs(total - last.transferredBytes!) < 1_000, 'the rounds add up to ram.transferred, post-copy included');
  assert.ok(rounds[2]!.sentBytes > 70 * 1_048_576, `the pages that followed the guest (ram.postcopy-bytes 78,435,844): ${rounds[2]!.sentBytes}`);
});
