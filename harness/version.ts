import { readFileSync } from 'node:fs';

/** Read from package.json so the version recorded in results files has one source. */
export const ISOBENCH_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
