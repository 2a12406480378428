import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runChecked, runCommand } from '../../core/exec.js';
import { readResultsFile } from '../../results/store.js';
import { CLIENT_NETNS } from '../../provisioning/topology.js';
import { assertNoLeftovers, isobenchLeftovers, REPO_ROOT, runCli, waitFor } from '../helpers.js';

const BYSTANDER_NETNS = 'bystander-test';
const BYSTANDER_LINK = 'bystander0';

function startBench(out: string): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), 'bench', '--target', 'native', '--suite', 'tcp-rr', '--quick', '--reps', '20', '--out', out, '--quiet-wait', '2'],
    { cwd: REPO_ROOT, stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited };
}

async function firstTrialRecorded(out: string): Promise<boolean> {
  const files = (await readdir(out)).filter((name) => name.endsWith('.json'));
  if (files.length === 0) return false;
  const results = await readResultsFile(join(out, files[0]!)).catch(() => null);
  return results !== null && results.points.some((point) => point.trials.length > 0);
}

/** A trial's tool is running (execa then has a child, and its signal-exit hook is armed). */
async function trialToolRunning(): Promise<boolean> {
  return (await runCommand(['pgrep', '-x', 'sockperf'])).ok;
}

async function netnsExists(): Promise<boolean> {
  const outcome = await runCommand(['ip', 'netns', 'list']);
  return outcome.stdout.includes(CLIENT_NETNS);
}

test('Ctrl-C mid-run tears everything down and keeps the measured trials', { timeout: 5 * 60_000 }, async () => {
  await assertNoLeftovers();
  const out = await mkdtemp(join(tmpdir(), 'isobench-interrupt-'));
  const { child, exited } = startBench(out);
  await waitFor(() => firstTrialRecorded(out), 120_000, 'the first trial');
  // Mid-trial, while a tool runs: a handler that only ran between trials once passed this test while
  // real Ctrl-Cs, which land mid-trial, left everything behind.
  await waitFor(trialToolRunning, 60_000, 'a trial\'s sockperf');
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  const files = await readdir(out);
  const results = await readResultsFile(join(out, files.find((name) => name.endsWith('.json'))!));
  assert.equal(results.status, 'interrupted');
  assert.ok(results.points.some((point) => point.trials.some((trial) => trial.state === 'completed')), 'what was measured is kept');
  await assertNoLeftovers();
});

test('a killed run leaves resources that `cleanup` removes, and only those', { timeout: 5 * 60_000 }, async () => {
  // Network objects that are not isobench's must survive cleanup.
  await runChecked(['ip', 'netns', 'add', BYSTANDER_NETNS]);
  await runChecked(['ip', 'link', 'add', BYSTANDER_LINK, 'type', 'bridge']);
  const out = await mkdtemp(join(tmpdir(), 'isobench-crash-'));
  const { child, exited } = startBench(out);
  await waitFor(netnsExists, 120_000, 'the client namespace');
  await waitFor(() => firstTrialRecorded(out), 120_000, 'the first trial');
  child.kill('SIGKILL');
  await exited;
  const left = await isobenchLeftovers();
  assert.ok(left.some((item) => item.includes(CLIENT_NETNS)), `the crash left the namespace: ${left.join(', ')}`);
  assert.ok(left.some((item) => item.startsWith('state file ledger-')), 'and its ledger');

  const refused = await runCli(['bench', '--target', 'native', '--suite', 'tcp-rr', '--quick', '--reps', '1', '--out', out]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /run `npm run cleanup` first/);

  const cleanup = await runCli(['cleanup']);
  assert.equal(cleanup.code, 0, cleanup.stderr);
  assert.match(cleanup.stdout, /removed network namespace isobench-client/);
  await assertNoLeftovers();
  assert.ok((await runCommand(['ip', 'netns', 'list'])).stdout.includes(BYSTANDER_NETNS), 'a foreign namespace survives');
  assert.ok((await runCommand(['ip', 'link', 'show', BYSTANDER_LINK])).ok, 'a foreign link survives');
  const again = await runCli(['cleanup']);
  assert.match(again.stdout, /nothing to clean up/);
});

after(async () => {
  await runCommand(['ip', 'netns', 'delete', BYSTANDER_NETNS]);
  await runCommand(['ip', 'link', 'delete', BYSTANDER_LINK]);
});

test('a run whose starter dies (`kill $!` on npm in a script) stops itself: torn down, what was measured kept', { timeout: 5 * 60_000 }, async () => {
  // npm exits on SIGTERM without passing it on, and the shell between npm and bootstrap.mjs dies with
  // it: the run went on unseen, holding the lock. Here the shell is killed outright.
  await assertNoLeftovers();
  const out = await mkdtemp(join(tmpdir(), 'isobench-orphan-'));
  const bench = ['bench', '--target', 'native', '--suite', 'tcp-rr', '--quick', '--reps', '20', '--out', out, '--quiet-wait', '2'];
  const shell = spawn('sh', ['-c', `"${process.execPath}" "${join(REPO_ROOT, 'harness', 'bootstrap.mjs')}" ${bench.join(' ')}; echo unreachable`], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  shell.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const streamClosed = new Promise<void>((resolve) => shell.stderr.on('close', () => resolve()));
  await waitFor(() => firstTrialRecorded(out), 120_000, 'the first trial');
  shell.kill('SIGKILL');
  // The CLI holds the pipe until it exits: the stream closing is the run ending.
  await streamClosed;
  assert.match(stderr, /the process that started this run \(pid \d+\) is gone: stopping the run/);
  const files = await readdir(out);
  const results = await readResultsFile(join(out, files.find((name) => name.endsWith('.json'))!));
  assert.equal(results.status, 'interrupted');
  assert.ok(results.points.some((point) => point.trials.some((trial) => trial.state === 'completed')), 'what was measured is kept');
  await assertNoLeftovers(`the run's own teardown left nothing; its stderr ended: ${stderr.slice(-800)}`);
});
