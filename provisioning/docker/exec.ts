import { PassThrough } from 'node:stream';
import type { CommandOptions, CommandOutcome } from '../../core/exec.js';
import { DEFAULT_COMMAND_TIMEOUT_MS } from '../../core/exec.js';
import { killProcessTree } from '../../core/kill-tree.js';
import { DeadlineError, pollUntil, withDeadline } from '../../core/poll.js';
import { dockerErrorMessage, type DockerClient } from './client.js';

/** Output kept per stream; fio's JSON is a few hundred KiB at most. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const START_TIMEOUT_MS = 30_000;
/** How long the daemon gets to report a started exec's pid, and its exit code once the stream ended. */
const PID_WAIT_MS = 1_000;
const EXIT_CODE_WAIT_MS = 2_000;

/** A program started with the Engine API's exec in a running container. */
export interface RunningExec {
  readonly execId: string;
  /** The command line a user would type to run the same thing by hand. */
  readonly displayCommand: string[];
  /** Its pid in the host's pid namespace (the Engine reports it), or null if it ended before we asked. */
  readonly pid: number | null;
  /** Resolves when the program ends (by itself, or killed). */
  readonly finished: Promise<CommandOutcome>;
  /**
   * Stops the program and every descendant of it, from the host (the Engine API cannot kill an
   * exec): SIGTERM, then SIGKILL after `graceMs` (0: SIGKILL at once). Resolves once they are gone.
   * @throws DeadlineError when they survive SIGKILL for 5 s.
   */
  stop(graceMs: number): Promise<void>;
}

/** One program to run in a running container. The timeout is runContainerExec's, not part of the request. */
export interface ExecRequest {
  client: DockerClient;
  containerId: string;
  /** For messages and the recorded command line (`docker exec NAME …`). */
  containerName: string;
  /** argv, run without a shell (`Cmd` of `POST /containers/{id}/exec`). */
  command: readonly string[];
  /** `input` is written to stdin, which is then closed; `env` adds to the container's environment; `cwd` sets `WorkingDir`. */
  options?: Pick<CommandOptions, 'input' | 'env' | 'cwd'>;
  /**
   * Stops the program by its pid in the daemon host's pid namespace, and its descendants: SIGTERM,
   * then SIGKILL after `graceMs`; `onSignal` is told each signal sent. Default: this machine's
   * killProcessTree (the local daemon's programs). A daemon on another host (lab mode) passes one
   * that signals there, because a pid the Engine reports means nothing on this machine.
   */
  stopProgram?: (pid: number, graceMs: number, onSignal: (signal: string) => void) => Promise<void>;
}

/**
 * `docker exec` through the Engine API: create, start attached (a hijacked connection carrying the
 * multiplexed stdout/stderr), then read the pid the daemon reports so the program can be stopped
 * from the host (the API has no way to kill an exec).
 *
 * Output is kept up to 64 MiB per stream. A non-zero exit is not an error: it is in the outcome.
 * @throws Error "`docker exec NAME …` could not start: <the daemon's message>" when creating or
 *   starting the exec fails (e.g. the container is paused) or takes more than 30 s.
 */
export async function startContainerExec(request: ExecRequest): Promise<RunningExec> {
  const { client, containerId, containerName, command } = request;
  const options = request.options ?? {};
  const displayCommand = ['docker', 'exec', ...(options.input !== undefined ? ['-i'] : []), containerName, ...command];
  const started = performance.now();
  const withInput = options.input !== undefined;
  const container = client.getContainer(containerId);
  let exec;
  let stream: NodeJS.ReadWriteStream;
  try {
    exec = await withDeadline(
      container.exec({
        Cmd: [...command],
        AttachStdout: true,
        AttachStderr: true,
        AttachStdin: withInput,
        Tty: false,
        ...(options.env ? { Env: Object.entries(options.env).map(([key, value]) => `${key}=${value}`) } : {}),
        ...(options.cwd ? { WorkingDir: options.cwd } : {}),
      }),
      START_TIMEOUT_MS,
      'creating the exec',
    );
    stream = (await withDeadline(exec.start({ hijack: true, stdin: withInput }), START_TIMEOUT_MS, 'starting the exec')) as NodeJS.ReadWriteStream;
  } catch (error) {
    throw new Error(`\`${displayCommand.join(' ')}\` could not start: ${dockerErrorMessage(error)}`, { cause: error });
  }
  const stdout = collect();
  const stderr = collect();
  client.modem.demuxStream(stream, stdout.sink, stderr.sink);
  if (withInput) {
    stream.write(options.input!);
    stream.end();
  }
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
  const execHandle = exec;
  const pid = await readExecPid(execHandle);
  let killedBy: string | null = null;
  const finished = (async (): Promise<CommandOutcome> => {
    await ended;
    const { exitCode, running } = await readExitCode(execHandle);
    return {
      command: displayCommand,
      ok: exitCode === 0 && killedBy === null,
      exitCode: running ? null : exitCode,
      signal: killedBy,
      timedOut: false,
      stdout: stdout.text(),
      stderr: stderr.text(),
      durationMs: performance.now() - started,
    };
  })();
  return {
    execId: execHandle.id,
    displayCommand,
    pid,
    finished,
    async stop(graceMs) {
      if (pid === null) return;
      const onSignal = (signal: string) => (killedBy ??= signal);
      if (request.stopProgram) await request.stopProgram(pid, graceMs, onSignal);
      else await killProcessTree(pid, { graceMs, onSignal });
    },
  };
}

/**
 * Runs a program in the container to completion, under a timeout that kills it (and its children).
 * @param request `timeoutMs` defaults to DEFAULT_COMMAND_TIMEOUT_MS (core/exec.ts); when it passes the
 *   outcome has `timedOut: true` and `ok: false` rather than a throw.
 * @throws Error when the exec cannot start (see startContainerExec).
 */
export async function runContainerExec(request: ExecRequest & { timeoutMs?: number }): Promise<CommandOutcome> {
  const running = await startContainerExec(request);
  const timeoutMs = request.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  try {
    return await withDeadline(running.finished, timeoutMs, `\`${running.displayCommand.join(' ')}\``);
  } catch (error) {
    if (!(error instanceof DeadlineError)) throw error;
  }
  await running.stop(0).catch(() => {});
  const outcome = await running.finished;
  return { ...outcome, ok: false, timedOut: true, signal: null };
}

interface ExecLike {
  id: string;
  inspect(): Promise<{ Pid: number; Running: boolean; ExitCode: number | null }>;
}

/** The pid the daemon reports for an exec; null when the exec ended (or no pid came) first. */
async function readExecPid(exec: ExecLike): Promise<number | null> {
  const found = await pollUntil(
    async ({ attempt }) => {
      const info = await exec.inspect();
      if (info.Pid > 0) return { pid: info.Pid };
      // The first inspect can come before the daemon marks the exec running.
      if (!info.Running && attempt > 0) return { pid: null };
      return undefined;
    },
    { timeoutMs: PID_WAIT_MS, intervalMs: 10, what: 'the daemon reported no pid for the exec' },
  ).catch((error: unknown) => {
    if (error instanceof DeadlineError) return { pid: null };
    throw error;
  });
  return found.pid;
}

/** The stream can end a moment before the daemon records the exit code; after the wait, what it says then. */
async function readExitCode(exec: ExecLike): Promise<{ exitCode: number | null; running: boolean }> {
  let last = { exitCode: null as number | null, running: false };
  try {
    return await pollUntil(
      async () => {
        const info = await exec.inspect();
        last = { exitCode: info.ExitCode, running: info.Running };
        return info.Running ? undefined : last;
      },
      { timeoutMs: EXIT_CODE_WAIT_MS, intervalMs: 20, what: 'the daemon recorded no exit code for the exec' },
    );
  } catch (error) {
    // An exec the daemon no longer knows has no exit code to give.
    return error instanceof DeadlineError ? last : { exitCode: null, running: false };
  }
}

function collect(): { sink: PassThrough; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    if (size >= MAX_OUTPUT_BYTES) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') };
}
