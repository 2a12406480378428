/** harness/bootstrap-phase.ts: the bootstrap's `npm ci` time is taken from the environment once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NPM_CI_MS_VARIABLE, takeNpmCiMs } from '../../harness/bootstrap-phase.js';

test('the npm ci time is read once and removed, so the processes a run starts do not inherit it', () => {
  const environment: NodeJS.ProcessEnv = { [NPM_CI_MS_VARIABLE]: '21834', PATH: '/usr/bin' };
  assert.equal(takeNpmCiMs(environment), 21834);
  assert.equal(NPM_CI_MS_VARIABLE in environment, false);
  assert.equal(takeNpmCiMs(environment), null, 'a second read finds nothing');
  assert.equal(environment.PATH, '/usr/bin');
});

test('a value that is not a plain count of ms is no phase (and is removed too)', () => {
  for (const text of ['', '-5', '1e3', '12.5', 'soon']) {
    const environment: NodeJS.ProcessEnv = { [NPM_CI_MS_VARIABLE]: text };
    assert.equal(takeNpmCiMs(environment), null, JSON.stringify(text));
    assert.equal(NPM_CI_MS_VARIABLE in environment, false);
  }
});
