import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers.js';

const exec = promisify(execFile);
const LINK = 'isobench-st0';

const linkExists = () => exec('ip', ['link', 'show', LINK]).then(() => true, () => false);

/*
 * `npm test` once failed 14 Docker tests in CI because a test run killed just before had left its
 * bridge routing the test range. The set-up (`setup-tests`) now removes crashed runs' leftovers
 * first; this kills a "run" after it registered a link, and checks the set-up removes that link.
 */
test('npm test\'s set-up removes what a killed run left before any test runs, and says so', { skip: process.getuid?.() === 0 ? false : 'needs root to make a link' }, async () => {
  const state = await mkdtemp(join(tmpdir(), 'isobench-state-'));
  try {
    // A run that creates a link, registers it and dies without undoing it (process.exit skips teardown).
    const script = `
      import { ResourceRegistry } from './core/ledger.ts';
      import { execFileSync } from 'node:child_process';
      const registry = new ResourceRegistry('setup-test');
      execFileSync('ip', ['link', 'add', '${LINK}', 'type', 'bridge']);
      await registry.register('bridge ${LINK}', { kind: 'command', command: ['ip', 'link', 'delete', '${LINK}'] });
      process.exit(0);`;
    const env = { ...process.env, ISOBENCH_STATE_DIR: state };
    await exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, env });
    assert.ok(await linkExists(), 'the killed run left its link');
    assert.deepEqual(await readdir(state), ['ledger-setup-test.json']);

    const { stderr } = await exec(process.execPath, [join(REPO_ROOT, 'harness', 'bootstrap.mjs'), 'setup-tests'], { cwd: REPO_ROOT, env, timeout: 600_000 });
    assert.equal(await linkExists(), false, 'the set-up removed the link');
    assert.match(stderr, /before the tests, removed what crashed runs left: .*bridge isobench-st0/);
    assert.deepEqual(await readdir(state), [], 'the ledger is gone');
  } finally {
    await exec('ip', ['link', 'delete', LINK]).catch(() => undefined);
    await rm(state, { recursive: true, force: true });
  }
});
