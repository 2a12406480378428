/**
 * `bench --resume` of a lab run (issue 14) through the real CLI on namespace hosts (lab-hosts.ts):
 * a lab run killed (SIGKILL) after its first trials, `cleanup`, then `--resume FILE` with nothing
 * else, which must finish the run on the same two hosts into the same file, with the points, rounds
 * and order an uninterrupted run has. Root; about two minutes. Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResultsFile } from '../../results/store.js';
import { assertNoLeftovers, REPO_ROOT, runCli, waitFor } from '../helpers.js';
import { createLab, sweepLabLeftovers } from './lab-hosts.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';

/** Trials recorded so far in the one results file in `out`, or 0 before it exists. */
async function trialsRecorded(out: string): Promise<number> {
  const file = (await readdir(out)).find((name) => name.endsWith('.json'));
  if (!file) return 0;
  const results = await readResultsFile(join(out, file)).catch(() => null);
  return results?.points.reduce((sum, point) => sum + point.trials.length, 0) ?? 0;
}

test('bench --resume of a killed lab run: cleanup, then the rest of the run on the same hosts, into the same file', { skip, timeout: 10 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  const lab = await createLab([{ name: 'sut', roles: ['server'] }, { name: 'peer', roles: ['client'] }]);
  const out = await mkdtemp(join(tmpdir(), 'isobench-lab-resume-'));
  try {
    // 2 points x 3 rounds; the kill lands after 2 trials, mid-trial or between trials.
    const argv = ['bench', '--hosts', lab.inventoryPath, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'tcp-bulk', '--reps', '3', '--no-until-decided', '--quick', '--out', out, '--quiet-wait', '3'];
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), ...argv], { cwd: REPO_ROOT, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await waitFor(async () => (await trialsRecorded(out)) >= 2, 5 * 60_000, 'two trials of the lab run');
    child.kill('SIGKILL');
    await exited;
    const file = join(out, (await readdir(out)).find((name) => name.endsWith('.json'))!);
    const killed = await readResultsFile(file);
    const before = killed.points.reduce((sum, point) => sum + point.trials.length, 0);
    assert.equal(killed.status, 'running', 'a SIGKILL leaves the file running');

    const cleanup = await runCli(['cleanup']);
    assert.equal(cleanup.code, 0, `${cleanup.stdout}\n${cleanup.stderr}`);
    assert.equal((await readResultsFile(file)).status, 'interrupted', 'cleanup marks the killed run interrupted');

    const begin = performance.now();
    const resumed = await runCli(['bench', '--resume', file]);
    assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
    const results = await readResultsFile(file);
    assert.equal(results.status, 'completed');
    assert.equal(results.runId, killed.runId);
    assert.deepEqual(results.hosts?.map((host) => host.name).sort(), ['peer', 'sut']);
    assert.ok(results.hosts?.every((host) => host.error === undefined));
    assert.equal(results.order.length, 3);
    for (const point of results.points) {
      assert.deepEqual(point.trials.map((trial) => trial.round), [0, 1, 2], `${point.key}: ${point.trials.map((trial) => trial.state === 'completed' ? 'ok' : trial.reason).join('; ')}`);
      assert.ok(point.trials.every((trial) => trial.state === 'completed'), point.key);
      for (const trial of point.trials.slice(1)) {
        const [server, client] = trial.commands.map((command) => command.join(' '));
        assert.ok(server!.includes(`root@${lab.hosts[0]!.address}`) && client!.includes(`root@${lab.hosts[1]!.address}`), `${server} / ${client}`);
        assert.deepEqual(trial.hostSteal?.map((check) => check.host), ['sut', 'peer']);
      }
    }
    assert.ok(results.phases?.some((phase) => phase.name === 'resume 1: trials'));
    console.log(`# killed after ${before} trial(s); the resume ran ${6 - before} in ${((performance.now() - begin) / 1000).toFixed(0)} s`);
    await assertNoLeftovers();
  } finally {
    await lab.teardown();
    await rm(out, { recursive: true, force: true });
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});
