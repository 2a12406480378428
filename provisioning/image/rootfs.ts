import { access, chmod, copyFile, mkdir, mkdtemp, readdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { runChecked } from '../../core/exec.js';
import { findHostDebianMirror, type DebianMirror } from './apt-sources.js';
import { findBootFiles } from './boot-files.js';
import { withLock } from '../../core/lock.js';
import { resolveImageCacheDir } from './cache-dir.js';
import { requireHostTool } from './host-tools.js';
import { missingPackages } from './installed-packages.js';
import { computeRecipeHash, GUEST_INIT_PATH, IMAGE_RECIPE, type ImageRecipe } from './recipe.js';
import { installRecipeFiles, removeDownloadLeftovers, resolveInsideTree, writeRecipeHash } from './tree-files.js';
import { removeTreeSafely } from './tree-removal.js';
import { checkPrograms, compileRecipePrograms } from './tree-programs.js';

/**
 * The image recipe's root file system: built once with debootstrap, kept in the cache under its
 * recipe hash, reused until the recipe changes. The Docker target imports this tree; the KVM
 * target turns it into a disk image (disk.ts).
 */

/** Where ensureRootfs caches, what it builds and how long it may take. */
export interface EnsureRootfsOptions {
  /** Default: $ISOBENCH_CACHE_DIR, else /var/cache/isobench. */
  cacheDir?: string;
  /** Progress lines (cached, waiting for another builder, building, built in N s); default: none. */
  log?: (line: string) => void;
  /** Debian mirror URI to build from. Default: the host's own apt sources. */
  mirror?: string;
  /** Where the host's apt configuration is read from (tests point it at fixtures). */
  aptDir?: string;
  /** Default: IMAGE_RECIPE. */
  recipe?: ImageRecipe;
  /** debootstrap downloads and installs ~400 packages: about 2 minutes here, 15 at most. In ms; default DEBOOTSTRAP_TIMEOUT_MS. */
  debootstrapTimeoutMs?: number;
  /** How long to wait for another process building the same recipe, in ms. Default: the debootstrap timeout plus 5 minutes. */
  lockTimeoutMs?: number;
}

/** The tree a run uses. */
export interface RootfsResult {
  /** Absolute path of the finished tree (never a partial one). */
  tree: string;
  /** RECIPE_HASH_LENGTH (16) hex digits; the tree's name in the cache and the Docker image's tag. */
  recipeHash: string;
  /** True when the tree came from the cache. */
  reused: boolean;
  /** Time this call took, in seconds, including any wait for another builder. */
  seconds: number;
}

/** 15 min, in ms: the upper bound of the build time noted on EnsureRootfsOptions.debootstrapTimeoutMs (about 2 min here). */
export const DEBOOTSTRAP_TIMEOUT_MS = 15 * 60_000;

/** Name of a finished tree in the cache; anything else there is in progress or abandoned. */
export function rootfsDirName(recipeHash: string): string {
  return `rootfs-${recipeHash}`;
}

/**
 * The recipe's tree in the cache, built when missing: debootstrap into `rootfs-<hash>.building-XXXX`,
 * the recipe's files and hash added, download leftovers removed, the tree checked (every package
 * installed, a kernel and initrd, the init), then renamed into place. Builders of one recipe are
 * serialized by `rootfs-<hash>.lock`; abandoned builds are removed by the next build, a failed one
 * at once.
 *
 * @throws MissingHostToolError when debootstrap is not installed.
 * @throws Error when no host apt source serves the recipe's suite (and no `mirror` was given), or the
 *   built tree lacks a package, a kernel with an initrd or the init.
 * @throws CommandFailedError when debootstrap fails or runs past its timeout; the message then
 *   names `rootfs-<hash>.failed.log`, debootstrap's own log.
 * @throws LockTimeoutError when another builder holds the lock past `lockTimeoutMs`.
 */
export async function ensureRootfs(options: EnsureRootfsOptions = {}): Promise<RootfsResult> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const recipe = options.recipe ?? IMAGE_RECIPE;
  const recipeHash = await computeRecipeHash(recipe);
  const cacheDir = path.resolve(resolveImageCacheDir(options.cacheDir));
  const tree = path.join(cacheDir, rootfsDirName(recipeHash));
  const finish = (reused: boolean): RootfsResult => ({ tree, recipeHash, reused, seconds: elapsedSeconds(started) });

  // A finished tree only ever appears by rename, so its existence means it is complete.
  if (await isDirectory(tree)) {
    log(`image recipe ${recipeHash} is cached: ${tree}`);
    return finish(true);
  }

  await mkdir(cacheDir, { recursive: true });
  const lockOptions = {
    timeoutMs: options.lockTimeoutMs ?? (options.debootstrapTimeoutMs ?? DEBOOTSTRAP_TIMEOUT_MS) + 5 * 60_000,
    onWait: (holder: string) => log(`waiting for ${holder}, which is building image recipe ${recipeHash}`),
  };
  return withLock(path.join(cacheDir, `${rootfsDirName(recipeHash)}.lock`), lockOptions, async () => {
    if (await isDirectory(tree)) {
      log(`image recipe ${recipeHash} was built by another process meanwhile: ${tree}`);
      return finish(true);
    }
    await buildRootfs({ recipe, recipeHash, cacheDir, tree, options, log });
    const result = finish(false);
    log(`built image recipe ${recipeHash} in ${Math.round(result.seconds)} s: ${tree}`);
    return result;
  });
}

interface BuildPlan {
  recipe: ImageRecipe;
  recipeHash: string;
  cacheDir: string;
  tree: string;
  options: EnsureRootfsOptions;
  log: (line: string) => void;
}

async function buildRootfs({ recipe, recipeHash, cacheDir, tree, options, log }: BuildPlan): Promise<void> {
  const debootstrap = await requireHostTool('debootstrap');
  const mirror = await chooseMirror(recipe, options);
  await removeAbandonedBuilds(cacheDir, recipeHash, log);

  log(
    `building image recipe ${recipeHash} (not cached) — about 2 minutes: debootstrap ${recipe.suite} ` +
      `--variant=${recipe.variant} with ${recipe.packages.length} packages from ${mirror.uri} (apt source ${mirror.origin})`,
  );
  const work = await mkdtemp(path.join(cacheDir, `${rootfsDirName(recipeHash)}.building-`));
  try {
    // mkdtemp makes it 0700; as the root of a container or guest it must be 0755, or services
    // running as their own users (mysql, www-data) cannot reach anything.
    await chmod(work, 0o755);
    await runDebootstrap({
      debootstrap,
      recipe,
      mirror,
      target: work,
      timeoutMs: options.debootstrapTimeoutMs ?? DEBOOTSTRAP_TIMEOUT_MS,
      failedLogPath: path.join(cacheDir, `${rootfsDirName(recipeHash)}.failed.log`),
    });
    log(`debootstrap finished; installing the recipe's files and checking the tree`);
    await installRecipeFiles(recipe, work);
    await compileRecipePrograms(recipe, work);
    await writeRecipeHash(work, recipeHash);
    await removeDownloadLeftovers(work);
    await checkTree(work, recipe);
    await rename(work, tree);
  } catch (error) {
    await removeTreeSafely(work).catch((cleanupError: unknown) => {
      log(`could not remove the failed build ${work}: ${String(cleanupError)}`);
    });
    throw error;
  }
}

async function chooseMirror(recipe: ImageRecipe, options: EnsureRootfsOptions): Promise<DebianMirror> {
  if (options.mirror) return { uri: options.mirror, origin: 'given by the caller' };
  return findHostDebianMirror(recipe.suite, options.aptDir);
}

interface DebootstrapRun {
  debootstrap: string;
  recipe: ImageRecipe;
  mirror: DebianMirror;
  target: string;
  timeoutMs: number;
  /** Where debootstrap's own log is kept when it fails. */
  failedLogPath: string;
}

async function runDebootstrap({ debootstrap, recipe, mirror, target, timeoutMs, failedLogPath }: DebootstrapRun): Promise<void> {
  const keyring = mirror.keyring && (await exists(mirror.keyring)) ? [`--keyring=${mirror.keyring}`] : [];
  const command = [
    debootstrap,
    `--variant=${recipe.variant}`,
    `--components=${recipe.components.join(',')}`,
    `--include=${recipe.packages.join(',')}`,
    ...keyring,
    recipe.suite,
    target,
    mirror.uri,
  ];
  try {
    await runChecked(command, { timeoutMs, env: { LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (error) {
    // debootstrap's own log explains most failures (a package that did not configure, a
    // download); keep it, since the half-built tree it lives in is deleted.
    const saved = await copyFile(path.join(target, 'debootstrap/debootstrap.log'), failedLogPath).then(
      () => true,
      () => false,
    );
    if (saved && error instanceof Error) error.message += ` (debootstrap's log: ${failedLogPath})`;
    throw error;
  }
}

/** The checks that make a tree worth caching: every package installed, boot files, the init, the compiled programs. */
async function checkTree(tree: string, recipe: ImageRecipe): Promise<void> {
  const missing = await missingPackages(tree, recipe.packages);
  if (missing.length) throw new Error(`debootstrap finished but these recipe packages are not installed: ${missing.join(', ')}`);
  await findBootFiles(tree);
  await access(await resolveInsideTree(tree, GUEST_INIT_PATH));
  await checkPrograms(recipe, tree);
}

/** Half-built trees of this recipe left by a crash. Only called while holding the recipe's lock. */
async function removeAbandonedBuilds(cacheDir: string, recipeHash: string, log: (line: string) => void): Promise<void> {
  const prefix = `${rootfsDirName(recipeHash)}.building-`;
  for (const name of await readdir(cacheDir)) {
    if (!name.startsWith(prefix)) continue;
    log(`removing an abandoned build of image recipe ${recipeHash}: ${name}`);
    await removeTreeSafely(path.join(cacheDir, name));
  }
}

async function isDirectory(candidate: string): Promise<boolean> {
  return stat(candidate).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

async function exists(candidate: string): Promise<boolean> {
  return access(candidate).then(
    () => true,
    () => false,
  );
}

function elapsedSeconds(started: number): number {
  return (performance.now() - started) / 1000;
}
