/**
 * A host's Docker Engine API over SSH, the way the docker CLI's and dockerode's `ssh://` transports
 * reach it (docker-modem 5's lib/ssh.js: an `http.Agent` whose `createConnection` runs
 * `docker system dial-stdio` on the host and speaks HTTP over that program's stdin and stdout), but
 * with the system's OpenSSH client and the host's own options (SshHost.sshOptions: the user's
 * ssh_config, keys and agent, and the shared ControlMaster connection) instead of the ssh2 library,
 * which reads no ssh_config and would open a second, separately authenticated connection.
 *
 * `docker system dial-stdio` (docker CLI 18.09+) connects to the daemon the CLI on the host would use
 * (its DOCKER_HOST or context, else /var/run/docker.sock), so the daemon reached is exactly the one
 * `ssh HOST docker …` reaches.
 */
import { Agent, type AgentOptions } from 'node:http';
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { execa, type ResultPromise } from 'execa';

/**
 * The remote half of every connection: the docker CLI's relay between stdin/stdout and the daemon's
 * socket. Given as one argument: OpenSSH joins the remote command's words with spaces anyway.
 */
export const DIAL_STDIO_COMMAND = 'docker system dial-stdio';

/**
 * The longest one connection (one ssh child) may live, in ms: a long exec stream (a server for a
 * whole point, a 60 s fio run) rides on one; past this the child is killed, so none outlives a run
 * that lost track of it. Four hours: longer than any single isobench step (the image import has 10
 * minutes, a service its suite's own deadline).
 */
export const DIAL_MAX_LIFETIME_MS = 4 * 60 * 60_000;

/** The local command line of one connection: the host's ssh options and destination, then DIAL_STDIO_COMMAND. */
export function dialStdioCommand(sshPrefix: readonly string[]): string[] {
  return [...sshPrefix, DIAL_STDIO_COMMAND];
}

/** What one connection's child said when it ended: its last stderr line, for a failed request's message. */
export interface DialEnd {
  exitCode: number | null;
  signal: string | null;
  stderr: string;
}

/** What the agent needs: the command line per connection, and where an ended child's words go. */
export interface DialStdioAgentOptions {
  /** The whole local command line one connection runs (see dialStdioCommand). */
  command: readonly string[];
  /** ms a connection may live (default DIAL_MAX_LIFETIME_MS). */
  maxLifetimeMs?: number;
  /** Called when a child ends with a failure (non-zero exit, signal not ours), e.g. to log ssh's diagnostic. */
  onFailure?: (end: DialEnd) => void;
}

/**
 * The duplex an HTTP request is written to: the child's stdin is the writable side, its stdout the
 * readable side. It carries the few `net.Socket` methods Node's HTTP client and Agent call
 * (`setTimeout`, `setNoDelay`, `setKeepAlive`, `ref`, `unref`), and destroying it (the HTTP client's
 * normal end of a non-keep-alive request, an abort, the agent's destroy) kills the child.
 */
class ChildStream extends Duplex {
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly child: ResultPromise) {
    super({ allowHalfOpen: true });
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout!.pause();
    });
    child.stdout!.on('end', () => this.push(null));
    // A write to a child that is gone (EPIPE) ends the stream; the close below reports it.
    child.stdin!.on('error', () => {});
  }

  override _read(): void {
    this.child.stdout!.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // A write to a child that has exited fails with EPIPE; the child's exit (with ssh's own
    // diagnostic) is what fails the stream, so the write itself is not the error reported.
    this.child.stdin!.write(chunk, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Half-close: the daemon sees the request body (or an exec's stdin) end and still answers.
    this.child.stdin!.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    callback(error);
  }

  /** Node's HTTP client sets an idle timeout through the socket; here it is a plain timer. */
  setTimeout(ms: number, onTimeout?: () => void): this {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (onTimeout) this.once('timeout', onTimeout);
    if (ms > 0) this.timer = setTimeout(() => this.emit('timeout'), ms).unref();
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

/**
 * An `http.Agent` that opens every connection by running `options.command` (ssh … `docker system
 * dial-stdio`): one child per connection, killed when the connection closes, when `destroy()` is
 * called, or at `maxLifetimeMs`, whichever is first. Not keep-alive: each request is one short ssh
 * session multiplexed on the host's shared connection (tens of ms), and no idle child is left
 * between requests. Pass it as dockerode's `agent` (docker-modem 5 gives it to every request).
 */
export class DialStdioAgent extends Agent {
  private readonly children = new Set<ResultPromise>();
  private closed = false;

  constructor(private readonly dial: DialStdioAgentOptions, agentOptions: AgentOptions = {}) {
    super({ ...agentOptions, keepAlive: false });
  }

  /** How many connection children run now (for tests and for a leak check at teardown). */
  get openConnections(): number {
    return this.children.size;
  }

  /**
   * Node's Agent hook: a new connection is a new child. The duplex stands in for the socket (the
   * HTTP client needs only a stream and the methods ChildStream carries).
   */
  override createConnection(): Socket {
    if (this.closed) {
      // Node's Agent hands what this returns to the request; a destroyed stream fails that request.
      const refused = new Duplex({ read() {}, write(_chunk, _encoding, callback) { callback(); } });
      process.nextTick(() => refused.destroy(new Error('the Docker connection over SSH was closed')));
      return refused as unknown as Socket;
    }
    const [file, ...args] = this.dial.command;
    const child = execa(file!, args, {
      reject: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: { stdout: false, stderr: true },
      encoding: 'buffer',
      timeout: this.dial.maxLifetimeMs ?? DIAL_MAX_LIFETIME_MS,
      killSignal: 'SIGKILL',
    });
    this.children.add(child);
    const stream = new ChildStream(child);
    void child.then((result) => {
      this.children.delete(child);
      const stderr = Buffer.from(result.stderr).toString('utf8');
      // Killed by ChildStream._destroy or destroy(): the connection's normal end, not a failure.
      const killedByUs = result.signal === 'SIGKILL' && !result.timedOut;
      if ((result.exitCode !== 0 || result.timedOut) && !killedByUs) {
        this.dial.onFailure?.({ exitCode: result.exitCode ?? null, signal: result.signal ?? null, stderr });
        const last = stderr.trim().split('\n').pop() ?? '';
        stream.destroy(new Error(`\`${DIAL_STDIO_COMMAND}\` over ssh ended (${result.timedOut ? 'its lifetime passed' : `exit ${result.exitCode ?? result.signal}`})${last ? `: ${last}` : ''}`));
      } else if (stream.readableEnded) {
        stream.destroy();
      } else {
        // The answer may still sit in the stream's buffer: let the HTTP client read it first.
        stream.once('end', () => stream.destroy());
      }
    });
    // Node's Agent takes a returned socket as created (and ignores the callback form then).
    return stream as unknown as Socket;
  }

  /** Kills every connection's child and refuses new connections. Idempotent. */
  override destroy(): void {
    this.closed = true;
    super.destroy();
    for (const child of this.children) child.kill('SIGKILL');
  }

  /** destroy(), then waits until every child has exited. */
  async close(): Promise<void> {
    this.destroy();
    await Promise.all([...this.children].map((child) => child.catch(() => {})));
  }
}
