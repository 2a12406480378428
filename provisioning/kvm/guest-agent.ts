import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_COMMAND_TIMEOUT_MS, type CommandOptions, type CommandOutcome } from '../../core/exec.js';
import { JsonLineSocket, Mutex, type Transcript } from './json-socket.js';
import { IsobenchError } from '../../core/errors.js';
import { terminate, type KillSignal } from '../../core/kill-tree.js';
import { DeadlineError, pollUntil } from '../../core/poll.js';
import { formatZodIssues } from '../../core/zod-text.js';

/**
 * The QEMU guest agent (qemu-ga) over its virtio-serial port: how isobench runs programs in a guest.
 * `guest-exec` with `capture-output` starts a program and `guest-exec-status` is polled until it
 * has exited, returning base64 stdout/stderr and the exit code. The agent answers strictly in
 * order and has no request ids, so requests are serialized and `guest-sync` re-aligns the stream
 * after a request that timed out.
 */

/**
 * Default deadline, in ms, for one agent request and for connecting to the agent. A guest-exec round
 * trip takes ~100 ms under TCG here (kvm/README.md, "Measured here").
 */
export const DEFAULT_AGENT_TIMEOUT_MS = 10_000;
/** Seconds `timeout` in the guest waits after its TERM before it sends KILL. */
const GUEST_KILL_AFTER_SECONDS = 2;
/** The host gives up this long after the guest-side timeout should have fired. */
const HOST_GRACE_MS = 8_000;
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 50;
/** How long kill(1) in the guest may take to be reported as exited. */
const KILLER_WAIT_MS = 2_000;
/** qemu-ga runs programs with its own environment; a caller's env replaces it, so PATH comes along. */
export const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const QgaReturn = z.strictObject({ return: z.unknown() });
const QgaError = z.strictObject({ error: z.object({ class: z.string(), desc: z.string() }) });

/** `guest-exec`'s return: the started program's pid in the guest. */
export const GuestExecResult = z.object({ pid: z.number().int().positive() });
/**
 * `guest-exec-status`'s return (QEMU guest agent protocol reference): `exitcode` or `signal` once
 * `exited`; with `capture-output`, `out-data`/`err-data` are base64 and `*-truncated` says the agent
 * dropped output beyond its capture limit.
 */
export const GuestExecStatus = z.object({
  exited: z.boolean(),
  exitcode: z.number().int().optional(),
  signal: z.number().int().optional(),
  'out-data': z.string().optional(),
  'err-data': z.string().optional(),
  'out-truncated': z.boolean().optional(),
  'err-truncated': z.boolean().optional(),
});
/** `guest-exec-status`'s return (see the schema of the same name). */
export type GuestExecStatus = z.infer<typeof GuestExecStatus>;
/** `guest-sync`'s return: the id it was sent, echoed, which marks where the stream is aligned again. */
export const GuestSyncResult = z.number().int();
/** `guest-info`'s return: the agent's version and the commands it supports. */
export const GuestInfoResult = z.object({
  version: z.string(),
  supported_commands: z.array(z.object({ name: z.string(), enabled: z.boolean(), 'success-response': z.boolean() })),
});
/** `guest-info`'s return (see the schema of the same name). */
export type GuestInfoResult = z.infer<typeof GuestInfoResult>;
const EmptyResult = z.object({}).strict();

/** One reply line of the agent, as parseQgaReply reads it: `{"return": …}` or `{"error": {"class", "desc"}}`. */
export type QgaReply = { kind: 'return'; value: unknown } | { kind: 'error'; errorClass: string; description: string };

/** The agent sent a line that is not JSON or not of a known shape; `line` is the raw line (the message keeps its first 300 characters). */
export class QgaProtocolError extends IsobenchError {
  constructor(message: string, readonly line: string) {
    super(`${message}: ${line.slice(0, 300)}`);
  }
}

/** The agent answered a command with an error: its class (e.g. `GenericError`) and description. */
export class QgaCommandError extends IsobenchError {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly description: string,
  ) {
    super(`guest agent ${command} failed: ${errorClass}: ${description}`);
  }
}

/**
 * One line from the agent: exactly a return or an error.
 * @throws QgaProtocolError for anything else.
 */
export function parseQgaReply(line: string): QgaReply {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    throw new QgaProtocolError('the guest agent sent a line that is not JSON', line);
  }
  const asReturn = QgaReturn.safeParse(data);
  if (asReturn.success) return { kind: 'return', value: asReturn.data.return };
  const asError = QgaError.safeParse(data);
  if (asError.success) return { kind: 'error', errorClass: asError.data.error.class, description: asError.data.error.desc };
  throw new QgaProtocolError('the guest agent sent a reply of an unknown shape', line);
}

/**
 * A command's return value, checked against `schema`.
 * @throws QgaProtocolError naming the command and the first mismatch.
 */
export function parseQgaResult<T>(command: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new QgaProtocolError(`the guest agent's reply to ${command} has an unknown shape (${formatZodIssues(parsed.error, 1)})`, JSON.stringify(value));
  }
  return parsed.data;
}

/** `out-data`/`err-data` as UTF-8 text; '' when the field is absent (no output). */
export function decodeBase64(data: string | undefined): string {
  return data === undefined ? '' : Buffer.from(data, 'base64').toString('utf8');
}

/** What a finished guest-exec-status says, as the one outcome shape every target returns. */
export function outcomeFromStatus(
  command: readonly string[],
  status: GuestExecStatus,
  durationMs: number,
  timedOut: boolean,
): CommandOutcome {
  let stderr = decodeBase64(status['err-data']);
  if (status['out-truncated']) stderr += '\n[isobench: the guest agent truncated this program\'s stdout]\n';
  if (status['err-truncated']) stderr += '\n[isobench: the guest agent truncated this program\'s stderr]\n';
  const exitCode = status.exitcode ?? null;
  const signal = status.signal === undefined ? null : signalName(status.signal);
  return {
    command: [...command],
    ok: exitCode === 0 && signal === null && !timedOut && !status['out-truncated'],
    exitCode,
    signal,
    timedOut,
    stdout: decodeBase64(status['out-data']),
    stderr,
    durationMs,
  };
}

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };
function signalName(signal: number): string {
  return SIGNALS[signal] ?? `signal ${signal}`;
}

/**
 * The argv that really runs in the guest: coreutils `timeout` bounds the program's life inside the
 * guest too (so a host-side timeout never leaves it running), `env -C` gives it a working directory.
 * `timeout` makes itself a process-group leader, so killing `-PID` takes its children along.
 */
export function guestCommandLine(command: readonly string[], timeoutMs: number, cwd?: string): string[] {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return ['timeout', '-k', String(GUEST_KILL_AFTER_SECONDS), String(seconds), ...(cwd ? ['env', '-C', cwd] : []), ...command];
}

/** `timeout` exits 124 when it stopped the program, 137 when it had to KILL it. */
export function timedOutByGuest(status: GuestExecStatus, elapsedMs: number, timeoutMs: number): boolean {
  return (status.exitcode === 124 || status.exitcode === 137) && elapsedMs >= timeoutMs * 0.95;
}

/** A program GuestAgent.spawn started in the guest. */
export interface GuestProcess {
  /** The pid of the `timeout` wrapper in the guest (the leader of the program's process group). */
  readonly pid: number;
  /** The wrapped argv that runs in the guest. */
  readonly guestCommand: readonly string[];
  /** Polls once; the final status is kept (the agent forgets a process once it has reported its exit). */
  poll(): Promise<GuestExecStatus>;
  /** The status that reported the exit, once a poll has seen it; null until then. */
  readonly finalStatus: GuestExecStatus | null;
  /** TERM (forwarded by `timeout` to the program), then KILL to the whole group after `graceMs`. */
  kill(graceMs?: number): Promise<GuestExecStatus>;
}

/**
 * How requests reach the agent: the virtio-serial port's unix socket (QEMU started by isobench), or
 * libvirt's own agent connection (`virsh qemu-agent-command`) when libvirt manages the guest.
 * `call` sends one request and returns the agent's raw reply line; requests never overlap.
 */
export interface AgentTransport {
  readonly description: string;
  call(request: { execute: string; arguments?: Record<string, unknown> }, timeoutMs: number): Promise<string>;
  close(): void;
}

/** The agent's socket: no request ids, so a request that timed out is followed by a guest-sync. */
export class SocketAgentTransport implements AgentTransport {
  private needsSync = false;

  constructor(private readonly channel: JsonLineSocket) {}

  /** `the guest agent on <socket path>`, for messages. */
  get description(): string {
    return `the guest agent on ${this.channel.path}`;
  }

  /** True once the socket has closed or failed; every later call fails. */
  get closed(): boolean {
    return this.channel.closed;
  }

  /**
   * Sends one request and returns its reply line (checked to be a return or an error), syncing
   * first when an earlier call failed.
   * @param timeoutMs For the reply (and for the sync before it, when one is needed), in ms.
   * @throws Error when no reply comes in time or the connection closes; QgaProtocolError for a
   *   malformed reply. Either way the next call syncs first.
   */
  async call(request: { execute: string; arguments?: Record<string, unknown> }, timeoutMs: number): Promise<string> {
    if (this.needsSync) await this.sync(timeoutMs);
    this.channel.send(request);
    try {
      const line = await this.channel.nextLine(timeoutMs);
      parseQgaReply(line);
      return line;
    } catch (error) {
      this.needsSync = true;
      throw error;
    }
  }

  /** guest-sync with a fresh id; reads and drops every line up to the echo of that id. */
  async sync(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31 - 1);
    this.channel.discardQueued();
    this.channel.send({ execute: 'guest-sync', arguments: { id } });
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = await this.channel.nextLine(Math.max(1, deadline - performance.now()));
      let reply: QgaReply;
      try {
        reply = parseQgaReply(line);
      } catch {
        continue; // a fragment of an abandoned reply
      }
      if (reply.kind === 'return' && reply.value === id) break;
    }
    this.needsSync = false;
  }

  /** Closes the socket; pending and later calls fail. */
  close(): void {
    this.channel.destroy();
  }
}

/**
 * A client of one guest's agent, over any transport. Requests are serialized (the agent answers in
 * order); each is validated with zod.
 */
export class GuestAgent {
  private readonly lock = new Mutex();

  constructor(private transport: AgentTransport) {}

  /** Connects to the agent's socket and synchronizes; retries until the agent answers or `timeoutMs` passes. */
  static async connect(path: string, options: { timeoutMs?: number; alive?: () => boolean; transcript?: Transcript } = {}): Promise<GuestAgent> {
    return new GuestAgent(await GuestAgent.openSocket(path, options));
  }

  /**
   * A transport on the agent's socket that has answered guest-sync; retries until the agent answers
   * or `timeoutMs` (default DEFAULT_AGENT_TIMEOUT_MS) passes.
   * @throws IsobenchError when the process behind the socket exits or the socket closes; DeadlineError
   *   "… did not answer guest-sync within N ms".
   */
  static async openSocket(path: string, options: { timeoutMs?: number; alive?: () => boolean; transcript?: Transcript } = {}): Promise<SocketAgentTransport> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    const started = performance.now();
    const channel = await JsonLineSocket.connect(path, timeoutMs, options.alive, options.transcript);
    const transport = new SocketAgentTransport(channel);
    const what = `the guest agent on ${path} did not answer guest-sync`;
    let lastError: Error | null = null;
    try {
      // Each guest-sync waits for its own reply, so no pause between attempts.
      return await pollUntil(
        async ({ remainingMs }) => {
          if (options.alive && !options.alive()) throw new IsobenchError(`${what}: the process behind it has exited`);
          try {
            await transport.sync(Math.min(2_000, Math.max(100, remainingMs)));
            return transport;
          } catch (error) {
            lastError = error as Error;
            if (transport.closed) throw new IsobenchError(`${what}: ${lastError.message}`, { cause: error });
            return undefined;
          }
        },
        { timeoutMs, intervalMs: 0, startedAt: started, what, detail: () => lastError?.message },
      );
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /**
   * Moves this client onto another transport: after a live migration, the destination QEMU's
   * socket. The guest's qemu-ga is the same process, so programs it started stay reachable. The old
   * transport is closed first, so a request in flight on it fails at once instead of waiting on a
   * source that will never answer again.
   */
  replaceTransport(transport: AgentTransport): void {
    const old = this.transport;
    this.transport = transport;
    old.close();
  }

  /** Waits until the agent answers guest-ping (for transports that connect on their own, like libvirt's). */
  static async reach(transport: AgentTransport, options: { timeoutMs?: number; alive?: () => boolean } = {}): Promise<GuestAgent> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    const agent = new GuestAgent(transport);
    const what = `${transport.description} did not answer guest-ping`;
    let lastError: Error | null = null;
    return pollUntil(
      async ({ remainingMs }) => {
        if (options.alive && !options.alive()) throw new IsobenchError(`${what}: the process behind it has exited`);
        try {
          await agent.ping(Math.min(5_000, Math.max(500, remainingMs)));
          return agent;
        } catch (error) {
          lastError = error as Error;
          return undefined;
        }
      },
      { timeoutMs, intervalMs: 250, what, detail: () => lastError?.message },
    );
  }

  /** Closes the transport. */
  close(): void {
    this.transport.close();
  }

  /**
   * One request and its reply, validated by `schema`.
   * @param timeoutMs For the reply, in ms (default DEFAULT_AGENT_TIMEOUT_MS).
   * @throws QgaCommandError when the agent answers with an error; QgaProtocolError for a reply of an
   *   unknown shape; Error "guest agent <command>: …" when no reply comes in time or the transport fails.
   */
  request<T>(command: string, args: Record<string, unknown> | undefined, schema: z.ZodType<T>, timeoutMs = DEFAULT_AGENT_TIMEOUT_MS): Promise<T> {
    return this.lock.run(async () => {
      let line: string;
      try {
        line = await this.transport.call({ execute: command, ...(args ? { arguments: args } : {}) }, timeoutMs);
      } catch (error) {
        if (error instanceof QgaProtocolError) throw error;
        throw new Error(`guest agent ${command}: ${(error as Error).message}`, { cause: error });
      }
      const reply = parseQgaReply(line);
      if (reply.kind === 'error') throw new QgaCommandError(command, reply.errorClass, reply.description);
      return parseQgaResult(command, schema, reply.value);
    });
  }

  /**
   * `guest-ping`: resolves when the agent answers.
   * @throws like request.
   */
  ping(timeoutMs = DEFAULT_AGENT_TIMEOUT_MS): Promise<void> {
    return this.request('guest-ping', undefined, EmptyResult, timeoutMs).then(() => undefined);
  }

  /**
   * `guest-info`: the agent's version and supported commands.
   * @throws like request.
   */
  info(): Promise<GuestInfoResult> {
    return this.request('guest-info', undefined, GuestInfoResult);
  }

  /**
   * Starts a program in the guest without waiting for it (a server). Its life is bounded in the guest
   * by `timeout` (`options.timeoutMs`, default DEFAULT_COMMAND_TIMEOUT_MS); `options.env` replaces
   * the agent's environment, with PATH=GUEST_PATH first.
   * A missing program is not thrown: `timeout` runs and exits 127 with its message.
   * @throws like request, when guest-exec itself fails.
   */
  async spawn(command: readonly string[], options: CommandOptions = {}): Promise<GuestProcess> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const guestCommand = guestCommandLine(command, timeoutMs, options.cwd);
    const [path, ...arg] = guestCommand as [string, ...string[]];
    const { pid } = await this.request(
      'guest-exec',
      {
        path,
        arg,
        'capture-output': true,
        ...(options.env ? { env: [`PATH=${GUEST_PATH}`, ...Object.entries(options.env).map(([key, value]) => `${key}=${value}`)] } : {}),
        ...(options.input !== undefined ? { 'input-data': Buffer.from(options.input, 'utf8').toString('base64') } : {}),
      },
      GuestExecResult,
    );
    let finalStatus: GuestExecStatus | null = null;
    const poll = async (): Promise<GuestExecStatus> => {
      if (finalStatus) return finalStatus;
      const status = await this.request('guest-exec-status', { pid }, GuestExecStatus);
      if (status.exited) finalStatus = status;
      return status;
    };
    const handle: GuestProcess = {
      pid,
      guestCommand,
      poll,
      get finalStatus() {
        return finalStatus;
      },
      kill: async (graceMs = 3_000) => {
        // TERM goes to `timeout` alone, which passes it on to the program; KILL to the whole group.
        await terminate(
          {
            description: `the guest process ${pid} (${command.join(' ')})`,
            signal: (signal: KillSignal) => (signal === 'SIGTERM' ? this.signal(pid, 'TERM', false) : this.signal(pid, 'KILL', true)),
            gone: async () => (await poll()).exited,
          },
          { graceMs, intervalMs: 50, killWaitMs: 5_000, killIntervalMs: 100 },
        );
        return finalStatus ?? (await poll());
      },
    };
    return handle;
  }

  /**
   * Runs a program to completion in the guest and returns its output and exit code. Bounded twice:
   * by `timeout` in the guest and by a host deadline a little later (then the group is killed).
   * A timeout is in the outcome (`timedOut: true`, `ok: false`), not thrown.
   */
  async exec(command: readonly string[], options: CommandOptions = {}): Promise<CommandOutcome> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const started = performance.now();
    const child = await this.spawn(command, options);
    const hostTimeoutMs = timeoutMs + GUEST_KILL_AFTER_SECONDS * 1000 + HOST_GRACE_MS;
    let status: GuestExecStatus;
    try {
      status = await pollUntil(
        async () => {
          const current = await child.poll();
          return current.exited ? current : undefined;
        },
        { timeoutMs: hostTimeoutMs, startedAt: started, intervalMs: POLL_MIN_MS, maxIntervalMs: POLL_MAX_MS, what: `\`${command.join(' ')}\` did not end in the guest` },
      );
    } catch (error) {
      if (!(error instanceof DeadlineError)) throw error;
      const killed = await child.kill(500).catch(() => null);
      return {
        ...(killed ? outcomeFromStatus(command, killed, performance.now() - started, true) : emptyOutcome(command, performance.now() - started)),
        ok: false,
        timedOut: true,
      };
    }
    const elapsed = performance.now() - started;
    return outcomeFromStatus(command, status, elapsed, timedOutByGuest(status, elapsed, timeoutMs));
  }

  /** kill(1) in the guest, to the process or (group) to its whole process group. */
  private async signal(pid: number, signal: 'TERM' | 'KILL', group: boolean): Promise<void> {
    const { pid: killer } = await this.request(
      'guest-exec',
      { path: 'kill', arg: [`-${signal}`, '--', group ? `-${pid}` : String(pid)], 'capture-output': true },
      GuestExecResult,
    );
    // kill(1) ends at once; waiting for it only keeps the agent's process table tidy, so no error if it does not.
    await pollUntil(async () => (await this.request('guest-exec-status', { pid: killer }, GuestExecStatus)).exited, {
      timeoutMs: KILLER_WAIT_MS,
      intervalMs: 20,
      what: `kill -${signal} in the guest did not finish`,
    }).catch((error: unknown) => {
      if (!(error instanceof DeadlineError)) throw error;
    });
  }
}

function emptyOutcome(command: readonly string[], durationMs: number): CommandOutcome {
  return { command: [...command], ok: false, exitCode: null, signal: null, timedOut: true, stdout: '', stderr: '', durationMs };
}
