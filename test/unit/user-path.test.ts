/**
 * core/user-path.ts: a path typed in a subdirectory is read from that directory, though `npm run`
 * starts every script in the package root (a newcomer's `cd test && npm run report -- ../runs/X.json`
 * failed with ENOENT).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT, userDirectory } from '../../core/user-path.js';

test('npm run: INIT_CWD, where the user typed the command; any other start: the working directory', () => {
  assert.equal(userDirectory({ INIT_CWD: '/work/lab/test' }, PACKAGE_ROOT, PACKAGE_ROOT), '/work/lab/test');
  assert.equal(userDirectory({}, PACKAGE_ROOT, PACKAGE_ROOT), PACKAGE_ROOT);
  // A child started in a directory of its own inherited the INIT_CWD of the npm above it: its own cwd counts.
  assert.equal(userDirectory({ INIT_CWD: PACKAGE_ROOT }, '/tmp/elsewhere', PACKAGE_ROOT), '/tmp/elsewhere');
  assert.equal(userDirectory({ INIT_CWD: 'relative' }, PACKAGE_ROOT, PACKAGE_ROOT), PACKAGE_ROOT, 'not an absolute path: not npm\'s');
});

test('npm run results, typed in a subdirectory with a path relative to it, reads that file', () => {
  const typedIn = join(PACKAGE_ROOT, 'test');
  const run = spawnSync('npm', ['run', '-s', 'results', '--', 'fixtures/results/native-network-1rep.json'], { cwd: typedIn, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^run 20261125T152133Z-f517 /);
});
