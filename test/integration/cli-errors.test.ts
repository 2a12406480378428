import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runCli } from '../helpers.js';

const exec = promisify(execFile);

const cases: Array<[string, string[], RegExp]> = [
  ['unknown target', ['bench', '--target', 'lxc'], /unknown target "lxc": choose from native, docker-host, docker-nat, runc-criu, kvm or all/],
  ['unknown suite', ['bench', '--target', 'native', '--suite', 'netperf'], /unknown suite "netperf"/],
  ['bad flag value', ['bench', '--target', 'native', '--reps', '0'], /--reps takes a whole number from 1 to 1000/],
  ['unknown flag', ['bench', '--turbo'], /unknown flag --turbo: see npm run bench -- --help for the flags/],
  ['an output directory under /proc', ['bench', '--out', '/proc/nonexistent/dir', '--target', 'native', '--suite', 'random-io', '--quick'], /--out \/proc\/nonexistent\/dir: cannot create \/proc\/nonexistent \(ENOENT/],
  ['contradicting flags', ['bench', '--quick', '--full'], /--quick and --full contradict/],
  ['bad storage', ['bench', '--target', 'native', '--storage', 'aufs'], /--storage takes one of volume, overlay/],
  ['unknown command', ['benchmark'], /unknown command "benchmark"/],
  ['missing results file', ['results', '/nonexistent/run.json'], /\/nonexistent\/run\.json is not a valid isobench results file: cannot be read \(ENOENT\)/],
];

for (const [name, args, message] of cases) {
  test(`bad input: ${name} is one clear line and exit code 2`, async () => {
    const outcome = await runCli(args, 60_000);
    assert.equal(outcome.code, 2, outcome.stderr);
    assert.match(outcome.stderr, message);
    assert.doesNotMatch(outcome.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('bad input: a malformed results file names the field', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-cli-'));
  const path = join(directory, 'bad.json');
  await writeFile(path, JSON.stringify({ schema: 'isobench/results', version: 1, runId: 'x' }));
  const outcome = await runCli(['results', path], 60_000);
  assert.equal(outcome.code, 2);
  assert.match(outcome.stderr, /bad\.json is not a valid isobench results file: startedAt/);
});

/*
 * A results directory on a small tmpfs (root only): full, and read-only. The in-process table
 * (test/unit/bench-bad-input.test.ts) has every other bad input; these need a real mount.
 */
const root = process.getuid?.() === 0;
for (const [name, mountOptions, message] of [
  ['a full disk for the results', 'size=64k', /--out .*: no room for the results in .* \(ENOSPC: no space left on device\): free some space there or choose another --out$/],
  ['a read-only output directory', 'ro,size=64k', /--out .*: cannot (create|write in) .* \(EROFS: read-only file system\): choose a directory you can write$/],
] as const) {
  test(`bad input: ${name} is one clear line and exit code 2, before anything is created`, { skip: root ? false : 'needs root to mount a tmpfs' }, async () => {
    const directory = await mkdtemp(join(tmpdir(), 'isobench-tmpfs-'));
    const state = await mkdtemp(join(tmpdir(), 'isobench-state-'));
    await exec('mount', ['-t', 'tmpfs', '-o', mountOptions, 'isobench-test', directory]);
    try {
      const out = mountOptions.startsWith('ro') ? directory : join(directory, 'results');
      const begin = Date.now();
      const outcome = await runCliWithState(['bench', '--out', out, '--target', 'native', '--suite', 'tcp-rr', '--quick'], state);
      assert.equal(outcome.code, 2, outcome.stderr);
      const lines = outcome.stderr.trim().split('\n').filter((line) => !line.startsWith('isobench: targets '));
      assert.equal(lines.length, 1, outcome.stderr);
      assert.match(lines[0]!, message);
      assert.ok(Date.now() - begin < 30_000);
      assert.deepEqual(await readdir(directory), [], 'nothing written to the results directory');
      assert.deepEqual(await readdir(state), [], 'no lock or ledger');
    } finally {
      await exec('umount', [directory]);
      await rm(directory, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    }
  });
}

/** runCli with its own state directory, so a run of someone else's on this host is not in the way. */
async function runCliWithState(args: string[], state: string) {
  const previous = process.env.ISOBENCH_STATE_DIR;
  process.env.ISOBENCH_STATE_DIR = state;
  try {
    return await runCli(args, 120_000);
  } finally {
    if (previous === undefined) delete process.env.ISOBENCH_STATE_DIR;
    else process.env.ISOBENCH_STATE_DIR = previous;
  }
}


/** A range this host really routes that would be a valid guard range (e.g. Docker's 172.17.0.0/16), or null. */
async function routedGuardCandidate(): Promise<{ guard: string; subnet: string } | null> {
  const { stdout } = await exec('ip', ['-j', 'route', 'show', 'table', 'all']);
  for (const route of JSON.parse(stdout) as Array<{ dst?: string }>) {
    const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(route.dst ?? '');
    if (!match || Number(match[2]) < 15 || Number(match[2]) > 28) continue;
    const candidate = { guard: route.dst!, subnet: `${match[1]}/28` };
    if (/^(10\.|172\.(1[6-9]|2\d|3[01])\.|192\.168\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.)/.test(match[1]!)) return candidate;
  }
  return null;
}

test('bad input: a range this host really routes is refused with one line before anything is created', async (t) => {
  const candidate = await routedGuardCandidate();
  if (!candidate) {
    t.skip('this host routes no private range that could be a guard range');
    return;
  }
  const state = await mkdtemp(join(tmpdir(), 'isobench-state-'));
  const out = await mkdtemp(join(tmpdir(), 'isobench-out-'));
  try {
    const outcome = await runCliWithState(['bench', '--target', 'native', '--suite', 'tcp-rr', '--quick', '--out', out, '--subnet', candidate.subnet, '--guard-range', candidate.guard], state);
    assert.equal(outcome.code, 2, outcome.stderr);
    // The refusal alone: no plan line before it (issue 13).
    const lines = outcome.stderr.trim().split('\n');
    assert.equal(lines.length, 1, outcome.stderr);
    assert.match(lines[0]!, /^isobench: the host already routes .*, inside isobench's test range .*: choose another range with --subnet and --guard-range/);
    assert.deepEqual(await readdir(out), []);
    assert.deepEqual(await readdir(state), []);
  } finally {
    await rm(state, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
});
