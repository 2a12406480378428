import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { captureCli } from './capture.js';
import { parseBenchOptions } from '../../harness/commands/bench.js';
import type { LabHost } from '../../results/schema.js';
import { readResultsFile } from '../../results/store.js';
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

/**
 * A lab run's results file to resume, from a real one-repetition native tcp-bulk/tcp-rr file: its
 * command line names `inventory`, its `hosts` are the example inventory's two hosts as the
 * runner records them (LabHost.via is Host.via), as `change` leaves them. peer carries the error of
 * an earlier session, as a run whose host died does.
 */
async function labRunFile(directory: string, inventory: string, change: (hosts: LabHost[]) => LabHost[] = (hosts) => hosts): Promise<string> {
  const fixture = await readResultsFile(join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json'));
  const command = ['--hosts', inventory, '--server', 'sut', '--client', 'peer', '--target', 'native', '--suite', 'tcp-bulk,tcp-rr', '--quick', '--reps', '1', '--quiet-wait', '5'];
  const hosts: LabHost[] = [
    { name: 'sut', via: 'ssh root@lab-sut.example:22', roles: ['server', 'migration-source'], testAddress: '198.18.1.2', facts: null, clockOffset: null },
    { name: 'peer', via: 'ssh root@lab-peer.example', roles: ['client', 'migration-dest'], testAddress: '198.18.1.3', facts: null, clockOffset: null, error: 'host peer: the connection was lost' },
  ];
  const file = { ...fixture, status: 'interrupted' as const, plan: { ...fixture.plan, command, adaptive: null }, hosts: change(hosts) };
  const path = join(directory, `${fixture.runId}.json`);
  await writeFile(path, JSON.stringify(file));
  return path;
}

test('--resume of a lab run: the recorded inventory and --server/--client are read again and the run placed on the same hosts', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-lab-resume-'));
  try {
    const inventory = join(directory, 'lab.yaml');
    await copyFile(LAB, inventory);
    const path = await labRunFile(directory, inventory);
    const options = await parseBenchOptions(['--resume', path]);
    assert.equal(options.resume?.path, path);
    assert.equal(options.lab?.server.name, 'sut');
    assert.equal(options.lab?.client.name, 'peer');
    assert.equal(options.lab?.inventory.source, inventory);
    assert.deepEqual(options.targets.map(({ id }) => id), ['native']);
    assert.deepEqual(options.quietHost, { maxWaitMs: 5000 });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('--resume of a lab run is refused in one line, exit 2, when its inventory is gone or names other hosts than the file measured', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-lab-resume-'));
  try {
    const inventory = join(directory, 'lab.yaml');
    const text = await readFile(LAB, 'utf8');
    const cases: Array<[string, string, (hosts: LabHost[]) => LabHost[], RegExp]> = [
      ['missing', '', (hosts) => hosts, /^isobench: cannot resume .*\.json: its inventory: --hosts .*lab\.yaml cannot be read \(ENOENT\); a lab run resumes only with the inventory it ran with, at the same path$/],
      ['another ssh address', text.replace('root@lab-sut.example:22', 'root@lab-sut2.example:22'), (hosts) => hosts, /cannot resume .*: host sut is ssh root@lab-sut2\.example:22, test address 198\.18\.1\.2 in .*lab\.yaml now, but the run measured ssh root@lab-sut\.example:22, test address 198\.18\.1\.2: resume with the inventory it ran with/],
      ['another test address', text.replace('198.18.1.3', '198.18.1.9'), (hosts) => hosts, /host peer is ssh root@lab-peer\.example, test address 198\.18\.1\.9 in .* now, but the run measured ssh root@lab-peer\.example, test address 198\.18\.1\.3/],
      ['a host the file does not record', text, (hosts) => hosts.filter((host) => host.name !== 'peer'), /cannot resume .*: host peer of .*lab\.yaml is not among the hosts the run measured on \(sut\)/],
      ['an inventory no longer valid', text.replace('name: peer', 'name: Peer'), (hosts) => hosts, /cannot resume .*: its inventory: --hosts .*lab\.yaml: hosts\[1\].*name/],
    ];
    for (const [what, content, change, says] of cases) {
      await rm(inventory, { force: true });
      if (content !== '') await writeFile(inventory, content);
      const path = await labRunFile(directory, inventory, change);
      const { code, stderr } = await bench(['--resume', path]);
      assert.equal(code, 2, `${what}: ${stderr}`);
      assert.equal(stderr.split('\n').length, 1, `${what}: ${stderr}`);
      assert.match(stderr, says, what);
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
