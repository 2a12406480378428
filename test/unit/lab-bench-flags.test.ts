import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { captureCli } from './capture.js';
import { REPO_ROOT } from '../helpers.js';

const LAB = join(REPO_ROOT, 'test/fixtures/hosts/lab.yaml');

/** Runs `bench` in-process: exit code and stderr; nothing may be created for these inputs. */
async function bench(argv: string[]): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await captureCli(['bench', ...argv]);
  return { code, stderr: stderr.join('\n') };
}

test('bench --hosts: every refusal is one line, exit code 2, before anything is created', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--server', 'sut', '--target', 'native', '--suite', 'tcp-bulk'], /^isobench: --server names an inventory host: give the inventory with --hosts FILE$/],
    [['--hosts', LAB, '--server', 'peer', '--target', 'native', '--suite', 'tcp-bulk'], /--server peer: host peer does not have the role server/],
    [['--hosts', LAB, '--client', 'ghost', '--target', 'native', '--suite', 'tcp-bulk'], /--client ghost: no such host in .*lab\.yaml \(hosts: sut, peer\)/],
    [['--hosts', LAB, '--target', 'kvm', '--suite', 'tcp-bulk'], /lab mode \(--hosts\) runs only --target native with --suite tcp-bulk, tcp-rr so far, not --target kvm --suite tcp-bulk/],
    [['--hosts', LAB, '--target', 'native', '--suite', 'tcp-bulk', '--guard-range', '10.1.0.0/16', '--subnet', '10.1.0.0/24'], /test-address 198\.18\.1\.2 lies outside the test range 10\.1\.0\.0\/16/],
    [['--hosts', join(REPO_ROOT, 'no-such.yaml'), '--target', 'native', '--suite', 'tcp-bulk'], /--hosts .*no-such\.yaml cannot be read \(ENOENT\)/],
    // A valid lab command line now runs (test/integration/lab-bench.test.ts); a suite lab mode cannot run yet is refused.
    [['--hosts', LAB, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'random-io'], /lab mode \(--hosts\) runs only --target native with --suite tcp-bulk, tcp-rr so far, not --target native --suite random-io/],
  ];
  for (const [argv, says] of cases) {
    const { code, stderr } = await bench(argv);
    assert.equal(code, 2, `${argv.join(' ')}: ${stderr}`);
    assert.equal(stderr.split('\n').length, 1, stderr);
    assert.match(stderr, says);
  }
});
