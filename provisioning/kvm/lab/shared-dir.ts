/**
 * The shared storage a QEMU migration between two lab hosts needs (the guest's disk stays where it
 * is; only memory and device state move): the inventory's `shared-dir`, the same path on both
 * hosts. That it is really one storage is checked, never assumed: a marker with a random token is
 * written on one host and must be read back, byte for byte, on the other.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { ResourceRegistry } from '../../../core/ledger.js';
import type { Host } from '../../../hosts/host.js';
import type { InventoryHost } from '../../../hosts/inventory.js';

/** The check's answer: `shared` with the directory, or why not, in one line naming the hosts. */
export type SharedDirCheck = { kind: 'shared'; directory: string } | { kind: 'not-shared'; reason: string };

/** The marker's name prefix inside the shared directory (a leading dot: it is not a user's file). */
export const SHARED_MARKER_PREFIX = '.isobench-shared-';

/**
 * The directory two inventory hosts share, from their entries alone: both must name `shared-dir`,
 * and the same path.
 * @returns the path, or the reason (one line naming the host and the field to add).
 */
export function sharedDirOf(a: InventoryHost, b: InventoryHost): { directory: string } | { reason: string } {
  for (const host of [a, b]) {
    if (host.sharedDir === undefined) return { reason: `host ${host.name} has no shared-dir in the inventory: a migration between ${a.name} and ${b.name} needs a directory both see (NFS), e.g. \`shared-dir: /srv/isobench-shared\` on both` };
  }
  if (a.sharedDir !== b.sharedDir) return { reason: `hosts ${a.name} and ${b.name} name different shared-dirs (${a.sharedDir}, ${b.sharedDir}): QEMU opens the disk at one path on both` };
  return { directory: a.sharedDir! };
}

/**
 * Writes a marker with a random token in `directory` on `writer` and reads it on `reader`; the
 * marker is removed afterwards (and registered in `resources` meanwhile).
 * @returns `shared`, or `not-shared` with what was found (no such directory, no marker, another token).
 * @throws HostError when a host cannot be reached.
 */
export async function checkSharedDir(writer: Host, reader: Host, directory: string, resources: ResourceRegistry): Promise<SharedDirCheck> {
  const token = randomBytes(12).toString('hex');
  const marker = posix.join(directory, `${SHARED_MARKER_PREFIX}${token}`);
  const written = await writer.run(['sh', '-c', 'printf %s "$1" > "$2"', 'sh', token, marker], { timeoutMs: 20_000 });
  if (!written.ok) return { kind: 'not-shared', reason: `host ${writer.name}: cannot write in shared-dir ${directory}: ${written.stderr.trim() || `exit code ${written.exitCode}`}` };
  const id = await resources.register(`shared-dir marker ${marker} on host ${writer.name}`, { kind: 'command', command: writer.commandLine(['rm', '-f', marker]) });
  try {
    const read = await reader.run(['cat', marker], { timeoutMs: 20_000 });
    if (!read.ok) return { kind: 'not-shared', reason: `host ${reader.name} does not see the marker host ${writer.name} wrote in ${directory} (${read.stderr.trim() || `exit code ${read.exitCode}`}): the directory is not shared storage` };
    if (read.stdout !== token) return { kind: 'not-shared', reason: `host ${reader.name} reads another content from the marker host ${writer.name} wrote in ${directory}: not one storage` };
    return { kind: 'shared', directory };
  } finally {
    await resources.undo(id).catch(() => {});
  }
}
