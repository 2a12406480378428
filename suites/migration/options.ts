import { z } from 'zod';
import { MIGRATION_VARIANTS, type MigrationVariant } from '../../results/migration.js';

/**
 * The migration suite's flags. Lists are comma-separated and kept as text in the options (a run's
 * options are flat values in the results file); `points` splits them. Every value is checked here,
 * so a bad one is a usage error before anything starts.
 */

/** The guest workloads: `idle` is the floor, `web` is nginx under load, `dirty` the memory dirtier. */
export const WORKLOADS = ['idle', 'web', 'dirty'] as const;
/** One of WORKLOADS. */
export type Workload = (typeof WORKLOADS)[number];

/**
 * Link rates of the quick sweep, MiB/s (`--bandwidth`). Chosen around what this 2-core host's TCG
 * guests and the dirtier reach, so the three default dirty rates land below, between and above them.
 */
export const DEFAULT_BANDWIDTHS_MIBS = '32,64';
/** Dirty rates, MiB/s (`--dirty-rate`): below both links, between them, and above both (Clark's "diabolical"). */
export const DEFAULT_DIRTY_RATES_MIBS = '16,48,128';
/** The writable working set, MiB (`--wws`): small enough for a 512 MiB guest, larger than a downtime's worth of either link. */
export const DEFAULT_WWS_MIB = 64;
/** QEMU's own default `downtime-limit`, ms (qapi/migration.json). */
export const DEFAULT_DOWNTIME_LIMIT_MS = '300';
/** Seconds before a migration that has not converged is cancelled, quick and full. */
export const TIME_LIMIT_S = { quick: 30, full: 120 } as const;
/** Clark et al.'s Xen stopped pre-copy after 30 rounds (reference/papers.json, stop_conditions). */
export const DEFAULT_ROUND_LIMIT = 30;

function list<T>(parseItem: (item: string) => T | null, takes: string) {
  return z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined) return undefined;
      const items = text.split(',').map((item) => item.trim());
      const parsed = items.map(parseItem);
      if (items.length === 0 || parsed.some((item) => item === null) || new Set(items).size !== items.length) {
        context.addIssue({ code: 'custom', message: `takes ${takes}` });
        return z.NEVER;
      }
      return items.join(',');
    });
}

const positiveWhole = (max: number) => (item: string) => (/^\d+$/.test(item) && Number(item) >= 1 && Number(item) <= max ? Number(item) : null);
const wholeFrom0 = (max: number) => (item: string) => (/^\d+$/.test(item) && Number(item) <= max ? Number(item) : null);
const oneOf = <T extends string>(values: readonly T[]) => (item: string) => ((values as readonly string[]).includes(item) ? (item as T) : null);

/** The parsed flags (see the module comment): lists as canonical comma-separated text. */
export const MigrationOptions = z.object({
  workload: list(oneOf(WORKLOADS), `a comma-separated list of ${WORKLOADS.join(', ')}`).transform((value) => value ?? WORKLOADS.join(',')),
  wws: z.coerce
    .number({ message: 'takes a whole number of MiB from 1 to 65536' })
    .int('takes a whole number of MiB from 1 to 65536')
    .min(1, 'takes a whole number of MiB from 1 to 65536')
    .max(65_536, 'takes a whole number of MiB from 1 to 65536')
    .default(DEFAULT_WWS_MIB),
  'dirty-rate': list(wholeFrom0(1_000_000), 'a comma-separated list of whole MiB/s (0: as fast as the guest can)').transform((value) => value ?? DEFAULT_DIRTY_RATES_MIBS),
  bandwidth: list(positiveWhole(1_000_000), 'a comma-separated list of whole MiB/s from 1').transform((value) => value ?? DEFAULT_BANDWIDTHS_MIBS),
  'downtime-limit': list(positiveWhole(600_000), 'a comma-separated list of whole ms from 1').transform((value) => value ?? DEFAULT_DOWNTIME_LIMIT_MS),
  variant: list(oneOf(MIGRATION_VARIANTS), `a comma-separated list of ${MIGRATION_VARIANTS.join(', ')}`).transform((value) => value ?? 'precopy'),
  'migration-time-limit': z
    .string()
    .optional()
    .transform((text, context) => {
      // `auto` is the default as the results file stores it: `--resume` reads it back through here.
      if (text === undefined || text === 'auto') return 'auto';
      if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 3600) {
        context.addIssue({ code: 'custom', message: 'takes auto or a whole number of seconds from 1 to 3600' });
        return z.NEVER;
      }
      return Number(text);
    }),
  'wws-trace': z.coerce
    .number({ message: 'takes a whole number of seconds from 0 (off) to 600' })
    .int('takes a whole number of seconds from 0 (off) to 600')
    .min(0, 'takes a whole number of seconds from 0 (off) to 600')
    .max(600, 'takes a whole number of seconds from 0 (off) to 600')
    .default(0),
  /**
   * `--vm-manager libvirt`: the destination libvirtd's URI (suites/migration/libvirt-trial.ts); in
   * lab mode (`--hosts`) the inventory host the guest migrates to (harness/lab-migration.ts).
   */
  dest: z
    .string()
    .regex(/^([a-z][a-z0-9+]*:\/\/\S*|[a-z][a-z0-9-]{0,31})$/, 'takes a libvirt URI such as qemu+ssh://host/system, or with --hosts an inventory host\'s name')
    .optional(),
  'migration-rounds': z.coerce
    .number({ message: 'takes a whole number of rounds from 1 to 1000' })
    .int('takes a whole number of rounds from 1 to 1000')
    .min(1, 'takes a whole number of rounds from 1 to 1000')
    .max(1_000, 'takes a whole number of rounds from 1 to 1000')
    .default(DEFAULT_ROUND_LIMIT),
});
/** A parsed MigrationOptions. */
export type MigrationOptions = z.infer<typeof MigrationOptions>;

/** Splits a canonical list option into numbers. */
export function numbers(text: string): number[] {
  return text.split(',').map(Number);
}

/** Splits a canonical list option into its words, typed as the values the schema allowed. */
export function words<T extends string>(text: string): T[] {
  return text.split(',') as T[];
}

/** The variants of an options object, typed. */
export function variantsOf(options: MigrationOptions): MigrationVariant[] {
  return words<MigrationVariant>(options.variant);
}
