import assert from 'node:assert/strict';
import { access, constants, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import {
  computeRecipeHash,
  GUEST_AGENT_PORT_NAME,
  GUEST_READY_MARKER,
  hashRecipeInputs,
  IMAGE_RECIPE,
  RECIPE_HASH_LENGTH,
  recipeFileSource,
  type RecipeHashInputs,
} from '../../provisioning/image/recipe.js';

const baseInputs: RecipeHashInputs = {
  suite: 'bookworm',
  variant: 'minbase',
  components: ['main'],
  packages: ['fio', 'iperf3', 'linux-image-amd64'],
  version: 1,
  files: [{ target: '/sbin/isobench-init', mode: 0o755, content: '#!/bin/sh\necho hello\n' }],
};

test('the recipe hash is stable and short hex', () => {
  const first = hashRecipeInputs(baseInputs);
  assert.equal(first, hashRecipeInputs(structuredClone(baseInputs)));
  assert.match(first, new RegExp(`^[0-9a-f]{${RECIPE_HASH_LENGTH}}$`));
});

test('the recipe hash ignores package and file order, and duplicate packages', () => {
  const reordered: RecipeHashInputs = {
    ...baseInputs,
    packages: ['linux-image-amd64', 'fio', 'iperf3', 'fio'],
    files: [...baseInputs.files, { target: '/etc/hostname', mode: 0o644, content: 'x\n' }].reverse(),
  };
  const withSecondFile: RecipeHashInputs = {
    ...baseInputs,
    files: [...baseInputs.files, { target: '/etc/hostname', mode: 0o644, content: 'x\n' }],
  };
  assert.equal(hashRecipeInputs({ ...reordered, files: withSecondFile.files }), hashRecipeInputs(withSecondFile));
  assert.equal(hashRecipeInputs(reordered), hashRecipeInputs(withSecondFile));
});

test('the recipe hash changes with every input that shapes the tree', () => {
  const base = hashRecipeInputs(baseInputs);
  const variants: Array<[string, RecipeHashInputs]> = [
    ['a package added', { ...baseInputs, packages: [...baseInputs.packages, 'nuttcp'] }],
    ['a package removed', { ...baseInputs, packages: baseInputs.packages.slice(1) }],
    ['the suite', { ...baseInputs, suite: 'trixie' }],
    ['the variant', { ...baseInputs, variant: 'buildd' }],
    ['the components', { ...baseInputs, components: ['main', 'contrib'] }],
    ['the recipe version', { ...baseInputs, version: 2 }],
    ['a file content', { ...baseInputs, files: [{ ...baseInputs.files[0]!, content: '#!/bin/sh\necho bye\n' }] }],
    ['a file mode', { ...baseInputs, files: [{ ...baseInputs.files[0]!, mode: 0o700 }] }],
    ['a file target', { ...baseInputs, files: [{ ...baseInputs.files[0]!, target: '/sbin/init' }] }],
  ];
  const seen = new Set([base]);
  for (const [what, inputs] of variants) {
    const hash = hashRecipeInputs(inputs);
    assert.notEqual(hash, base, `changing ${what} must change the hash`);
    seen.add(hash);
  }
  assert.equal(seen.size, variants.length + 1);
});

test('computeRecipeHash reads the files: editing the init changes the hash', async () => {
  const filesDir = await mkdtemp(path.join(tmpdir(), 'isobench-recipe-'));
  try {
    await cp(IMAGE_RECIPE.filesDir, filesDir, { recursive: true });
    const recipe = { ...IMAGE_RECIPE, filesDir };
    const original = await computeRecipeHash(recipe);
    assert.equal(original, await computeRecipeHash(IMAGE_RECIPE), 'same file contents, same hash wherever they live');
    const init = path.join(filesDir, 'isobench-init');
    await writeFile(init, `${await readFile(init, 'utf8')}# an edit\n`);
    assert.notEqual(await computeRecipeHash(recipe), original);
    assert.notEqual(await computeRecipeHash({ ...IMAGE_RECIPE, packages: [...IMAGE_RECIPE.packages, 'htop'] }), original);
  } finally {
    await rm(filesDir, { recursive: true, force: true });
  }
});

test('the recipe holds the workload tools and the guest essentials', () => {
  for (const name of ['linux-image-amd64', 'qemu-guest-agent', 'mariadb-server', 'nginx-light', 'iperf3', 'fio', 'sysbench', 'sockperf', 'qperf', 'nuttcp', 'iproute2', 'stress-ng', 'procps', 'kmod', 'util-linux']) {
    assert.ok(IMAGE_RECIPE.packages.includes(name), `${name} is in the recipe`);
  }
  assert.equal(IMAGE_RECIPE.suite, 'bookworm');
  assert.equal(IMAGE_RECIPE.variant, 'minbase');
});

test('every recipe file exists; the guest init is executable, valid sh, and does what the KVM target relies on', async () => {
  for (const file of IMAGE_RECIPE.files) await access(recipeFileSource(IMAGE_RECIPE, file), constants.R_OK);
  const initFile = IMAGE_RECIPE.files.find((file) => file.target === '/sbin/isobench-init');
  assert.ok(initFile);
  assert.equal(initFile.mode, 0o755);
  const source = recipeFileSource(IMAGE_RECIPE, initFile);
  await access(source, constants.X_OK);
  const init = await readFile(source, 'utf8');
  assert.ok(init.startsWith('#!/bin/sh\n'));
  assert.ok(init.includes(GUEST_READY_MARKER));
  assert.ok(init.includes(GUEST_AGENT_PORT_NAME));
  assert.match(init, /modprobe -a virtio_console virtio_net virtio_blk/);
  assert.match(init, /qemu-ga --daemonize --method=virtio-serial --path=/);
  assert.match(init, /isobench\.addr/);
  const syntax = await runCommand(['sh', '-n', source], { timeoutMs: 10_000 });
  assert.ok(syntax.ok, `sh -n: ${syntax.stderr}`);
});
