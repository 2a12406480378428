import { chmod, copyFile, lstat, mkdir, readdir, readlink, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { recipeFileSource, TREE_RECIPE_HASH_PATH, type ImageRecipe } from './recipe.js';

/**
 * Putting the recipe's own files into a built tree. Paths are resolved the way a chroot would
 * resolve them: the tree holds symlinks (merged /usr makes /sbin -> usr/sbin) and an absolute
 * link followed from the host would point into the host's own file system, so a careless write
 * to "<tree>/etc/resolv.conf" could change the build host's file.
 */

const MAX_SYMLINK_HOPS = 40;

/** Host path of `inside` (an absolute path inside the tree), following the tree's symlinks within the tree. */
export async function resolveInsideTree(tree: string, inside: string): Promise<string> {
  const pending = inside.split('/').filter(Boolean);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(tree, ...resolved, part);
    const info = await lstat(candidate).catch(() => undefined);
    if (!info?.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    hops += 1;
    if (hops > MAX_SYMLINK_HOPS) throw new Error(`too many symlinks resolving ${inside} inside ${tree}`);
    const target = await readlink(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return path.join(tree, ...resolved);
}

/**
 * Host path for writing the file at `inside`: its directory resolved within the tree, the file
 * itself not followed (it is replaced, so a symlink there is removed, not written through).
 */
async function hostPathForWrite(tree: string, inside: string): Promise<string> {
  const directory = await resolveInsideTree(tree, path.posix.dirname(inside));
  await mkdir(directory, { recursive: true });
  const target = path.join(directory, path.posix.basename(inside));
  await unlink(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return target;
}

/**
 * Copies each of the recipe's files into the tree with its mode, replacing what is there (a symlink
 * at the target is removed, not written through; missing directories are created).
 * @throws the file-system error, e.g. a source missing from the recipe's filesDir.
 */
export async function installRecipeFiles(recipe: ImageRecipe, tree: string): Promise<void> {
  for (const file of recipe.files) {
    const target = await hostPathForWrite(tree, file.target);
    await copyFile(recipeFileSource(recipe, file), target);
    await chmod(target, file.mode);
  }
}

/** Records the recipe hash in the tree, so a guest or container can say what it runs. */
export async function writeRecipeHash(tree: string, recipeHash: string): Promise<void> {
  const target = await hostPathForWrite(tree, TREE_RECIPE_HASH_PATH);
  await writeFile(target, `${recipeHash}\n`, { mode: 0o644 });
}

/**
 * What debootstrap leaves behind that no target uses: the downloaded .deb files (~180 MB) and
 * apt's package lists (~50 MB, named after the mirror they came from). Targets never run apt:
 * they have no route to a mirror, by design.
 */
export async function removeDownloadLeftovers(tree: string): Promise<void> {
  const leftovers: Array<{ dir: string; keep: (name: string) => boolean }> = [
    { dir: '/var/cache/apt/archives', keep: (name) => !name.endsWith('.deb') },
    { dir: '/var/cache/apt', keep: (name) => !name.endsWith('.bin') },
    { dir: '/var/lib/apt/lists', keep: (name) => name === 'partial' || name === 'lock' },
  ];
  for (const { dir, keep } of leftovers) {
    const hostDir = await resolveInsideTree(tree, dir);
    const names = await readdir(hostDir).catch(() => [] as string[]);
    for (const name of names) {
      if (!keep(name)) await rm(path.join(hostDir, name), { force: true });
    }
  }
}
