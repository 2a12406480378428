import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildDomainXml } from '../../provisioning/kvm/libvirt.js';
import { secondDaemonConfig, secondDaemonQemuConfig, secondDaemonUri } from '../../provisioning/kvm/libvirt-daemon.js';
import { DomjobinfoError, parseDomjobinfo } from '../../provisioning/kvm/libvirt-jobinfo.js';
import { destinationXml, isLocalUri, migrateCommand, notThisJob } from '../../provisioning/kvm/migration/libvirt-migration.js';
import type { LibvirtMigrationReport } from '../../contracts/target.js';
import type { LibvirtJobInfo } from '../../results/libvirt-jobinfo.js';
import { MigrationTrialDetail } from '../../results/migration.js';
import { buildLibvirtDetail, libvirtMigrationMetrics } from '../../suites/migration/libvirt-trial.js';

/** Real virsh outputs of libvirt 9.0.0 migrating a 256 MiB TCG guest here (test/fixtures/kvm/capture-libvirt-migration.ts). */
const fixture = (name: string) => readFileSync(new URL(`../fixtures/kvm/${name}`, import.meta.url), 'utf8');
const COMMAND = ['virsh', '-c', 'qemu:///system', 'domjobinfo', 'isobench-x', '--completed', '--keep-completed'];
const MIB = 1_048_576;

test('domjobinfo --completed of a real migration: every row in bytes and ms, exact to the three decimals virsh prints', () => {
  const job = parseDomjobinfo(fixture('libvirt-domjobinfo-completed.txt'), COMMAND);
  assert.equal(job.source, 'libvirt domjobinfo');
  assert.deepEqual(job.command, COMMAND);
  assert.equal(job.jobType, 'Completed');
  assert.equal(job.operation, 'Outgoing migration');
  // --rawstats printed libvirt's own numbers of the same job: the parsed human rows must agree.
  const raw = Object.fromEntries(
    fixture('libvirt-domjobinfo-completed-raw.txt')
      .split('\n')
      .flatMap((line) => {
        const match = /^(\w+): (\d+)$/.exec(line.trim());
        return match ? [[match[1]!, Number(match[2])]] : [];
      }),
  ) as Record<string, number>;
  const exact: Array<[keyof LibvirtJobInfo, string]> = [
    ['timeElapsedMs', 'time_elapsed'], ['timeElapsedNoNetworkMs', 'time_elapsed_net'], ['downtimeMs', 'downtime'], ['downtimeNoNetworkMs', 'downtime_net'],
    ['setupTimeMs', 'setup_time'], ['iterations', 'memory_iteration'], ['constantPages', 'memory_constant'], ['normalPages', 'memory_normal'],
    ['dirtyRatePagesPerSecond', 'memory_dirty_rate'], ['pageSizeBytes', 'memory_page_size'], ['postcopyRequests', 'memory_postcopy_requests'],
  ];
  for (const [key, rawKey] of exact) assert.equal(job[key], raw[rawKey], key);
  const capacities: Array<[keyof LibvirtJobInfo, string]> = [
    ['dataProcessedBytes', 'data_processed'], ['dataTotalBytes', 'data_total'], ['dataRemainingBytes', 'data_remaining'], ['memoryProcessedBytes', 'memory_processed'],
    ['memoryTotalBytes', 'memory_total'], ['memoryRemainingBytes', 'memory_remaining'], ['normalDataBytes', 'memory_normal_bytes'], ['memoryBandwidthBytesPerSecond', 'memory_bps'],
  ];
  for (const [key, rawKey] of capacities) {
    const value = job[key] as number;
    // Half a thousandth of the unit virsh chose (MiB for these sizes).
    assert.ok(Math.abs(value - raw[rawKey]!) <= 0.0005 * MIB, `${key}: ${value} vs raw ${raw[rawKey]}`);
  }
  assert.ok(job.iterations! >= 2 && job.downtimeMs! > 0 && job.timeElapsedMs! > job.downtimeMs!);
  // Rows virsh did not print are absent, not 0.
  for (const key of ['expectedDowntimeMs', 'errorMessage', 'compressedPages', 'autoConvergeThrottlePercent', 'fileProcessedBytes', 'timeRemainingMs'] as const) {
    assert.equal(key in job, false, key);
  }
});

test('domjobinfo: the destination\'s view, after an abort (nothing kept), no job; kept statistics that are not this job\'s are refused', () => {
  const incoming = parseDomjobinfo(fixture('libvirt-domjobinfo-incoming.txt'), COMMAND);
  assert.equal(incoming.operation, 'Incoming migration');
  assert.equal(incoming.jobType, 'Completed');
  // Read once more without --keep-completed: the kept statistics are gone.
  assert.equal(parseDomjobinfo(fixture('libvirt-domjobinfo-incoming-drained.txt'), COMMAND).jobType, 'Completed');
  const aborted = parseDomjobinfo(fixture('libvirt-domjobinfo-aborted.txt'), COMMAND);
  assert.deepEqual(aborted, { source: 'libvirt domjobinfo', command: COMMAND, jobType: 'None' }, 'libvirt 9.0 keeps no statistics of a cancelled outgoing migration');
  assert.match(notThisJob(aborted, { kind: 'aborted', detail: '' })!, /kept no statistics of this aborted migration/);
  const none = parseDomjobinfo(fixture('libvirt-domjobinfo-none.txt'), COMMAND);
  assert.deepEqual(none, { source: 'libvirt domjobinfo', command: COMMAND, jobType: 'None' });
  // Before isobench drained old statistics, the read after an abort returned the earlier incoming job (measured).
  assert.match(notThisJob(incoming, { kind: 'aborted', detail: '' })!, /an incoming migration, not this outgoing migration/);
  const completed = parseDomjobinfo(fixture('libvirt-domjobinfo-completed.txt'), COMMAND);
  assert.equal(notThisJob(completed, { kind: 'completed' }), undefined);
  assert.match(notThisJob(completed, { kind: 'failed', error: 'x' })!, /a Completed job but the migration was failed/);
});

test('domjobinfo: an unknown shape is an error quoting the line', () => {
  const good = fixture('libvirt-domjobinfo-completed.txt');
  const cases: Array<[string, RegExp]> = [
    [good.replace(/Data processed:\s+[\d.]+ MiB/, 'Data processed:   239.792 MB'), /a Data processed that is not bytes: "Data processed: {3}239\.792 MB"/],
    [good.replace(/Total downtime:\s+\d+\s+ms/, 'Total downtime:   87 s'), /Total downtime that is not ms: "Total downtime: {3}87 s"/],
    [`${good}Warp factor:      9\n`, /an unknown row "Warp factor": "Warp factor: {6}9"/],
    [`${good}something odd\n`, /not "Label: value": "something odd"/],
    [`${good}Iteration:        4\n`, /Iteration twice/],
    [good.replace(/^Job type:.*\n/, ''), /the first line is not "Job type:/],
    ['error: failed to get domain\n', /the first line is not "Job type: .*": "error: failed to get domain"/],
    ['', /\(no output\)/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseDomjobinfo(text, COMMAND), (error: unknown) => error instanceof DomjobinfoError && message.test(error.message));
});

test('virsh migrate: the same-host extras (loopback, --unsafe) only for a unix-socket destination', () => {
  const second = secondDaemonUri('/var/tmp/isobench-libvirtd-ab12');
  assert.equal(second, 'qemu+unix:///system?socket=/var/tmp/isobench-libvirtd-ab12/run/libvirt-sock');
  assert.equal(isLocalUri(second), true);
  assert.equal(isLocalUri('qemu:///system'), true);
  assert.equal(isLocalUri('qemu+ssh://lab2/system'), false);
  assert.equal(isLocalUri('qemu+tcp://10.0.0.2/system'), false);
  const base = { sourceUri: 'qemu:///system', domain: 'isobench-kvm-r1', maxBandwidthMiBs: 64, xmlFile: '/run/x/m1.xml' };
  assert.deepEqual(migrateCommand({ ...base, destinationUri: second, local: true }), [
    'virsh', '-c', 'qemu:///system', 'migrate', '--live', '--persistent', '--bandwidth', '64', '--xml', '/run/x/m1.xml',
    '--unsafe', '--listen-address', '127.0.0.1', '--migrateuri', 'tcp://127.0.0.1', 'isobench-kvm-r1', second,
  ]);
  const remote = migrateCommand({ ...base, destinationUri: 'qemu+ssh://lab2/system', local: false });
  assert.equal(remote.includes('--unsafe'), false);
  assert.deepEqual(remote.slice(-2), ['isobench-kvm-r1', 'qemu+ssh://lab2/system']);
});

test('the destination XML: its own tap and serial console, nothing else changed; a missing tap is an error', () => {
  const xml = buildDomainXml({
    name: 'isobench-kvm-r1', type: 'qemu', cpuModel: 'max', vcpus: 1, memoryMiB: 384, kernel: '/var/tmp/k', initrd: '/var/tmp/i', cmdline: 'console=ttyS0',
    disk: { path: '/var/tmp/d.raw', format: 'raw', cache: 'none', aio: 'native' }, net: { tap: 'ib-tap3', mac: '52:54:00:00:00:01', vhost: false },
    serialLog: '/results/r1-kvm-serial.log', emulator: '/usr/bin/qemu-system-x86_64',
  });
  const moved = destinationXml(xml, { oldTap: 'ib-tap3', newTap: 'ib-tap4', oldSerial: '/results/r1-kvm-serial.log', newSerial: '/results/r1-kvm-serial.log.m1' });
  assert.match(moved, /<target dev='ib-tap4' managed='no'\/>/);
  assert.match(moved, /<source path='\/results\/r1-kvm-serial\.log\.m1'\/>/);
  assert.equal(moved.replace('ib-tap4', 'ib-tap3').replace('.log.m1', '.log'), xml);
  assert.throws(() => destinationXml(xml, { oldTap: 'ib-tap9', newTap: 'ib-tap4', oldSerial: 'x', newSerial: 'y' }), /names the tap 0 times/);
});

test('the second libvirtd\'s configuration: its own host UUID, no TCP, no virtlogd, no cgroups, no shared owner memory', () => {
  const config = secondDaemonConfig('0f7e9b9c-1111-4222-8333-444455556666');
  assert.match(config, /^host_uuid = "0f7e9b9c-1111-4222-8333-444455556666"$/m);
  assert.match(config, /^listen_tcp = 0$/m);
  const qemu = secondDaemonQemuConfig();
  for (const line of ['stdio_handler = "file"', 'cgroup_controllers = [ ]', 'remember_owner = 0']) assert.ok(qemu.split('\n').includes(line), line);
  // libvirt refuses loopback here (measured: "migration_host must not be the address of the local machine").
  assert.doesNotMatch(qemu, /migration_(host|address)/);
});

function report(job: LibvirtJobInfo | null, end: LibvirtMigrationReport['end']): LibvirtMigrationReport {
  const completed = end.kind === 'completed';
  return {
    startedAtMs: 1_000_000, endedAtMs: 1_012_000, end, commands: [],
    switchOver: completed ? { runState: 'running', serialProblem: null, agentProblem: null } : null,
    destinationSerialLog: completed ? '/results/r1-kvm-serial.log.m1' : null,
    record: { destinationUri: 'qemu+unix:///system?socket=/x', migrateCommand: ['virsh', 'migrate'], job, keptCompleted: true },
  };
}
const params = { workload: 'idle' as const, variant: 'precopy' as const, bandwidthMiBs: 64, downtimeLimitMs: 300, timeLimitS: 30, roundLimit: 30 };
const probeReport = {
  startedAtMs: 990_000, endedAtMs: 1_015_000, intervalMs: 1, gapThresholdMs: 5, sent: 25_000, received: 24_800, duplicates: 0,
  firstEchoAtMs: 990_001, lastEchoAtMs: 1_014_999, gaps: [[1_011_800, 1_011_950]] as Array<[number, number]>, gapsDropped: 0, maxSendLateMs: 1.2, sendErrors: 0, perSecond: [],
};

test('the libvirt trial\'s record: the QEMU path\'s shape, libvirt\'s rows labelled as such, absent where libvirt gives none', () => {
  const job = parseDomjobinfo(fixture('libvirt-domjobinfo-completed.txt'), COMMAND);
  const inputs = { params, outcome: { kind: 'converged' as const }, method: 'libvirt 9.0.0', probeReport, probeCommand: ['udp-probe'], loadReport: null, loadCommand: [], baseline: { fromMs: 995_000, toMs: 997_000 }, watchEndMs: 1_014_000, dirtyAfter: null };
  const health = { runState: 'running', serialProblem: null, workloadAnswered: true, detail: 'echoes arrived after the switch-over' };
  const detail = MigrationTrialDetail.parse(buildLibvirtDetail({ ...inputs, report: report(job, { kind: 'completed' }), health }));
  assert.equal(detail.figuresSource, 'libvirt domjobinfo');
  assert.equal(detail.qemu.totalTimeMs, job.timeElapsedMs);
  assert.equal(detail.qemu.downtimeMs, job.downtimeMs);
  assert.equal(detail.qemu.syncCount, job.iterations);
  assert.equal(detail.qemu.eventDowntimeMs, null);
  assert.equal(detail.probe?.migrationGapMs, 150);
  assert.equal(detail.probe?.coversSwitchover, false);
  const metrics = libvirtMigrationMetrics(detail, job);
  const byName = Object.fromEntries(metrics.map((metric) => [metric.name, metric]));
  assert.equal(byName['migration_total_ms']?.value, job.timeElapsedMs);
  assert.match(byName['downtime_qemu_ms']?.method ?? '', /libvirt domjobinfo Total downtime/);
  assert.equal(byName['migration_rounds']?.value, job.iterations);
  assert.equal(byName['downtime_probe_ms']?.value, 150);
  assert.equal(byName['probe_resolution_ms'], undefined, 'no self-test, so no resolution');

  // Aborted at the time limit: libvirt kept no statistics, so no figure; no downtime, no probe downtime.
  const aborted = MigrationTrialDetail.parse(
    buildLibvirtDetail({ ...inputs, outcome: { kind: 'not-converged', limit: 'time', detail: 'aborted' }, report: report(null, { kind: 'aborted', detail: 'aborted' }), health: null }),
  );
  assert.equal(aborted.qemu.downtimeMs, null);
  assert.deepEqual(libvirtMigrationMetrics(aborted, null), []);
  const wall = libvirtMigrationMetrics(aborted, null, 30_412);
  assert.deepEqual(wall.map((metric) => [metric.name, metric.value]), [['migration_total_ms', 30_412]]);
  assert.match(wall[0]!.method ?? '', /wall time of virsh migrate/);
  // A failed job whose statistics were kept: its elapsed time, but no downtime without a switch-over.
  const failedJob = { ...job, jobType: 'Failed' as const };
  const failed = MigrationTrialDetail.parse(
    buildLibvirtDetail({ ...inputs, outcome: { kind: 'failed', error: 'x' }, report: report(failedJob, { kind: 'failed', error: 'x' }), health: null }),
  );
  const failedNames = libvirtMigrationMetrics(failed, failedJob).map((metric) => metric.name);
  assert.ok(failedNames.includes('migration_total_ms'));
  assert.equal(failedNames.includes('downtime_qemu_ms'), false);
  assert.equal(failedNames.includes('downtime_probe_ms'), false);

  // No statistics at all: no figure, never a 0.
  const blind = MigrationTrialDetail.parse(buildLibvirtDetail({ ...inputs, report: report(null, { kind: 'completed' }), health }));
  assert.deepEqual(Object.values(blind.qemu).filter((value) => value !== null), []);
  assert.deepEqual(libvirtMigrationMetrics(blind, null).map((metric) => metric.name), ['downtime_probe_ms']);
});
