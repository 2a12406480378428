import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalHost } from '../../hosts/host.js';
import { HostLockError, takeHostLock } from '../../hosts/host-lock.js';

// Real flock(1) on this host (LocalHost runs the same command line an SshHost sends); the remote
// side (the lock dropped when the SSH session ends) is in test/integration/lab-image-sync.test.ts.
test('a host lock: a second taker waits and gives up naming the holder; after release it is taken at once; the folder is created', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-host-lock-'));
  try {
    const host = new LocalHost('sut');
    const path = join(directory, 'not-yet', 'isobench-image.lock');
    const first = await takeHostLock(host, path, { waitMs: 5_000, holdMs: 60_000, what: 'copying the image' });
    const started = performance.now();
    await assert.rejects(
      takeHostLock(host, path, { waitMs: 1_000, holdMs: 60_000, what: 'copying the image' }),
      (error: unknown) => error instanceof HostLockError && error.message === `host sut: another isobench process held ${path} for 1 s while this one waited to start copying the image: wait for it to finish, or look for a stuck run there`,
    );
    assert.ok(performance.now() - started >= 900, 'it waited for the holder');
    await first.release();
    await first.release();
    const second = await takeHostLock(host, path, { waitMs: 1_000, holdMs: 60_000, what: 'copying the image' });
    await second.release();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('a lock that cannot be taken at all (its folder cannot be made) says why, naming the host', async () => {
  await assert.rejects(
    takeHostLock(new LocalHost('sut'), '/proc/isobench-no/lock', { waitMs: 1_000, holdMs: 10_000, what: 'copying the image' }),
    (error: unknown) => error instanceof HostLockError && /^host sut: could not lock \/proc\/isobench-no\/lock before copying the image: .*mkdir: cannot create directory/.test(error.message),
  );
});
