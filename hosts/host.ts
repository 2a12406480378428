import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IsobenchError } from '../core/errors.js';
import { runCommand, startBackground, type BackgroundProcess, type CommandOptions, type CommandOutcome } from '../core/exec.js';
import type { ResourceRegistry } from '../core/ledger.js';
import { LOCAL_HOST_NAME, type InventoryHost, type SshTarget } from './inventory.js';
import { quoteCommand } from './shell-quote.js';

/** The system's OpenSSH client; the user's keys, agent and ~/.ssh/config apply to it. */
export const SSH_BINARY = 'ssh';
/**
 * Seconds an idle shared connection stays open after its last command (ssh_config(5)
 * `ControlPersist`): long enough to carry a run's back-to-back commands over one TCP connection
 * and one authentication, short enough that one left by a killed run goes away by itself.
 */
export const CONTROL_PERSIST_S = 60;
/** ssh's `ConnectTimeout`: seconds to wait for the TCP connection, so an unreachable host fails fast. */
export const CONNECT_TIMEOUT_S = 10;
/**
 * ssh's keep-alive (`ServerAliveInterval` × `ServerAliveCountMax`): a host that dies mid-command
 * (power, kernel panic, cable) is declared gone after 5 s × 3 unanswered probes, not at the command's deadline.
 */
export const SERVER_ALIVE = { intervalS: 5, countMax: 3 } as const;
/** Extra seconds the remote `timeout` waits past the local deadline, so the local kill is what reports it. */
const REMOTE_DEADLINE_SLACK_S = 2;

/** How a host failed, as opposed to a command on it failing. */
export type HostFailure = 'unreachable' | 'auth-refused' | 'host-key' | 'connection-lost' | 'ssh-failed';

/**
 * A host could not run a command at all (unreachable, authentication refused, its host key
 * unknown or changed, the connection lost mid-command): names the host. Exit code 1; `outcome` is
 * ssh's own.
 */
export class HostError extends IsobenchError {
  constructor(
    readonly host: string,
    readonly failure: HostFailure,
    readonly detail: string,
    readonly outcome?: CommandOutcome,
  ) {
    super(`host ${host}: ${FAILURE_WORDS[failure]}: ${detail}`);
  }
}

const FAILURE_WORDS: Record<HostFailure, string> = {
  unreachable: 'unreachable',
  'auth-refused': 'SSH authentication refused (isobench uses your ssh agent, keys and ~/.ssh/config, never a password)',
  'host-key': 'its SSH host key is not known or has changed (add it to known_hosts yourself; isobench never accepts one)',
  'connection-lost': 'the connection was lost (the host died, rebooted or the link went down)',
  'ssh-failed': 'ssh failed',
};

/**
 * What ssh's exit code 255 and stderr say about the host, or null when the failure was the
 * command's own (any other exit code, or a 255 without an ssh diagnostic).
 */
export function classifySshFailure(outcome: Pick<CommandOutcome, 'exitCode' | 'stderr'>): { failure: HostFailure; detail: string } | null {
  if (outcome.exitCode !== 255) return null;
  const lines = outcome.stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  const find = (pattern: RegExp) => lines.find((line) => pattern.test(line));
  const rules: Array<[HostFailure, RegExp]> = [
    ['auth-refused', /Permission denied|Too many authentication failures|no mutual signature/i],
    ['host-key', /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i],
    ['connection-lost', /Timeout, server .* not responding|Connection reset by peer|closed by remote host|Broken pipe|client_loop: send disconnect/i],
    ['unreachable', /Connection refused|No route to host|Network is unreachable|Connection timed out|Could not resolve hostname|Operation timed out|kex_exchange_identification|Connection closed by .* port/i],
    ['ssh-failed', /^ssh:|^mux_client|^ControlSocket|^Bad |^command-line/],
  ];
  for (const [failure, pattern] of rules) {
    const line = find(pattern);
    if (line) return { failure, detail: line.slice(0, 300) };
  }
  return null;
}

/** How a command runs on a host: core/exec's options (`cwd` and `env` apply on the host). */
export type HostCommandOptions = CommandOptions;

/** A program started on a host: core/exec's BackgroundProcess, plus its pid on that host. */
export interface HostProcess extends BackgroundProcess {
  /**
   * The program's pid on the host (for a ledger entry that kills it there), or undefined until the
   * host has reported it or when it could not be started.
   */
  hostPid(): number | undefined;
}

/** A machine isobench runs commands on: this one, or one reached over SSH. */
export interface Host {
  /** The inventory's name (`localhost` for this machine). */
  readonly name: string;
  /** How it is reached, for messages and results: `local` or `ssh root@lab-sut:22`. */
  readonly via: string;
  /**
   * Runs an argument array on the host with a deadline (default core/exec's), streaming output to
   * `onOutput`, and returns core/exec's one outcome shape whether the command succeeded or not.
   * `outcome.command` is the local command line that ran it (the ssh wrapper included): provenance.
   * @throws HostError when the host itself failed (see classifySshFailure); never for the command's own failure.
   */
  run(command: readonly string[], options?: HostCommandOptions): Promise<CommandOutcome>;
  /** The local command line that runs `command` on the host (the ssh wrapper included), for provenance. */
  commandLine(command: readonly string[]): string[];
  /**
   * Starts a long-running program on the host (a server, a session read line by line), bounded by
   * `timeoutMs` like core/exec's startBackground; `stop()` ends it on the host too.
   */
  start(command: readonly string[], options?: HostCommandOptions): HostProcess;
  /** Ends what the host keeps open (the shared SSH connection). Idempotent; never throws. */
  close(): Promise<void>;
}

/** The line a remote background program's shell writes first on stderr: its pid on the host. */
const REMOTE_PID_MARK = '@@isobench-pid ';

/** This machine: commands run through core/exec directly. */
export class LocalHost implements Host {
  readonly via = 'local';
  constructor(readonly name: string = LOCAL_HOST_NAME) {}

  /** See Host.run; a local command never raises HostError. */
  run(command: readonly string[], options: HostCommandOptions = {}): Promise<CommandOutcome> {
    return runCommand(command, options);
  }

  /** See Host.commandLine: the command itself. */
  commandLine(command: readonly string[]): string[] {
    return [...command];
  }

  /** See Host.start: core/exec's startBackground. */
  start(command: readonly string[], options: HostCommandOptions = {}): HostProcess {
    const process = startBackground(command, options);
    return Object.assign(process, { hostPid: () => process.pid });
  }

  /** Nothing to close. */
  async close(): Promise<void> {}
}

/** What an SshHost needs beyond the inventory entry. */
export interface SshHostOptions {
  /** A private directory (mode 0700) for the shared connection's socket, named after the host inside. */
  controlDirectory: string;
  /**
   * An ssh_config file to use instead of ~/.ssh/config (`ssh -F`): the test set-up's, which names its
   * own key and known_hosts. Real runs leave it out so the user's own configuration applies.
   */
  configFile?: string;
}

/** How an SSH host is reached, as `Host.via` and the results file's `LabHost.via` say it: `ssh USER@ADDRESS[:PORT]`. */
export function sshVia(target: SshTarget): string {
  return `ssh ${target.user}@${target.address}${target.port === undefined ? '' : `:${target.port}`}`;
}

/** How an inventory host is reached (`Host.via`): `local` for `localhost`, else {@link sshVia}. */
export function viaOf(entry: InventoryHost): string {
  return entry.ssh ? sshVia(entry.ssh) : 'local';
}

/** A host reached with the system's OpenSSH client, one shared connection (ControlMaster) per host. */
export class SshHost implements Host {
  readonly via: string;

  constructor(
    readonly name: string,
    readonly target: SshTarget,
    private readonly options: SshHostOptions,
  ) {
    this.via = sshVia(target);
  }

  /** The shared connection's socket: named after the host (inventory names are safe file names). */
  get controlPath(): string {
    return join(this.options.controlDirectory, this.name);
  }

  /**
   * The ssh program and every option isobench gives it (config file, BatchMode, the shared
   * connection's ControlPath, timeouts, port), without `--` and the destination: what another
   * program that runs ssh itself (rsync's `-e`) is given, so it rides on the same shared
   * connection with the same settings.
   */
  sshOptions(): string[] {
    const { port } = this.target;
    return [
      SSH_BINARY,
      ...(this.options.configFile ? ['-F', this.options.configFile] : []),
      '-T',
      '-o', 'BatchMode=yes',
      '-o', 'ControlMaster=auto',
      '-o', `ControlPath=${this.controlPath}`,
      '-o', `ControlPersist=${CONTROL_PERSIST_S}`,
      '-o', `ConnectTimeout=${CONNECT_TIMEOUT_S}`,
      '-o', `ServerAliveInterval=${SERVER_ALIVE.intervalS}`,
      '-o', `ServerAliveCountMax=${SERVER_ALIVE.countMax}`,
      ...(port === undefined ? [] : ['-p', String(port)]),
    ];
  }

  /** ssh's destination, `USER@ADDRESS` (the port is an option: see sshOptions). */
  get destination(): string {
    return `${this.target.user}@${this.target.address}`;
  }

  /** ssh's options and destination, everything before the remote command. */
  sshPrefix(): string[] {
    // `--` ends ssh's options: the destination can never be read as one.
    return [...this.sshOptions(), '--', this.destination];
  }

  /**
   * The whole local command line for a remote command: the remote side runs it under coreutils
   * `timeout` (the deadline plus 2 s), because killing the local ssh client does not stop a remote
   * command that is not writing; `env` and `cwd` are applied there too.
   */
  wrap(command: readonly string[], options: HostCommandOptions = {}): string[] {
    const deadlineS = Math.ceil((options.timeoutMs ?? 120_000) / 1000) + REMOTE_DEADLINE_SLACK_S;
    const environment = Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`);
    const remote = [
      ...(environment.length > 0 ? ['env', ...environment] : []),
      'timeout', '--kill-after=2', `${deadlineS}s`,
      ...command,
    ];
    const line = `${options.cwd === undefined ? '' : `cd ${quoteCommand([options.cwd])} && `}exec ${quoteCommand(remote)}`;
    return [...this.sshPrefix(), line];
  }

  /** See Host.commandLine: wrap's, with the default deadline. */
  commandLine(command: readonly string[]): string[] {
    return this.wrap(command);
  }

  /** See Host.run. */
  async run(command: readonly string[], options: HostCommandOptions = {}): Promise<CommandOutcome> {
    // cwd and env are the host's (applied by wrap), not the local ssh client's.
    const local: CommandOptions = { ...options };
    delete local.cwd;
    delete local.env;
    const outcome = await runCommand(this.wrap(command, options), local);
    const failure = classifySshFailure(outcome);
    if (failure) throw new HostError(this.name, failure.failure, `${failure.detail} (${this.via})`, outcome);
    // A command sharing the connection prints nothing when the connection under it dies: exit 255
    // alone. Whether the shared connection still stands tells a lost host from a command's own 255.
    if (outcome.exitCode === 255 && !(await this.connectionStands())) {
      throw new HostError(this.name, 'connection-lost', `ssh exited with code 255 and the shared connection is gone${outcome.stderr.trim() ? `: ${outcome.stderr.trim().split('\n').pop()!}` : ''} (${this.via})`, outcome);
    }
    return outcome;
  }

  /**
   * See Host.start. The remote shell first reports its pid (REMOTE_PID_MARK on stderr, kept out of
   * `onOutput`), then execs the program under `timeout`; `stop()` sends that pid SIGTERM over the
   * shared connection before stopping the local ssh client, because ending ssh does not end a
   * remote program that is not writing.
   */
  start(command: readonly string[], options: HostCommandOptions = {}): HostProcess {
    let remotePid: string | undefined;
    const wrapped = this.wrap(command, options);
    const line = wrapped.pop()!;
    const local: CommandOptions = {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      onOutput: (stream, text) => {
        let rest = text;
        if (stream === 'stderr' && remotePid === undefined) {
          const match = new RegExp(`^${REMOTE_PID_MARK}(\\d+)\\n?`).exec(text);
          if (match) {
            remotePid = match[1];
            rest = text.slice(match[0].length);
          }
        }
        if (rest) options.onOutput?.(stream, rest);
      },
    };
    const process = startBackground([...wrapped, `echo '${REMOTE_PID_MARK}'$$ >&2; ${line}`], local);
    return {
      ...process,
      // The mark is the remote shell's, not the program's: out of the outcome's stderr too.
      exited: process.exited.then((outcome) => ({ ...outcome, stderr: outcome.stderr.replace(new RegExp(`^${REMOTE_PID_MARK}\\d+\\n?`), '') })),
      write: (text: string) => process.write(text),
      hostPid: () => (remotePid === undefined ? undefined : Number(remotePid)),
      stop: async (graceMs?: number) => {
        if (remotePid !== undefined) await this.run(['kill', '-TERM', remotePid], { timeoutMs: 10_000 }).catch(() => {});
        return process.stop(graceMs);
      },
    };
  }

  /** Whether the shared connection's master still runs (`ssh -O check`, local: no packet is sent). */
  private async connectionStands(): Promise<boolean> {
    if (!existsSync(this.controlPath)) return false;
    const check = await runCommand([...this.sshOptions(), '-O', 'check', '--', this.destination], { timeoutMs: 5_000 }).catch(() => null);
    return check?.ok === true;
  }

  /** Stops the shared connection (`ssh -O exit`); a host that is already gone is fine. */
  async close(): Promise<void> {
    // No socket: no connection was ever made, and asking ssh would only make it resolve the name.
    if (!existsSync(this.controlPath)) return;
    await runCommand([...this.sshOptions(), '-O', 'exit', '--', this.destination], { timeoutMs: 5_000 }).catch(() => {});
  }
}

/** The hosts of one inventory, opened together and closed together. */
export class HostSet {
  private constructor(
    readonly hosts: ReadonlyMap<string, Host>,
    private readonly controlDirectory: string,
  ) {}

  /**
   * One Host per inventory entry: `localhost` runs here, every other over SSH. Nothing connects yet
   * (the first command does). The socket directory is registered with `registry` when given.
   */
  static async open(entries: readonly InventoryHost[], options: { configFile?: string; registry?: ResourceRegistry } = {}): Promise<HostSet> {
    // mkdtemp makes it 0700: the sockets in it carry authenticated sessions.
    const controlDirectory = await mkdtemp(join(tmpdir(), 'isobench-ssh-'));
    await options.registry?.register(`SSH control sockets ${controlDirectory}`, { kind: 'path', path: controlDirectory });
    const hosts = new Map<string, Host>();
    for (const entry of entries) {
      hosts.set(
        entry.name,
        entry.ssh === undefined
          ? new LocalHost(entry.name)
          : new SshHost(entry.name, entry.ssh, { controlDirectory, ...(options.configFile ? { configFile: options.configFile } : {}) }),
      );
    }
    return new HostSet(hosts, controlDirectory);
  }

  /**
   * The host of that name.
   * @throws Error for a name not in the set (the inventory's checks come first, so this is a bug).
   */
  get(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host named ${name} in this set`);
    return host;
  }

  /** Closes every shared connection and removes the socket directory. Never throws. */
  async close(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((host) => host.close()));
    await rm(this.controlDirectory, { recursive: true, force: true }).catch(() => {});
  }
}
