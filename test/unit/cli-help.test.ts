import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureCli } from './capture.js';

/** Runs the CLI in this process and returns its exit code and what it printed on stdout. */
async function run(argv: string[]): Promise<{ code: number; stdout: string }> {
  const { code, stdout } = await captureCli(argv);
  return { code, stdout: stdout.join('\n') };
}

test('--help of cleanup and report prints the usage and exits 0, doing nothing else (cleanup used to run, report to exit 2)', async () => {
  const cleanup = await run(['cleanup', '--help']);
  assert.equal(cleanup.code, 0);
  assert.match(cleanup.stdout, /^usage: npm run cleanup$/m);
  assert.doesNotMatch(cleanup.stdout, /nothing to clean up|removed /, 'the cleanup itself did not run');
  const report = await run(['report', '--help']);
  assert.equal(report.code, 0);
  assert.match(report.stdout, /^usage: npm run report -- FILE \| BEFORE AFTER/m);
});

test('isobench --help prints every command\'s usage on stdout and exits 0 (a bad command is one line, exit 2)', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^isobench: what does isolation cost\?$/m);
  assert.match(help.stdout, /npm run cleanup +remove what a crashed run left behind/);
});
