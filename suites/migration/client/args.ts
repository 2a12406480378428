import { parseArgs } from 'node:util';

/**
 * The client programs' flags: `--name value` pairs, every one required, numbers checked. A program
 * that cannot parse its flags prints one line and exits 2.
 * @throws never: exits the process with code 2 instead.
 */
export function requiredFlags<const Names extends readonly string[]>(argv: readonly string[], names: Names, numeric: readonly Names[number][]): Record<Names[number], string> {
  try {
    const { values } = parseArgs({ args: [...argv], options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])), strict: true });
    const flags = values as Record<string, string | undefined>;
    for (const name of names) {
      const value = flags[name];
      if (value === undefined) throw new Error(`--${name} is required`);
      if (numeric.includes(name) && !(Number(value) > 0)) throw new Error(`--${name} takes a positive number, not ${value}`);
    }
    return flags as Record<Names[number], string>;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
}

/**
 * Calls `finish` once, on SIGTERM or SIGINT, when stdin ends (the parent died), or after
 * `maxSeconds`, whichever comes first: a client program never outlives the trial that started it.
 */
export function onEnd(maxSeconds: number, finish: () => void): void {
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    finish();
  };
  process.on('SIGTERM', end);
  process.on('SIGINT', end);
  process.stdin.on('end', end);
  process.stdin.on('error', end);
  process.stdin.resume();
  setTimeout(end, maxSeconds * 1000).unref();
}
