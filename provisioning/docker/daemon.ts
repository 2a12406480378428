import { readFile } from 'node:fs/promises';
import { runCommand } from '../../core/exec.js';
import { isProcessAlive } from '../../core/proc.js';
import { findExecutable } from '../../core/tools.js';
import { createDockerClient, dockerErrorMessage, dockerSocketPath, DockerStepError, pingDaemon, type DockerClient } from './client.js';
import { DeadlineError, pollUntil, withDeadline } from '../../core/poll.js';

/**
 * The pid file `start-stop-daemon --make-pidfile` writes for the dockerd isobench starts (it outlives
 * the run, like a service); read while waiting, to tell a dockerd that exited from one still starting.
 */
export const DOCKERD_PIDFILE = '/run/isobench-dockerd.pid';
/** The output of the dockerd isobench starts (`start-stop-daemon --output`); its tail goes into start failures. */
export const DOCKERD_LOGFILE = '/var/log/isobench-dockerd.log';
/** The daemon's own pid file (dockerd's default), to read its command line. */
export const DOCKERD_DEFAULT_PIDFILE = '/var/run/docker.pid';
/** dockerd's default configuration file, read for `userland-proxy` when the command line does not set it. */
export const DAEMON_CONFIG = '/etc/docker/daemon.json';
/** Measured here: dockerd answers about 2 s after it starts; the first start also creates its state. */
export const DAEMON_START_TIMEOUT_MS = 60_000;

/** What every Docker row records about the daemon it ran on. */
export interface DaemonInfo {
  version: string;
  apiVersion: string;
  storageDriver: string;
  cgroupVersion: string;
  cgroupDriver: string;
  /** e.g. `name=seccomp,profile=default` (Docker's default seccomp profile), `name=apparmor`. */
  securityOptions: string[];
  /** Whether published ports get a docker-proxy process; null when it cannot be told. */
  userlandProxy: boolean | null;
  dockerRootDir: string;
  kernelVersion: string;
}

/** The daemon a run uses, as ensureDockerDaemon found or started it. */
export interface DaemonHandle {
  client: DockerClient;
  info: DaemonInfo;
  /** True when this call started dockerd. */
  started: boolean;
}

/** How ensureDockerDaemon looks for, and if need be starts, the daemon. */
export interface EnsureDaemonOptions {
  /** Progress lines (found, starting, started after N ms). */
  log: (line: string) => void;
  /** Start dockerd when nothing answers (default true). */
  start?: boolean;
  /** How long a dockerd isobench started gets to answer, in ms (default DAEMON_START_TIMEOUT_MS, 60 s). */
  startTimeoutMs?: number;
  /** Default: dockerSocketPath(), i.e. `DOCKER_HOST=unix://…` or `/var/run/docker.sock`. */
  socketPath?: string;
}

/**
 * Finds the Docker daemon, or starts `dockerd` (Debian's docker.io) in the background when none
 * answers and waits for it under a timeout. The daemon is left running after the run, as a service
 * would be: the next run and the image cache use it.
 *
 * @throws DockerStepError when DOCKER_HOST is not a unix socket, when nothing answers and `start` is
 *   false, dockerd is not installed or the caller is not root, when dockerd exits or does not answer
 *   within the timeout (with the tail of DOCKERD_LOGFILE), or when `GET /info` fails.
 */
export async function ensureDockerDaemon(options: EnsureDaemonOptions): Promise<DaemonHandle> {
  let socketPath: string;
  try {
    socketPath = options.socketPath ?? dockerSocketPath();
  } catch (error) {
    throw new DockerStepError('finding the Docker daemon', (error as Error).message, { cause: error });
  }
  const client = createDockerClient(socketPath);
  let started = false;
  if (await pingDaemon(client)) {
    options.log(`Docker daemon answers on ${socketPath}`);
  } else {
    if (options.start === false) throw new DockerStepError('finding the Docker daemon', `nothing answers on ${socketPath}`);
    await startDockerd(client, socketPath, options.log, options.startTimeoutMs ?? DAEMON_START_TIMEOUT_MS);
    started = true;
  }
  const info = await readDaemonInfo(client);
  return { client, info, started };
}

async function startDockerd(client: DockerClient, socketPath: string, log: (line: string) => void, timeoutMs: number): Promise<void> {
  const dockerd = await findExecutable('dockerd');
  if (!dockerd) {
    throw new DockerStepError('starting the Docker daemon', `nothing answers on ${socketPath} and dockerd is not installed (apt-get install docker.io)`);
  }
  if (process.getuid?.() !== 0) {
    throw new DockerStepError('starting the Docker daemon', `nothing answers on ${socketPath}, and only root can start dockerd: start it (e.g. \`sudo dockerd\`) and run again`);
  }
  // start-stop-daemon detaches dockerd into its own session: it must survive this run (and a Ctrl-C
  // to its process group), like the service it is.
  const command = [
    'start-stop-daemon', '--start', '--oknodo', '--background', '--make-pidfile', '--pidfile', DOCKERD_PIDFILE,
    '--output', DOCKERD_LOGFILE, '--exec', dockerd, '--', ...(socketPath === '/var/run/docker.sock' ? [] : ['--host', `unix://${socketPath}`]),
  ];
  log(`no Docker daemon answers on ${socketPath}: starting ${dockerd} in the background (log: ${DOCKERD_LOGFILE})`);
  const outcome = await runCommand(command, { timeoutMs: 15_000 });
  if (!outcome.ok) {
    throw new DockerStepError('starting the Docker daemon', `\`${command.join(' ')}\` failed: ${(outcome.stderr || outcome.stdout).trim()}`);
  }
  const begin = performance.now();
  try {
    await pollUntil(
      async () => {
        if (await pingDaemon(client, 2_000)) return true;
        const pid = await readPid(DOCKERD_PIDFILE);
        if (pid !== null && !isProcessAlive(pid)) {
          throw new DockerStepError('starting the Docker daemon', `dockerd (pid ${pid}) exited: ${await logTail()}`);
        }
        return false;
      },
      { timeoutMs, intervalMs: 250, what: `dockerd did not answer on ${socketPath}`, detail: logTail },
    );
  } catch (error) {
    if (error instanceof DeadlineError) throw new DockerStepError('starting the Docker daemon', error.message, { cause: error });
    throw error;
  }
  const pid = await readPid(DOCKERD_PIDFILE);
  // It outlives the run, as the machine's daemon would: later runs find it answering.
  log(`Docker daemon started (pid ${pid ?? 'unknown'}) and answers after ${Math.round(performance.now() - begin)} ms; it keeps running after the run (stop it with \`start-stop-daemon --stop --pidfile ${DOCKERD_PIDFILE}\`)`);
}

async function readPid(path: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function logTail(lines = 5): Promise<string> {
  const text = await readFile(DOCKERD_LOGFILE, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 800) || `(see ${DOCKERD_LOGFILE})`;
}

interface EngineInfo {
  ServerVersion?: string;
  Driver?: string;
  CgroupVersion?: string;
  CgroupDriver?: string;
  SecurityOptions?: string[];
  DockerRootDir?: string;
  KernelVersion?: string;
}

/**
 * What the results record about the daemon: `GET /info` and `GET /version` (15 s deadline each) plus
 * the userland proxy setting. Fields the daemon leaves out read `unknown`.
 * @param userlandProxy Reads the proxy setting (default: this machine's dockerd and daemon.json); a
 *   daemon on another host passes one that answers null (not read) rather than this machine's.
 * @throws DockerStepError when either call fails or misses its deadline.
 */
export async function readDaemonInfo(client: DockerClient, userlandProxy: () => Promise<boolean | null> = userlandProxySetting): Promise<DaemonInfo> {
  let info: EngineInfo;
  let apiVersion: string;
  try {
    info = (await withDeadline(client.info(), 15_000, 'GET /info')) as EngineInfo;
    apiVersion = ((await withDeadline(client.version(), 15_000, 'GET /version')) as { ApiVersion?: string }).ApiVersion ?? 'unknown';
  } catch (error) {
    throw new DockerStepError('reading the Docker daemon\'s facts', dockerErrorMessage(error), { cause: error });
  }
  return {
    version: info.ServerVersion ?? 'unknown',
    apiVersion,
    storageDriver: info.Driver ?? 'unknown',
    cgroupVersion: info.CgroupVersion ?? 'unknown',
    cgroupDriver: info.CgroupDriver ?? 'unknown',
    securityOptions: info.SecurityOptions ?? [],
    userlandProxy: await userlandProxy(),
    dockerRootDir: info.DockerRootDir ?? 'unknown',
    kernelVersion: info.KernelVersion ?? 'unknown',
  };
}

/**
 * Docker's `/info` does not say whether the userland proxy is on: read it where it is set, the
 * daemon's command line (`--userland-proxy=false`) and then daemon.json. Docker's default is on.
 */
export async function userlandProxySetting(): Promise<boolean | null> {
  const pid = await readPid(DOCKERD_DEFAULT_PIDFILE);
  const cmdline = pid === null ? null : await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  const fromFlags = cmdline === null ? null : userlandProxyFromArgs(cmdline.split('\0').filter(Boolean));
  if (fromFlags !== null) return fromFlags;
  const config = await readFile(DAEMON_CONFIG, 'utf8').catch(() => null);
  if (config !== null) {
    const fromConfig = userlandProxyFromConfig(config);
    if (fromConfig !== null) return fromConfig;
  }
  return cmdline === null ? null : true;
}

/**
 * `--userland-proxy` in dockerd's arguments: `--userland-proxy=false|true`, a bare flag (true) or
 * one followed by a separate `false`/`true` word; the last occurrence wins. Null when it is not there.
 */
export function userlandProxyFromArgs(args: readonly string[]): boolean | null {
  let value: boolean | null = null;
  for (const [index, arg] of args.entries()) {
    const match = /^--userland-proxy(?:=(.*))?$/.exec(arg);
    if (!match) continue;
    const text = match[1] ?? (args[index + 1] === 'false' || args[index + 1] === 'true' ? args[index + 1] : 'true');
    value = text !== 'false';
  }
  return value;
}

/** `userland-proxy` from daemon.json's text; null when absent, not a boolean, or the text is not JSON. */
export function userlandProxyFromConfig(text: string): boolean | null {
  try {
    const config = JSON.parse(text) as Record<string, unknown>;
    const value = config['userland-proxy'];
    return typeof value === 'boolean' ? value : null;
  } catch {
    return null;
  }
}

/**
 * For `defaultAvailability`: null when a daemon answers or isobench can start one here, else why not.
 */
export async function dockerAvailability(socket?: string): Promise<string | null> {
  let socketPath: string;
  try {
    socketPath = socket ?? dockerSocketPath();
  } catch (error) {
    return (error as Error).message;
  }
  if (await pingDaemon(createDockerClient(socketPath))) return null;
  if (!(await findExecutable('dockerd'))) return `no Docker daemon answers on ${socketPath} and dockerd is not installed (apt-get install docker.io)`;
  if (process.getuid?.() !== 0) return `no Docker daemon answers on ${socketPath} and starting dockerd needs root`;
  return null;
}
