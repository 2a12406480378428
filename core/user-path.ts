import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root: where `npm run` starts every script, wherever the user typed the command. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The directory a path the user typed is relative to. `npm run` starts scripts in the package root
 * and keeps where the user was in `INIT_CWD` (npm's documented variable), so `cd test && npm run
 * report -- ../runs/X.json` must read `../runs` from `test/` (it read it from the root and failed).
 * A process started elsewhere than the root (a test's child, `node harness/bootstrap.mjs` in a
 * directory of its own) was not started by `npm run` here: its own working directory counts, even
 * when it inherited an `INIT_CWD`.
 */
export function userDirectory(environment: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd(), root: string = PACKAGE_ROOT): string {
  const typedIn = environment.INIT_CWD;
  return typedIn !== undefined && isAbsolute(typedIn) && resolve(cwd) === root ? typedIn : cwd;
}

/** A path the user typed (a results file, `--out`, `--resume`, `--hosts`), made absolute from {@link userDirectory}. */
export function userPath(text: string): string {
  return resolve(userDirectory(), text);
}
