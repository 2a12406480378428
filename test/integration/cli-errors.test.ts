import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers.js';

const cases: Array<[string, string[], RegExp]> = [
  ['unknown target', ['bench', '--target', 'lxc'], /unknown target "lxc": choose from native, docker-host, docker-nat, kvm or all/],
  ['unknown suite', ['bench', '--target', 'native', '--suite', 'netperf'], /unknown suite "netperf"/],
  ['bad flag value', ['bench', '--target', 'native', '--reps', '0'], /--reps takes a whole number from 1 to 1000/],
  ['unknown flag', ['bench', '--turbo'], /Unknown option '--turbo'/],
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
