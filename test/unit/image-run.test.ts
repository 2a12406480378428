/**
 * The image steps of one run (provisioning/image/run-image.ts): the image phase and every target that
 * runs the image ask for the tree, and "image recipe … is cached" used to be said once per target.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { computeRecipeHash, diskImageName, IMAGE_RECIPE, rootfsDirName } from '../../provisioning/image/index.js';
import { LocalHost, SshHost } from '../../hosts/host.js';
import { RunImage } from '../../provisioning/image/run-image.js';

let scratch = '';
let cacheDir = '';
let hash = '';
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'isobench-run-image-'));
  cacheDir = join(scratch, 'cache');
  hash = await computeRecipeHash(IMAGE_RECIPE);
  // A finished tree and raw disk image in the cache, as an earlier run left them (present = complete).
  const boot = join(cacheDir, rootfsDirName(hash), 'boot');
  await mkdir(boot, { recursive: true });
  await writeFile(join(boot, 'vmlinuz-6.1.0-28-amd64'), '');
  await writeFile(join(boot, 'initrd.img-6.1.0-28-amd64'), '');
  await writeFile(join(cacheDir, diskImageName(hash, 'raw', 4)), '');
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

test('one run says "image recipe … is cached" once, however many targets ask for the tree; the next run says it again', async () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const image = new RunImage(cacheDir);
  // The image phase, then docker-host and docker-nat provisioning, then kvm's disk image.
  const trees = await Promise.all([image.rootfs(log), image.rootfs(log)]);
  trees.push(await image.rootfs(log));
  assert.deepEqual(new Set(trees.map((tree) => tree.tree)), new Set([join(cacheDir, rootfsDirName(hash))]));
  assert.deepEqual(lines, [`image recipe ${hash} is cached: ${join(cacheDir, rootfsDirName(hash))}`]);

  lines.length = 0;
  // kvm and kvm:tcg both boot the raw image.
  const [first, second] = [await image.disk('raw', log), await image.disk('raw', log)];
  assert.equal(first, second);
  assert.equal(first.kernelVersion, '6.1.0-28-amd64');
  assert.deepEqual(lines, [`raw disk image of recipe ${hash} is cached: ${join(cacheDir, diskImageName(hash, 'raw', 4))}`]);

  lines.length = 0;
  await new RunImage(cacheDir).rootfs(log);
  assert.equal(lines.length, 1, 'a new run looks in the cache again');
});

test('a failed image step stays failed for the run: it is not retried once per target', async () => {
  const blocker = join(scratch, 'a-file');
  await writeFile(blocker, 'not a directory');
  const image = new RunImage(join(blocker, 'cache'));
  const lines: string[] = [];
  const first = await image.rootfs((line) => lines.push(line)).catch((error: Error) => error);
  const second = await image.rootfs((line) => lines.push(line)).catch((error: Error) => error);
  assert.ok(first instanceof Error, 'the step failed');
  assert.match(first.message, /ENOTDIR/);
  assert.equal(second, first);
  await assert.rejects(image.disk('qcow2', () => {}), first);
});

test('the image on a lab host: localhost uses this cache as it is; an SSH host without a data-dir fails naming it, before any command', async () => {
  const image = new RunImage(cacheDir);
  const log = () => undefined;
  const local = await image.onHost(new LocalHost(), undefined, {}, log);
  assert.deepEqual(local, { kind: 'ready', host: 'localhost', recipeHash: hash, tree: join(cacheDir, rootfsDirName(hash)), sync: null });
  assert.equal(image.onHost(new LocalHost(), undefined, {}, log), image.onHost(new LocalHost(), undefined, {}, log), 'once per host and needs in a run');
  // The control directory does not exist: any ssh command would fail, so none ran.
  const remote = new SshHost('sut', { user: 'root', address: '198.19.214.2' }, { controlDirectory: join(scratch, 'no-such-dir') });
  const refused = await image.onHost(remote, undefined, {}, log);
  assert.equal(refused.kind, 'failed');
  assert.match((refused as { reason: string }).reason, /^host sut: no data-dir in the inventory, and the image is copied there: add `data-dir: \/srv\/isobench`/);
});
