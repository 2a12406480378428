import { connect, type Socket } from 'node:net';
import { pollUntil } from '../../core/poll.js';

/** Called with every line a JsonLineSocket sends or receives, without its newline (how the tests' fixtures were captured). */
export type Transcript = (direction: 'sent' | 'received', line: string) => void;

/**
 * A unix socket that carries one JSON document per line, as QMP and the guest agent both do. It
 * only frames lines: what the lines mean is the protocol's business (qmp-client.ts, guest-agent.ts).
 */
export class JsonLineSocket {
  private buffer = '';
  private readonly waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  private readonly queued: string[] = [];
  private closedError: Error | null = null;
  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    /** Called with every line sent and received (the tests' fixtures were captured this way). */
    private readonly transcript: Transcript | undefined,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (error) => this.close(new Error(`${path}: ${error.message}`)));
    socket.on('close', () => this.close(new Error(`${path}: the connection closed`)));
  }

  /**
   * Connects, retrying while the socket file does not exist or refuses (QEMU creates it a moment
   * after it starts). `alive` lets the caller stop early when the process behind it died.
   * @param timeoutMs For the whole wait, in ms; attempts are 50 ms apart.
   * @throws Error when `alive()` turns false; DeadlineError "cannot connect to PATH within N ms: <last error>".
   */
  static async connect(path: string, timeoutMs: number, alive: () => boolean = () => true, transcript?: Transcript): Promise<JsonLineSocket> {
    let lastError: Error | null = null;
    const socket = await pollUntil(
      async () => {
        try {
          return await new Promise<Socket>((resolve, reject) => {
            const candidate = connect(path);
            candidate.once('connect', () => {
              candidate.off('error', reject);
              resolve(candidate);
            });
            candidate.once('error', reject);
          });
        } catch (error) {
          lastError = error as Error;
        }
        if (!alive()) throw new Error(`cannot connect to ${path}: the process behind it has exited`);
        return undefined;
      },
      { timeoutMs, intervalMs: 50, what: `cannot connect to ${path}`, detail: () => lastError?.message ?? 'no answer' },
    );
    return new JsonLineSocket(socket, path, transcript);
  }

  /** True once the connection closed, failed or was destroyed. */
  get closed(): boolean {
    return this.closedError !== null;
  }

  /**
   * Writes `document` as one JSON line. Does not wait for the write.
   * @throws the error the connection closed with, when it is closed.
   */
  send(document: unknown): void {
    if (this.closedError) throw this.closedError;
    const line = JSON.stringify(document);
    this.transcript?.('sent', line);
    this.socket.write(`${line}\n`);
  }

  /** The next line, or an error when none comes within `timeoutMs` (Infinity: no limit) or the connection closes. */
  nextLine(timeoutMs: number): Promise<string> {
    const queued = this.queued.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<string>((resolve, reject) => {
      const waiter = {
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            const index = this.waiting.indexOf(waiter);
            if (index >= 0) this.waiting.splice(index, 1);
            reject(new Error(`${this.path}: no reply within ${Math.round(timeoutMs)} ms`));
          }, timeoutMs)
        : undefined;
      this.waiting.push(waiter);
    });
  }

  /** Drops lines already received and not yet read (stale replies of an abandoned request). */
  discardQueued(): string[] {
    return this.queued.splice(0, this.queued.length);
  }

  /** Closes the connection; waiting and later reads fail with "the connection was closed by isobench". */
  destroy(): void {
    this.socket.destroy();
    this.close(new Error(`${this.path}: the connection was closed by isobench`));
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const newline = this.buffer.indexOf('\n');
      if (newline < 0) break;
      const line = this.buffer.slice(0, newline).replace(/\r$/, '');
      this.buffer = this.buffer.slice(newline + 1);
      if (line.trim() === '') continue;
      this.transcript?.('received', line);
      const waiter = this.waiting.shift();
      if (waiter) waiter.resolve(line);
      else this.queued.push(line);
    }
  }

  private close(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}

/** Serializes async sections: QMP replies are matched by id, but the guest agent answers strictly in order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `section` after every earlier one has settled (fulfilled or rejected); resolves or rejects as it does. */
  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section, section);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
