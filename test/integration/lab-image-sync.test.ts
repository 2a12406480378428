/**
 * The image copied to lab hosts (issue 14) over real SSH and rsync: namespace hosts with their own
 * sshd (lab-hosts.ts), a small fake image in a temp cache (the real recipe's hash for its name, so
 * `doctor` sees it at this host's recipe; no debootstrap), and the real manifest. Root; about a
 * minute (doctor's accel probe waits up to 15 s per host). Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chown, cp, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HostSet, SshHost } from '../../hosts/host.js';
import { computeRecipeHash } from '../../provisioning/image/recipe.js';
import { hostImageDirectory } from '../../provisioning/image/host-manifest.js';
import { syncImageToHost, type ImageSyncOutcome } from '../../provisioning/image/host-sync.js';
import { runCli } from '../helpers.js';
import { createLab, openLabHosts, sweepLabLeftovers, type Lab } from './lab-hosts.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';
const MiB = 1024 * 1024;

let lab: Lab;
let hosts: HostSet;
let work: string;
let dataDir: string;
let cacheDir: string;
let hash: string;
const OTHER_HASH = 'feedfacecafe0001';

/** A fake image in `cacheDir` under `recipeHash`: a tree with a hard link, a symlink, a file of another uid, 3 MiB of data, and a 1 MiB disk. */
async function fakeImage(recipeHash: string): Promise<string[]> {
  const tree = join(cacheDir, `rootfs-${recipeHash}`);
  await mkdir(join(tree, 'etc'), { recursive: true });
  await mkdir(join(tree, 'usr', 'bin'), { recursive: true });
  await writeFile(join(tree, 'etc', 'isobench-recipe'), `${recipeHash}\n`);
  await writeFile(join(tree, 'usr', 'bin', 'tool'), randomBytes(3 * MiB), { mode: 0o755 });
  await link(join(tree, 'usr', 'bin', 'tool'), join(tree, 'usr', 'bin', 'tool-again'));
  await symlink('isobench-recipe', join(tree, 'etc', 'recipe-link'));
  await writeFile(join(tree, 'etc', 'owned'), 'uid 4242\n');
  await chown(join(tree, 'etc', 'owned'), 4242, 4242);
  const disk = `disk-${recipeHash}-1g.qcow2`;
  await writeFile(join(cacheDir, disk), randomBytes(MiB));
  // Cache debris a copy must leave out.
  await writeFile(join(cacheDir, `rootfs-${recipeHash}.lock`), '');
  return [`rootfs-${recipeHash}`, disk];
}

/** A shell line run on sut, its stdout. */
async function onSut(script: string): Promise<string> {
  const outcome = await hosts.get('sut').run(['sh', '-c', script], { timeoutMs: 20_000 });
  assert.ok(outcome.ok, outcome.stderr);
  return outcome.stdout;
}

const sync = (artifacts: string[], recipeHash: string, timeoutMs?: number): Promise<ImageSyncOutcome> =>
  syncImageToHost(hosts.get('sut') as SshHost, { dataDir, cacheDir, recipeHash, artifacts }, { log: (line) => console.log(`# ${line}`), ...(timeoutMs ? { timeoutMs } : {}) });

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'isobench-image-sync-'));
  dataDir = join(work, 'sut-data');
  cacheDir = join(work, 'cache');
  await mkdir(cacheDir);
  hash = await computeRecipeHash();
  lab = await createLab([{ name: 'sut', roles: ['server'], dataDir }, { name: 'peer', roles: ['client'] }]);
  hosts = await openLabHosts(lab);
});

after(async () => {
  if (skip) return;
  await hosts?.close();
  await lab?.teardown();
  await rm(work, { recursive: true, force: true });
  assert.deepEqual(await sweepLabLeftovers(), [], 'the lab removed everything it created');
});

test('the first copy sends the image, the second sends nothing, a changed hash copies again, a cut-off copy is redone', { skip, timeout: 180_000 }, async () => {
  const artifacts = await fakeImage(hash);
  const directory = hostImageDirectory(dataDir);

  const first = await sync(artifacts, hash);
  assert.equal(first.kind, 'copied', JSON.stringify(first));
  if (first.kind !== 'copied') return;
  assert.ok(first.stats.bytesSent > 4 * MiB, `${first.stats.bytesSent} bytes sent`);
  assert.equal(first.reason, 'no manifest on the host (never copied, or a copy that did not finish)');
  console.log(`# first copy: ${first.stats.bytesSent} bytes sent, rsync ${first.copySeconds.toFixed(2)} s, whole call ${first.seconds.toFixed(2)} s`);
  // What the host holds, seen from the host: the artifacts and the manifest only, owners, links and modes kept.
  assert.deepEqual((await onSut(`ls -A ${directory}`)).split('\n').filter(Boolean).sort(), [artifacts[1], artifacts[0], 'isobench-image.json'].sort());
  assert.equal((await onSut(`stat -c '%u %h %a' ${directory}/${artifacts[0]}/etc/owned ${directory}/${artifacts[0]}/usr/bin/tool`)).trim(), '4242 1 644\n0 2 755');
  assert.equal((await onSut(`readlink ${directory}/${artifacts[0]}/etc/recipe-link`)).trim(), 'isobench-recipe');
  assert.match(await onSut(`cat ${directory}/isobench-image.json`), new RegExp(`"recipeHash":"${hash}","artifacts":\\["rootfs-${hash}","disk-${hash}-1g.qcow2"\\]`));

  const second = await sync(artifacts, hash);
  assert.equal(second.kind, 'already-present', JSON.stringify(second));
  console.log(`# second call: nothing copied, ${second.seconds.toFixed(2)} s`);

  // The recipe changed here: the new hash is copied, the old one's artifacts go.
  await cp(join(cacheDir, artifacts[0]!), join(cacheDir, `rootfs-${OTHER_HASH}`), { recursive: true, verbatimSymlinks: true });
  await writeFile(join(cacheDir, `rootfs-${OTHER_HASH}`, 'etc', 'isobench-recipe'), `${OTHER_HASH}\n`);
  const changed = await sync([`rootfs-${OTHER_HASH}`], OTHER_HASH);
  assert.equal(changed.kind, 'copied', JSON.stringify(changed));
  if (changed.kind !== 'copied') return;
  assert.equal(changed.reason, `the host has recipe ${hash}, this host's is ${OTHER_HASH}`);
  assert.ok(changed.stats.bytesSent > 3 * MiB, `${changed.stats.bytesSent}`);
  assert.deepEqual((await onSut(`ls -A ${directory}`)).split('\n').filter(Boolean).sort(), ['isobench-image.json', `rootfs-${OTHER_HASH}`]);
  console.log(`# changed hash: ${changed.stats.bytesSent} bytes sent in ${changed.copySeconds.toFixed(2)} s`);

  // A copy cut off by its deadline: failed, named, and the manifest is gone, so it cannot look complete.
  const cut = await sync(artifacts, hash, 1);
  assert.equal(cut.kind, 'failed', JSON.stringify(cut));
  if (cut.kind !== 'failed') return;
  assert.match(cut.reason, /^host sut: copying the image failed: `rsync … root@[\d.]+:.*\/image\/` timed out/);
  assert.equal((await onSut(`test -e ${directory}/isobench-image.json && echo present || echo absent`)).trim(), 'absent');
  // A torn tree too: a file gone and one cut short, as a copy killed half-way leaves them.
  await onSut(`rm -rf ${directory}/rootfs-${hash}/usr/bin/tool-again && mkdir -p ${directory}/rootfs-${hash}/usr/bin && : > ${directory}/rootfs-${hash}/usr/bin/tool`);
  const redone = await sync(artifacts, hash);
  assert.equal(redone.kind, 'copied', JSON.stringify(redone));
  if (redone.kind !== 'copied') return;
  assert.equal(redone.reason, 'no manifest on the host (never copied, or a copy that did not finish)');
  assert.equal((await onSut(`stat -c '%h %s' ${directory}/rootfs-${hash}/usr/bin/tool`)).trim(), `2 ${3 * MiB}`);
  assert.equal((await sync(artifacts, hash)).kind, 'already-present');
  console.log(`# redone after a cut-off copy: ${redone.stats.bytesSent} bytes sent in ${redone.copySeconds.toFixed(2)} s`);

  // Changed behind isobench's back, the manifest left in place: the count finds it, and the copy puts it back.
  await onSut(`rm -f ${directory}/rootfs-${hash}/usr/bin/tool-again`);
  const repaired = await sync(artifacts, hash);
  assert.equal(repaired.kind, 'copied', JSON.stringify(repaired));
  if (repaired.kind !== 'copied') return;
  assert.equal(repaired.reason, `its copy changed since: rootfs-${hash} holds 4 entries, ${(3 * MiB + 41).toLocaleString('en-US')} bytes; 5 entries, ${(6 * MiB + 41).toLocaleString('en-US')} bytes were copied`);
  assert.equal((await onSut(`stat -c '%h' ${directory}/rootfs-${hash}/usr/bin/tool`)).trim(), '2');
  assert.equal((await sync(artifacts, hash)).kind, 'already-present');
});

test('two processes copying to one host take turns: one copies, the other then finds it present; no lock holder is left on the host', { skip, timeout: 180_000 }, async () => {
  await onSut(`rm -rf ${hostImageDirectory(dataDir)}`);
  const artifacts = [`rootfs-${hash}`, `disk-${hash}-1g.qcow2`];
  // Two connections, as two isobench processes would have: each its own ssh master.
  const other = new SshHost('sut', (hosts.get('sut') as SshHost).target, { controlDirectory: await mkdtemp(join(work, 'ssh-')), configFile: lab.sshConfig });
  try {
    const outcomes = await Promise.all([sync(artifacts, hash), syncImageToHost(other, { dataDir, cacheDir, recipeHash: hash, artifacts })]);
    assert.deepEqual(outcomes.map((outcome) => outcome.kind).sort(), ['already-present', 'copied'], JSON.stringify(outcomes));
  } finally {
    await other.close();
  }
  // The holder (`cat` under flock) ended with its session: no process on the host still has the lock file open.
  assert.equal((await onSut(`pgrep -fa 'isobench-lock-hel[d]' || true`)).trim(), '');
  assert.equal((await onSut(`flock --nonblock ${dataDir}/isobench-image.lock true && echo free`)).trim(), 'free');
});

test('a host nothing answers: failed, naming the host; nothing thrown', { skip, timeout: 60_000 }, async () => {
  const ghost = new SshHost('ghost', { user: 'root', address: lab.unreachableAddress }, { controlDirectory: work, configFile: lab.sshConfig });
  const outcome = await syncImageToHost(ghost, { dataDir, cacheDir, recipeHash: hash, artifacts: [`rootfs-${hash}`] });
  assert.equal(outcome.kind, 'failed');
  assert.match((outcome as { reason: string }).reason, new RegExp(`^host ghost: unreachable: ssh: connect to host ${lab.unreachableAddress.replace(/\./g, '\\.')} port 22`));
  await ghost.close();
});

test('doctor --hosts shows the image row: present at this host\'s recipe on sut, not checked on peer (no data-dir)', { skip, timeout: 180_000 }, async () => {
  const { code, stdout, stderr } = await runCli(['doctor', '--hosts', lab.inventoryPath], 170_000);
  assert.equal(code, 0, stderr);
  const block = (name: string) => stdout.split(/^host /m).find((part) => part.startsWith(`${name} `)) ?? '';
  assert.match(block('sut'), new RegExp(`image +present at this host's recipe ${hash} \\(rootfs-${hash}, disk-${hash}-1g\\.qcow2; copied `));
  assert.match(block('peer'), /image +not checked: no data-dir/);
  console.log(stdout.split('\n').filter((line) => /^host |image/.test(line)).map((line) => `# ${line}`).join('\n'));
});
