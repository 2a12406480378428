import { join } from 'node:path';
import { startBackground, type BackgroundProcess, type CommandOutcome } from '../../../core/exec.js';
import type { ResourceRegistry } from '../../../core/ledger.js';
import { DeadlineError, sleep, withDeadline } from '../../../core/poll.js';
import { processStartTicks } from '../../../core/proc.js';
import { QEMU_LIFETIME_MS } from '../guest.js';
import { buildQemuCommand, type QemuGuestSpec } from '../qemu-command.js';
import type { Transcript } from '../json-socket.js';
import { QmpClient } from '../qmp-client.js';

/**
 * A migration's destination: a second QEMU started with `-incoming defer`, the same machine, devices
 * and disk as the source, its own tap on the same bridge, its own QMP, agent and serial files. It
 * waits in the `inmigrate` run state until the stream arrives.
 */

/** How long, in ms, the destination's QMP socket may take to answer (QEMU starts in well under a second here). */
export const DESTINATION_QMP_TIMEOUT_MS = 30_000;

/**
 * The destination's spec: the source's, with its own name, tap, sockets and serial log, and
 * `incoming: 'defer'`. The disk is the same file (shared storage; `cache=none` on both sides, and
 * QEMU hands the image's lock to the destination at the switch-over).
 * @throws Error when the source spec has no network (the guest must keep its address on the bridge).
 */
export function destinationSpec(source: QemuGuestSpec, plan: { name: string; tap: string; directory: string; serialLog: string }): QemuGuestSpec {
  if (!source.net) throw new Error('a guest without a network device cannot be migrated by isobench: its probe needs the guest\'s address');
  return {
    ...source,
    name: plan.name,
    net: { ...source.net, tap: plan.tap },
    qmpSocket: join(plan.directory, 'qmp.sock'),
    agentSocket: join(plan.directory, 'qga.sock'),
    serialLog: plan.serialLog,
    incoming: 'defer',
  };
}

/** A destination QEMU that is up and answers QMP. */
export class Destination {
  private stopped = false;

  private constructor(
    readonly spec: QemuGuestSpec,
    readonly command: readonly string[],
    readonly qemu: BackgroundProcess,
    readonly pid: number,
    readonly resourceId: number,
    private readonly resources: ResourceRegistry,
    readonly qmp: QmpClient,
    readonly exitState: { exited: boolean; outcome: CommandOutcome | null },
  ) {}

  /**
   * Starts QEMU (registered in the ledger the moment it has a pid) and connects to its QMP
   * (`transcript` sees every QMP line, as Guest.launch's does).
   * @throws Error "the destination QEMU …" with QEMU's exit reason when it does not start or answer;
   *   nothing is left running then.
   */
  static async start(options: { spec: QemuGuestSpec; resources: ResourceRegistry; cwd: string; qemuBinary?: string; transcript?: Transcript }): Promise<Destination> {
    const { spec, resources } = options;
    if (!spec.qmpSocket) throw new Error('a destination needs a QMP socket');
    const command = buildQemuCommand(spec, options.qemuBinary);
    const qemu = startBackground(command, { timeoutMs: QEMU_LIFETIME_MS, cwd: options.cwd });
    if (qemu.pid === undefined) {
      const outcome = await qemu.exited;
      throw new Error(`the destination QEMU did not start: ${outcome.stderr.trim() || 'no error output'}`);
    }
    const pid = qemu.pid;
    const resourceId = await resources.register(`QEMU ${spec.name} (migration destination, pid ${pid})`, { kind: 'process', pid, startTicks: await processStartTicks(pid) });
    const exitState: { exited: boolean; outcome: CommandOutcome | null } = { exited: false, outcome: null };
    void qemu.exited.then((outcome) => {
      exitState.exited = true;
      exitState.outcome = outcome;
    });
    try {
      const qmp = await QmpClient.connect(spec.qmpSocket, {
        timeoutMs: DESTINATION_QMP_TIMEOUT_MS,
        alive: () => !exitState.exited,
        ...(options.transcript ? { transcript: options.transcript } : {}),
      });
      return new Destination(spec, command, qemu, pid, resourceId, resources, qmp, exitState);
    } catch (error) {
      // QEMU's exit is noticed a moment after the socket breaks; its stderr is the better reason.
      await sleep(200);
      await qemu.stop(3_000);
      await resources.forget(resourceId);
      const reason = exitState.outcome?.stderr.trim().split('\n').slice(-3).join(' | ');
      throw new Error(`the destination QEMU did not answer QMP: ${reason || (error as Error).message}`, { cause: error });
    }
  }

  /** Why the destination QEMU is gone, or that it runs. */
  describeExit(): string {
    const outcome = this.exitState.outcome;
    if (!outcome) return 'the destination QEMU is running';
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode ?? 'unknown'}`;
    return `the destination QEMU ${how}${outcome.stderr.trim() ? `: ${outcome.stderr.trim().split('\n').slice(-2).join(' | ')}` : ''}`;
  }

  /**
   * Ends the destination (QMP quit, then signals), forgets it in the ledger. Idempotent. Used when a
   * migration is cancelled or failed; after a switch-over the destination lives on as the guest.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.exitState.exited) {
      await this.qmp.quit(3_000).catch(() => {});
      const exited = await withDeadline(this.qemu.exited, 5_000, 'the destination QEMU quitting').then(
        () => true,
        (error: unknown) => {
          if (error instanceof DeadlineError) return false;
          throw error;
        },
      );
      if (!exited) await this.qemu.stop(3_000);
    }
    this.qmp.close();
    await this.resources.forget(this.resourceId);
  }

  /** Marks the destination as handed on (it became the target's guest): stop() no longer ends it. */
  release(): void {
    this.stopped = true;
  }
}
