import { StringDecoder } from 'node:string_decoder';
import { execa, type ResultPromise } from 'execa';
import { IsobenchError } from './errors.js';
import { killProcessTree } from './kill-tree.js';
import { processStartTicks } from './proc.js';

/** Every external step has a timeout; this is the one used when a caller names none. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/** How runCommand and startBackground run a program. */
export interface CommandOptions {
  /** ms until the program and its descendants get killed; default DEFAULT_COMMAND_TIMEOUT_MS (startBackground: after a 2000 ms SIGTERM grace). */
  timeoutMs?: number;
  /** Text fed to the program's standard input. */
  input?: string;
  cwd?: string;
  /** Added to the parent's environment (execa's `extendEnv`), not a replacement for it. */
  env?: Record<string, string>;
  /**
   * Called with output as it arrives (UTF-8 text, chunks as the pipe delivers them, not lines), for
   * a caller that streams a long command's progress; the outcome still holds all of it.
   */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
}

/** Feeds a child's output to `onOutput` as it arrives; a multi-byte character split between chunks is kept whole. */
function streamOutput(child: ResultPromise, onOutput: CommandOptions['onOutput']): void {
  if (!onOutput) return;
  for (const name of ['stdout', 'stderr'] as const) {
    const decoder = new StringDecoder('utf8');
    child[name]?.on('data', (chunk: Buffer | string) => {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      if (text) onOutput(name, text);
    });
  }
}

/** One shape for success and failure, like execa's: a failure carries the whole outcome. */
export interface CommandOutcome {
  command: readonly string[];
  /** Exit code 0 and not timed out. */
  ok: boolean;
  /** null when the program was killed by a signal or never started. */
  exitCode: number | null;
  /** The signal that ended it, e.g. `SIGKILL`; null when it exited. */
  signal: string | null;
  /** The deadline passed and isobench killed it (`signal` then says how). */
  timedOut: boolean;
  /** Everything it wrote, final newline kept. */
  stdout: string;
  stderr: string;
  /** Wall-clock ms from start to exit. */
  durationMs: number;
}

/**
 * A program run by runChecked failed; the message is describeFailure's, `outcome` has the rest
 * (full stdout and stderr). Exit code 1.
 */
export class CommandFailedError extends IsobenchError {
  constructor(readonly outcome: CommandOutcome) {
    super(describeFailure(outcome));
  }
}

/**
 * One line for a failed run: the command, how it ended (timed out, killed by a signal, exit code)
 * and the last 3 lines of stderr (stdout when stderr is empty) joined by ` | `, cut at 500 characters.
 */
export function describeFailure(outcome: CommandOutcome): string {
  const what = outcome.timedOut
    ? 'timed out'
    : outcome.signal
      ? `was killed by ${outcome.signal}`
      : `exited with code ${outcome.exitCode ?? 'unknown'}`;
  const detail = lastLines(outcome.stderr || outcome.stdout, 3);
  return `\`${outcome.command.join(' ')}\` ${what}${detail ? `: ${detail}` : ''}`;
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join(' | ').slice(0, 500);
}

/**
 * Runs a program (never through a shell) and returns its outcome whether it succeeded or not. When
 * `timeoutMs` (default DEFAULT_COMMAND_TIMEOUT_MS) passes, the program and every process it started
 * get SIGKILL at once and the outcome says `timedOut`.
 */
export async function runCommand(command: readonly string[], options: CommandOptions = {}): Promise<CommandOutcome> {
  const [file, ...args] = command;
  if (!file) throw new Error('runCommand needs a program to run');
  const started = performance.now();
  const child = execa(file, args, {
    reject: false,
    input: options.input,
    cwd: options.cwd,
    env: options.env,
    stripFinalNewline: false,
  });
  streamOutput(child, options.onOutput);
  const lifetime = boundLifetime(child, options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, 0);
  const result = await child;
  lifetime.clear();
  return toOutcome(command, { ...result, timedOut: lifetime.expired }, started);
}

/**
 * Kills a child and its descendants (core/kill-tree) when its time is up, rather than leaving that to
 * execa, which signals the child alone: a grandchild that keeps the child's stdout open would keep
 * the outcome from ever resolving.
 */
function boundLifetime(child: ResultPromise, timeoutMs: number, graceMs: number) {
  const pid = child.pid;
  let exited = false;
  let expired = false;
  child.once('exit', () => (exited = true));
  // Read while the child cannot have been reaped yet, so a later kill never hits a reused pid.
  const startTime = pid === undefined ? Promise.resolve(null) : processStartTicks(pid);
  const kill = async (grace: number): Promise<void> => {
    if (exited || pid === undefined) return;
    // Even SIGKILL failing (a process stuck in the kernel) must not hide the outcome; waiting for the exit tells it.
    await killProcessTree(pid, { graceMs: grace, startTime: await startTime }).catch(() => {});
  };
  const timer = setTimeout(() => {
    expired = true;
    void kill(graceMs);
  }, timeoutMs);
  return {
    get expired() {
      return expired;
    },
    clear: () => clearTimeout(timer),
    kill,
  };
}

interface FinishedProcess {
  exitCode?: number | undefined;
  signal?: string | undefined;
  timedOut: boolean;
  stdout?: string | undefined;
  stderr?: string | undefined;
}

function toOutcome(command: readonly string[], result: FinishedProcess, started: number): CommandOutcome {
  return {
    command: [...command],
    ok: result.exitCode === 0 && !result.timedOut,
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut: result.timedOut,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    durationMs: performance.now() - started,
  };
}

/** Like runCommand, but a failure throws a CommandFailedError that carries the outcome. */
export async function runChecked(command: readonly string[], options: CommandOptions = {}): Promise<CommandOutcome> {
  const outcome = await runCommand(command, options);
  if (!outcome.ok) throw new CommandFailedError(outcome);
  return outcome;
}

/** A program started by startBackground. */
export interface BackgroundProcess {
  command: readonly string[];
  /** undefined when it could not be spawned (then `exited` reports the failure). */
  pid: number | undefined;
  /**
   * Stops the process and its descendants (SIGTERM, then SIGKILL after `graceMs`, default 2000 ms)
   * and waits for it.
   */
  stop(graceMs?: number): Promise<CommandOutcome>;
  /** Resolves when the process ends by itself. */
  readonly exited: Promise<CommandOutcome>;
  /**
   * Writes to the program's standard input (a request/response session, e.g. a clock reading per
   * line); false when it cannot take more now or has exited.
   */
  write(text: string): boolean;
}

/**
 * Starts a long-running program (a server). Its lifetime is bounded by `timeoutMs` all the same:
 * then it is stopped like `stop()` (2000 ms grace) and the outcome says `timedOut`.
 */
export function startBackground(command: readonly string[], options: CommandOptions = {}): BackgroundProcess {
  const [file, ...args] = command;
  if (!file) throw new Error('startBackground needs a program to run');
  const started = performance.now();
  const child = execa(file, args, {
    reject: false,
    cwd: options.cwd,
    env: options.env,
    stripFinalNewline: false,
  });
  streamOutput(child, options.onOutput);
  const lifetime = boundLifetime(child, options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, 2_000);
  const exited: Promise<CommandOutcome> = child.then((result) => {
    lifetime.clear();
    return toOutcome(command, { ...result, timedOut: lifetime.expired }, started);
  });
  return {
    command: [...command],
    pid: child.pid,
    exited,
    write(text: string) {
      if (!child.stdin || child.stdin.destroyed || child.exitCode !== null) return false;
      return child.stdin.write(text);
    },
    async stop(graceMs = 2_000) {
      lifetime.clear();
      await lifetime.kill(graceMs);
      return await exited;
    },
  };
}
