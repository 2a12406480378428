import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDirectoryPrefix } from '../../core/ledger.js';
import { LEFTOVER_SCANNERS, RUN_DIRECTORY_PREFIX, runDirectoryLeftovers } from '../../provisioning/leftovers.js';

test('a run directory no ledger named (a kill between mkdtemp and the ledger entry) is found; only isobench-run-* directories are, and none with a mount inside', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'isobench-scan-'));
  try {
    await mkdir(join(parent, 'isobench-run-Ab12Cd'));
    await mkdir(join(parent, 'isobench-runner'));
    await mkdir(join(parent, 'someone-else'));
    await writeFile(join(parent, 'isobench-run-file'), 'not a directory');
    await mkdir(join(parent, 'isobench-run-Mounted', 'rootfs'), { recursive: true });
    // /proc/self/mountinfo lines: field 5 is the mount point.
    const mounts = async () => ['22 1 8:1 / / rw - ext4 /dev/sda1 rw', '23 22 0:5 / /proc rw - proc proc rw', `90 22 0:50 / ${join(parent, 'isobench-run-Mounted', 'rootfs')} rw - overlay overlay rw`].join('\n');
    const found = await runDirectoryLeftovers(join(parent, 'isobench-run-'), mounts).find();
    assert.deepEqual(found, [
      { description: `run directory ${join(parent, 'isobench-run-Ab12Cd')} (no ledger named it)`, undo: { kind: 'path', path: join(parent, 'isobench-run-Ab12Cd') } },
    ]);
    assert.deepEqual(await runDirectoryLeftovers(join(parent, 'missing', 'isobench-run-')).find(), [], 'a parent that does not exist holds nothing');
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});

test('cleanup scans run directories last, after the drivers\' scanners that may need files inside them', () => {
  assert.equal(LEFTOVER_SCANNERS.at(-1)?.name, 'run directories');
});

test('run directories lie beside the state directory: /var/tmp by default, a private one\'s parent with ISOBENCH_STATE_DIR, and the scanner looks there', async () => {
  const saved = process.env.ISOBENCH_STATE_DIR;
  const parent = await mkdtemp(join(tmpdir(), 'isobench-scan-'));
  try {
    delete process.env.ISOBENCH_STATE_DIR;
    assert.equal(runDirectoryPrefix(), RUN_DIRECTORY_PREFIX);
    process.env.ISOBENCH_STATE_DIR = join(parent, 'state');
    assert.equal(runDirectoryPrefix(), join(parent, 'isobench-run-'));
    await mkdir(join(parent, 'isobench-run-Zz99Yy'));
    // The scanner reads the prefix when it scans, not when it is made: LEFTOVER_SCANNERS is built at import.
    const found = await runDirectoryLeftovers(undefined, async () => '').find();
    assert.deepEqual(found.map((leftover) => leftover.undo), [{ kind: 'path', path: join(parent, 'isobench-run-Zz99Yy') }]);
  } finally {
    if (saved === undefined) delete process.env.ISOBENCH_STATE_DIR;
    else process.env.ISOBENCH_STATE_DIR = saved;
    await rm(parent, { recursive: true, force: true });
  }
});
