import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanupLeftovers } from '../../harness/commands/cleanup.js';
import { findStaleLedgers } from '../../core/ledger.js';
import { createDockerClient, RUN_LABEL } from '../../provisioning/docker/client.js';
import { readResultsFile } from '../../results/store.js';
import { assertNoLeftovers, isobenchLeftovers, waitFor } from '../helpers.js';
import { ensureIsobenchImage } from './docker-helpers.js';

// Kills a Docker run half-way (SIGKILL to its whole process group: no teardown runs) and proves
// `cleanup` restores the host, sparing Docker objects that are not a run's. Run under
// `flock /tmp/isobench-heavy.lock`.

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BYSTANDER_CONTAINER = 'bystander-from-isobench-image';
const BYSTANDER_VOLUME = 'isobench-bystander-unlabelled';

async function firstTrialRecorded(out: string): Promise<boolean> {
  const files = (await readdir(out)).filter((name) => name.endsWith('.json'));
  if (files.length === 0) return false;
  const results = await readResultsFile(join(out, files[0]!)).catch(() => null);
  return results !== null && results.points.some((point) => point.trials.length > 0);
}

test('a Docker run killed half-way leaves containers that `cleanup` removes, and only those', { timeout: 30 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  const client = createDockerClient();
  // Not a run's: made by hand from isobench's image (it inherits the image's isobench=1) and a volume
  // whose name merely looks like isobench's.
  const bystander = await client.createContainer({ name: BYSTANDER_CONTAINER, Image: await ensureIsobenchImage(), Cmd: ['sleep', 'infinity'] });
  await bystander.start();
  await client.createVolume({ Name: BYSTANDER_VOLUME });
  try {
    const out = await mkdtemp(join(tmpdir(), 'isobench-docker-crash-'));
    const child = spawn(
      process.execPath,
      [join(REPO_ROOT, 'harness', 'bootstrap.mjs'), 'bench', '--target', 'docker-host,docker-nat', '--suite', 'tcp-rr', '--quick', '--reps', '20', '--out', out, '--quiet-wait', '2'],
      { cwd: REPO_ROOT, stdio: 'ignore', detached: true },
    );
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const runContainers = async () => client.listContainers({ all: true, filters: JSON.stringify({ label: [RUN_LABEL] }) });
    await waitFor(async () => (await runContainers()).length === 2, 180_000, 'both containers');
    await waitFor(() => firstTrialRecorded(out), 180_000, 'the first trial');
    process.kill(-child.pid!, 'SIGKILL'); // bootstrap.mjs and the CLI under it, at once
    await exited;
    // The CLI under bootstrap.mjs is gone once its ledger counts as stale.
    await waitFor(async () => (await findStaleLedgers()).length === 1, 30_000, 'the killed run\'s ledger to be stale');

    const left = await isobenchLeftovers();
    assert.equal((await runContainers()).length, 2, `the killed run left its containers: ${left.join('; ')}`);
    assert.ok(left.some((item) => item.startsWith('Docker volume isobench-docker-')), 'and their volumes');
    assert.ok(left.some((item) => item.startsWith('DNAT rule 198.18.')), 'and Docker\'s DNAT rules for its published address');

    const lines: string[] = [];
    const report = await cleanupLeftovers((line) => lines.push(line));
    assert.deepEqual(report.failed, []);
    assert.ok(report.removed.some((item) => /Docker container isobench-docker-nat-/.test(item)), report.removed.join('\n'));

    await assertNoLeftovers('cleanup restored the host');
    assert.deepEqual(await runContainers(), []);
    assert.equal((await bystander.inspect()).State.Running, true, 'a container that is not a run\'s survives');
    await client.getVolume(BYSTANDER_VOLUME).inspect();
    const again = await cleanupLeftovers(() => {});
    assert.deepEqual(again, { removed: [], failed: [] }, 'a second cleanup finds nothing');
  } finally {
    await bystander.remove({ force: true });
    await client.getVolume(BYSTANDER_VOLUME).remove().catch(() => {});
  }
});
