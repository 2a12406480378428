import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSuiteOptions } from '../../harness/commands/bench.js';
import { migrationSuite, pointId } from '../../suites/migration/index.js';
import { MigrationOptions } from '../../suites/migration/options.js';
import { migrationSettings } from '../../provisioning/kvm/migration/settings.js';
import { buildQemuCommand } from '../../provisioning/kvm/qemu-command.js';
import { destinationSpec } from '../../provisioning/kvm/migration/destination.js';

test('migration: the default quick sweep is idle, web and three dirty rates at two link rates', () => {
  const options = MigrationOptions.parse({});
  const points = migrationSuite.points({ quick: true, cores: 2, options });
  assert.deepEqual(points.map((point) => point.id), [
    'idle-bw32-dl300-precopy', 'idle-bw64-dl300-precopy',
    'web-bw32-dl300-precopy', 'web-bw64-dl300-precopy',
    'dirty16-wws64-bw32-dl300-precopy', 'dirty16-wws64-bw64-dl300-precopy',
    'dirty48-wws64-bw32-dl300-precopy', 'dirty48-wws64-bw64-dl300-precopy',
    'dirty128-wws64-bw32-dl300-precopy', 'dirty128-wws64-bw64-dl300-precopy',
  ]);
  assert.ok(points.every((point) => point.params.timeLimitS === 30 && point.params.roundLimit === 30));
  assert.ok(points.every((point) => migrationSuite.params.safeParse(point.params).success));
  assert.equal(migrationSuite.points({ quick: false, cores: 2, options })[0]!.params.timeLimitS, 120);
  assert.equal(pointId({ workload: 'dirty', variant: 'xbzrle', bandwidthMiBs: 8, downtimeLimitMs: 50, wwsMiB: 16, dirtyRateMiBs: 0, timeLimitS: 5, roundLimit: 3 }), 'dirty0-wws16-bw8-dl50-xbzrle');
});

test('migration: flags are checked before anything runs, one line each', () => {
  const parse = (values: Record<string, string>) => parseSuiteOptions(values).get('migration');
  assert.deepEqual(parse({ workload: 'dirty', 'dirty-rate': '0,256', variant: 'auto-converge,postcopy', 'migration-time-limit': '10' }), {
    workload: 'dirty', wws: 64, 'dirty-rate': '0,256', bandwidth: '32,64', 'downtime-limit': '300', variant: 'auto-converge,postcopy', 'migration-time-limit': 10, 'migration-rounds': 30, 'wws-trace': 0, dest: undefined,
  });
  assert.equal(parse({ 'wws-trace': '8' })!['wws-trace'], 8);
  assert.throws(() => parse({ 'wws-trace': 'yes' }), /--wws-trace takes a whole number of seconds from 0 \(off\) to 600/);
  const traced = migrationSuite.points({ quick: true, cores: 2, options: parse({ workload: 'web', 'wws-trace': '8' }) as MigrationOptions });
  assert.ok(traced.every((point) => point.params.wwsTraceS === 8 && migrationSuite.params.safeParse(point.params).success), 'the trace length reaches every point');
  assert.equal(parse({ dest: 'qemu+ssh://lab2/system' })?.['dest'], 'qemu+ssh://lab2/system');
  assert.throws(() => parse({ dest: 'lab 2' }), /--dest takes a libvirt URI such as qemu\+ssh:\/\/host\/system, or with --hosts an inventory host's name, not "lab 2"/);
  // A plain name is an inventory host's (lab mode); without --hosts bench refuses it (lab-bench-flags.test.ts).
  assert.equal(parse({ dest: 'lab2' })?.dest, 'lab2');
  assert.throws(() => parse({ workload: 'idle,busy' }), /--workload takes a comma-separated list of idle, web, dirty, not "idle,busy"/);
  assert.throws(() => parse({ bandwidth: '32,0' }), /--bandwidth takes a comma-separated list of whole MiB\/s from 1, not "32,0"/);
  assert.throws(() => parse({ bandwidth: '32,32' }), /--bandwidth takes/, 'a value twice is a mistake');
  assert.throws(() => parse({ variant: 'precopy,turbo' }), /--variant takes a comma-separated list of precopy, auto-converge, xbzrle, multifd, postcopy/);
  assert.throws(() => parse({ wws: '0' }), /--wws takes a whole number of MiB from 1 to 65536, not "0"/);
  assert.throws(() => parse({ 'migration-time-limit': '1.5' }), /--migration-time-limit takes auto or a whole number of seconds/);
});

test('migration settings: both sides get events; multifd and post-copy on both, auto-converge and xbzrle on the source only', () => {
  const request = { maxBandwidthBytesPerSecond: 32 * 1_048_576, downtimeLimitMs: 300 };
  assert.deepEqual(migrationSettings({ ...request, variant: 'precopy' }), {
    source: { capabilities: ['events'], parameters: { 'max-bandwidth': 33_554_432, 'downtime-limit': 300 } },
    destination: { capabilities: ['events'], parameters: {} },
  });
  assert.deepEqual(migrationSettings({ ...request, variant: 'multifd' }).destination.capabilities, ['events', 'multifd']);
  assert.deepEqual(migrationSettings({ ...request, variant: 'postcopy' }).destination.capabilities, ['events', 'postcopy-ram']);
  assert.deepEqual(migrationSettings({ ...request, variant: 'auto-converge' }).source.capabilities, ['events', 'auto-converge']);
  assert.deepEqual(migrationSettings({ ...request, variant: 'xbzrle' }).destination.capabilities, ['events']);
});

test('the destination is the source\'s machine with its own tap, sockets and console, waiting for the stream', () => {
  const source = {
    name: 'isobench-kvm-run1', accel: 'tcg' as const, cpuModel: 'max', vcpus: 2, memoryMiB: 512, kernel: '/k', initrd: '/i', append: 'console=ttyS0',
    disk: { path: '/var/tmp/run/disk.raw', format: 'raw' as const, cache: 'none' as const, aio: 'native' as const },
    net: { tap: 'ib-tap0', mac: '52:54:00:12:00:0a', vhost: false },
    qmpSocket: '/run/a/qmp.sock', agentSocket: '/run/a/qga.sock', serialLog: '/results/a.log',
  };
  const destination = destinationSpec(source, { name: 'isobench-kvm-run1-m1', tap: 'ib-tap1', directory: '/run/m1', serialLog: '/results/m1.log' });
  const argv = buildQemuCommand(destination);
  const devices = (command: string[]) => command.filter((_, index) => command[index - 1] === '-device');
  assert.deepEqual(devices(argv), devices(buildQemuCommand(source)), 'the same devices in the same order');
  assert.deepEqual(argv.slice(-2), ['-incoming', 'defer']);
  assert.ok(argv.includes('file=/var/tmp/run/disk.raw,format=raw,if=none,id=disk0,cache=none,aio=native,discard=unmap'), 'the same disk file, cache=none');
  assert.ok(argv.some((word) => word.startsWith('tap,id=net0,ifname=ib-tap1,')));
  assert.ok(argv.includes('virtio-net-pci,netdev=net0,mac=52:54:00:12:00:0a,id=nic0'), 'the guest keeps its MAC (and so its address)');
  assert.ok(argv.some((word) => word.includes('path=/run/m1/qmp.sock')));
});
