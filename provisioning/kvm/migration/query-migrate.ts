import { z } from 'zod';
import type { MigrationSnapshot } from '../../../contracts/target.js';
import { MIGRATION_STATUSES } from '../../../results/migration.js';
import { parseResult } from '../qmp-client.js';

/**
 * `query-migrate`'s return (MigrationInfo in qapi/migration.json), the fields isobench reads, as
 * QEMU 7.2 here lists them in `query-qmp-schema`. Every field is optional in QEMU's schema: before
 * `migrate` the reply is `{}`; `downtime` appears only once the migration completed, `setup-time`
 * once setup ended. Fields QEMU adds later are ignored, a known field of the wrong type is an error.
 */
const count = z.number().int().nonnegative();
/** `ram` of MigrationInfo (MigrationStats): bytes, pages, pages/s and megabits/s. */
export const MigrationRamStats = z.object({
  transferred: count,
  remaining: count,
  total: count,
  duplicate: count.optional(),
  normal: count.optional(),
  'normal-bytes': count.optional(),
  'dirty-pages-rate': count.optional(),
  mbps: z.number().nonnegative(),
  'dirty-sync-count': count.optional(),
  'postcopy-requests': count.optional(),
  'page-size': count.optional(),
  'multifd-bytes': count.optional(),
  'pages-per-second': count.optional(),
  'precopy-bytes': count.optional(),
  'downtime-bytes': count.optional(),
  'postcopy-bytes': count.optional(),
});

/** `query-migrate`'s return (see the module comment). */
export const QueryMigrateResult = z.object({
  status: z.enum(MIGRATION_STATUSES).optional(),
  ram: MigrationRamStats.optional(),
  'xbzrle-cache': z
    .object({ 'cache-size': count, bytes: count, pages: count, 'cache-miss': count, 'cache-miss-rate': z.number(), overflow: count })
    .partial()
    .optional(),
  'total-time': count.optional(),
  'expected-downtime': count.optional(),
  downtime: count.optional(),
  'setup-time': count.optional(),
  'cpu-throttle-percentage': count.optional(),
  'error-desc': z.string().optional(),
  'blocked-reasons': z.array(z.string()).optional(),
});
/** `query-migrate`'s return (see the schema of the same name). */
export type QueryMigrateResult = z.infer<typeof QueryMigrateResult>;

/**
 * A `query-migrate` return as the contract's snapshot: QEMU's kebab-case names mapped, every field
 * QEMU left out null (never 0), `status` `none` when QEMU gave none (nothing started yet).
 * @param atMs Epoch ms at which the reply arrived.
 * @throws QmpProtocolError when the value does not match QueryMigrateResult.
 */
export function toMigrationSnapshot(value: unknown, atMs: number): MigrationSnapshot {
  const info = parseResult('query-migrate', QueryMigrateResult, value);
  const ram = info.ram;
  return {
    atMs,
    status: info.status ?? 'none',
    syncCount: ram?.['dirty-sync-count'] ?? null,
    transferredBytes: ram?.transferred ?? null,
    remainingBytes: ram?.remaining ?? null,
    totalBytes: ram?.total ?? null,
    downtimeBytes: ram?.['downtime-bytes'] ?? null,
    dirtyPagesRate: ram?.['dirty-pages-rate'] ?? null,
    mbps: ram?.mbps ?? null,
    expectedDowntimeMs: info['expected-downtime'] ?? null,
    totalTimeMs: info['total-time'] ?? null,
    setupTimeMs: info['setup-time'] ?? null,
    downtimeMs: info.downtime ?? null,
    throttlePercent: info['cpu-throttle-percentage'] ?? null,
    error: info['error-desc'] ?? null,
  };
}
