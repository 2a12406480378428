import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { access, copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { runChecked, runCommand } from '../../core/exec.js';
import { resolveImageCacheDir } from '../image/cache-dir.js';
import { CRIU_RECIPE, criuRecipeHash, type CriuRecipe } from './recipe.js';

/*
 * Finds the CRIU binary isobench built, or builds it once from Debian's source (recipe.ts) into the
 * image cache directory, never over system files: `<cache>/criu-<recipe hash>/criu`.
 */

/** Downloading the 1 MB tarball from the Debian mirror, ms. */
export const DOWNLOAD_TIMEOUT_MS = 120_000;
/** Unpacking it, ms. */
export const UNPACK_TIMEOUT_MS = 120_000;
/** `make criu` with two jobs took about 4 minutes on this 2-core host while another job ran; 30 min leaves room for a busier one. */
export const MAKE_TIMEOUT_MS = 30 * 60_000;

/** A CRIU binary ready to run. */
export interface CriuBinary {
  /** Absolute path of the executable. */
  path: string;
  /** `criu --version`'s version, e.g. `4.1.1`. */
  version: string;
  recipeHash: string;
  /** Seconds the build took when this call built it; absent when it came from the cache. */
  builtSeconds?: number;
}

/** Where ensureCriu keeps its work; the cache directory defaults to the image cache (resolveImageCacheDir). */
export interface EnsureCriuOptions {
  log: (line: string) => void;
  cacheDir?: string;
  recipe?: CriuRecipe;
}

/** The directory a recipe's binary lives in. */
export function criuCacheDirectory(cacheDir: string, recipe: CriuRecipe = CRIU_RECIPE): string {
  return join(cacheDir, `criu-${criuRecipeHash(recipe)}`);
}

/** Reads `Version: 4.1.1` from `criu --version`'s output; null when it is not there. */
export function parseCriuVersion(output: string): string | null {
  return /^Version:\s*(\S+)/m.exec(output)?.[1] ?? null;
}

/**
 * The cached CRIU of the recipe, or a fresh build of it: the bookworm build packages must be
 * installed (the error says which are not), the tarball is fetched from Debian's pool and its
 * sha256 checked, `make criu` runs with as many jobs as there are CPUs, and the binary is moved
 * into place only once it built and ran `--version`.
 * @throws UsageError (exit 2) naming the `apt-get install` line when build packages are missing;
 *   Error when the download fails or its checksum differs; CommandFailedError when tar or make fails
 *   or misses its deadline (make's last lines are in the message).
 */
export async function ensureCriu(options: EnsureCriuOptions): Promise<CriuBinary> {
  const recipe = options.recipe ?? CRIU_RECIPE;
  const cacheDir = resolveImageCacheDir(options.cacheDir);
  const directory = criuCacheDirectory(cacheDir, recipe);
  const binary = join(directory, 'criu');
  const recipeHash = criuRecipeHash(recipe);
  if (await exists(binary)) return { path: binary, version: await readVersion(binary), recipeHash };

  const missing = await missingPackages(recipe.buildPackages);
  if (missing.length > 0) {
    throw new UsageError(`building CRIU ${recipe.version} needs Debian packages that are not installed: apt-get install ${missing.join(' ')}`);
  }
  options.log(
    `building CRIU ${recipe.version} from Debian's source into ${directory} (bookworm's criu 3.17 fails \`criu check\` on this kernel); once, a few minutes`,
  );
  const begin = performance.now();
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, 'criu-build-'));
  try {
    const tarball = join(work, recipe.tarballUrl.split('/').at(-1)!);
    await download(recipe.tarballUrl, tarball, recipe.tarballSha256);
    await runChecked(['tar', '-xJf', tarball, '-C', work], { timeoutMs: UNPACK_TIMEOUT_MS });
    const tree = join(work, `criu-${recipe.version}`);
    await runChecked(['make', `-j${availableParallelism()}`, recipe.makeTarget], { cwd: tree, timeoutMs: MAKE_TIMEOUT_MS });
    const staged = join(work, 'out');
    await mkdir(staged);
    await copyFile(join(tree, 'criu', 'criu'), join(staged, 'criu'));
    const version = await readVersion(join(staged, 'criu'));
    await writeFile(join(staged, 'recipe.json'), `${JSON.stringify({ ...recipe, hash: recipeHash }, null, 2)}\n`);
    await rm(directory, { recursive: true, force: true });
    await rename(staged, directory);
    const builtSeconds = Math.round((performance.now() - begin) / 100) / 10;
    options.log(`CRIU ${version} built in ${builtSeconds} s`);
    return { path: binary, version, recipeHash, builtSeconds };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function readVersion(binary: string): Promise<string> {
  const outcome = await runChecked([binary, '--version'], { timeoutMs: 10_000 });
  const version = parseCriuVersion(outcome.stdout);
  if (!version) throw new Error(`\`${binary} --version\` printed no version: ${outcome.stdout.trim().slice(0, 200)}`);
  return version;
}

/** The packages of `names` dpkg does not report as installed. */
async function missingPackages(names: readonly string[]): Promise<string[]> {
  const outcome = await runCommand(['dpkg-query', '-W', '-f=${Package} ${Status}\\n', ...names], { timeoutMs: 30_000 });
  const installed = new Set(
    outcome.stdout.split('\n').flatMap((line) => (/ install ok installed$/.test(line) ? [line.split(' ')[0]!] : [])),
  );
  return names.filter((name) => !installed.has(name));
}

async function download(url: string, path: string, sha256: string): Promise<void> {
  let body: Buffer;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    throw new Error(`downloading ${url} failed: ${(error as Error).message}`, { cause: error });
  }
  const actual = createHash('sha256').update(body).digest('hex');
  if (actual !== sha256) throw new Error(`${url} has sha256 ${actual}, the recipe expects ${sha256}`);
  await writeFile(path, body);
}
