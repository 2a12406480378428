/** The lab migration's third-host watcher judged (suites/migration/lab-watch.ts). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ProbeReport } from '../../suites/migration/client/reports.js';
import { judgeLabWatch } from '../../suites/migration/lab-watch.js';

const T0 = 1_796_000_000_000;
/** A probe report over 10 s with the given gaps and last echo (the probe's fields that judging reads are set; the rest plausible). */
function report(gaps: Array<[number, number]>, lastEchoAtMs: number | null): ProbeReport {
  return {
    startedAtMs: T0, endedAtMs: T0 + 10_000, intervalMs: 1, gapThresholdMs: 5, sent: 9_000, received: 8_700, duplicates: 0,
    firstEchoAtMs: T0 + 3, lastEchoAtMs, gaps, gapsDropped: 0, maxSendLateMs: 2, sendErrors: 0, perSecond: [],
  };
}
const WINDOW = { startedAtMs: T0 + 4_000, completedAtMs: T0 + 5_000, afterMs: 2_000 };

test('the longest gap within the migration window is the downtime the watcher saw; gaps outside it do not count', () => {
  const outcome = judgeLabWatch(report([[T0 + 1_000, T0 + 1_900], [T0 + 4_800, T0 + 5_047], [T0 + 4_100, T0 + 4_110]], T0 + 9_999), WINDOW, 'watch');
  assert.deepEqual(outcome, { kind: 'observed', host: 'watch', gapMs: 247, fromMs: T0 + 4_800, toMs: T0 + 5_047, sent: 9_000, received: 8_700 });
});

test('a gap reaching past the end of the window, after the source completed, still counts (the switch-over ends on the destination)', () => {
  const outcome = judgeLabWatch(report([[T0 + 4_990, T0 + 5_400]], T0 + 9_999), WINDOW, 'watch');
  assert.equal(outcome.kind === 'observed' && outcome.gapMs, 410);
});

test('no echo after the migration ended: lost, naming the host; no pause: no-gap, never a 0 ms downtime', () => {
  const lost = judgeLabWatch(report([[T0 + 4_800, T0 + 4_900]], T0 + 4_950), WINDOW, 'watch');
  assert.equal(lost.kind, 'lost');
  assert.match((lost as { reason: string }).reason, /^host watch got no echo from the guest after the migration ended \(the last echo 50 ms before/);
  assert.equal(judgeLabWatch(report([], null), WINDOW, 'watch').kind, 'lost');
  assert.deepEqual(judgeLabWatch(report([], T0 + 9_999), WINDOW, 'watch'), { kind: 'no-gap', host: 'watch', gapThresholdMs: 5, sent: 9_000, received: 8_700 });
});

test('the watcher\'s clock offset moves the window into its clock', () => {
  // The watcher's clock is 3 s ahead: its gap at T0+7800 is the migration's.
  const outcome = judgeLabWatch(report([[T0 + 7_800, T0 + 8_000]], T0 + 9_999), WINDOW, 'watch', 3_000);
  assert.equal(outcome.kind === 'observed' && outcome.gapMs, 200);
  assert.equal(judgeLabWatch(report([[T0 + 7_800, T0 + 8_000]], T0 + 9_999), WINDOW, 'watch').kind, 'no-gap');
});

test('a real watcher report (namespace host watch, TCG guest migrated sut -> peer): the 269 ms gap around the switch-over, not the probe\'s small stalls', () => {
  const captured = JSON.parse(readFileSync(new URL('../fixtures/lab/watch-probe-report.json', import.meta.url), 'utf8')) as { report: unknown; window: { startedAtMs: number; completedAtMs: number; afterMs: number }; downtimeMs: number };
  const outcome = judgeLabWatch(ProbeReport.parse(captured.report), captured.window, 'watch');
  assert.equal(outcome.kind, 'observed');
  if (outcome.kind !== 'observed') return;
  assert.equal(outcome.gapMs.toFixed(1), '269.4');
  // The client saw more than QEMU's own downtime (198 ms): the stream's way back through the lab bridge is in it.
  assert.ok(outcome.gapMs > captured.downtimeMs);
  assert.deepEqual([outcome.sent, outcome.received], [5758, 5544]);
});
