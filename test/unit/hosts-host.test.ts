import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import { classifySshFailure, HostError, HostSet, LocalHost, SshHost } from '../../hosts/host.js';
import { quoteArgument, quoteCommand } from '../../hosts/shell-quote.js';
import { REPO_ROOT } from '../helpers.js';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test/fixtures/ssh', name), 'utf8');

/** Arguments a remote shell would otherwise split, expand, substitute or redirect. */
const TRICKY = ["it's", 'two words', '$HOME', '${PATH}', '`id`', '$(id)', 'a;b', 'a&&b', '|', '>x', '<x', '*', '?', '[a]', '~', '~root', '"q"', '\\', '\\n', '',
  'new\nline', 'tab\there', '-n', '--', '#c', '!x', 'é ü', "'", "''", "'\\''", 'a=b', '{a,b}', '%s', ' lead', 'trail '];

test('a quoted command line runs exactly the argument array in a POSIX shell (sh and bash)', async () => {
  for (const shell of ['sh', 'bash']) {
    const outcome = await runCommand([shell, '-c', quoteCommand(['printf', '%s\\0', ...TRICKY])], { timeoutMs: 10_000 });
    assert.ok(outcome.ok, outcome.stderr);
    assert.deepEqual(outcome.stdout.split('\0').slice(0, -1), TRICKY, shell);
  }
});

test('plain arguments stay readable; the rest are single-quoted; NUL is refused', () => {
  assert.equal(quoteCommand(['iperf3', '-s', '-B', '198.18.1.2', '--json']), 'iperf3 -s -B 198.18.1.2 --json');
  assert.equal(quoteArgument("it's"), `'it'\\''s'`);
  assert.equal(quoteArgument(''), `''`);
  assert.equal(quoteArgument('$HOME'), `'$HOME'`);
  assert.throws(() => quoteArgument('a\0b'), /NUL/);
});

test("ssh's own failures are told from the command's, on real ssh stderr", () => {
  assert.deepEqual(classifySshFailure({ exitCode: 255, stderr: fixture('connection-refused.stderr') }), {
    failure: 'unreachable',
    detail: 'ssh: connect to host 127.0.0.1 port 1: Connection refused',
  });
  // Exit code 255 without an ssh diagnostic is the remote command's own.
  assert.equal(classifySshFailure({ exitCode: 255, stderr: 'my tool failed\n' }), null);
  assert.equal(classifySshFailure({ exitCode: 1, stderr: fixture('connection-refused.stderr') }), null);
});

test('the ssh command line: batch mode, shared connection, keep-alive, -- before the destination, remote deadline', () => {
  const host = new SshHost('sut', { user: 'root', address: 'lab-sut.example', port: 2222 }, { controlDirectory: '/tmp/isobench-ssh-x', configFile: '/lab/ssh_config' });
  const command = host.wrap(['iperf3', '-s', '-B', '198.18.1.2'], { timeoutMs: 10_500, env: { A: 'x y' }, cwd: '/srv/my dir' });
  assert.deepEqual(command, [
    'ssh', '-F', '/lab/ssh_config', '-T',
    '-o', 'BatchMode=yes', '-o', 'ControlMaster=auto', '-o', 'ControlPath=/tmp/isobench-ssh-x/sut', '-o', 'ControlPersist=60',
    '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
    '-p', '2222', '--', 'root@lab-sut.example',
    "cd '/srv/my dir' && exec env 'A=x y' timeout --kill-after=2 13s iperf3 -s -B 198.18.1.2",
  ]);
  assert.equal(host.via, 'ssh root@lab-sut.example:2222');
  // What rsync's -e gets: the same options, without `--` and the destination (rsync adds `-l USER HOST`).
  assert.deepEqual(host.sshOptions(), command.slice(0, command.indexOf('--')));
  assert.equal(host.destination, 'root@lab-sut.example');
  // Without a config file the user's own ~/.ssh/config applies: no -F.
  assert.ok(!new SshHost('peer', { user: 'root', address: 'p' }, { controlDirectory: '/d' }).sshPrefix().includes('-F'));
});

test('a host error names the host and says what to do', () => {
  const error = new HostError('peer', 'auth-refused', 'root@198.18.1.3: Permission denied (publickey).');
  assert.equal(error.exitCode, 1);
  assert.match(error.message, /^host peer: SSH authentication refused \(isobench uses your ssh agent, keys and ~\/\.ssh\/config, never a password\): root@/);
});

test('localhost runs here; a host set opens one host per entry and closes without a trace', async () => {
  const set = await HostSet.open([
    { name: 'localhost', testAddress: '198.18.1.1', roles: [] },
    { name: 'sut', ssh: { user: 'root', address: 'lab-sut.example' }, testAddress: '198.18.1.2', roles: [] },
  ]);
  try {
    assert.ok(set.get('localhost') instanceof LocalHost);
    assert.ok(set.get('sut') instanceof SshHost);
    const outcome = await set.get('localhost').run(['sh', '-c', 'echo here'], { timeoutMs: 5_000 });
    assert.equal(outcome.stdout, 'here\n');
    assert.throws(() => set.get('nobody'), /no host named nobody/);
  } finally {
    await set.close();
  }
});
