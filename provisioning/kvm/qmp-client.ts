import { z } from 'zod';
import { JsonLineSocket, Mutex, type Transcript } from './json-socket.js';
import { IsobenchError } from '../../core/errors.js';
import { formatZodIssues } from '../../core/zod-text.js';

/**
 * A small typed client for the QEMU Machine Protocol over its unix socket: the greeting, capability
 * negotiation, and the handful of commands isobench needs (status, stop, cont, quit, version,
 * whether KVM is enabled; migration later). Every line QEMU sends is parsed with zod and a shape
 * this client does not know is an error, never a half-trusted object.
 */

/** Default deadline, in ms, for connecting, for the greeting and for each command's reply. */
export const DEFAULT_QMP_TIMEOUT_MS = 10_000;

const QemuVersionTriple = z.object({ major: z.number().int(), minor: z.number().int(), micro: z.number().int() });

/** The first line QEMU sends on a QMP socket: its version and the capabilities it offers. */
export const QmpGreeting = z.object({
  QMP: z.object({
    version: z.object({ qemu: QemuVersionTriple, package: z.string() }),
    capabilities: z.array(z.string()),
  }),
});
/** QMP's greeting (see the schema of the same name). */
export type QmpGreeting = z.infer<typeof QmpGreeting>;

const QmpId = z.union([z.string(), z.number()]);

/** A command's success reply; `id` echoes the command's when it had one. */
export const QmpReturn = z.strictObject({ return: z.unknown(), id: QmpId.optional() });
/** A command's error reply: `class` (e.g. `GenericError`, `CommandNotFound`) and a description. */
export const QmpErrorReply = z.strictObject({
  error: z.object({ class: z.string(), desc: z.string() }),
  id: QmpId.optional(),
});
/** An asynchronous event (`STOP`, `RESUME`, `SHUTDOWN`, …); `timestamp` is QEMU's host time at the event. */
export const QmpEvent = z.strictObject({
  event: z.string().min(1),
  data: z.record(z.string(), z.unknown()).optional(),
  timestamp: z.object({ seconds: z.number().int(), microseconds: z.number().int() }),
});
/** A QMP event (see the schema of the same name). */
export type QmpEvent = z.infer<typeof QmpEvent>;

/** One line from QEMU as parseQmpMessage classifies it. */
export type QmpMessage =
  | { kind: 'greeting'; greeting: QmpGreeting }
  | { kind: 'return'; value: unknown; id: string | number | undefined }
  | { kind: 'error'; errorClass: string; description: string; id: string | number | undefined }
  | { kind: 'event'; event: QmpEvent };

/** QEMU sent a line that is not JSON or not of a shape this client knows; `line` is the raw line (the message keeps its first 300 characters). */
export class QmpProtocolError extends IsobenchError {
  constructor(message: string, readonly line: string) {
    super(`${message}: ${line.slice(0, 300)}`);
  }
}

/** A QMP command QEMU answered with an error (e.g. CommandNotFound, GenericError). */
export class QmpCommandError extends IsobenchError {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly description: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${description}`);
  }
}

/**
 * One line from QEMU, classified.
 * @throws QmpProtocolError for anything that is not exactly one of QMP's four shapes.
 */
export function parseQmpMessage(line: string): QmpMessage {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    throw new QmpProtocolError('QEMU sent a line that is not JSON', line);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new QmpProtocolError('QEMU sent a non-object', line);
  const keys = ['QMP', 'return', 'error', 'event'].filter((key) => key in data);
  if (keys.length !== 1) throw new QmpProtocolError('QEMU sent a message of an unknown shape', line);
  switch (keys[0]) {
    case 'QMP': {
      const parsed = QmpGreeting.safeParse(data);
      if (!parsed.success) throw new QmpProtocolError(`a malformed QMP greeting (${firstIssue(parsed.error)})`, line);
      return { kind: 'greeting', greeting: parsed.data };
    }
    case 'return': {
      const parsed = QmpReturn.safeParse(data);
      if (!parsed.success) throw new QmpProtocolError(`a malformed QMP return (${firstIssue(parsed.error)})`, line);
      return { kind: 'return', value: parsed.data.return, id: parsed.data.id };
    }
    case 'error': {
      const parsed = QmpErrorReply.safeParse(data);
      if (!parsed.success) throw new QmpProtocolError(`a malformed QMP error (${firstIssue(parsed.error)})`, line);
      return { kind: 'error', errorClass: parsed.data.error.class, description: parsed.data.error.desc, id: parsed.data.id };
    }
    default: {
      const parsed = QmpEvent.safeParse(data);
      if (!parsed.success) throw new QmpProtocolError(`a malformed QMP event (${firstIssue(parsed.error)})`, line);
      return { kind: 'event', event: parsed.data };
    }
  }
}

function firstIssue(error: z.ZodError): string {
  return formatZodIssues(error, 1);
}

/** QEMU's RunState (qapi/run-state.json); a state not listed here is a protocol error. */
export const RUN_STATES = [
  'debug', 'inmigrate', 'internal-error', 'io-error', 'paused', 'postmigrate', 'prelaunch', 'finish-migrate',
  'restore-vm', 'running', 'save-vm', 'shutdown', 'suspended', 'watchdog', 'guest-panicked', 'colo',
] as const;
/** `query-status`'s return. */
export const QueryStatusResult = z.object({
  status: z.enum(RUN_STATES),
  running: z.boolean(),
  /** Deprecated in QEMU 8.1 and later absent. */
  singlestep: z.boolean().optional(),
});
/** `query-status`'s return (see the schema of the same name). */
export type QueryStatusResult = z.infer<typeof QueryStatusResult>;

/** `query-version`'s return: major.minor.micro and the distribution's package string. */
export const QueryVersionResult = z.object({ qemu: QemuVersionTriple, package: z.string() });
/** `query-version`'s return (see the schema of the same name). */
export type QueryVersionResult = z.infer<typeof QueryVersionResult>;

/** `query-kvm`'s return: `present`, KVM support compiled in and available; `enabled`, this QEMU really runs on it. */
export const QueryKvmResult = z.object({ enabled: z.boolean(), present: z.boolean() });
/** `query-kvm`'s return (see the schema of the same name). */
export type QueryKvmResult = z.infer<typeof QueryKvmResult>;

/** The `{}` return of commands that return nothing (qmp_capabilities, stop, cont, quit). */
export const EmptyResult = z.object({}).strict();

/**
 * A command's return value, checked against `schema`.
 * @throws QmpProtocolError naming the command and the first mismatch.
 */
export function parseResult<T>(command: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new QmpProtocolError(`QEMU's reply to ${command} has an unknown shape (${firstIssue(parsed.error)})`, JSON.stringify(value));
  return parsed.data;
}

/** `MAJOR.MINOR.MICRO (package)`, the package being e.g. `Debian 1:7.2+dfsg-7+deb12u18+b3`; the triple alone when the package string is empty. */
export function formatQemuVersion(version: QueryVersionResult | QmpGreeting['QMP']['version']): string {
  const { major, minor, micro } = version.qemu;
  return `${major}.${minor}.${micro}${version.package ? ` (${version.package.trim()})` : ''}`;
}

/** The epoch time of a QMP event in ms (µs precision): QEMU stamps events with the host's wall clock. */
export function eventTimeMs(event: QmpEvent): number {
  return event.timestamp.seconds * 1000 + event.timestamp.microseconds / 1000;
}

/** How many events a session keeps; older ones are dropped (and counted) past this. */
export const MAX_KEPT_EVENTS = 10_000;

/**
 * A connected, negotiated QMP session. Commands may overlap: replies are matched by id. Events may
 * arrive at any time (before the greeting, between a command and its reply): each is kept in
 * `events`, in arrival order, and handed to the listeners.
 */
export class QmpClient {
  readonly events: QmpEvent[] = [];
  /** Events dropped because more than MAX_KEPT_EVENTS arrived. */
  droppedEvents = 0;
  /** Replies whose id matched no pending command (a command that already timed out), kept for diagnosis. */
  readonly strayReplies: string[] = [];
  private readonly listeners = new Set<(event: QmpEvent) => void>();
  private nextId = 1;
  private readonly pending = new Map<string, { resolve: (message: QmpMessage) => void; reject: (error: Error) => void }>();
  private readonly reading: Promise<void>;
  private readonly sending = new Mutex();
  private failure: Error | null = null;
  private quitting = false;

  private constructor(
    private readonly channel: JsonLineSocket,
    readonly greeting: QmpGreeting,
  ) {
    this.reading = this.readLoop();
  }

  /**
   * Connects (retrying until `timeoutMs` while QEMU starts), reads the greeting and negotiates capabilities.
   * @param options `timeoutMs` (default DEFAULT_QMP_TIMEOUT_MS) bounds the connect, the greeting and
   *   qmp_capabilities each; `alive` stops the wait when QEMU has exited; `transcript` sees every line.
   * @throws Error when the socket cannot be reached or the first line is not a greeting;
   *   QmpProtocolError for a malformed line; QmpCommandError when qmp_capabilities is refused.
   */
  static async connect(path: string, options: { timeoutMs?: number; alive?: () => boolean; transcript?: Transcript } = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_QMP_TIMEOUT_MS;
    const channel = await JsonLineSocket.connect(path, timeoutMs, options.alive, options.transcript);
    try {
      const deadline = performance.now() + timeoutMs;
      // QEMU sends the greeting first, but an event queued before a client arrived may be written
      // ahead of it (and a proxy may reorder): events are kept, anything else before it is an error.
      const early: QmpEvent[] = [];
      let greeting: QmpGreeting | undefined;
      while (!greeting) {
        const message = parseQmpMessage(await channel.nextLine(Math.max(1, deadline - performance.now())));
        if (message.kind === 'event') early.push(message.event);
        else if (message.kind === 'greeting') greeting = message.greeting;
        else throw new Error(`QMP on ${path} did not start with a greeting (got a ${message.kind})`);
      }
      const client = new QmpClient(channel, greeting);
      for (const event of early) client.keep(event);
      await client.execute('qmp_capabilities', undefined, EmptyResult, timeoutMs);
      return client;
    } catch (error) {
      channel.destroy();
      throw error;
    }
  }

  /** QEMU's version from the greeting, formatted by formatQemuVersion. */
  get qemuVersion(): string {
    return formatQemuVersion(this.greeting.QMP.version);
  }

  /**
   * Runs one command and validates its result with `schema`.
   * @param timeoutMs For the reply, in ms (default DEFAULT_QMP_TIMEOUT_MS).
   * @throws QmpCommandError when QEMU answers with an error; QmpProtocolError for a result of an
   *   unknown shape; Error "QMP <command>: no reply within N ms"; the session's error once the
   *   connection has failed or QEMU has quit.
   */
  async execute<T>(command: string, args: Record<string, unknown> | undefined, schema: z.ZodType<T>, timeoutMs = DEFAULT_QMP_TIMEOUT_MS): Promise<T> {
    if (this.failure) throw this.failure;
    const id = `ib-${this.nextId++}`;
    const reply = new Promise<QmpMessage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
    });
    const timer = new Promise<never>((_, reject) => {
      const handle = setTimeout(() => reject(new Error(`QMP ${command}: no reply within ${Math.round(timeoutMs)} ms`)), timeoutMs);
      void reply.finally(() => clearTimeout(handle)).catch(() => {});
    });
    await this.sending.run(async () => this.channel.send({ execute: command, ...(args ? { arguments: args } : {}), id }));
    try {
      const message = await Promise.race([reply, timer]);
      if (message.kind === 'error') throw new QmpCommandError(command, message.errorClass, message.description);
      if (message.kind !== 'return') throw new Error(`QMP ${command}: unexpected ${message.kind}`);
      return parseResult(command, schema, message.value);
    } finally {
      this.pending.delete(id);
    }
  }

  /**
   * `query-status`: the VM's run state (`running`, `paused`, …).
   * @throws like execute.
   */
  async queryStatus(): Promise<QueryStatusResult> {
    return this.execute('query-status', undefined, QueryStatusResult);
  }

  /**
   * `query-version`.
   * @throws like execute.
   */
  async queryVersion(): Promise<QueryVersionResult> {
    return this.execute('query-version', undefined, QueryVersionResult);
  }

  /**
   * `query-kvm`: whether this QEMU runs on KVM, asked of QEMU rather than assumed from its argv.
   * @throws like execute.
   */
  async queryKvm(): Promise<QueryKvmResult> {
    return this.execute('query-kvm', undefined, QueryKvmResult);
  }

  /**
   * Pauses every vCPU (the guest's clock stops too).
   * @throws like execute.
   */
  async stop(): Promise<void> {
    await this.execute('stop', undefined, EmptyResult);
  }

  /**
   * Resumes the vCPUs after stop.
   * @throws like execute.
   */
  async cont(): Promise<void> {
    await this.execute('cont', undefined, EmptyResult);
  }

  /**
   * Asks QEMU to exit. QEMU may close the socket before its reply is read; that counts as done.
   * @throws like execute, while the connection is still open.
   */
  async quit(timeoutMs = DEFAULT_QMP_TIMEOUT_MS): Promise<void> {
    this.quitting = true;
    try {
      await this.execute('quit', undefined, EmptyResult, timeoutMs);
    } catch (error) {
      if (!this.channel.closed) throw error;
    }
  }

  /** Closes the socket; pending commands fail. QEMU keeps running. */
  close(): void {
    this.channel.destroy();
  }

  /** Resolves when the connection ends (QEMU exited or close() was called). */
  get finished(): Promise<void> {
    return this.reading;
  }

  private async readLoop(): Promise<void> {
    for (;;) {
      let line: string;
      try {
        line = await this.channel.nextLine(Infinity);
      } catch (error) {
        this.fail(this.quitting ? new Error('QMP: QEMU has quit') : (error as Error));
        return;
      }
      let message: QmpMessage;
      try {
        message = parseQmpMessage(line);
      } catch (error) {
        this.fail(error as Error);
        this.channel.destroy();
        return;
      }
      if (message.kind === 'event') {
        this.keep(message.event);
        continue;
      }
      const id = message.kind === 'return' || message.kind === 'error' ? message.id : undefined;
      const waiter = id === undefined ? undefined : this.pending.get(String(id));
      if (waiter) waiter.resolve(message);
      else if (this.strayReplies.length < 100) this.strayReplies.push(line.slice(0, 300));
    }
  }

  /** How many events arrived in this session, dropped ones included: a position for waitForEvent's `since`. */
  get eventCount(): number {
    return this.droppedEvents + this.events.length;
  }

  private keep(event: QmpEvent): void {
    this.events.push(event);
    if (this.events.length > MAX_KEPT_EVENTS) {
      this.events.shift();
      this.droppedEvents++;
    }
    for (const listener of this.listeners) listener(event);
  }

  /**
   * Calls `listener` with every event that arrives from now on.
   * @returns A function that removes the listener.
   */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The first event named `name` (and accepted by `match`) among the events kept from index `since`
   * on, or the next such event to arrive.
   * @param since An `eventCount` read before the command that causes the event (default: now).
   * @throws DeadlineError-like Error "QMP: no EVENT event within N ms"; the session's error when the connection fails first.
   */
  async waitForEvent(name: string, options: { since?: number; timeoutMs?: number; match?: (event: QmpEvent) => boolean } = {}): Promise<QmpEvent> {
    const accept = (event: QmpEvent) => event.event === name && (options.match?.(event) ?? true);
    const seen = this.events.slice(Math.max(0, (options.since ?? this.eventCount) - this.droppedEvents)).find(accept);
    if (seen) return seen;
    if (this.failure) throw this.failure;
    const timeoutMs = options.timeoutMs ?? DEFAULT_QMP_TIMEOUT_MS;
    return new Promise<QmpEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`QMP: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.onEvent((event) => {
        if (!accept(event)) return;
        clearTimeout(timer);
        stop();
        resolve(event);
      });
      void this.reading.then(() => {
        clearTimeout(timer);
        stop();
        reject(this.failure ?? new Error('QMP: the connection ended'));
      });
    });
  }

  private fail(error: Error): void {
    this.failure = error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
