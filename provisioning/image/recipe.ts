import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The one image recipe behind every target: a Debian root file system that native-equivalent
 * containers and KVM guests alike run from. It is plain data so that its hash says exactly what
 * was built; the mirror it is fetched from is deliberately not part of it (any Debian mirror
 * serves the same suite).
 */

/**
 * Bump when the build steps change in a way the data below does not show (for example a new
 * post-install step in rootfs.ts), so old caches are not reused for a different tree.
 */
export const RECIPE_VERSION = 2;

/** A file the recipe puts into the tree after debootstrap, kept as a real file in `files/`. */
export interface RecipeFile {
  /** Name of the file inside provisioning/image/files/ (or the recipe's own filesDir). */
  source: string;
  /** Absolute path inside the tree. */
  target: string;
  /** Permission bits, e.g. 0o755. */
  mode: number;
}

/**
 * A program of isobench's own, compiled inside the built tree with the tree's gcc (so it links
 * against the guest's own libc), after the recipe's files are installed.
 */
export interface RecipeProgram {
  /** Absolute path of the C source inside the tree (installed there as one of the recipe's files). */
  source: string;
  /** Absolute path of the executable inside the tree. */
  output: string;
  /** gcc's flags, e.g. `-O2`. */
  flags: readonly string[];
}

/** A recipe as data: what debootstrap is asked for, the files added after it, and the build steps' version. */
export interface ImageRecipe {
  /** The Debian suite debootstrap installs, e.g. `bookworm`. */
  suite: string;
  /** debootstrap's `--variant`, e.g. `minbase`. */
  variant: string;
  /** Debian archive components debootstrap may install from. */
  components: readonly string[];
  /** debootstrap's `--include`; every one must be installed for the tree to be cached. */
  packages: readonly string[];
  files: readonly RecipeFile[];
  /** Programs compiled in the tree after the files are installed (needs `gcc` and `libc6-dev` in `packages`). */
  programs?: readonly RecipeProgram[];
  /** Directory holding the files' sources. Not hashed: the files' content and mode are. */
  filesDir: string;
  /** RECIPE_VERSION for the real recipe. */
  version: number;
}

/** Path of the init every KVM guest boots into (`init=` on the kernel command line). */
export const GUEST_INIT_PATH = '/sbin/isobench-init';

/** The line the guest init prints on /dev/ttyS0 once the network and the guest agent are up. */
export const GUEST_READY_MARKER = 'ISOBENCH-GUEST-READY';

/** Name of the virtio-serial port the guest init looks for to start qemu-ga on. */
export const GUEST_AGENT_PORT_NAME = 'org.qemu.guest_agent.0';

/** Where the build records the recipe hash inside the tree, so a running guest can report it. */
export const TREE_RECIPE_HASH_PATH = '/etc/isobench-recipe';

/** The migration suite's memory dirtier in the guest (files/isobench-dirtier.c says how it is used). */
export const DIRTIER_PATH = '/usr/local/bin/isobench-dirtier';
/** The migration suite's UDP echo server in the guest (files/isobench-udp-echo.c). */
export const UDP_ECHO_PATH = '/usr/local/bin/isobench-udp-echo';
/** gcc flags of the recipe's programs: a warning fails the image build rather than shipping a doubtful binary. */
const COMPILE_FLAGS = ['-O2', '-Wall', '-Wextra', '-Werror'] as const;

/** provisioning/image/files/, found from this module's own URL so it does not depend on the working directory. */
export const DEFAULT_FILES_DIR = fileURLToPath(new URL('./files/', import.meta.url));

/**
 * The recipe every target runs: Debian bookworm (minbase) with the guests' kernel and agent, the
 * suites' workloads and what the guest init and the harness run inside a target. Any change here
 * changes the hash, so the next run builds a new tree and new images.
 */
export const IMAGE_RECIPE: ImageRecipe = {
  suite: 'bookworm',
  variant: 'minbase',
  components: ['main'],
  packages: [
    // guests: a kernel and initrd for direct kernel boot, and the agent isobench drives them with
    'linux-image-amd64',
    'qemu-guest-agent',
    // workloads (DESIGN.md, "Suites"). mariadb-server brings mariadb-client (the `mariadb` client the
    // mysql suite sets up and stops its server with) and mariadb-install-db; the mysql suite starts
    // its own mariadbd (suites/mysql/server.ts), never the package's service
    'mariadb-server',
    'nginx-light',
    'iperf3',
    'nuttcp',
    'qperf',
    'sockperf',
    'fio',
    'sysbench',
    'stress-ng',
    // what the guest init and the harness run inside the target
    'iproute2',
    'procps',
    'kmod',
    'util-linux',
    'busybox',
    // the migration suite's guest programs, compiled in the tree (programs below)
    'gcc',
    'libc6-dev',
  ],
  files: [
    { source: 'isobench-init', target: GUEST_INIT_PATH, mode: 0o755 },
    // debootstrap copies the build host's hosts and resolv.conf; the image must not depend on them
    { source: 'hosts', target: '/etc/hosts', mode: 0o644 },
    { source: 'hostname', target: '/etc/hostname', mode: 0o644 },
    { source: 'resolv.conf', target: '/etc/resolv.conf', mode: 0o644 },
    { source: 'isobench-dirtier.c', target: '/usr/local/src/isobench/isobench-dirtier.c', mode: 0o644 },
    { source: 'isobench-udp-echo.c', target: '/usr/local/src/isobench/isobench-udp-echo.c', mode: 0o644 },
  ],
  programs: [
    { source: '/usr/local/src/isobench/isobench-dirtier.c', output: DIRTIER_PATH, flags: COMPILE_FLAGS },
    { source: '/usr/local/src/isobench/isobench-udp-echo.c', output: UDP_ECHO_PATH, flags: COMPILE_FLAGS },
  ],
  filesDir: DEFAULT_FILES_DIR,
  version: RECIPE_VERSION,
};

/** What the hash covers: everything that decides the tree's content, nothing about the host. */
export interface RecipeHashInputs {
  suite: string;
  variant: string;
  components: readonly string[];
  packages: readonly string[];
  version: number;
  files: ReadonlyArray<{ target: string; mode: number; content: Uint8Array | string }>;
  /** Hashed only when there are some, so recipes without programs keep their hashes. */
  programs?: readonly RecipeProgram[] | undefined;
}

/** Length of the recipe hash used in names: 64 bits is plenty for a handful of cached trees. */
export const RECIPE_HASH_LENGTH = 16;

/**
 * Hex sha256 over a canonical form of the inputs, shortened to RECIPE_HASH_LENGTH. Package and
 * file order do not matter (debootstrap resolves the set), so both are sorted first.
 */
export function hashRecipeInputs(inputs: RecipeHashInputs): string {
  const files = [...inputs.files]
    .map((file) => ({ target: file.target, mode: file.mode, sha256: sha256Hex(file.content) }))
    .sort((a, b) => compareText(a.target, b.target));
  const canonical = JSON.stringify({
    suite: inputs.suite,
    variant: inputs.variant,
    components: [...inputs.components].sort(compareText),
    packages: [...new Set(inputs.packages)].sort(compareText),
    version: inputs.version,
    files,
    ...(inputs.programs?.length
      ? { programs: [...inputs.programs].map((program) => ({ ...program, flags: [...program.flags] })).sort((a, b) => compareText(a.output, b.output)) }
      : {}),
  });
  return sha256Hex(canonical).slice(0, RECIPE_HASH_LENGTH);
}

/** Reads the recipe's files and hashes the whole recipe. */
export async function computeRecipeHash(recipe: ImageRecipe = IMAGE_RECIPE): Promise<string> {
  const files = await Promise.all(
    recipe.files.map(async (file) => ({
      target: file.target,
      mode: file.mode,
      content: await readFile(recipeFileSource(recipe, file)),
    })),
  );
  return hashRecipeInputs({ ...recipe, files });
}

/** Host path of a recipe file's source: `<filesDir>/<source>`. */
export function recipeFileSource(recipe: ImageRecipe, file: RecipeFile): string {
  return path.join(recipe.filesDir, file.source);
}

function sha256Hex(content: Uint8Array | string): string {
  return createHash('sha256').update(content).digest('hex');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
