import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers.js';

test('a reader that goes away (`| head`) does not crash a command: its output is dropped, it ends as it would have', async () => {
  // Before, the first write after the reader left threw EPIPE unhandled: exit 1, a stack, and a
  // bench run killed that way mid-trial left its namespace and ledger behind.
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), 'results', join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json'), '--format', 'json'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
