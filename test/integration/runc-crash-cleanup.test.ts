import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isobenchCgroups } from '../../bench-tools/fault-injection/snapshot.js';
import { runChecked, runCommand } from '../../core/exec.js';
import { runDirectoryPrefix } from '../../core/ledger.js';
import { readProcessStat } from '../../core/proc.js';
import { findExecutable } from '../../core/tools.js';
import { cleanupLeftovers } from '../../harness/commands/cleanup.js';
import { CRIU_LINK_PREFIX, CRIU_NAME_PREFIX } from '../../provisioning/criu/host.js';
import { criuDirectories } from '../../provisioning/criu/index.js';
import { ociConfig, workloadCommand } from '../../provisioning/criu/oci-config.js';
import { parseRuncState } from '../../provisioning/criu/runc.js';
import { mountPointsUnder } from '../../provisioning/image/tree-removal.js';
import { ensureRootfs } from '../../provisioning/image/rootfs.js';

/*
 * A run of the runc-criu target killed inside `runc run` (the container exists, no ledger names it)
 * while the container was frozen (a checkpoint, a timed pause): its runc state, overlay root,
 * namespace and veth are left, with no ledger. `cleanup` must remove them all. The state directory
 * is private (ISOBENCH_STATE_DIR), so the run directory lies beside it, not among the host's. Needs
 * root, runc and the cached image tree; run under `flock /tmp/isobench-heavy.lock`.
 */

async function whyNot(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'runc and network namespaces need root';
  if (!(await findExecutable('runc'))) return 'runc is not installed (Debian package runc)';
  return undefined;
}

const skip = await whyNot();
const TAG = `t${process.pid % 10_000}`;
const NAME = `${CRIU_NAME_PREFIX}${TAG}-1a`;
const LINK = `${CRIU_LINK_PREFIX}${TAG}`;
let scratch = '';
let savedStateDirectory: string | undefined;

after(async () => {
  if (skip || !scratch) return;
  // Whatever the test did not see removed goes here, so a failure leaves nothing either.
  await runCommand(['ip', 'netns', 'del', NAME], { timeoutMs: 10_000 });
  await runCommand(['ip', 'link', 'delete', LINK], { timeoutMs: 10_000 });
  for (const point of mountPointsUnder(await readFile('/proc/self/mountinfo', 'utf8'), scratch)) await runCommand(['umount', point], { timeoutMs: 10_000 });
  await rm(scratch, { recursive: true, force: true });
  if (savedStateDirectory === undefined) delete process.env.ISOBENCH_STATE_DIR;
  else process.env.ISOBENCH_STATE_DIR = savedStateDirectory;
});

test('a runc container no ledger names, frozen at the kill, is removed by cleanup with its overlay, namespace, veth, cgroups and run directory', { skip, timeout: 5 * 60_000 }, async () => {
  const { tree } = await ensureRootfs({ log: (line) => console.log(`# ${line}`) });
  scratch = await mkdtemp('/tmp/isobench-runc-crash-');
  savedStateDirectory = process.env.ISOBENCH_STATE_DIR;
  process.env.ISOBENCH_STATE_DIR = join(scratch, 'state');
  const runDirectory = await mkdtemp(runDirectoryPrefix());
  const { workDirectory, runcRoot } = criuDirectories(runDirectory);
  const overlay = join(workDirectory, 'overlay');
  const bundle = join(workDirectory, 'trial-1', 'bundle-a');

  // What provisionCriuHost and launch() make, step by step, and then no ledger: the kill.
  for (const directory of [runcRoot, join(overlay, 'upper'), join(overlay, 'work'), join(overlay, 'root'), bundle]) await mkdir(directory, { recursive: true });
  await runChecked(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${tree},upperdir=${overlay}/upper,workdir=${overlay}/work`, join(overlay, 'root')], { timeoutMs: 30_000 });
  await runChecked(['ip', 'netns', 'add', NAME], { timeoutMs: 10_000 });
  await runChecked(['ip', 'link', 'add', LINK, 'type', 'veth', 'peer', 'name', `${LINK}p`], { timeoutMs: 10_000 });
  await runChecked(['ip', 'link', 'set', `${LINK}p`, 'netns', NAME], { timeoutMs: 10_000 });
  const config = ociConfig({ hostname: 'isobench-criu', rootfs: join(overlay, 'root'), netnsPath: `/var/run/netns/${NAME}`, args: workloadCommand([['sleep', '300']]) });
  await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
  await runChecked(['runc', '--root', runcRoot, 'run', '--detach', '--bundle', bundle, NAME], { timeoutMs: 30_000 });
  const { pid } = parseRuncState((await runChecked(['runc', '--root', runcRoot, 'state', NAME], { timeoutMs: 30_000 })).stdout);
  await runChecked(['runc', '--root', runcRoot, 'pause', NAME], { timeoutMs: 30_000 });
  const cgroups = (await isobenchCgroups()).filter((path) => path.includes(NAME));
  assert.ok(cgroups.length > 0, 'the container has cgroups named after it');

  const started = performance.now();
  const report = await cleanupLeftovers((line) => console.log(`# ${line}`));
  console.log(`# cleanup took ${Math.round(performance.now() - started)} ms; removed: ${report.removed.join(' | ')}`);

  assert.deepEqual(report.failed, [], 'nothing failed to go');
  const removed = report.removed.join('\n');
  assert.match(removed, new RegExp(`runc container ${NAME} \\(paused, pid ${pid}, root ${runcRoot}\\)`));
  assert.match(removed, new RegExp(`mount ${overlay}/root`));
  assert.match(removed, new RegExp(`network namespace ${NAME}`));
  // Gone, or a zombie its reaper has not collected yet: either way no longer running.
  const stat = await readProcessStat(pid);
  assert.ok(stat === null || stat.state === 'Z', `the container's first process ${pid} is gone (${stat?.state})`);
  assert.deepEqual((await isobenchCgroups()).filter((path) => path.includes(NAME)), [], 'its cgroups are gone');
  assert.deepEqual(mountPointsUnder(await readFile('/proc/self/mountinfo', 'utf8'), scratch), [], 'nothing is mounted');
  assert.ok(!existsSync(runDirectory), 'the run directory is gone');
  assert.doesNotMatch((await runChecked(['ip', 'netns', 'list'], { timeoutMs: 10_000 })).stdout, new RegExp(NAME));
  assert.doesNotMatch((await runChecked(['ip', 'link', 'show'], { timeoutMs: 10_000 })).stdout, new RegExp(`${LINK}[@:]`));
});
