import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCommand, startBackground } from '../../core/exec.js';
import { readProcessStat } from '../../core/proc.js';
import { LAB_DOCKER_NETWORKS, labDockerStorage, remoteStopCommand } from '../../provisioning/lab-docker.js';

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the stop command ends a program and its children (run here by sh, as the host runs it), and exits 0 when it is gone', async () => {
  // A parent that ignores SIGTERM with a child: SIGTERM to both, then SIGKILL after the grace.
  const program = startBackground(['sh', '-c', 'trap "" TERM; sleep 30 & echo $!; wait'], { timeoutMs: 20_000 });
  const pid = program.pid!;
  await settle(300);
  const first = await runCommand(remoteStopCommand(pid, 300), { timeoutMs: 10_000 });
  assert.equal(first.exitCode, 0, first.stderr);
  // The parent ends once its child is killed (its `wait` returns) or by SIGKILL: either way at once, not after 30 s.
  const outcome = await program.exited;
  assert.ok(outcome.durationMs < 5_000 && !outcome.timedOut, JSON.stringify(outcome));
  const child = Number(outcome.stdout.trim());
  await settle(100);
  assert.ok(Number.isInteger(child) && child > 0, outcome.stdout);
  // Gone, or a zombie its new parent has not reaped yet (this machine's pid 1 does not reap).
  const state = (await readProcessStat(child))?.state ?? 'gone';
  assert.ok(state === 'gone' || state === 'Z', `the child is gone too (state ${state})`);
  const again = await runCommand(remoteStopCommand(pid, 0), { timeoutMs: 10_000 });
  assert.equal(again.exitCode, 0, 'a program already gone is fine');
});

test('the stop command takes the pid and the grace as arguments, never in the script', () => {
  const command = remoteStopCommand(4242, 2_000);
  assert.deepEqual(command.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(command.slice(3), ['sh', '4242', '20']);
  assert.ok(!command[2]!.includes('4242'));
});

test('lab mode Docker targets: docker-host shares the host network, docker-nat publishes', () => {
  assert.deepEqual(LAB_DOCKER_NETWORKS, { 'docker-host': 'host', 'docker-nat': 'nat' });
});

test('a lab Docker target\'s storage names the host, and for a volume its directory there as the host\'s daemon gave it', () => {
  const base = { host: 'sut', storageDriver: 'overlay2' };
  assert.equal(
    labDockerStorage({ ...base, storage: 'volume', volumeName: 'isobench-docker-host-r1-data', volumeSource: '/var/lib/docker/volumes/isobench-docker-host-r1-data/_data', fsType: 'ext4' }),
    'Docker volume isobench-docker-host-r1-data at /data on host sut (/var/lib/docker/volumes/isobench-docker-host-r1-data/_data, ext4)',
  );
  // A daemon that gave no mount source: the volume and file system still named, no path made up.
  assert.equal(labDockerStorage({ ...base, storage: 'volume', volumeName: 'v', volumeSource: null, fsType: 'xfs' }), 'Docker volume v at /data on host sut (xfs)');
  assert.equal(
    labDockerStorage({ ...base, storage: 'overlay', volumeName: null, volumeSource: null, fsType: 'overlay' }),
    "container's own layered file system (overlay2) at /data on host sut (overlay)",
  );
});
