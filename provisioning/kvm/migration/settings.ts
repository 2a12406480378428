import type { MigrationRequest } from '../../../contracts/target.js';

/** A migration capability (`migrate-set-capabilities`) by QEMU's name, e.g. `auto-converge`. */
export type MigrationCapability = 'events' | 'auto-converge' | 'xbzrle' | 'multifd' | 'postcopy-ram';

/** What one side of a migration is told before it starts. */
export interface SideSettings {
  /** Turned on with `migrate-set-capabilities` (everything else stays at QEMU's default, off). */
  capabilities: MigrationCapability[];
  /** `migrate-set-parameters` arguments, by QEMU's names. */
  parameters: Record<string, number>;
}

/** Both sides' settings for one request. */
export interface MigrationSettings {
  source: SideSettings;
  destination: SideSettings;
}

/**
 * The capabilities and parameters a request means, per side (QEMU's migration documentation,
 * docs/devel/migration.rst, and qapi/migration.json):
 * - both sides get `events`, so MIGRATION status changes and MIGRATION_PASS (each dirty-bitmap
 *   sync) arrive as timestamped events;
 * - the source gets `max-bandwidth` (bytes/s) and `downtime-limit` (ms);
 * - `auto-converge` and `xbzrle` are the source's alone (QEMU's default xbzrle cache, 64 MiB, is kept);
 * - `multifd` and `postcopy-ram` must be set on both sides; multifd keeps QEMU's default of 2 channels.
 */
export function migrationSettings(request: MigrationRequest): MigrationSettings {
  const both: MigrationCapability[] = ['events'];
  const sourceOnly: MigrationCapability[] = [];
  if (request.variant === 'multifd') both.push('multifd');
  if (request.variant === 'postcopy') both.push('postcopy-ram');
  if (request.variant === 'auto-converge') sourceOnly.push('auto-converge');
  if (request.variant === 'xbzrle') sourceOnly.push('xbzrle');
  return {
    source: {
      capabilities: [...both, ...sourceOnly],
      parameters: { 'max-bandwidth': Math.round(request.maxBandwidthBytesPerSecond), 'downtime-limit': Math.round(request.downtimeLimitMs) },
    },
    destination: { capabilities: [...both], parameters: {} },
  };
}

/** `migrate-set-capabilities`' argument for a list of capabilities to turn on. */
export function capabilitiesArgument(capabilities: readonly MigrationCapability[]): { capabilities: Array<{ capability: string; state: boolean }> } {
  return { capabilities: capabilities.map((capability) => ({ capability, state: true })) };
}
