import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackground, type BackgroundProcess, type CommandOutcome } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { processCpuSeconds, processStartTicks } from '../../core/proc.js';
import { GuestAgent } from './guest-agent.js';
import { DeadlineError, pollUntil, sleep, withDeadline } from '../../core/poll.js';
import { QmpClient } from './qmp-client.js';
import { buildQemuCommand, type QemuGuestSpec } from './qemu-command.js';
import { StepError } from '../../core/errors.js';
import { GUEST_READY_MARKER } from '../image/recipe.js';

/**
 * One running QEMU guest: the process, its QMP session and its guest agent. Launch walks through
 * named steps; when one fails the QEMU is stopped at once, the serial log is kept, and the error
 * names the step and quotes the console's last lines.
 */

/** The start of the line the guest init prints on ttyS0 when it is ready; the image recipe owns it. */
export const READY_MARKER = GUEST_READY_MARKER;
/**
 * How long, in ms from QEMU's start, a guest has to print its ready line, by accelerator. A TCG guest
 * boots in ~7-13 s here when the host is quiet; two busy cores can triple that (kvm/README.md noted
 * 14-18 s on the shared 2 cores).
 */
export const BOOT_TIMEOUT_MS = { kvm: 90_000, tcg: 240_000 } as const;
/** How long, in ms, the guest agent has to answer guest-sync once the ready line is there. */
export const AGENT_TIMEOUT_MS = 30_000;
/** The guest lives as long as the run; this only bounds a QEMU that everything else forgot. */
export const QEMU_LIFETIME_MS = 7 * 24 * 3600_000;

/** A step of a guest's life failed; the message points at the serial log kept for reading. */
export class GuestStepError extends StepError {
  constructor(
    step: string,
    detail: string,
    readonly serialLog: string,
    readonly serialTail: string,
    options: { cause?: unknown } = {},
  ) {
    const full = `${detail}; serial log kept at ${serialLog}${serialTail ? ` (last lines: ${serialTail})` : ''}`;
    // The guest's steps read as a state ("booting the guest: QEMU exited …"), and scripts match that
    // wording, so it keeps it rather than StepError's "… failed: …".
    super(step, full, { ...options, message: `${step}: ${full}` });
  }
}

/** The fields of the init's ready line, as printed ('' when a field is missing). */
export interface ReadyLine {
  /** `eth0=ADDRESS/PREFIX`, `none` (no address asked for) or `missing-eth0`. */
  network: string;
  /** The virtio-serial device qemu-ga was started on (`/dev/vportNpM`), `none` or `failed`. */
  agent: string;
}

/**
 * `ISOBENCH-GUEST-READY network=eth0=198.18.0.10/24 agent=/dev/vport1p1` → its fields; null before
 * the whole line is there. Only lines ended by a newline count: the console file is read while the
 * guest writes it, and a read that caught `ISOBENCH-GUEST-READY` before its fields failed a boot as
 * "network=(nothing)" (seen in CI: the finished log held the full line).
 */
export function parseReadyLine(serial: string): ReadyLine | null {
  const complete = serial.slice(0, serial.lastIndexOf('\n') + 1);
  const line = complete.split(/\r?\n/).find((candidate) => candidate.includes(READY_MARKER));
  if (!line) return null;
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(line)?.[1] ?? '';
  return { network: field('network'), agent: field('agent') };
}

/** The last `lines` non-empty lines of a console, trimmed, joined with ` | `, at most 600 characters: for one-line errors. */
export function serialTail(serial: string, lines = 4): string {
  return serial
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' | ')
    .slice(0, 600);
}

/** What waitForReady watches. */
export interface BootWait {
  /** The file QEMU writes the serial console to. */
  serialLog: string;
  /**
   * Reads the console's text so far ('' before there is any); default: `serialLog` read here. A
   * guest on a lab host passes a reader that fetches the file over SSH.
   */
  readSerial?: () => Promise<string>;
  /** ms between reads; default 200 (a local read is cheap; an SSH round trip is not). */
  intervalMs?: number;
  /** performance.now() when the guest was started. */
  started: number;
  /** In ms from `started`. */
  bootTimeoutMs: number;
  /** True once the hypervisor process is gone. */
  exited: () => boolean;
  /** Why the hypervisor process is gone, once it is. */
  died: () => string;
  /** The address the init must have put on eth0 (`ADDRESS/PREFIX`). */
  expectedNetwork?: string;
}

/**
 * Reads the serial console until the init's ready line, a kernel panic, the hypervisor's exit or
 * the timeout; then checks what the init reported (network, guest agent). Polls every 200 ms
 * unless told otherwise.
 * @returns the ready line and the seconds from `started` to it.
 * @throws GuestStepError ("booting the guest", "configuring the guest network" or "starting the guest
 *   agent") with the console's last lines.
 */
export async function waitForReady(wait: BootWait): Promise<{ ready: ReadyLine; bootSeconds: number }> {
  const readSerial = wait.readSerial ?? (() => readFile(wait.serialLog, 'utf8').catch(() => ''));
  const fail = async (step: string, detail: string): Promise<never> => {
    throw new GuestStepError(step, detail, wait.serialLog, serialTail(await readSerial()));
  };
  let ready: ReadyLine;
  try {
    ready = await pollUntil(
      async () => {
        const serial = await readSerial();
        const line = parseReadyLine(serial);
        if (line) return line;
        if (wait.exited()) return fail('booting the guest', `${wait.died()} before the guest printed ${READY_MARKER}`);
        const panic = /Kernel panic - not syncing: [^\n]*/.exec(serial)?.[0];
        if (panic) return fail('booting the guest', `the guest kernel panicked: ${panic.trim()}`);
        return null;
      },
      { timeoutMs: wait.bootTimeoutMs, startedAt: wait.started, intervalMs: wait.intervalMs ?? 200, what: `no ${READY_MARKER} on the serial console` },
    );
  } catch (error) {
    if (!(error instanceof DeadlineError)) throw error;
    // Boot timeouts are tens of seconds: said in seconds, as the boot log line announces them.
    return fail('booting the guest', `no ${READY_MARKER} on the serial console within ${Math.round(wait.bootTimeoutMs / 1000)} s`);
  }
  const bootSeconds = (performance.now() - wait.started) / 1000;
  if (wait.expectedNetwork && ready.network !== `eth0=${wait.expectedNetwork}`) {
    return fail('configuring the guest network', `the guest init reported network=${ready.network || '(nothing)'}, expected eth0=${wait.expectedNetwork}`);
  }
  if (!ready.agent.startsWith('/dev/')) {
    return fail('starting the guest agent', `the guest init reported agent=${ready.agent || '(nothing)'}`);
  }
  return { ready, bootSeconds };
}

/** Whether a process holds /dev/vhost-net open: the proof that vhost really runs. */
export async function processUsesVhostNet(pid: number): Promise<boolean> {
  const directory = `/proc/${pid}/fd`;
  for (const fd of await readdir(directory).catch(() => [] as string[])) {
    if ((await readlink(join(directory, fd)).catch(() => '')) === '/dev/vhost-net') return true;
  }
  return false;
}

/**
 * A booted guest with an answering agent, however it was started (QEMU by isobench, or libvirt).
 * The kvm target talks to guests only through this.
 */
export interface RunningGuest {
  readonly manager: 'qemu' | 'libvirt';
  readonly agent: GuestAgent;
  readonly pid: number;
  readonly bootSeconds: number;
  readonly exited: boolean;
  describeExit(): string;
  /** Whether this QEMU really runs on KVM (asked of QEMU itself, not of isobench's plan). */
  kvmEnabled(): Promise<boolean>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  qemuCpuSeconds(): Promise<number>;
  usesVhostNet(): Promise<boolean>;
  stop(): Promise<void>;
}

/** What Guest.launch starts and how long it waits. */
export interface GuestLaunch {
  /** Must have `qmpSocket` and `agentSocket`. */
  spec: QemuGuestSpec;
  /** The address the init must have put on eth0 (`ADDRESS/PREFIX`), when the guest has a network. */
  expectedNetwork?: string;
  /** The run's ledger; QEMU is registered in it the moment it has a pid. */
  resources: ResourceRegistry;
  /** QEMU's working directory. */
  cwd: string;
  /** In ms; default BOOT_TIMEOUT_MS for the spec's accelerator. */
  bootTimeoutMs?: number;
  /** Default QEMU_BINARY. */
  qemuBinary?: string;
  /** Progress lines (QEMU up, guest booted in N s); default: none. */
  log?: (line: string) => void;
  /** Sees every QMP and guest-agent line (how the tests' fixtures were captured). */
  transcript?: (channel: 'qmp' | 'qga', direction: 'sent' | 'received', line: string) => void;
}

/** A guest whose QEMU isobench started itself (`--vm-manager qemu`); get one with Guest.launch. */
export class Guest implements RunningGuest {
  readonly manager = 'qemu' as const;
  private paused = false;
  private stopped = false;

  private constructor(
    readonly spec: QemuGuestSpec,
    readonly command: readonly string[],
    private readonly qemu: BackgroundProcess,
    readonly pid: number,
    private readonly resourceId: number,
    private readonly resources: ResourceRegistry,
    readonly qmp: QmpClient,
    readonly agent: GuestAgent,
    readonly ready: ReadyLine,
    readonly bootSeconds: number,
    private exitedFlag: { exited: boolean; outcome: CommandOutcome | null },
  ) {}

  /**
   * Starts QEMU (registered in the ledger), connects QMP (30 s), waits for the ready line and
   * connects the guest agent. On any failure QEMU is stopped and forgotten in the ledger before the
   * error is thrown; the serial log stays.
   * @throws Error when the spec has no QMP or agent socket.
   * @throws GuestStepError naming the failed step ("starting QEMU", "connecting to QMP", "booting the
   *   guest", …, "reaching the guest agent") with QEMU's exit reason or the console's last lines.
   */
  static async launch(options: GuestLaunch): Promise<Guest> {
    const { spec, resources } = options;
    const log = options.log ?? (() => {});
    if (!spec.qmpSocket || !spec.agentSocket) throw new Error('a guest isobench runs workloads in needs a QMP socket and a guest-agent socket');
    const qmpSocket = spec.qmpSocket;
    const agentSocket = spec.agentSocket;
    const command = buildQemuCommand(spec, options.qemuBinary);
    const bootTimeoutMs = options.bootTimeoutMs ?? BOOT_TIMEOUT_MS[spec.accel];
    const started = performance.now();
    const readSerial = () => readFile(spec.serialLog, 'utf8').catch(() => '');
    const fail = async (step: string, detail: string): Promise<never> => {
      throw new GuestStepError(step, detail, spec.serialLog, serialTail(await readSerial()));
    };

    const qemu = startBackground(command, { timeoutMs: QEMU_LIFETIME_MS, cwd: options.cwd });
    if (qemu.pid === undefined) {
      const outcome = await qemu.exited;
      return fail('starting QEMU', `it did not start: ${outcome.stderr.trim() || 'no error output'}`);
    }
    const pid = qemu.pid;
    const resourceId = await resources.register(`QEMU ${spec.name} (pid ${pid})`, { kind: 'process', pid, startTicks: await processStartTicks(pid) });
    const state: { exited: boolean; outcome: CommandOutcome | null } = { exited: false, outcome: null };
    void qemu.exited.then((outcome) => {
      state.exited = true;
      state.outcome = outcome;
    });
    const alive = () => !state.exited;
    const died = () => {
      const outcome = state.outcome;
      const status = outcome?.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome?.exitCode ?? 'unknown'}`;
      return `QEMU ${status}${outcome?.stderr.trim() ? `: ${outcome.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
    };

    let qmp: QmpClient | undefined;
    let agent: GuestAgent | undefined;
    try {
      try {
        qmp = await QmpClient.connect(qmpSocket, {
          timeoutMs: 30_000,
          alive,
          ...(options.transcript ? { transcript: (direction, line) => options.transcript!('qmp', direction, line) } : {}),
        });
      } catch (error) {
        // QEMU's exit is noticed a moment after the socket breaks; give it that moment to be the reason given.
        await sleep(200);
        return await fail('connecting to QMP', state.exited ? died() : (error as Error).message);
      }
      log(`QEMU ${spec.name} (pid ${pid}, ${spec.accel}) is up; waiting for the guest to boot (up to ${Math.round(bootTimeoutMs / 1000)} s)…`);

      const { ready, bootSeconds } = await waitForReady({
        serialLog: spec.serialLog,
        started,
        bootTimeoutMs,
        exited: () => state.exited,
        died,
        ...(options.expectedNetwork ? { expectedNetwork: options.expectedNetwork } : {}),
      });

      try {
        agent = await GuestAgent.connect(agentSocket, {
          timeoutMs: AGENT_TIMEOUT_MS,
          alive,
          ...(options.transcript ? { transcript: (direction, line) => options.transcript!('qga', direction, line) } : {}),
        });
      } catch (error) {
        return await fail('reaching the guest agent', state.exited ? died() : (error as Error).message);
      }
      log(`guest ${spec.name} booted in ${bootSeconds.toFixed(1)} s`);
      return new Guest(spec, command, qemu, pid, resourceId, resources, qmp, agent, ready, bootSeconds, state);
    } catch (error) {
      agent?.close();
      qmp?.close();
      await stopProcess(qemu);
      await resources.forget(resourceId);
      throw error;
    }
  }

  /**
   * The guest that now runs in a migration's destination QEMU: the destination's process, ledger
   * entry and QMP session, with the agent client that already reached the guest through it
   * (GuestAgent.replaceTransport). The guest booted once, in the source; its ready line and boot
   * time are the source's.
   */
  static adopt(parts: {
    spec: QemuGuestSpec;
    command: readonly string[];
    qemu: BackgroundProcess;
    pid: number;
    resourceId: number;
    resources: ResourceRegistry;
    qmp: QmpClient;
    agent: GuestAgent;
    ready: ReadyLine;
    bootSeconds: number;
    exitState: { exited: boolean; outcome: CommandOutcome | null };
  }): Guest {
    return new Guest(
      parts.spec, parts.command, parts.qemu, parts.pid, parts.resourceId, parts.resources, parts.qmp, parts.agent, parts.ready, parts.bootSeconds, parts.exitState,
    );
  }

  /**
   * Ends this QEMU after its guest moved to a migration's destination: QMP quit (signals if it does
   * not go), the ledger entry forgotten. Unlike stop, the agent client is left open: it talks to
   * the destination now.
   */
  async handOver(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.endProcess();
  }

  /** True once the QEMU process has ended, whoever ended it. */
  get exited(): boolean {
    return this.exitedFlag.exited;
  }

  /** Why QEMU is gone, for errors of later steps. */
  describeExit(): string {
    const outcome = this.exitedFlag.outcome;
    if (!outcome) return 'QEMU is running';
    return `QEMU ${outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode ?? 'unknown'}`}${outcome.stderr.trim() ? `: ${outcome.stderr.trim().split('\n').slice(-2).join(' | ')}` : ''}`;
  }

  /**
   * QMP `stop`: every vCPU halts (an idle TCG guest went from 1-2 % of a core to 0 %, kvm/README.md).
   * Does nothing when already paused or stopped.
   * @throws QmpCommandError or the QMP connection's error.
   */
  async pause(): Promise<void> {
    if (this.paused || this.stopped) return;
    await this.qmp.stop();
    this.paused = true;
  }

  /**
   * QMP `cont` after pause; does nothing otherwise.
   * @throws QmpCommandError or the QMP connection's error.
   */
  async resume(): Promise<void> {
    if (!this.paused || this.stopped) return;
    await this.qmp.cont();
    this.paused = false;
  }

  /**
   * The QEMU process's user plus system CPU time so far, in seconds, all its threads counted.
   * @throws Error when the process is gone.
   */
  qemuCpuSeconds(): Promise<number> {
    return processCpuSeconds(this.pid);
  }

  /** Whether QEMU holds /dev/vhost-net open (see processUsesVhostNet). */
  usesVhostNet(): Promise<boolean> {
    return processUsesVhostNet(this.pid);
  }

  /** QMP `query-kvm`'s `enabled`. */
  async kvmEnabled(): Promise<boolean> {
    return (await this.qmp.queryKvm()).enabled;
  }

  /** QMP quit, then signals if QEMU does not go; forgets the process in the ledger once it is gone. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.agent.close();
    await this.endProcess();
  }

  private async endProcess(): Promise<void> {
    if (!this.exitedFlag.exited) {
      await this.qmp.quit(5_000).catch(() => {});
      const exited = await withDeadline(this.qemu.exited, 10_000, 'QEMU quitting').then(
        () => true,
        (error: unknown) => {
          if (error instanceof DeadlineError) return false;
          throw error;
        },
      );
      if (!exited) await stopProcess(this.qemu);
    }
    this.qmp.close();
    await this.resources.forget(this.resourceId);
  }
}

async function stopProcess(qemu: BackgroundProcess): Promise<void> {
  await qemu.stop(3_000);
}
