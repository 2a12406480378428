/**
 * The time `harness/bootstrap.mjs` spent in `npm ci` before the CLI started (a fresh clone's first
 * command), handed over in the environment because the bootstrap runs before any TypeScript can.
 */
export const NPM_CI_MS_VARIABLE = 'ISOBENCH_NPM_CI_MS';

/**
 * Takes the bootstrap's `npm ci` time out of the environment, once: a second call, and every
 * process the CLI starts afterwards (a test's own `npm run bench`), find it gone.
 * @returns Wall-clock ms of `npm ci`, or null when this command did not run it (or the value is not a
 *   plain non-negative number).
 */
export function takeNpmCiMs(environment: NodeJS.ProcessEnv = process.env): number | null {
  const text = environment[NPM_CI_MS_VARIABLE];
  delete environment[NPM_CI_MS_VARIABLE];
  if (text === undefined || !/^\d+$/.test(text)) return null;
  return Number(text);
}
