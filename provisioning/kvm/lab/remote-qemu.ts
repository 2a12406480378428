/**
 * A QEMU process on a lab host (issue 14): started over SSH (Host.start) from a spec whose paths are
 * the host's, its QMP reached from here through an SSH stream-local forward (hosts/ssh-forward.ts),
 * so QmpClient talks to a local socket as it does on one host. Every remote thing is in the ledger
 * the moment it exists: the QEMU (a `kill` run on the host over SSH) and the forward.
 */
import { join } from 'node:path';
import type { CommandOutcome } from '../../../core/exec.js';
import type { ResourceRegistry } from '../../../core/ledger.js';
import { DeadlineError, pollUntil, withDeadline } from '../../../core/poll.js';
import { parseProcessStat } from '../../../core/proc.js';
import type { HostProcess, SshHost } from '../../../hosts/host.js';
import { forwardSocket, type SocketForward } from '../../../hosts/ssh-forward.js';
import { QEMU_LIFETIME_MS } from '../guest.js';
import type { Transcript } from '../json-socket.js';
import { GuestAgent } from '../guest-agent.js';
import { QmpClient } from '../qmp-client.js';
import { buildQemuCommand, type QemuGuestSpec } from '../qemu-command.js';

/** How long, in ms, QEMU on a lab host may take to create its QMP socket and answer (it takes well under a second locally; SSH adds round trips). */
export const REMOTE_QMP_TIMEOUT_MS = 30_000;
/** ms between asks whether the QMP socket exists on the host: each ask is one SSH round trip. */
const SOCKET_POLL_MS = 250;
/** How long the host may take to report the remote shell's pid, in ms. */
const PID_TIMEOUT_MS = 15_000;
/** What `kill` says when the process is already gone (a regex alternation). */
export const PROCESS_GONE = 'No such process';

/**
 * Prints the /proc/PID/stat of the first child of the process $1 (QEMU under the remote `timeout`),
 * then the host's clock ticks per second. A constant script; the pid is its argument.
 */
const REMOTE_CHILD_STAT = 'child=$(cut -d" " -f1 /proc/$1/task/$1/children) && cat /proc/$child/stat && getconf CLK_TCK';

/**
 * QEMU's CPU seconds from REMOTE_CHILD_STAT's output: `(utime + stime) / CLK_TCK`.
 * @throws Error naming the host when the command failed, the process is not QEMU, or a line has
 *   another shape (quoted).
 */
export function parseRemoteQemuCpu(outcome: Pick<CommandOutcome, 'ok' | 'stdout' | 'stderr'>, hostName: string, hostPid: number): number {
  if (!outcome.ok) throw new Error(`host ${hostName}: reading QEMU's CPU time (the child of pid ${hostPid}) failed: ${outcome.stderr.trim().split('\n').pop() ?? ''}`);
  const [statLine = '', ticksLine = ''] = outcome.stdout.trim().split('\n');
  const stat = parseProcessStat(statLine);
  const ticks = Number(ticksLine.trim());
  if (!stat.comm.startsWith('qemu-system') || !(Number.isInteger(ticks) && ticks > 0)) {
    throw new Error(`host ${hostName}: the child of pid ${hostPid} is not QEMU with a clock-tick count: "${outcome.stdout.trim().slice(0, 200)}"`);
  }
  return (stat.utimeTicks + stat.stimeTicks) / ticks;
}

/** What RemoteQemu.start needs. */
export interface RemoteQemuStart {
  host: SshHost;
  /** Paths (disk, kernel, sockets, serial log) are the host's; `qmpSocket` is required. */
  spec: QemuGuestSpec;
  resources: ResourceRegistry;
  /** A private directory here for the forwarded QMP socket (short: unix socket paths hold 107 bytes). */
  localDirectory: string;
  /** QEMU's working directory on the host. */
  cwd: string;
  /** For ledger descriptions and messages, e.g. `guest` or `migration destination`. */
  role: string;
  qemuBinary?: string;
  transcript?: Transcript;
}

/** One QEMU running on a lab host, with its QMP session. */
export class RemoteQemu {
  private stopped = false;
  private readonly extraForwards: SocketForward[] = [];

  private constructor(
    readonly host: SshHost,
    readonly spec: QemuGuestSpec,
    /** QEMU's argv as it runs on the host. */
    readonly command: readonly string[],
    private readonly process: HostProcess,
    /** The pid on the host of the remote `timeout` that runs QEMU (SIGTERM to it reaches QEMU). */
    readonly hostPid: number,
    private readonly resourceId: number,
    private readonly resources: ResourceRegistry,
    private readonly forward: SocketForward,
    readonly qmp: QmpClient,
    readonly exitState: { exited: boolean; outcome: CommandOutcome | null },
    /** As RemoteQemuStart.role, for messages: `guest`, `migration destination`. */
    readonly role: string,
  ) {}

  /**
   * Starts QEMU on the host, registers it (`kill -TERM PID` there over SSH), waits for its QMP socket
   * on the host, forwards it here and connects.
   * @throws Error "host H: the ROLE QEMU …" with QEMU's own words when it does not start or answer;
   *   nothing it made is left running or registered then.
   */
  static async start(options: RemoteQemuStart): Promise<RemoteQemu> {
    const { host, spec, resources, role } = options;
    if (!spec.qmpSocket) throw new Error(`a ${role} QEMU on a lab host needs a QMP socket`);
    const qmpSocket = spec.qmpSocket;
    const command = buildQemuCommand(spec, options.qemuBinary);
    const process = host.start(command, { timeoutMs: QEMU_LIFETIME_MS, cwd: options.cwd });
    const exitState: { exited: boolean; outcome: CommandOutcome | null } = { exited: false, outcome: null };
    void process.exited.then((outcome) => {
      exitState.exited = true;
      exitState.outcome = outcome;
    });
    const why = () => describeExit(exitState.outcome, host.name, role);
    const created: number[] = [];
    let forward: SocketForward | undefined;
    try {
      const hostPid = await pollUntil(
        async () => {
          const pid = process.hostPid();
          if (pid !== undefined) return pid;
          if (exitState.exited) throw new Error(why());
          return undefined;
        },
        { timeoutMs: PID_TIMEOUT_MS, intervalMs: 20, what: `host ${host.name} did not report the ${role} QEMU's pid` },
      );
      created.push(
        await resources.register(`QEMU ${spec.name} (${role}) on host ${host.name} (pid ${hostPid} there)`, {
          kind: 'command',
          command: host.commandLine(['kill', '-TERM', String(hostPid)]),
          ignoreFailure: PROCESS_GONE,
        }),
      );
      await pollUntil(
        async () => {
          if (exitState.exited) throw new Error(why());
          return (await host.run(['test', '-S', qmpSocket], { timeoutMs: 10_000 })).ok ? true : undefined;
        },
        { timeoutMs: REMOTE_QMP_TIMEOUT_MS, intervalMs: SOCKET_POLL_MS, what: `host ${host.name}: the ${role} QEMU made no QMP socket ${qmpSocket}` },
      );
      forward = await forwardSocket(host, join(options.localDirectory, `${spec.name}.qmp`), qmpSocket, resources);
      const qmp = await QmpClient.connect(forward.local, {
        timeoutMs: REMOTE_QMP_TIMEOUT_MS,
        alive: () => !exitState.exited,
        ...(options.transcript ? { transcript: options.transcript } : {}),
      });
      return new RemoteQemu(host, spec, command, process, hostPid, created[0]!, resources, forward, qmp, exitState, options.role);
    } catch (error) {
      // QEMU's exit is seen a moment after its socket breaks, and its stderr is the better reason.
      await withDeadline(process.exited, 2_000, 'QEMU exiting').catch(() => {});
      await forward?.close();
      await process.stop(3_000).catch(() => {});
      for (const id of created.reverse()) await resources.undo(id).catch(() => {});
      const reason = exitState.exited ? why() : (error as Error).message;
      throw new Error(`host ${host.name}: the ${role} QEMU did not start or answer QMP: ${reason}`, { cause: error });
    }
  }

  /**
   * The guest agent, reached through a second forward of the spec's agent socket (closed with stop).
   * @throws Error when the spec has no agent socket or the agent does not answer within 30 s.
   */
  async openAgent(): Promise<GuestAgent> {
    if (!this.spec.agentSocket) throw new Error(`QEMU ${this.spec.name} has no guest-agent socket`);
    const forward = await forwardSocket(this.host, this.forward.local.replace(/\.qmp$/, '.qga'), this.spec.agentSocket, this.resources);
    this.extraForwards.push(forward);
    return GuestAgent.connect(forward.local, { timeoutMs: 30_000, alive: () => !this.exitState.exited });
  }

  /** The serial console's text so far, read on the host ('' when there is none yet or the host does not answer). */
  async readSerial(): Promise<string> {
    const outcome = await this.host.run(['cat', this.spec.serialLog], { timeoutMs: 10_000 }).catch(() => null);
    return outcome?.ok ? outcome.stdout : '';
  }

  /** Why QEMU is gone, or that it runs. */
  describeExit(): string {
    return this.exitState.exited ? describeExit(this.exitState.outcome, this.host.name, this.role) : `QEMU ${this.spec.name} is running on host ${this.host.name}`;
  }

  /**
   * QEMU's cumulative CPU seconds (user + system, all its threads: vCPUs, I/O, the main loop) on its
   * host: the /proc/PID/stat of the child of the remote `timeout` (hostPid), over the clock ticks
   * `getconf CLK_TCK` gives there. One SSH round trip.
   * @throws Error naming the host when the process is gone or the output has another shape (quoted).
   */
  async cpuSeconds(): Promise<number> {
    const outcome = await this.host.run(['sh', '-c', REMOTE_CHILD_STAT, 'sh', String(this.hostPid)], { timeoutMs: 10_000 });
    return parseRemoteQemuCpu(outcome, this.host.name, this.hostPid);
  }

  /** Whether the QEMU's process still exists on the host (`kill -0` there), asked of the host itself. */
  async runningOnHost(): Promise<boolean> {
    return (await this.host.run(['kill', '-0', String(this.hostPid)], { timeoutMs: 10_000 })).ok;
  }

  /**
   * Ends QEMU: QMP quit, up to 10 s for its session to end, then SIGTERM on the host (and the local
   * ssh client stopped); the forward cancelled; the ledger entry forgotten once it is gone. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    let ended = this.exitState.exited && this.exitState.outcome?.exitCode !== 255;
    if (!this.exitState.exited) {
      await this.qmp.quit(5_000).catch(() => {});
      ended = await withDeadline(this.process.exited, 10_000, 'QEMU quitting').then(
        (outcome) => outcome.exitCode !== 255,
        (error: unknown) => {
          if (error instanceof DeadlineError) return false;
          throw error;
        },
      );
      if (!ended) await this.process.stop(3_000).catch(() => {});
    }
    this.qmp.close();
    for (const forward of this.extraForwards) await forward.close();
    await this.forward.close();
    // The session ended by itself (not ssh's 255): QEMU and its `timeout` are gone on the host, and a
    // kill now could only reach a reused pid. Otherwise the ledger's kill runs there: a QEMU cut off
    // from its ssh client keeps running.
    if (ended) await this.resources.forget(this.resourceId);
    else await this.resources.undo(this.resourceId).catch(() => {});
  }
}

/** `host H: the ROLE QEMU exited with code N: <its last stderr lines>`. */
function describeExit(outcome: CommandOutcome | null, host: string, role: string): string {
  if (!outcome) return `host ${host}: the ${role} QEMU is running`;
  const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode ?? 'unknown'}`;
  const stderr = outcome.stderr.trim();
  return `host ${host}: the ${role} QEMU ${how}${stderr ? `: ${stderr.split('\n').slice(-3).join(' | ')}` : ''}`;
}
