import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cleanupStaleLedger, findStaleLedgers, ResourceRegistry, TeardownStartedError } from '../../core/ledger.js';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'isobench-resources-'));
}

test('resources are torn down in reverse order and the ledger goes away', async () => {
  const state = await scratch();
  const work = await scratch();
  const registry = new ResourceRegistry('unit-run', state);
  const first = join(work, 'first');
  const second = join(work, 'first', 'second');
  await mkdir(second, { recursive: true });
  await registry.register('first dir', { kind: 'path', path: first });
  await registry.register('marker file', { kind: 'command', command: ['touch', join(work, 'undone')] });
  const ledger = JSON.parse(await readFile(join(state, 'ledger-unit-run.json'), 'utf8'));
  assert.equal(ledger.pid, process.pid);
  assert.deepEqual(ledger.resources.map((entry: { description: string }) => entry.description), ['first dir', 'marker file']);
  const report = await registry.undoAll();
  assert.deepEqual(report.removed, ['marker file', 'first dir']);
  assert.ok(!existsSync(first));
  assert.ok(existsSync(join(work, 'undone')));
  assert.deepEqual(await readdir(state), []);
});

test('a failed undo keeps its entry in the ledger for cleanup; ignorable failures pass', async () => {
  const state = await scratch();
  const registry = new ResourceRegistry('failing-run', state);
  await registry.register('already gone', { kind: 'command', command: ['ip', 'link', 'delete', 'ib-unit-absent'], ignoreFailure: 'Cannot find device' });
  await registry.register('stubborn', { kind: 'command', command: ['false'] });
  const report = await registry.undoAll();
  assert.deepEqual(report.removed, ['already gone']);
  assert.equal(report.failed[0]?.description, 'stubborn');
  const ledger = JSON.parse(await readFile(join(state, 'ledger-failing-run.json'), 'utf8'));
  assert.deepEqual(ledger.resources.map((entry: { description: string }) => entry.description), ['stubborn']);
});

test('a ledger whose process is gone is found and cleaned; a live one is left alone', async () => {
  const state = await scratch();
  const work = await scratch();
  const dead = spawnSync('true').pid;
  const leftover = join(work, 'left-behind');
  await writeFile(leftover, 'x');
  const ledger = (pid: number) => ({ runId: `run-${pid}`, pid, startedAt: '', resources: [{ id: 1, description: 'temp file', undo: { kind: 'path', path: leftover } }] });
  await writeFile(join(state, `ledger-run-${dead}.json`), JSON.stringify(ledger(dead)));
  await writeFile(join(state, `ledger-run-${process.pid}.json`), JSON.stringify(ledger(process.pid)));
  const stale = await findStaleLedgers(state);
  assert.deepEqual(stale.map((entry) => entry.pid), [dead]);
  const report = await cleanupStaleLedger(stale[0]!);
  assert.deepEqual(report.removed, ['temp file']);
  assert.ok(!existsSync(leftover));
  assert.deepEqual(await readdir(state), [`ledger-run-${process.pid}.json`]);
});

test('a step that ends after an interrupt\'s teardown does not bring back an empty ledger; a resource made then is removed at once', async () => {
  // Seen after Ctrl-C: the teardown removed the ledger, then the trial forgot its server and the
  // write re-created `resources: []`, so the next run refused as if a crashed run had left it.
  const state = await scratch();
  const work = await scratch();
  const registry = new ResourceRegistry('late-run', state);
  const server = await registry.register('server', { kind: 'command', command: ['true'] });
  await registry.undoAll();
  await registry.forget(server);
  assert.deepEqual(await readdir(state), [], 'no ledger after a late forget');
  const late = join(work, 'late');
  await writeFile(late, '');
  await assert.rejects(registry.register('late file', { kind: 'path', path: late }), (error: unknown) => error instanceof TeardownStartedError && /late file was made after the run's teardown began: removed at once/.test(error.message));
  assert.ok(!existsSync(late), 'the late resource is removed');
  assert.deepEqual(await readdir(state), [], 'and no ledger names it');
});

test('a resource registered while undoAll runs (a trial starting its server mid-teardown) is removed, and no ledger is left', async () => {
  // Seen in CI: SIGTERM's teardown ran beside a trial that registered its server after undoAll had
  // taken its list; the process exited with that entry written, and every later run refused.
  const state = await scratch();
  const work = await scratch();
  const registry = new ResourceRegistry('racing-run', state);
  await registry.register('slow to remove', { kind: 'command', command: ['sleep', '0.3'] });
  const teardown = registry.undoAll();
  const late = join(work, 'server');
  await writeFile(late, '');
  const registered = registry.register('server', { kind: 'path', path: late });
  await assert.rejects(registered, TeardownStartedError);
  const report = await teardown;
  assert.deepEqual(report, { removed: ['slow to remove'], failed: [] });
  assert.ok(!existsSync(late), 'the server made mid-teardown is removed');
  assert.deepEqual(await readdir(state), [], 'no ledger is left for the next run to refuse on');
});

test('a resource made after teardown that cannot be removed stays in the ledger for cleanup', async () => {
  const state = await scratch();
  const registry = new ResourceRegistry('stuck-run', state);
  await registry.undoAll();
  await assert.rejects(registry.register('stuck', { kind: 'command', command: ['false'] }), (error: unknown) => error instanceof TeardownStartedError && error.undoFailure !== null && /npm run cleanup/.test(error.message));
  const ledger = JSON.parse(await readFile(join(state, 'ledger-stuck-run.json'), 'utf8'));
  assert.deepEqual(ledger.resources.map((entry: { description: string }) => entry.description), ['stuck']);
});
