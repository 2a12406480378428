import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContainerMigrationReport } from '../../contracts/container-migration.js';
import { ContainerMigrationTrialDetail } from '../../results/container-migration.js';
import { TrialDetail } from '../../results/trial-detail.js';
import type { LoadReport, ProbeReport } from '../../suites/migration/client/reports.js';
import { buildContainerDetail, containerMigrationMetrics, containerWorkload, runContainerMigrationTrial } from '../../suites/migration/container-trial.js';

// The timeline of the first real container migration on this host (idle, CRIU 4.2.1, 2026-11-30):
// checkpoint 0-347 ms, copy 347-356 ms (243,412 B in 31 files), network 356-492 ms, restore
// 492-749 ms; the probe's gap from 108.1 to 740.5 ms — the tasks froze inside the checkpoint and ran
// again before runc's restore returned.
const T0 = 1_796_029_000_000;
const HOST = { method: 'CRIU 4.2.1 stop-and-copy', support: { kind: 'supported' as const, tool: 'CRIU 4.2.1 via runc 1.1.5', dirtyTracking: { available: false, detail: 'Dirty tracking is OFF' } } };
const REPORT: ContainerMigrationReport = {
  checkpoint: { startedAtMs: T0, endedAtMs: T0 + 347, command: ['runc', 'checkpoint'] },
  copy: { startedAtMs: T0 + 347, endedAtMs: T0 + 356, command: ['cp', '-a'], bytes: 243_412, files: 31 },
  network: { startedAtMs: T0 + 356, endedAtMs: T0 + 492, command: [] },
  restore: { startedAtMs: T0 + 492, endedAtMs: T0 + 749.3, command: ['runc', 'restore'] },
  outcome: { kind: 'converged' },
};
const FREEZES = [
  { requestedMs: 100, stoppedAtMs: T0 - 5_000, resumedAtMs: T0 - 4_899 },
  { requestedMs: 200, stoppedAtMs: T0 - 4_500, resumedAtMs: T0 - 4_299 },
  { requestedMs: 500, stoppedAtMs: T0 - 3_800, resumedAtMs: T0 - 3_299 },
];

function probe(gaps: Array<[number, number]>, lastEchoAtMs: number | null = T0 + 2_700): ProbeReport {
  return {
    startedAtMs: T0 - 6_000, endedAtMs: T0 + 2_750, intervalMs: 1, gapThresholdMs: 5, sent: 8_750, received: 8_000, duplicates: 0,
    firstEchoAtMs: T0 - 5_999, lastEchoAtMs, gaps, gapsDropped: 0, maxSendLateMs: 1.5, sendErrors: 0, perSecond: [],
  };
}
const SELF_TEST_GAPS: Array<[number, number]> = [[T0 - 5_000.5, T0 - 4_897], [T0 - 4_500.4, T0 - 4_297.5], [T0 - 3_800.2, T0 - 3_297]];
const inputs = (overrides: Partial<Parameters<typeof buildContainerDetail>[0]> = {}) => ({
  workload: 'idle' as const, host: HOST, report: REPORT, freezes: FREEZES, probeReport: probe([...SELF_TEST_GAPS, [T0 + 108.1, T0 + 740.5]]), loadReport: null,
  baseline: { fromMs: T0 - 2_000, toMs: T0 }, watchEndMs: T0 + 2_750, probeCommand: ['udp-probe.ts'], loadCommand: [], ...overrides,
});

test('container detail: phases from the checkpoint\'s start, the probe\'s gap that begins in the checkpoint and ends in the restore, no QEMU fields', () => {
  const detail = buildContainerDetail(inputs());
  assert.deepEqual(ContainerMigrationTrialDetail.parse(detail), detail, 'the record validates');
  assert.equal(TrialDetail.parse(detail).kind, 'container-migration', 'and is one of the trial details the results file takes');
  assert.deepEqual(detail.checkpoint, { startMs: 0, endMs: 347, ms: 347 });
  assert.deepEqual(detail.copy, { startMs: 347, endMs: 356, ms: 9, bytes: 243_412, files: 31 });
  assert.equal(detail.totalMs, 749.3);
  assert.equal(detail.probe?.migrationGapMs, 632.4);
  assert.equal(detail.probe?.coversSwitchover, true);
  assert.equal(detail.selfTest?.passed, true);
  assert.deepEqual(detail.outcome, { kind: 'converged' });
  assert.equal(detail.health, 'echoes arrived after the restore');
  assert.ok(!('qemu' in detail) && !('rounds' in detail) && !('samples' in detail));
  const metrics = Object.fromEntries(containerMigrationMetrics(detail).map((metric) => [metric.name, metric.value]));
  assert.equal(metrics.migration_total_ms, 749.3);
  assert.equal(metrics.downtime_probe_ms, 632.4);
  assert.equal(Math.round(metrics.migration_transferred_mib! * 1000) / 1000, 0.232);
  assert.ok(metrics.probe_resolution_ms! > 0 && metrics.probe_resolution_ms! < 5);
  assert.equal(metrics.blackout_ms, undefined, 'no web figures for idle');
});

test('container detail: a gap that does not reach the restore is not the switch-over, and its downtime metric is left out', () => {
  const detail = buildContainerDetail(inputs({ probeReport: probe([...SELF_TEST_GAPS, [T0 + 108.1, T0 + 400]]) }));
  assert.equal(detail.probe?.coversSwitchover, false);
  assert.ok(!containerMigrationMetrics(detail).some((metric) => metric.name === 'downtime_probe_ms'));
});

test('container detail: a failed restore keeps the phases that ran, has no total, and names the step and CRIU\'s line', () => {
  const report: ContainerMigrationReport = { ...REPORT, outcome: { kind: 'failed', step: 'restore', error: 'Error (criu/cr-restore.c:1): Restoring FAILED.' } };
  const detail = buildContainerDetail(inputs({ report, probeReport: probe([...SELF_TEST_GAPS, [T0 + 108.1, T0 + 2_750]], T0 + 108.1) }));
  assert.deepEqual(detail.outcome, report.outcome);
  assert.equal(detail.totalMs, null);
  assert.equal(detail.health, null, 'no restored container to judge');
  assert.ok(!containerMigrationMetrics(detail).some((metric) => metric.name === 'migration_total_ms'));
});

test('container detail: a restore after which no echo came back is failed at health', () => {
  const detail = buildContainerDetail(inputs({ probeReport: probe([...SELF_TEST_GAPS, [T0 + 108.1, T0 + 2_750]], T0 + 108.1) }));
  assert.deepEqual(detail.outcome, { kind: 'failed', step: 'health', error: 'the workload stopped answering: no echo arrived after the restore' });
});

test('container detail, web: blackout and brownout from the same buckets as the VM trials', () => {
  // 10 requests per 100 ms before, none for 7 buckets from the checkpoint's start, then 10 again.
  const completed = [...Array(30).fill(10), ...Array(7).fill(0), ...Array(23).fill(10)];
  const load: LoadReport = { startedAtMs: T0 - 3_000, endedAtMs: T0 + 3_000, bucketMs: 100, connections: 4, completed, failed: Array(60).fill(0), errors: [] };
  const detail = buildContainerDetail(inputs({ workload: 'web', loadReport: load, loadCommand: ['http-load.ts'] }));
  assert.equal(detail.web?.baselinePerSecond, 100);
  assert.equal(detail.web?.blackoutMs, 700);
  assert.equal(detail.web?.brownoutMs, 700);
  assert.match(detail.health!, /web requests completed after the restore/);
});

test('the container\'s workload: the echo server on the address, and nginx with the VM trials\' configuration for web', () => {
  assert.deepEqual(containerWorkload('idle', '198.18.0.10', '/usr/local/bin/isobench-udp-echo'), { files: [], servers: [['/usr/local/bin/isobench-udp-echo', '198.18.0.10', '7007']] });
  const web = containerWorkload('web', '198.18.0.10', '/e');
  assert.equal(web.servers[1]![0], 'nginx');
  assert.match(web.files[0]!.content, /^user root root;\n[^]*listen 198\.18\.0\.10:8080;/);
});

test('a host where `criu check` fails: every container trial is skipped with CRIU\'s own line; dirty is skipped anyway', async () => {
  const reason = '`criu check` (CRIU 3.17.1 via runc 1.1.5+ds1): Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds';
  const unsupported = { method: 'm', serverAddress: '198.18.0.10', programs: { udpEcho: '/e' }, support: { kind: 'unsupported' as const, reason }, launch: () => Promise.reject(new Error('must not launch')) };
  const context = { client: { exec: () => Promise.reject(new Error('no client')), wrap: (command: readonly string[]) => [...command] }, verifyDestination: async () => {} };
  assert.deepEqual(await runContainerMigrationTrial('idle', unsupported, context), { state: 'skipped', reason: `container migration is not supported on this host: ${reason}`, commands: [] });
  const supported = { ...unsupported, support: HOST.support };
  assert.deepEqual(await runContainerMigrationTrial('dirty', supported, context), { state: 'skipped', reason: 'the container row runs the idle and web workloads only', commands: [] });
});
