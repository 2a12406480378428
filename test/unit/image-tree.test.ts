import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { compareKernelVersions, findBootFiles, pickBootFileNames } from '../../provisioning/image/boot-files.js';
import { guestKernelCommandLine } from '../../provisioning/image/guest-boot.js';
import { parseInstalledPackages } from '../../provisioning/image/installed-packages.js';
import { IMAGE_RECIPE } from '../../provisioning/image/recipe.js';
import { installRecipeFiles, resolveInsideTree } from '../../provisioning/image/tree-files.js';
import { mountPointsUnder } from '../../provisioning/image/tree-removal.js';

async function withTempDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'isobench-tree-'));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('boot files: the newest kernel that has an initrd', () => {
  const names = ['config-6.1.0-9-amd64', 'vmlinuz-6.1.0-9-amd64', 'initrd.img-6.1.0-9-amd64', 'vmlinuz-6.1.0-10-amd64', 'initrd.img-6.1.0-10-amd64', 'vmlinuz-6.1.0-11-amd64', 'System.map-6.1.0-11-amd64'];
  assert.deepEqual(pickBootFileNames(names), {
    kernel: 'vmlinuz-6.1.0-10-amd64',
    initrd: 'initrd.img-6.1.0-10-amd64',
    kernelVersion: '6.1.0-10-amd64',
  });
  assert.equal(pickBootFileNames(['vmlinuz-6.1.0-9-amd64']), undefined);
  assert.ok(compareKernelVersions('6.1.0-10-amd64', '6.1.0-9-amd64') > 0);
});

test('findBootFiles names what is missing', () =>
  withTempDir(async (tree) => {
    await mkdir(path.join(tree, 'boot'));
    await assert.rejects(findBootFiles(tree), /no kernel with a matching initrd .*linux-image-amd64/);
    await writeFile(path.join(tree, 'boot', 'vmlinuz-6.1.0-28-amd64'), '');
    await writeFile(path.join(tree, 'boot', 'initrd.img-6.1.0-28-amd64'), '');
    const found = await findBootFiles(tree);
    assert.equal(found.kernel, path.join(tree, 'boot', 'vmlinuz-6.1.0-28-amd64'));
    assert.equal(found.kernelVersion, '6.1.0-28-amd64');
  }));

test('paths inside the tree follow its symlinks within the tree, never out to the host', () =>
  withTempDir(async (tree) => {
    await mkdir(path.join(tree, 'usr/sbin'), { recursive: true });
    await mkdir(path.join(tree, 'run/systemd'), { recursive: true });
    await symlink('usr/sbin', path.join(tree, 'sbin')); // merged /usr, relative
    await symlink('/run/systemd', path.join(tree, 'etc-link')); // absolute: means the tree's /run
    assert.equal(await resolveInsideTree(tree, '/sbin/isobench-init'), path.join(tree, 'usr/sbin/isobench-init'));
    assert.equal(await resolveInsideTree(tree, '/etc-link/x'), path.join(tree, 'run/systemd/x'));
    assert.equal(await resolveInsideTree(tree, '/../../etc/passwd'), path.join(tree, 'etc/passwd'));
  }));

test('installing the recipe files replaces a symlink instead of writing through it', () =>
  withTempDir(async (dir) => {
    const tree = path.join(dir, 'tree');
    const outside = path.join(dir, 'outside-resolv.conf');
    await writeFile(outside, 'host file\n');
    await mkdir(path.join(tree, 'usr/sbin'), { recursive: true });
    await mkdir(path.join(tree, 'etc'));
    await symlink('usr/sbin', path.join(tree, 'sbin'));
    await symlink(outside, path.join(tree, 'etc/resolv.conf'));
    await installRecipeFiles(IMAGE_RECIPE, tree);
    assert.equal(await readFile(outside, 'utf8'), 'host file\n');
    assert.match(await readFile(path.join(tree, 'etc/resolv.conf'), 'utf8'), /no name server/);
    const init = await stat(path.join(tree, 'usr/sbin/isobench-init'));
    assert.equal(init.mode & 0o777, 0o755);
  }));

test('mount points under a directory, deepest first, with mountinfo escapes', () => {
  const mountinfo = [
    '22 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '30 22 0:5 / /var/cache/isobench/rootfs-x.building-1/dev rw - tmpfs nodev rw',
    '31 30 0:25 / /var/cache/isobench/rootfs-x.building-1/dev/pts rw - devpts devpts rw',
    '32 22 0:4 / /var/cache/isobench/rootfs-x.building-1/proc rw - proc proc rw',
    '33 22 0:4 / /var/cache/isobench/rootfs-x.building-10/proc rw - proc proc rw',
    '34 22 0:4 / /tmp/with\\040space/proc rw - proc proc rw',
  ].join('\n');
  assert.deepEqual(mountPointsUnder(mountinfo, '/var/cache/isobench/rootfs-x.building-1/'), [
    '/var/cache/isobench/rootfs-x.building-1/dev/pts',
    '/var/cache/isobench/rootfs-x.building-1/proc',
    '/var/cache/isobench/rootfs-x.building-1/dev',
  ]);
  assert.deepEqual(mountPointsUnder(mountinfo, '/tmp/with space'), ['/tmp/with space/proc']);
});

test('dpkg status: only fully installed packages count', () => {
  const status = [
    'Package: fio\nStatus: install ok installed\nVersion: 3.33-3',
    'Package: iperf3\nStatus: install ok unpacked\nVersion: 3.12-1',
    'Package: nuttcp\nStatus: deinstall ok config-files',
  ].join('\n\n');
  assert.deepEqual([...parseInstalledPackages(status)], ['fio']);
});

test('the guest kernel command line carries what the init reads', () => {
  assert.equal(guestKernelCommandLine(), 'console=ttyS0 root=/dev/vda rw init=/sbin/isobench-init');
  assert.equal(
    guestKernelCommandLine({ address: '198.18.0.10/24', gateway: '198.18.0.1', extra: ['quiet'] }),
    'console=ttyS0 root=/dev/vda rw init=/sbin/isobench-init isobench.addr=198.18.0.10/24 isobench.gw=198.18.0.1 quiet',
  );
});
