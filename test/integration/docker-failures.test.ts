import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBench } from '../../harness/runner.js';
import { DEFAULT_CV_THRESHOLD } from '../../harness/statistics.js';
import { RUN_LABEL } from '../../provisioning/docker/client.js';
import { inspectRunning } from '../../provisioning/docker/container-target.js';
import { dockerAvailability, ensureDockerDaemon } from '../../provisioning/docker/daemon.js';
import { ensureDockerImage, IMAGE_REPOSITORY } from '../../provisioning/docker/image.js';
import { DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET } from '../../provisioning/topology.js';
import { assertNoLeftovers, waitFor } from '../helpers.js';
import { ensureIsobenchImage } from './docker-helpers.js';
import { parseTargetConfiguration } from '../../provisioning/targets/configuration.js';
import { suiteByName } from '../../suites/index.js';

// Each failure names the step that failed. Run under `flock /tmp/isobench-heavy.lock`.

test('a daemon that does not answer (and may not be started) is a clear error', async () => {
  await assert.rejects(
    ensureDockerDaemon({ log: () => {}, start: false, socketPath: '/run/isobench-no-such-docker.sock' }),
    /^DockerStepError: finding the Docker daemon failed: nothing answers on \/run\/isobench-no-such-docker\.sock$/m,
  );
  const previous = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
  try {
    await assert.rejects(ensureDockerDaemon({ log: () => {} }), /finding the Docker daemon failed: DOCKER_HOST=tcp:\/\/127\.0\.0\.1:1 is not a unix socket/);
    assert.match((await dockerAvailability()) ?? '', /not a unix socket/);
  } finally {
    if (previous === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = previous;
  }
  assert.equal(await dockerAvailability(), null, 'the local daemon answers');
});

test('an image import that fails names the step and tags nothing', async () => {
  const { client } = await ensureDockerDaemon({ log: () => {} });
  const recipeHash = 'failedimport0001';
  await assert.rejects(
    ensureDockerImage(client, { tree: '/var/tmp/isobench-no-such-tree', recipeHash }, { log: () => {} }),
    /importing \/var\/tmp\/isobench-no-such-tree into Docker failed: /,
  );
  await assert.rejects(client.getImage(`${IMAGE_REPOSITORY}:${recipeHash}`).inspect(), /no such image/i);
  const partial = await client.listImages({ all: true, filters: JSON.stringify({ label: [`isobench.recipe=${recipeHash}`] }) });
  assert.deepEqual(partial, [], 'the empty image the daemon made of the short stream was removed');
});

test('a container that exits early is reported with its exit code and output', { timeout: 30 * 60_000 }, async () => {
  const { client } = await ensureDockerDaemon({ log: () => {} });
  const container = await client.createContainer({
    name: 'isobench-exits-early-test',
    Image: await ensureIsobenchImage(),
    Cmd: ['ls', '/isobench-boom'],
    Labels: { [RUN_LABEL]: 'docker-failures-test' },
  });
  try {
    await container.start();
    await waitFor(async () => !(await container.inspect()).State.Running, 10_000, 'the container to exit');
    await assert.rejects(
      inspectRunning(client, container.id, 'isobench-exits-early-test'),
      /starting container isobench-exits-early-test failed: it exited early \(status exited, exit code 2\).*isobench-boom/s,
    );
  } finally {
    await container.remove({ force: true });
  }
});

test('a Docker target that fails is marked failed with the step, and the other targets still run', { timeout: 10 * 60_000 }, async () => {
  await assertNoLeftovers();
  const previous = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
  let results;
  try {
    ({ results } = await runBench({
      targets: ['native', 'docker-nat'].map(parseTargetConfiguration),
      suites: [suiteByName('tcp-rr')],
      quick: true,
      repetitions: 1,
      outDirectory: await mkdtemp(join(tmpdir(), 'isobench-docker-fail-')),
      seed: 1,
      cvThreshold: DEFAULT_CV_THRESHOLD,
      subnet: DEFAULT_TEST_SUBNET,
      guardRange: DEFAULT_GUARD_RANGE,
      targetOptions: { storage: 'volume', accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true },
      suiteOptions: new Map([['tcp-bulk', { streams: 1 }]]),
      quietHost: { maxWaitMs: 5_000 },
      // The runner refuses a named target its driver says cannot run (bad input, exit 2: the
      // bench-bad-input test); here the failure must reach provisioning, as one the check cannot foresee.
      seams: { availability: async () => null },
    }));
  } finally {
    if (previous === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = previous;
  }
  assert.equal(results.status, 'completed');
  const nat = results.targets.find((target) => target.target === 'docker-nat');
  assert.equal(nat?.state, 'failed');
  assert.match(nat.reason ?? '', /finding the Docker daemon failed: DOCKER_HOST=tcp:\/\/127\.0\.0\.1:1 is not a unix socket/);
  const natPoints = results.points.filter((candidate) => candidate.target === 'docker-nat');
  const nativePoints = results.points.filter((candidate) => candidate.target === 'native');
  assert.ok(natPoints.length > 0 && nativePoints.length > 0, 'both targets have points to check');
  for (const point of natPoints) {
    assert.equal(point.status, 'failed');
    assert.match(point.reason ?? '', /finding the Docker daemon failed/);
  }
  for (const point of nativePoints) {
    assert.ok(point.status === 'ok' || point.status === 'noisy', `${point.key}: ${point.status}`);
  }
  await assertNoLeftovers();
});
