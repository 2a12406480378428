/**
 * Lab mode's random-io (issue 14): `host_disk_request_kib` is read on the host the target runs on
 * (SuiteContext.targetHost, the server host over SSH), named in its method, never this machine's
 * /sys/block; a reading that fails there leaves it absent while fio's figures stand.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { TargetHostAccess, TrialContext } from '../../contracts/suite.js';
import type { ProvisionedTarget } from '../../contracts/target.js';
import type { CommandOutcome } from '../../core/exec.js';
import { DISK_STATS_SCRIPT, parseDiskStats } from '../../suites/random-io/host-disks.js';
import { randomIoSuite } from '../../suites/random-io/index.js';

const fixture = (path: string) => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');

function outcome(command: readonly string[], fields: Partial<CommandOutcome> = {}): CommandOutcome {
  return { command: [...command], ok: true, exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1, ...fields };
}

test('parseDiskStats reads the script\'s real output: each disk by name, fields 1, 3, 5 and 7; a line that does not parse is left out', () => {
  const counters = parseDiskStats(fixture('random-io/lab-host-disk-stats.txt'));
  assert.deepEqual([...counters.keys()], ['vda']);
  assert.deepEqual(counters.get('vda'), { readIos: 164414979, readSectors: 3840199178, writeIos: 89787179, writeSectors: 5867978646 });
  assert.deepEqual([...parseDiskStats('sdb 1 2 x\n\nnvme0n1 10 0 80 0 20 0 160\n').keys()], ['nvme0n1']);
  assert.equal(parseDiskStats('').size, 0);
});

/** A target whose fio answers with a real randread report, and a server host whose disk script answers `hostAnswer(reading)`. */
function labTrial(hostAnswer: (reading: number) => Partial<CommandOutcome> | Error) {
  const hostCommands: string[][] = [];
  let reading = 0;
  const targetHost: TargetHostAccess = {
    name: 'sut',
    exec: async (command) => {
      hostCommands.push([...command]);
      const answer = hostAnswer(reading++);
      if (answer instanceof Error) throw answer;
      return outcome(command, answer);
    },
  };
  const target = {
    name: 'native', dataDirectory: '/srv/isobench', serverAddress: '198.18.1.2',
    exec: async (command: readonly string[]) => outcome(command, { stdout: fixture('tools/fio-randread.json') }),
  } as unknown as ProvisionedTarget;
  const context = { target, targetHost, config: { quick: true, cores: 2, options: {} } } as unknown as TrialContext<Record<string, never>>;
  return { context, hostCommands };
}

test('in lab mode the trial reads the server host\'s disks through targetHost, and the metric names that host', async () => {
  const point = randomIoSuite.points({ quick: true, cores: 2, options: {} }).find((one) => one.id === 'randread')!;
  // Between the readings sdb completed 1000 reads of 8000 sectors: 4 KiB a request.
  const { context, hostCommands } = labTrial((reading) => ({ stdout: reading === 0 ? 'sdb 5000 0 40000 0 7 0 56\n' : 'sdb 6000 0 48000 0 7 0 56\n' }));
  const trial = await randomIoSuite.runTrial(point, context);
  assert.equal(trial.state, 'completed', JSON.stringify(trial));
  if (trial.state !== 'completed') return;
  assert.deepEqual(hostCommands, [['sh', '-c', DISK_STATS_SCRIPT], ['sh', '-c', DISK_STATS_SCRIPT]]);
  const request = trial.metrics.find((metric) => metric.name === 'host_disk_request_kib');
  assert.equal(request?.value, 4);
  assert.equal(request?.method, 'host sut /sys/block/{sdb}/stat, reads');
  assert.deepEqual(trial.commands[0]?.slice(0, 3), ['fio', '--name=randread', '--filename=/srv/isobench/isobench-fio.dat']);
});

test('a server host whose /sys/block cannot be read: fio\'s figures stand, host_disk_request_kib is absent (not this machine\'s)', async () => {
  const point = randomIoSuite.points({ quick: true, cores: 2, options: {} }).find((one) => one.id === 'randread')!;
  for (const answer of [() => new Error('host sut: the connection was lost'), () => ({ ok: false, exitCode: 1, stderr: 'sh: 1: cannot open' })]) {
    const { context } = labTrial(answer);
    const trial = await randomIoSuite.runTrial(point, context);
    assert.equal(trial.state, 'completed');
    if (trial.state !== 'completed') continue;
    assert.ok(trial.metrics.some((metric) => metric.name === 'iops'));
    assert.equal(trial.metrics.find((metric) => metric.name === 'host_disk_request_kib'), undefined);
  }
});
