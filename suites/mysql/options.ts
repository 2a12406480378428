import { z } from 'zod';
import type { SuiteConfig } from '../../contracts/suite.js';

/**
 * The mysql suite's flags, its point parameters and the sizes of quick and full mode. `auto` in an
 * option means "what the mode says" (quick or full), resolved when the points are made.
 */

/** The sysbench scripts isobench runs, by `--mode`. */
export const SCRIPTS = { 'read-only': 'oltp_read_only', 'read-write': 'oltp_read_write' } as const;
/** `--mode`: `read-only` (the paper's committed data is read-only) or `read-write`. */
export type MysqlMode = keyof typeof SCRIPTS;

/** The largest thread count `--threads` takes (sysbench starts one connection per thread). */
export const MAX_THREADS = 1024;

/**
 * Sizes per mode. Quick keeps the whole suite on four targets under 10 minutes here (a table that
 * loads in a second, 5 s points, a sweep just past the two cores); full is the paper's scale: one
 * 2M-row table, 60 s points, threads well past the core count (the paper swept 10 to 290 on 2 x 8
 * cores). Warm-up: one sysbench run at the largest thread count after the load, before any trial.
 */
export const SIZES = {
  quick: { tableSize: 10_000, seconds: 5, warmupSeconds: 5 },
  full: { tableSize: 2_000_000, seconds: 60, warmupSeconds: 60 },
} as const;

/** The quick sweep: one thread, the core count of the development machine, and past it. */
export const QUICK_THREADS = [1, 2, 4] as const;

/**
 * The full sweep: powers of two from 1 up to 16 threads per core, at least 32 (1..32 on 2 cores,
 * 1..256 on 16).
 */
export function fullThreadSweep(cores: number): number[] {
  const top = Math.max(32, 16 * cores);
  const sweep: number[] = [];
  for (let threads = 1; threads <= Math.min(top, MAX_THREADS); threads *= 2) sweep.push(threads);
  return sweep;
}

// Worded to follow the flag: the usage error reads `--threads takes …`.
const THREADS_ERROR = `takes a comma-separated list of thread counts from 1 to ${MAX_THREADS}, e.g. 1,2,4,8`;
const TABLES_ERROR = 'takes a whole number of tables from 1 to 64';
const TABLE_SIZE_ERROR = 'takes a whole number of rows per table from 100 to 100000000';
const DURATION_ERROR = 'takes whole seconds from 1 to 3600';

/** Parses a comma-separated list into distinct thread counts in ascending order, or null when one is not 1..MAX_THREADS. */
export function parseThreadList(text: string): number[] | null {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => !/^\d+$/.test(item))) return null;
  const counts = [...new Set(items.map(Number))].sort((a, b) => a - b);
  return counts.every((count) => count >= 1 && count <= MAX_THREADS) ? counts : null;
}

function wholeNumberOrAuto(error: string, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((text, context): number | 'auto' => {
      if (text === undefined || text === 'auto') return 'auto';
      const value = Number(text);
      if (/^\d+$/.test(text) && value >= min && value <= max) return value;
      context.addIssue({ code: 'custom', message: error });
      return z.NEVER;
    });
}

/**
 * `--threads LIST`, `--tables N`, `--table-size N`, `--mode read-only|read-write`, `--duration S`.
 * Not given (or `auto`): the mode's value (SIZES, QUICK_THREADS, fullThreadSweep); `--tables` 1 as
 * in the paper, `--mode` read-only. `threads` is kept as text (`1,2,4`, sorted and deduplicated)
 * because options are flat values in the results file.
 */
export const MysqlOptions = z.object({
  threads: z
    .string()
    .optional()
    .transform((text, context): string => {
      if (text === undefined || text === 'auto') return 'auto';
      const counts = parseThreadList(text);
      if (counts) return counts.join(',');
      context.addIssue({ code: 'custom', message: THREADS_ERROR });
      return z.NEVER;
    }),
  tables: z
    .string()
    .optional()
    .transform((text, context): number => {
      if (text === undefined) return 1;
      if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 64) return Number(text);
      context.addIssue({ code: 'custom', message: TABLES_ERROR });
      return z.NEVER;
    }),
  'table-size': wholeNumberOrAuto(TABLE_SIZE_ERROR, 100, 100_000_000),
  mode: z.enum(['read-only', 'read-write'], { error: 'takes read-only or read-write' }).default('read-only'),
  duration: wholeNumberOrAuto(DURATION_ERROR, 1, 3600),
});
/** A parsed MysqlOptions. */
export type MysqlOptions = z.infer<typeof MysqlOptions>;

/** One point: sysbench `script` with `threads` connections for `seconds`, on `tables` tables of `tableSize` rows. */
export const MysqlParams = z.object({
  threads: z.number().int().min(1).max(MAX_THREADS),
  mode: z.enum(['read-only', 'read-write']),
  script: z.enum(['oltp_read_only', 'oltp_read_write']),
  tables: z.number().int().positive(),
  tableSize: z.number().int().positive(),
  seconds: z.number().int().positive(),
  /** The latency percentile sysbench reports (`--percentile`). */
  percentile: z.literal(95),
});
/** A parsed MysqlParams. */
export type MysqlParams = z.infer<typeof MysqlParams>;

/** What the whole suite shares on a target: the table layout and the warm-up, resolved from the options and the mode. */
export interface MysqlPlan {
  mode: MysqlMode;
  script: (typeof SCRIPTS)[MysqlMode];
  tables: number;
  tableSize: number;
  seconds: number;
  warmupSeconds: number;
  threads: number[];
}

/** Resolves `auto` options against the mode (quick or full) and the host's cores. */
export function resolvePlan(config: SuiteConfig<MysqlOptions>): MysqlPlan {
  const sizes = config.quick ? SIZES.quick : SIZES.full;
  const { options } = config;
  return {
    mode: options.mode,
    script: SCRIPTS[options.mode],
    tables: options.tables,
    tableSize: options['table-size'] === 'auto' ? sizes.tableSize : options['table-size'],
    seconds: options.duration === 'auto' ? sizes.seconds : options.duration,
    warmupSeconds: sizes.warmupSeconds,
    threads: options.threads === 'auto' ? (config.quick ? [...QUICK_THREADS] : fullThreadSweep(config.cores)) : parseThreadList(options.threads)!,
  };
}
