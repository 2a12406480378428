/**
 * Live migration of a lab guest between two lab hosts (issue 14): the source QEMU runs on host A,
 * the destination is started on host B with `-incoming defer` on the same disk (a file in the
 * hosts' checked shared-dir), listens on B's test address, and the stream crosses the lab link
 * between the test addresses. Measured from QMP on the source (query-migrate): total time, QEMU's
 * downtime, the dirty-sync count (pre-copy rounds) and bytes. The outcome names both hosts.
 */
import { z } from 'zod';
import type { LabMigrationEnds, LabMigrationFigures, LabMigrationOutcome } from '../../../contracts/lab-migration.js';
import type { MigrationSnapshot } from '../../../contracts/target.js';
import type { ResourceRegistry } from '../../../core/ledger.js';
import { pollUntil, sleep } from '../../../core/poll.js';
import type { SshHost } from '../../../hosts/host.js';
import type { InventoryHost } from '../../../hosts/inventory.js';
import { EmptyResult, QueryStatusResult } from '../qmp-client.js';
import type { QemuGuestSpec } from '../qemu-command.js';
import { toMigrationSnapshot } from '../migration/query-migrate.js';
import type { LabGuest } from './lab-guest.js';
import { RemoteQemu } from './remote-qemu.js';

/**
 * Where the destination looks for a free TCP port for the stream: the IANA dynamic range's start
 * (RFC 6335), below Linux's default ephemeral range (32768-60999 overlaps it, so a port is checked
 * free with `ss` first rather than assumed).
 */
export const MIGRATION_PORT_RANGE = { first: 49_152, last: 49_352 } as const;
/** ms between query-migrate asks on the source (the single-host suite asks every 100 ms too). */
const POLL_MS = 100;
/** How long the destination may take to run after the source completed, in ms. */
export const LAB_SWITCH_OVER_TIMEOUT_MS = 30_000;
/** How long a cancel may take to be acknowledged, in ms. */
const CANCEL_TIMEOUT_MS = 30_000;
/** After `completed`, asks this many times, 20 ms apart, for QEMU 7.2's final total-time (see suites/migration/poll-loop.ts settleCompletedFigures). */
const SETTLE_POLLS = 25;

/**
 * The TCP ports in LISTEN state in `ss -Htln` output (column 4, `ADDRESS:PORT`, IPv6 in brackets).
 * @throws Error for a line whose local address has no port.
 */
export function listeningPorts(ssOutput: string): Set<number> {
  const ports = new Set<number>();
  for (const line of ssOutput.split('\n')) {
    const columns = line.trim().split(/\s+/);
    if (columns.length < 4) continue;
    const match = /:(\d+)$/.exec(columns[3]!);
    if (!match) throw new Error(`ss listed a local address without a port: ${line.trim()}`);
    ports.add(Number(match[1]));
  }
  return ports;
}

/** The first port of `range` not in `used`, or null when every one is taken. */
export function freePort(used: ReadonlySet<number>, range: { first: number; last: number } = MIGRATION_PORT_RANGE): number | null {
  for (let port = range.first; port <= range.last; port++) if (!used.has(port)) return port;
  return null;
}

/**
 * QEMU's `tcp:ADDRESS:PORT` migration URI.
 * @throws Error when the address is not a dotted-quad IPv4 address or the port is not 1-65535.
 */
export function migrationUri(address: string, port: number): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address) || address.split('.').some((part) => Number(part) > 255)) throw new Error(`not an IPv4 address: ${address}`);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`not a TCP port: ${port}`);
  return `tcp:${address}:${port}`;
}

/** A completed snapshot's figures (LabMigrationFigures): 0 total-time is "not reported" (QEMU 7.2 answers 0 before it has computed it). */
export function completedFigures(snapshot: MigrationSnapshot): LabMigrationFigures {
  const reported = snapshot.totalTimeMs !== null && snapshot.totalTimeMs > 0;
  return {
    totalTimeMs: reported ? snapshot.totalTimeMs : null,
    downtimeMs: reported ? snapshot.downtimeMs : null,
    setupTimeMs: snapshot.setupTimeMs,
    dirtySyncCount: snapshot.syncCount,
    transferredBytes: snapshot.transferredBytes,
    downtimeBytes: snapshot.downtimeBytes,
    ramBytes: snapshot.totalBytes,
    mbps: snapshot.mbps,
  };
}

/** What migrateLabGuest needs. */
export interface MigrateLabGuestRequest {
  /** The running guest on the source host (bootLabGuest's, or an earlier migration's). */
  guest: LabGuest;
  source: InventoryHost;
  destination: { host: SshHost; entry: InventoryHost };
  /** The destination QEMU's spec, paths on the destination host (destinationSpec of the guest's spec). */
  destinationSpec: QemuGuestSpec;
  resources: ResourceRegistry;
  /** A private local directory for the destination's forwarded QMP socket. */
  localDirectory: string;
  /** The migration is cancelled when it has not completed by then, in ms from `migrate`. */
  timeLimitMs: number;
  /** `max-bandwidth` in bytes per second; absent: QEMU's default (32 MiB/s in 7.2). */
  maxBandwidthBytesPerS?: number;
  /** `downtime-limit` in ms; absent: QEMU's default (300 ms). */
  downtimeLimitMs?: number;
  /**
   * The run's test-traffic guard: the stream goes only to an address it accepts (and the
   * destination's inventory test-address is the only address ever asked).
   */
  guard: (address: string) => Promise<void>;
}

/** What migrateLabGuest returns: the outcome, and the guest that runs now (the destination's after a completed migration). */
export interface LabMigrationResult {
  outcome: LabMigrationOutcome;
  /** The guest after the attempt: on the destination when completed, else the source's (null when neither runs). */
  guest: LabGuest | null;
}

/**
 * Migrates `request.guest` to the destination host (see the module comment). Never throws for a
 * migration that failed: that is the `failed` outcome, and whatever it started on the destination is
 * stopped and unregistered; the source guest is left as it is.
 * @throws HostError only when a host stops answering in a step that has no outcome of its own.
 */
export async function migrateLabGuest(request: MigrateLabGuestRequest): Promise<LabMigrationResult> {
  const { guest, destination } = request;
  const ends: LabMigrationEnds = {
    source: { host: request.source.name, testAddress: request.source.testAddress },
    destination: { host: destination.entry.name, testAddress: destination.entry.testAddress },
    uri: null,
  };
  let stage = 'choosing a port on the destination';
  let last: MigrationSnapshot | null = null;
  let incoming: RemoteQemu | undefined;
  const failed = async (reason: string): Promise<LabMigrationResult> => {
    await incoming?.stop();
    const sourceRuns = !guest.qemu.exitState.exited;
    return { outcome: { ...ends, kind: 'failed', stage, reason, last }, guest: sourceRuns ? guest : null };
  };
  try {
    const listing = await destination.host.run(['ss', '-Htln'], { timeoutMs: 10_000 });
    if (!listing.ok) return await failed(`ss -Htln on host ${destination.entry.name} failed: ${listing.stderr.trim()}`);
    const port = freePort(listeningPorts(listing.stdout));
    if (port === null) return await failed(`no free TCP port in ${MIGRATION_PORT_RANGE.first}-${MIGRATION_PORT_RANGE.last} on host ${destination.entry.name}`);
    stage = 'checking the destination address';
    await request.guard(destination.entry.testAddress);
    ends.uri = migrationUri(destination.entry.testAddress, port);

    stage = 'starting the destination QEMU';
    incoming = await RemoteQemu.start({
      host: destination.host,
      spec: request.destinationSpec,
      resources: request.resources,
      localDirectory: request.localDirectory,
      cwd: request.destinationSpec.serialLog.replace(/\/[^/]*$/, '') || '/',
      role: 'migration destination',
    });
    stage = 'setting up the incoming side';
    await incoming.qmp.execute('migrate-incoming', { uri: ends.uri }, EmptyResult);
    stage = 'starting the migration on the source';
    const parameters = {
      ...(request.maxBandwidthBytesPerS !== undefined ? { 'max-bandwidth': request.maxBandwidthBytesPerS } : {}),
      ...(request.downtimeLimitMs !== undefined ? { 'downtime-limit': request.downtimeLimitMs } : {}),
    };
    if (Object.keys(parameters).length > 0) await guest.qemu.qmp.execute('migrate-set-parameters', parameters, EmptyResult);
    const began = performance.now();
    const startedAtMs = Date.now();
    await guest.qemu.qmp.execute('migrate', { uri: ends.uri }, EmptyResult);

    stage = 'migrating';
    const poll = async () => toMigrationSnapshot(await guest.qemu.qmp.execute('query-migrate', undefined, z.unknown()), Date.now());
    for (;;) {
      last = await poll();
      if (last.status === 'completed' || last.status === 'failed' || last.status === 'cancelled') break;
      if (performance.now() - began > request.timeLimitMs) {
        stage = 'cancelling after the time limit';
        await guest.qemu.qmp.execute('migrate_cancel', undefined, EmptyResult);
        last = await pollUntil(
          async () => {
            const snapshot = await poll();
            return ['cancelled', 'failed', 'completed'].includes(snapshot.status) ? snapshot : undefined;
          },
          { timeoutMs: CANCEL_TIMEOUT_MS, intervalMs: 50, what: 'the source did not report the migration cancelled' },
        );
        if (last.status !== 'completed') {
          await incoming.stop();
          return { outcome: { ...ends, kind: 'not-converged', timeLimitMs: request.timeLimitMs, last }, guest };
        }
        break;
      }
      await sleep(POLL_MS);
    }
    const wallMs = performance.now() - began;
    if (last.status !== 'completed') return await failed(`the source reported the migration ${last.status}${last.error ? `: ${last.error}` : ''}`);
    for (let attempt = 0; attempt < SETTLE_POLLS && !(last.totalTimeMs! > 0); attempt++) {
      await sleep(20);
      const again = await poll().catch(() => null);
      if (again?.status === 'completed') last = again;
    }

    stage = 'switching over';
    const arrived = incoming;
    const runState = await pollUntil(
      async () => {
        if (arrived.exitState.exited) throw new Error(arrived.describeExit());
        const status = await arrived.qmp.execute('query-status', undefined, QueryStatusResult);
        if (status.status === 'running') return status.status;
        if (!['inmigrate', 'prelaunch', 'finish-migrate', 'restore-vm'].includes(status.status)) throw new Error(`the destination is ${status.status} after the source completed, not running`);
        return undefined;
      },
      { timeoutMs: LAB_SWITCH_OVER_TIMEOUT_MS, intervalMs: 20, what: 'the destination did not run after the source completed' },
    ).catch(async (error: unknown) => {
      // The guest never ran on the destination: the source, stopped with the disk handed over, is asked to run again.
      await guest.qemu.qmp.cont().catch(() => {});
      throw error;
    });

    stage = 'ending the source QEMU';
    await guest.qemu.stop();
    const sourceGone = !(await guest.qemu.runningOnHost());
    const moved: LabGuest = { qemu: arrived, ready: guest.ready, bootSeconds: guest.bootSeconds };
    return { outcome: { ...ends, kind: 'completed', figures: completedFigures(last), destinationRunState: runState, sourceGone, startedAtMs, wallMs, last }, guest: moved };
  } catch (error) {
    return failed((error as Error).message);
  }
}
