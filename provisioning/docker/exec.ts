import { readdir, readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type { CommandOptions, CommandOutcome } from '../../core/exec.js';
import { DEFAULT_COMMAND_TIMEOUT_MS } from '../../core/exec.js';
import { dockerErrorMessage, withTimeout, type DockerClient } from './client.js';

/** Output kept per stream; fio's JSON is a few hundred KiB at most. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const START_TIMEOUT_MS = 30_000;

/** A program started with the Engine API's exec in a running container. */
export interface RunningExec {
  readonly execId: string;
  /** The command line a user would type to run the same thing by hand. */
  readonly displayCommand: string[];
  /** Its pid in the host's pid namespace (the Engine reports it), or null if it ended before we asked. */
  readonly pid: number | null;
  /** Resolves when the program ends (by itself, or killed). */
  readonly finished: Promise<CommandOutcome>;
  /** Signals the program and every descendant of it, from the host. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export interface ExecRequest {
  client: DockerClient;
  containerId: string;
  /** For messages and the recorded command line (`docker exec NAME …`). */
  containerName: string;
  command: readonly string[];
  options?: Pick<CommandOptions, 'input' | 'env' | 'cwd'>;
}

/**
 * `docker exec` through the Engine API: create, start attached (a hijacked connection carrying the
 * multiplexed stdout/stderr), then read the pid the daemon reports so the program can be stopped
 * from the host (the API has no way to kill an exec).
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
    exec = await withTimeout(
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
    stream = (await withTimeout(exec.start({ hijack: true, stdin: withInput }), START_TIMEOUT_MS, 'starting the exec')) as NodeJS.ReadWriteStream;
  } catch (error) {
    throw new Error(`\`${displayCommand.join(' ')}\` could not start: ${dockerErrorMessage(error)}`);
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
    async kill(signal) {
      if (pid === null) return;
      killedBy ??= signal;
      await signalTree(pid, signal);
    },
  };
}

/** Runs a program in the container to completion, under a timeout that kills it (and its children). */
export async function runContainerExec(request: ExecRequest & { timeoutMs?: number }): Promise<CommandOutcome> {
  const running = await startContainerExec(request);
  const timeoutMs = request.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void running.kill('SIGKILL');
  }, timeoutMs);
  try {
    const outcome = await running.finished;
    return timedOut ? { ...outcome, ok: false, timedOut: true, signal: null } : outcome;
  } finally {
    clearTimeout(timer);
  }
}

interface ExecLike {
  id: string;
  inspect(): Promise<{ Pid: number; Running: boolean; ExitCode: number | null }>;
}

async function readExecPid(exec: ExecLike): Promise<number | null> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const info = await exec.inspect();
    if (info.Pid > 0) return info.Pid;
    if (!info.Running && attempt > 0) return null;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return null;
}

/** The stream can end a moment before the daemon records the exit code. */
async function readExitCode(exec: ExecLike): Promise<{ exitCode: number | null; running: boolean }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await exec.inspect();
      if (!info.Running || attempt >= 100) return { exitCode: info.ExitCode, running: info.Running };
    } catch {
      return { exitCode: null, running: false };
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
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

/** Parent pid from a /proc/PID/stat line (the command name may hold spaces and parentheses). */
export function parseStatParent(stat: string): number | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const parent = Number(fields[1]);
  return Number.isInteger(parent) ? parent : null;
}

/** `pid` and all its descendants, children after parents. */
export async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    const parent = stat === null ? null : parseStatParent(stat);
    if (parent === null) continue;
    parents.set(parent, [...(parents.get(parent) ?? []), Number(name)]);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(parents.get(next) ?? []));
  }
  return tree;
}

async function signalTree(pid: number, signal: NodeJS.Signals): Promise<void> {
  for (const member of await processTree(pid)) {
    try {
      process.kill(member, signal);
    } catch {
      // Already gone.
    }
  }
}
