import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { epochMs } from '../../../core/clock.js';
import { errorMessage } from '../../../core/errors.js';
import { runChecked, runCommand, startBackground, type CommandOutcome } from '../../../core/exec.js';
import type { ResourceRegistry } from '../../../core/ledger.js';
import { pollUntil, sleep } from '../../../core/poll.js';
import type { LibvirtMigrationEnd, LibvirtMigrationReport, LibvirtMigrationRequest, SwitchOverReport, TargetLibvirtMigration } from '../../../contracts/target.js';
import type { LibvirtJobInfo } from '../../../results/libvirt-jobinfo.js';
import { DIRTIER_PATH, UDP_ECHO_PATH } from '../../image/recipe.js';
import { findIsobenchQemuProcesses } from '../leftovers.js';
import { LIBVIRT_DOMAIN_GONE, type LibvirtGuest } from '../libvirt.js';
import { parseDomjobinfo } from '../libvirt-jobinfo.js';
import { createTap } from '../tap.js';
import { serialProblem } from './qemu-migration.js';

/*
 * `--vm-manager libvirt`: the kvm target's domain moved by libvirt (`virsh migrate --live`, libvirt's
 * own pre-copy over QEMU), to another libvirtd and, on the next trial, back. The destination gets its
 * own tap on the same bridge (the source's QEMU holds the first one) and its own serial console file,
 * through `--xml` (the source's migratable XML with those two changed). After the migration ends the
 * job statistics are read once (`virsh domjobinfo --completed`, `--keep-completed` where virsh has
 * it). libvirt gives no rounds or events: its figures are the ones domjobinfo prints.
 */

/** The guest a libvirt kvm target runs now and its tap's ledger entry; a completed migration replaces the tap. */
export interface LibvirtSlot {
  readonly guest: LibvirtGuest;
  tapResourceId: number;
}

/** What a LibvirtMigration works with. */
export interface LibvirtMigrationEnvironment {
  slot: LibvirtSlot;
  resources: ResourceRegistry;
  /** The bridge the destination's tap joins. */
  bridge: string;
  /** Where the migration's files (the destination XML) go: the target's private directory. */
  workDirectory: string;
  /** `libvirt 9.0.0, QEMU 7.2.22`, for `method`. */
  libvirtVersion: string;
  /** The disk as both sides open it, for `method`, e.g. `raw, cache=none`. */
  diskDescription: string;
}

/** virsh calls other than the migration itself, ms. */
const VIRSH_TIMEOUT_MS = 15_000;
/** After `virsh domjobabort`, how long `virsh migrate` may take to give up, ms. */
const ABORT_GRACE_MS = 30_000;
/** How long the destination's QEMU may take to show up in /proc after libvirt reported success, ms. */
const DESTINATION_PID_TIMEOUT_MS = 10_000;
/** How long the guest agent may take to answer through the destination libvirtd, ms. */
const AGENT_TIMEOUT_MS = 30_000;
/** What `virsh domjobinfo --help` lists on libvirts that can keep a completed job's statistics. */
const KEEP_COMPLETED = '--keep-completed';

/**
 * A URI that can only reach a libvirtd on this host: a unix socket (`qemu+unix://…`, or no
 * transport). Then both sides open the same disk file (so libvirt's shared-storage check must be
 * overridden with `--unsafe`, which the method says) and the stream runs over loopback.
 */
export function isLocalUri(uri: string): boolean {
  return /^[a-z]+(\+unix)?:\/\/\//.test(uri);
}

/** The `virsh migrate` command line for one migration (exported for its unit test). */
export function migrateCommand(options: { sourceUri: string; domain: string; destinationUri: string; maxBandwidthMiBs: number; xmlFile: string; local: boolean }): string[] {
  return [
    'virsh', '-c', options.sourceUri, 'migrate', '--live', '--persistent', '--bandwidth', String(options.maxBandwidthMiBs), '--xml', options.xmlFile,
    // Same host: one disk file seen by both daemons, and the stream over loopback (libvirt will not
    // take loopback from its config, see provisioning/kvm/libvirt-daemon.ts).
    ...(options.local ? ['--unsafe', '--listen-address', '127.0.0.1', '--migrateuri', 'tcp://127.0.0.1'] : []),
    options.domain, options.destinationUri,
  ];
}

/**
 * The source's migratable XML with the destination's tap and serial console in place of the source's.
 * @throws Error when the XML does not name the old tap or console exactly once.
 */
export function destinationXml(xml: string, change: { oldTap: string; newTap: string; oldSerial: string; newSerial: string }): string {
  const replaceOnce = (text: string, from: string, to: string, what: string) => {
    const count = text.split(from).length - 1;
    if (count !== 1) throw new Error(`the domain XML names ${what} ${count} times, not once: ${from}`);
    return text.replace(from, to);
  };
  const tapped = replaceOnce(xml, `<target dev='${change.oldTap}'`, `<target dev='${change.newTap}'`, 'the tap');
  return tapped.split(`'${change.oldSerial}'`).join(`'${change.newSerial}'`);
}

/** Whether this virsh can keep a completed job's statistics when reading them (`domjobinfo --keep-completed`). */
export async function virshKeepsCompleted(): Promise<boolean> {
  const help = await runCommand(['virsh', 'domjobinfo', '--help'], { timeoutMs: VIRSH_TIMEOUT_MS });
  return help.ok && help.stdout.includes(KEEP_COMPLETED);
}

/** See the module comment; the kvm target's `libvirtMigration`. */
export class LibvirtMigration implements TargetLibvirtMigration {
  readonly programs = { udpEcho: UDP_ECHO_PATH, dirtier: DIRTIER_PATH };
  private count = 0;
  /** The first libvirtd, where the domain was defined: a guest on the destination goes back here. */
  private readonly homeUri: string;
  private running: { virsh: ReturnType<typeof startBackground>; abort: string[] } | null = null;
  /** The serial console file the domain writes now; each completed migration gives the destination its own. */
  private serialLog: string;

  /** The guest and tap the target runs now (kvmTarget reads it for every call). */
  get slot(): LibvirtSlot {
    return this.environment.slot;
  }

  constructor(private readonly environment: LibvirtMigrationEnvironment) {
    this.homeUri = environment.slot.guest.uri;
    this.serialLog = environment.slot.guest.spec.serialLog;
  }

  /** e.g. `libvirt 9.0.0, QEMU 7.2.22: virsh migrate --live (pre-copy), shared disk raw, cache=none`. */
  get method(): string {
    return `${this.environment.libvirtVersion}: virsh migrate --live (pre-copy), shared disk ${this.environment.diskDescription}`;
  }

  /**
   * One `virsh migrate --live` of the domain to `request.destinationUri` (back to its first libvirtd
   * when it already runs there): a tap for the destination, `--xml` with that tap and a console file
   * of its own, `migrate-setmaxdowntime`, the migration under the time limit (then `domjobabort`), the
   * statistics read once, and after a completed migration the guest moved onto the destination.
   * @throws when the tap, the XML or migrate-setmaxdowntime fails (nothing is left then).
   */
  async migrate(request: LibvirtMigrationRequest): Promise<LibvirtMigrationReport> {
    const { slot, resources, bridge, workDirectory } = this.environment;
    const guest = slot.guest;
    const name = guest.spec.name;
    const sourceUri = guest.uri;
    const destinationUri = sourceUri === request.destinationUri ? this.homeUri : request.destinationUri;
    const local = isLocalUri(destinationUri);
    const index = ++this.count;
    const sourceSerial = this.serialLog;
    const destinationSerial = `${guest.spec.serialLog}.m${index}`;
    const virsh = (...words: string[]) => ['virsh', '-c', sourceUri, ...words];

    // Before anything moves: the destination's tap and XML; a failure here leaves nothing behind.
    const tap = await createTap(bridge, resources);
    let migrated = false;
    // A destination daemon whose socket is gone took its domains with it (its QEMU, if any, is found by name).
    const gone = `${LIBVIRT_DOMAIN_GONE}|Failed to connect socket to '[^']*': No such file or directory`;
    // `--persistent` defines the domain on the destination (the first libvirtd keeps its own
    // definition), so it stays there, shut off, after the next trial moves it back, and its
    // completed-job statistics can be read on it (a transient domain vanishes with them: measured).
    const destinationIds: number[] = [];
    if (destinationUri !== this.homeUri) {
      destinationIds.push(
        await resources.register(`libvirt domain ${name} on ${destinationUri} (definition)`, { kind: 'command', command: ['virsh', '-c', destinationUri, 'undefine', name], ignoreFailure: gone }),
      );
    }
    destinationIds.push(
      await resources.register(`libvirt domain ${name} on ${destinationUri} (running)`, { kind: 'command', command: ['virsh', '-c', destinationUri, 'destroy', name], ignoreFailure: gone }),
    );
    const undoDestination = async () => {
      for (const id of [...destinationIds].reverse()) await resources.undo(id).catch(() => {});
    };
    const xmlFile = join(workDirectory, `libvirt-migration-${index}.xml`);
    const commands: string[][] = [];
    try {
      const dumped = await runChecked(virsh('dumpxml', '--migratable', name), { timeoutMs: VIRSH_TIMEOUT_MS });
      const oldTap = /<target dev='(ib-tap\d+)'/.exec(dumped.stdout)?.[1];
      if (!oldTap) throw new Error(`the domain XML of ${name} names no ib-tap interface`);
      await writeFile(xmlFile, destinationXml(dumped.stdout, { oldTap, newTap: tap.name, oldSerial: sourceSerial, newSerial: destinationSerial }));
      // Statistics kept from an earlier job (--keep-completed keeps them until the next completed
      // job) would be read as this one's after an abort: libvirt 9.0 keeps none of a cancelled
      // outgoing migration, and the earlier job's rows came back (measured). A read without
      // --keep-completed discards them.
      const drain = virsh('domjobinfo', name, '--completed');
      commands.push(drain);
      await runChecked(drain, { timeoutMs: VIRSH_TIMEOUT_MS });
      const downtime = virsh('migrate-setmaxdowntime', name, String(request.downtimeLimitMs));
      commands.push(downtime);
      await runChecked(downtime, { timeoutMs: VIRSH_TIMEOUT_MS });
    } catch (error) {
      await undoDestination();
      await resources.undo(tap.resourceId).catch(() => {});
      throw error;
    }

    const command = migrateCommand({ sourceUri, domain: name, destinationUri, maxBandwidthMiBs: request.maxBandwidthMiBs, xmlFile, local });
    commands.push(command);
    const oldPid = guest.pid;
    const startedAtMs = epochMs();
    let end: LibvirtMigrationEnd;
    let outcome: CommandOutcome;
    let aborted = false;
    try {
      const running = startBackground(command, { timeoutMs: request.timeLimitMs + ABORT_GRACE_MS + VIRSH_TIMEOUT_MS });
      this.running = { virsh: running, abort: virsh('domjobabort', name) };
      const limit = sleep(request.timeLimitMs).then(() => 'limit' as const);
      const first = await Promise.race([running.exited, limit]);
      if (first === 'limit') {
        aborted = true;
        const abort = virsh('domjobabort', name);
        commands.push(abort);
        await runCommand(abort, { timeoutMs: VIRSH_TIMEOUT_MS });
      }
      outcome = await running.exited;
    } finally {
      this.running = null;
    }
    const endedAtMs = epochMs();
    if (outcome.ok) end = { kind: 'completed' };
    else if (aborted) end = { kind: 'aborted', detail: `not converged within ${request.timeLimitMs} ms; aborted with virsh domjobabort (${lastLine(outcome.stderr)})` };
    else end = { kind: 'failed', error: lastLine(outcome.stderr || outcome.stdout) };

    const keep = await virshKeepsCompleted();
    const jobCommand = virsh('domjobinfo', name, '--completed', ...(keep ? [KEEP_COMPLETED] : []), ...(end.kind === 'completed' ? [] : ['--anystats']));
    commands.push(jobCommand);
    let job: LibvirtJobInfo | null = null;
    let jobProblem: string | undefined;
    try {
      const read = parseDomjobinfo((await runChecked(jobCommand, { timeoutMs: VIRSH_TIMEOUT_MS })).stdout, jobCommand);
      jobProblem = notThisJob(read, end);
      if (jobProblem === undefined) job = read;
    } catch (error) {
      jobProblem = errorMessage(error);
    }

    let switchOver: SwitchOverReport | null = null;
    if (end.kind === 'completed') {
      try {
        switchOver = await this.switchOver(destinationUri, oldPid, destinationIds, destinationSerial);
        migrated = true;
        this.serialLog = destinationSerial;
        await resources.undo(slot.tapResourceId).catch(() => {});
        slot.tapResourceId = tap.resourceId;
      } catch (error) {
        end = { kind: 'failed', error: `libvirt completed the migration but the guest did not come up on ${destinationUri}: ${errorMessage(error)}` };
      }
    }
    if (!migrated) {
      // The guest stays on the source (libvirt resumes it after an abort or failure); the destination's leftovers go.
      await undoDestination();
      await resources.undo(tap.resourceId).catch(() => {});
    }
    return {
      startedAtMs, endedAtMs, end, switchOver, destinationSerialLog: migrated ? destinationSerial : null, commands,
      record: { destinationUri, migrateCommand: command, job, ...(jobProblem ? { jobProblem } : {}), keptCompleted: keep },
    };
  }

  /**
   * After libvirt reported success: the destination's domain state, its QEMU's pid (the one named
   * like the guest that is not the source's), the agent through the destination libvirtd.
   * @throws when the domain is not running there or its QEMU cannot be found.
   */
  private async switchOver(destinationUri: string, oldPid: number, destinationIds: number[], serialLog: string): Promise<SwitchOverReport> {
    const { guest } = this.environment.slot;
    const name = guest.spec.name;
    const state = await runChecked(['virsh', '-c', destinationUri, 'domstate', name], { timeoutMs: VIRSH_TIMEOUT_MS });
    const runState = state.stdout.trim();
    const pid = await pollUntil(
      async () => (await findIsobenchQemuProcesses()).find((qemu) => qemu.name === name && qemu.pid !== oldPid)?.pid,
      { timeoutMs: DESTINATION_PID_TIMEOUT_MS, intervalMs: 100, what: `the destination QEMU of ${name}` },
    );
    await guest.moveTo(destinationUri, pid, destinationIds);
    let agentProblem: string | null = null;
    await pollUntil(async () => (await guest.agent.exec(['true'], { timeoutMs: 5_000 }).catch(() => null))?.ok === true, {
      timeoutMs: AGENT_TIMEOUT_MS, intervalMs: 200, what: `the guest agent through ${destinationUri}`,
    }).catch((error: unknown) => (agentProblem = errorMessage(error)));
    const serial = await readFile(serialLog, 'utf8').catch(() => '');
    return { runState, serialProblem: serialProblem(serial), agentProblem };
  }

  /**
   * Ctrl-C or a failure mid-way: aborts a migration still running (`virsh domjobabort`, then stops
   * `virsh migrate`; libvirt also cancels a job whose client went away). The ledger has the rest.
   */
  async abandonCurrent(): Promise<void> {
    const running = this.running;
    if (!running) return;
    await runCommand(running.abort, { timeoutMs: VIRSH_TIMEOUT_MS }).catch(() => {});
    await running.virsh.stop().catch(() => {});
  }
}

/**
 * Why statistics read after a migration are not this migration's, or undefined when they are: no
 * job at all (`None`: libvirt kept none, e.g. of a cancelled one), not an outgoing migration, or a
 * `Completed` job after a migration that did not complete.
 */
export function notThisJob(job: LibvirtJobInfo, end: LibvirtMigrationEnd): string | undefined {
  if (job.jobType === 'None') return `libvirt kept no statistics of this ${end.kind === 'completed' ? 'migration' : `${end.kind} migration`} (Job type: None)`;
  if (job.operation !== 'Outgoing migration') return `domjobinfo shows ${job.operation ? `an ${job.operation.toLowerCase()}` : 'a job without an operation'}, not this outgoing migration`;
  if ((job.jobType === 'Completed') !== (end.kind === 'completed')) return `domjobinfo shows a ${job.jobType} job but the migration ${end.kind === 'completed' ? 'completed' : `was ${end.kind}`}`;
  return undefined;
}

/** The last line of virsh's error output, without its `error: ` prefixes ('no message' for none). */
export function lastLine(text: string): string {
  return text.trim().replace(/^error:\s*/gm, '').split('\n').filter(Boolean).at(-1) ?? 'no message';
}
