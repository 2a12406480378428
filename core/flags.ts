import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

/**
 * node:util's parseArgs, strict, with its complaints turned into one-line usage errors that say what
 * to do: an unknown flag, a flag without its value, a stray argument, a single-valued flag given
 * twice (parseArgs keeps the last silently: `--resume A.json --resume B.json` resumed B). A negative
 * number after a flag that takes a value is that value (`--reps -1` as `--reps=-1`), so the command's
 * own check of the value says what the flag takes.
 * @param help Where the flags are listed, for the fix, e.g. `npm run bench -- --help`; default `--help`.
 * @param strayHint What to do instead of a stray argument, e.g. `name targets and suites with
 *   --target and --suite`; default: see `help`.
 * @throws UsageError (exit 2) with one line naming the flag or argument and the fix.
 */
export function parseFlags<const Config extends ParseArgsConfig>(config: Config, help = '--help', strayHint?: string): ReturnType<typeof parseArgs<Config>> {
  let parsed;
  try {
    // tokens: to see every occurrence of a flag, which `values` collapses to the last.
    parsed = parseArgs({ ...config, ...(config.args ? { args: joinNegativeValues(config.args, config) } : {}), tokens: true });
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    // parseArgs reads `--reps -x` as a flag followed by another flag and calls it ambiguous.
    const ambiguous = /^Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    const missing = /^Option '(--[\w-]+)[^']*' argument missing/.exec(message);
    const stray = /^Unexpected argument '([^']*)'/.exec(message);
    const line = ambiguous
      ? `${ambiguous[1]} needs a value; write a value that starts with "-" as ${ambiguous[1]}=VALUE`
      : unknown
        ? `unknown flag ${unknown[1]}: see ${help} for the flags`
        : missing
          ? `${missing[1]} needs a value, e.g. ${missing[1]} VALUE: see ${help}`
          : stray
            ? `unexpected argument "${stray[1]}": ${strayHint ? `${strayHint} (see ${help})` : `this command takes only flags (see ${help})`}`
            : message;
    throw new UsageError(line, { cause: error });
  }
  refuseRepeated(config, parsed.tokens ?? []);
  return parsed as ReturnType<typeof parseArgs<Config>>;
}

/** `-1`, `-0.5`, `-.5`: never a flag of isobench's (they are letters), always a value. */
const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * `args` with each `--flag -NUMBER` of a string flag written `--flag=-NUMBER`. parseArgs takes
 * `-1` for a short option and calls `--reps -1` ambiguous, so the user was told how to write a
 * value starting with "-" rather than that --reps takes a whole number from 1. Nothing after `--`
 * (positionals) is touched.
 */
function joinNegativeValues(args: readonly string[], config: ParseArgsConfig): string[] {
  const joined: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--') return [...joined, ...args.slice(index)];
    const next = args[index + 1];
    const name = /^--([^=]+)$/.exec(arg)?.[1];
    if (name !== undefined && config.options?.[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      joined.push(`${arg}=${next}`);
      index++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/**
 * A flag that takes one value (a string option without `multiple`) may appear once: the second
 * would silently win. A repeated switch (`--quick --quick`) means the same thing and is let be.
 */
function refuseRepeated(config: ParseArgsConfig, tokens: ReadonlyArray<{ kind: string; name?: string; value?: string | undefined }>): void {
  const seen = new Map<string, string | undefined>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue;
    const option = config.options?.[token.name];
    if (option?.type !== 'string' || option.multiple) continue;
    if (seen.has(token.name)) {
      throw new UsageError(`--${token.name} given twice ("${seen.get(token.name)}", then "${token.value}"): give it once`);
    }
    seen.set(token.name, token.value);
  }
}
