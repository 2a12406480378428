import { access, constants } from 'node:fs/promises';
import { runChecked } from '../../core/exec.js';
import type { ImageRecipe } from './recipe.js';
import { resolveInsideTree } from './tree-files.js';

/** One gcc run in the tree; a few small C files take about a second each here. In ms. */
export const COMPILE_TIMEOUT_MS = 120_000;

/**
 * The argv that compiles one of the recipe's programs inside the tree: `chroot TREE gcc FLAGS -o
 * OUTPUT SOURCE`, so the tree's own gcc and libc build it (the guest runs it against that libc).
 */
export function compileCommand(tree: string, program: NonNullable<ImageRecipe['programs']>[number]): string[] {
  return ['chroot', tree, 'gcc', ...program.flags, '-o', program.output, program.source];
}

/**
 * Compiles each of the recipe's programs in the tree (after its files are installed) and checks that
 * the executable is there.
 * @throws CommandFailedError with gcc's messages when a program does not compile; the file-system
 *   error when an output is missing or not executable afterwards.
 */
export async function compileRecipePrograms(recipe: ImageRecipe, tree: string): Promise<void> {
  for (const program of recipe.programs ?? []) {
    await runChecked(compileCommand(tree, program), {
      timeoutMs: COMPILE_TIMEOUT_MS,
      env: { LC_ALL: 'C', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    });
  }
  await checkPrograms(recipe, tree);
}

/**
 * Throws unless every program of the recipe is an executable file in the tree.
 * @throws Error naming the first missing program.
 */
export async function checkPrograms(recipe: ImageRecipe, tree: string): Promise<void> {
  for (const program of recipe.programs ?? []) {
    const path = await resolveInsideTree(tree, program.output);
    await access(path, constants.X_OK).catch(() => {
      throw new Error(`the image's program ${program.output} was not built (compiled from ${program.source})`);
    });
  }
}
