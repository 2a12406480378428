import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import { SshHost } from '../../hosts/host.js';
import { LIBVIRT_SSH_HELPER_SUFFIX, libvirtSshUri, libvirtSshUris } from '../../hosts/libvirt-ssh.js';

test('qemu+ssh:// URIs: the port only when written, IPv6 bracketed, the helper in `command`, a path that needs escaping refused', () => {
  assert.deepEqual(libvirtSshUris({ user: 'root', address: '198.18.1.2' }, '/tmp/isobench-ssh-ab12/sut.libvirt-ssh'), {
    uri: 'qemu+ssh://root@198.18.1.2/system?command=/tmp/isobench-ssh-ab12/sut.libvirt-ssh',
    shown: 'qemu+ssh://root@198.18.1.2/system',
  });
  assert.equal(libvirtSshUris({ user: 'lab', address: 'lab-sut.example', port: 2222 }, '/x').shown, 'qemu+ssh://lab@lab-sut.example:2222/system');
  assert.equal(libvirtSshUris({ user: 'root', address: 'fd00::2', port: 22 }, '/x').shown, 'qemu+ssh://root@[fd00::2]:22/system');
  assert.throws(() => libvirtSshUris({ user: 'root', address: 'a' }, '/tmp/a dir&x/h'), /cannot go into a URI as it is: \/tmp\/a dir&x\/h/);
});

test('the helper runs ssh with the host\'s own options first, then exactly what libvirt passes (argv as libvirt 9.0 gives it)', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-libvirt-ssh-'));
  try {
    // A stand-in ssh first on PATH that writes each argument on its own line.
    const bin = join(directory, 'bin');
    await runCommand(['mkdir', bin], { timeoutMs: 5_000 });
    await writeFile(join(bin, 'ssh'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$ARGV_OUT"\n');
    await chmod(join(bin, 'ssh'), 0o755);
    const config = join(directory, 'odd config');
    const host = new SshHost('sut', { user: 'root', address: '198.18.1.2', port: 2222 }, { controlDirectory: directory, configFile: config });
    const { uri, shown } = await libvirtSshUri(host);
    const helper = join(directory, `sut${LIBVIRT_SSH_HELPER_SUFFIX}`);
    assert.equal(uri, `qemu+ssh://root@198.18.1.2:2222/system?command=${helper}`);
    assert.equal(shown, 'qemu+ssh://root@198.18.1.2:2222/system');
    assert.equal((await stat(helper)).mode & 0o777, 0o700);
    // What libvirt 9.0 passed to its `command` (captured with a recording stand-in, see hosts/libvirt-ssh.ts).
    const remote = "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     virt-ssh-helper 'qemu:///system'; fi'";
    const libvirtArgs = ['-p', '2222', '-l', 'root', '-T', '-e', 'none', '--', '198.18.1.2', remote];
    const argvFile = join(directory, 'argv');
    const ran = await runCommand([helper, ...libvirtArgs], { timeoutMs: 5_000, env: { PATH: `${bin}:/usr/bin:/bin`, ARGV_OUT: argvFile } });
    assert.ok(ran.ok, ran.stderr);
    const argv = (await readFile(argvFile, 'utf8')).split('\n').slice(0, -1);
    assert.deepEqual(argv, [...host.sshOptions().slice(1), ...libvirtArgs]);
    assert.deepEqual(argv.slice(0, 2), ['-F', config], 'the config file with a space in its path arrives as one argument');
    assert.ok(argv.includes(`ControlPath=${host.controlPath}`), 'libvirt rides on the host\'s shared connection');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
