import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { epochMs } from '../../../core/clock.js';
import type { ResourceRegistry } from '../../../core/ledger.js';
import { pollUntil, sleep } from '../../../core/poll.js';
import type {
  FreezeRecord,
  MigrationRequest,
  MigrationRun,
  MigrationSnapshot,
  SwitchOverReport,
  TargetMigration,
  TimedEvent,
} from '../../../contracts/target.js';
import { DIRTIER_PATH, UDP_ECHO_PATH } from '../../image/recipe.js';
import { GuestAgent } from '../guest-agent.js';
import { Guest } from '../guest.js';
import { EmptyResult, eventTimeMs, QueryStatusResult, type QmpClient, type QmpEvent } from '../qmp-client.js';
import type { QemuGuestSpec } from '../qemu-command.js';
import { createTap } from '../tap.js';
import { Destination, destinationSpec } from './destination.js';
import { qmpDirtyRateMeter } from './dirty-rate.js';
import { toMigrationSnapshot } from './query-migrate.js';
import { capabilitiesArgument, migrationSettings, type MigrationCapability } from './settings.js';

/**
 * Live migration of the kvm target's guest between two QEMU processes on this host (`--vm-manager
 * qemu`): the destination is started with `-incoming defer` on its own tap on the same bridge and the
 * same disk file; the stream goes over a unix socket in the run directory. After a switch-over the
 * destination becomes the target's guest (the same GuestAgent client, moved to the destination's
 * socket) and the source ends. The suite drives it: it polls, decides when to cancel, and judges.
 */

/** The guest a kvm target runs now and its tap's ledger entry; a completed migration replaces both. */
export interface GuestSlot {
  guest: Guest;
  tapResourceId: number;
}

/** Where and with what a QemuMigration works. */
export interface QemuMigrationEnvironment {
  slot: GuestSlot;
  resources: ResourceRegistry;
  /** The bridge the destination's tap joins (the source's tap is on it). */
  bridge: string;
  /** A private directory for each migration's sockets (inside the run directory). */
  workDirectory: string;
  /** Where destinations' serial consoles go (beside the results). */
  logDirectory: string;
  /** Names this target's files, e.g. the run id plus an instance suffix. */
  instance: string;
  /** `MAJOR.MINOR.MICRO (package)`, for `method`. */
  qemuVersion: string;
  /** The disk as both sides open it, for `method`, e.g. `raw, cache=none`. */
  diskDescription: string;
  /** Sees every QMP line of each destination, with its QEMU's name (ISOBENCH_QMP_TRANSCRIPT). */
  transcript?: (qemu: string, direction: 'sent' | 'received', line: string) => void;
}

/** Every capability isobench sets, so each migration states all of them (a source that served an earlier variant keeps its settings otherwise). */
const ALL_CAPABILITIES: readonly MigrationCapability[] = ['events', 'auto-converge', 'xbzrle', 'multifd', 'postcopy-ram'];
/** ms between `query-status` asks while waiting for the destination to run after the switch-over. */
const RUN_WAIT_INTERVAL_MS = 20;
/** How long the destination may take to run after the source completed, in ms. */
export const SWITCH_OVER_TIMEOUT_MS = 30_000;
/** How long a cancel may take to be acknowledged (status `cancelled`), in ms. */
export const CANCEL_TIMEOUT_MS = 30_000;
/** How long the guest agent may take to answer on the destination's socket, in ms. */
export const AGENT_MOVE_TIMEOUT_MS = 30_000;
/** Lines of a guest's console that mean it is not well. */
const SERIAL_PROBLEM = /Kernel panic[^\n]*|BUG: [^\n]*|Oops[:\s][^\n]*|general protection fault[^\n]*|watchdog: BUG[^\n]*/;

/** A guest's name without the `-mN` (migrated) or `-rN` (rebooted) suffix isobench gave it. */
function baseName(name: string): string {
  return name.replace(/-[mr]\d+$/, '');
}

/** A panic or oops line in a serial console's text, or null. */
export function serialProblem(serial: string): string | null {
  return SERIAL_PROBLEM.exec(serial)?.[0].trim() ?? null;
}

function timedEvent(event: QmpEvent, side: 'source' | 'destination'): TimedEvent {
  const data = event.data ?? {};
  const detail = event.event === 'MIGRATION' ? data.status : event.event === 'MIGRATION_PASS' ? data.pass : undefined;
  return { atMs: eventTimeMs(event), side, event: event.event, ...(typeof detail === 'string' || typeof detail === 'number' ? { detail } : {}) };
}

/** Turns each capability of ALL_CAPABILITIES on or off: on exactly for those listed. */
async function setCapabilities(qmp: QmpClient, on: readonly MigrationCapability[]): Promise<void> {
  const states = capabilitiesArgument(ALL_CAPABILITIES).capabilities.map((entry) => ({ ...entry, state: on.includes(entry.capability as MigrationCapability) }));
  await qmp.execute('migrate-set-capabilities', { capabilities: states }, EmptyResult);
}

/** The kvm target's `migration` capability. */
export class QemuMigration implements TargetMigration {
  private count = 0;
  private recoveries = 0;
  private current: QemuMigrationRun | null = null;

  constructor(private readonly environment: QemuMigrationEnvironment) {}

  /** QMP calc-dirty-rate on the guest that runs now (a switch-over moves it to the destination's session). */
  readonly dirtyRate = qmpDirtyRateMeter(() => this.environment.slot.guest.qmp);

  /** The image's echo server and dirtier (provisioning/image/files/*.c). */
  readonly programs = { udpEcho: UDP_ECHO_PATH, dirtier: DIRTIER_PATH };

  /** The guest the target runs now; a switch-over replaces it. */
  get slot(): GuestSlot {
    return this.environment.slot;
  }

  /** e.g. `QEMU 7.2.22 (…) pre-copy over a unix socket; shared disk (raw, cache=none); destination on its own tap on ib-br0`. */
  get method(): string {
    const { qemuVersion, diskDescription, bridge } = this.environment;
    return `QEMU ${qemuVersion} live migration over a unix socket; shared disk (${diskDescription}); destination on its own tap on ${bridge}`;
  }

  /**
   * QMP `stop`, `ms` of waiting, `cont`; the pause as QEMU stamped its STOP and RESUME events.
   * @throws QmpCommandError or the session's error; Error when an event does not come within 5 s.
   */
  async freeze(ms: number): Promise<FreezeRecord> {
    const qmp = this.environment.slot.guest.qmp;
    const since = qmp.eventCount;
    await qmp.stop();
    await sleep(ms);
    await qmp.cont();
    const stopped = await qmp.waitForEvent('STOP', { since, timeoutMs: 5_000 });
    const resumed = await qmp.waitForEvent('RESUME', { since, timeoutMs: 5_000 });
    return { requestedMs: ms, stoppedAtMs: eventTimeMs(stopped), resumedAtMs: eventTimeMs(resumed) };
  }

  /** See TargetMigration.start. */
  async start(request: MigrationRequest): Promise<MigrationRun> {
    if (this.current && !this.current.settled) throw new Error('a migration of this guest is already under way');
    const { slot, resources, bridge, workDirectory, logDirectory, instance } = this.environment;
    const source = slot.guest;
    if (source.exited) throw new Error(`the guest to migrate is gone: ${source.describeExit()}`);
    const index = ++this.count;
    const directory = join(workDirectory, `migration-${index}`);
    const created: number[] = [];
    let destination: Destination | undefined;
    try {
      created.push(await resources.register(`migration files ${directory}`, { kind: 'path', path: directory }));
      await mkdir(directory, { recursive: true });
      const tap = await createTap(bridge, resources);
      created.push(tap.resourceId);
      const spec = destinationSpec(source.spec, {
        name: `${baseName(source.spec.name)}-m${index}`,
        tap: tap.name,
        directory,
        serialLog: join(logDirectory, `${instance}-kvm-serial-m${index}.log`),
      });
      const transcript = this.environment.transcript;
      destination = await Destination.start({ spec, resources, cwd: directory, ...(transcript ? { transcript: (direction, line) => transcript(spec.name, direction, line) } : {}) });
      const settings = migrationSettings(request);
      const uri = `unix:${join(directory, 'migrate.sock')}`;
      await setCapabilities(destination.qmp, settings.destination.capabilities);
      if (Object.keys(settings.destination.parameters).length) await destination.qmp.execute('migrate-set-parameters', settings.destination.parameters, EmptyResult);
      await destination.qmp.execute('migrate-incoming', { uri }, EmptyResult);
      await setCapabilities(source.qmp, settings.source.capabilities);
      await source.qmp.execute('migrate-set-parameters', settings.source.parameters, EmptyResult);
      const run = new QemuMigrationRun(this.environment, source, destination, tap.resourceId, created[0]!, source.qmp.eventCount, destination.qmp.eventCount);
      await run.begin(uri);
      this.current = run;
      return run;
    } catch (error) {
      await destination?.stop().catch(() => {});
      for (const id of created.reverse()) await resources.undo(id).catch(() => {});
      throw error;
    }
  }

  /** See TargetMigration.recover. */
  async recover(): Promise<number> {
    const { slot, resources, bridge, workDirectory, logDirectory, instance } = this.environment;
    await this.abandonCurrent();
    const old = slot.guest;
    await old.stop().catch(() => {});
    await resources.undo(slot.tapResourceId).catch(() => {});
    const index = ++this.recoveries;
    const directory = join(workDirectory, `reboot-${index}`);
    await resources.register(`guest files ${directory}`, { kind: 'path', path: directory });
    await mkdir(directory, { recursive: true });
    const tap = await createTap(bridge, resources);
    slot.tapResourceId = tap.resourceId;
    // A fresh boot, not an incoming migration: the spec without `incoming`.
    const spec: QemuGuestSpec = {
      ...old.spec,
      incoming: undefined,
      name: `${baseName(old.spec.name)}-r${index}`,
      net: { ...old.spec.net!, tap: tap.name },
      qmpSocket: join(directory, 'qmp.sock'),
      agentSocket: join(directory, 'qga.sock'),
      serialLog: join(logDirectory, `${instance}-kvm-serial-r${index}.log`),
    };
    const address = /(?:^|\s)isobench\.addr=(\S+)/.exec(spec.append)?.[1];
    const guest = await Guest.launch({ spec, resources, cwd: directory, ...(address ? { expectedNetwork: address } : {}) });
    slot.guest = guest;
    return guest.bootSeconds;
  }

  /** Ends a migration left under way (the target is being torn down): the destination and its tap go. */
  async abandonCurrent(): Promise<void> {
    await this.current?.abandon();
  }
}

/** One migration of QemuMigration (see MigrationRun). */
class QemuMigrationRun implements MigrationRun {
  startedAtMs = 0;
  /** True once the run switched over or was abandoned. */
  settled = false;
  private destinationGone = false;

  constructor(
    private readonly environment: QemuMigrationEnvironment,
    private readonly source: Guest,
    private readonly destination: Destination,
    private readonly destinationTapId: number,
    private readonly directoryId: number,
    private readonly sourceEventsFrom: number,
    private readonly destinationEventsFrom: number,
  ) {}

  get destinationSerialLog(): string {
    return this.destination.spec.serialLog;
  }

  async begin(uri: string): Promise<void> {
    this.startedAtMs = epochMs();
    await this.source.qmp.execute('migrate', { uri }, EmptyResult);
  }

  async poll(): Promise<MigrationSnapshot> {
    const value = await this.source.qmp.execute('query-migrate', undefined, z.unknown());
    return toMigrationSnapshot(value, epochMs());
  }

  async startPostcopy(): Promise<void> {
    await this.source.qmp.execute('migrate-start-postcopy', undefined, EmptyResult);
  }

  async cancel(): Promise<MigrationSnapshot> {
    await this.source.qmp.execute('migrate_cancel', undefined, EmptyResult);
    const last = await pollUntil(
      async () => {
        const snapshot = await this.poll();
        return ['cancelled', 'failed', 'completed'].includes(snapshot.status) ? snapshot : undefined;
      },
      { timeoutMs: CANCEL_TIMEOUT_MS, intervalMs: 50, what: 'the source did not report the migration cancelled' },
    );
    // Completed before the cancel took effect: the caller switches over instead.
    if (last.status !== 'completed') await this.abandon();
    return last;
  }

  async switchOver(): Promise<SwitchOverReport> {
    const { slot, resources } = this.environment;
    const destination = this.destination;
    let runState: string;
    try {
      runState = await pollUntil(
        async () => {
          if (destination.exitState.exited) throw new Error(destination.describeExit());
          const status = await destination.qmp.execute('query-status', undefined, QueryStatusResult);
          if (status.status === 'running') return status.status;
          if (!['inmigrate', 'prelaunch', 'finish-migrate', 'restore-vm'].includes(status.status)) {
            throw new Error(`the destination is ${status.status} after the source completed, not running`);
          }
          return undefined;
        },
        { timeoutMs: SWITCH_OVER_TIMEOUT_MS, intervalMs: RUN_WAIT_INTERVAL_MS, what: 'the destination did not run after the source completed' },
      );
    } catch (error) {
      // The guest never ran on the destination: it goes, and the source, stopped in postmigrate
      // with the disk handed over, is asked to run again (QMP `cont` takes the disk back).
      await this.abandon();
      const revived = await this.source.qmp.cont().then(
        () => 'the source was resumed',
        (contError: unknown) => `the source could not be resumed either: ${(contError as Error).message}`,
      );
      throw new Error(`switching over failed: ${(error as Error).message}; ${revived}`, { cause: error });
    }
    // From here the guest runs on the destination: it stays the target's guest whatever else fails.
    let agentProblem: string | null = null;
    try {
      const transport = await GuestAgent.openSocket(destination.spec.agentSocket!, { timeoutMs: AGENT_MOVE_TIMEOUT_MS, alive: () => !destination.exitState.exited });
      this.source.agent.replaceTransport(transport);
    } catch (error) {
      agentProblem = `the guest agent did not answer on the destination: ${(error as Error).message}`;
    }
    const sourceTapId = slot.tapResourceId;
    await this.source.handOver();
    await resources.undo(sourceTapId);
    destination.release();
    slot.guest = Guest.adopt({
      spec: destination.spec,
      command: destination.command,
      qemu: destination.qemu,
      pid: destination.pid,
      resourceId: destination.resourceId,
      resources,
      qmp: destination.qmp,
      agent: this.source.agent,
      ready: this.source.ready,
      bootSeconds: this.source.bootSeconds,
      exitState: destination.exitState,
    });
    slot.tapResourceId = this.destinationTapId;
    this.settled = true;
    this.destinationGone = true;
    const serial = await readFile(destination.spec.serialLog, 'utf8').catch(() => '');
    return { runState, serialProblem: serialProblem(serial), agentProblem };
  }

  async abandon(): Promise<void> {
    this.settled = true;
    if (this.destinationGone) return;
    this.destinationGone = true;
    const { resources } = this.environment;
    await this.destination.stop().catch(() => {});
    await resources.undo(this.destinationTapId).catch(() => {});
    await resources.undo(this.directoryId).catch(() => {});
  }

  events(): TimedEvent[] {
    const fromSource = this.source.qmp.events.slice(Math.max(0, this.sourceEventsFrom - this.source.qmp.droppedEvents)).map((event) => timedEvent(event, 'source'));
    const fromDestination = this.destination.qmp.events
      .slice(Math.max(0, this.destinationEventsFrom - this.destination.qmp.droppedEvents))
      .map((event) => timedEvent(event, 'destination'));
    return [...fromSource, ...fromDestination].sort((a, b) => a.atMs - b.atMs);
  }
}
