import type { Agent } from 'node:http';
import Docker from 'dockerode';
import { StepError } from '../../core/errors.js';
import { withDeadline } from '../../core/poll.js';

/** The Engine API socket isobench talks to (DOCKER_HOST=unix://… overrides it, as for the docker CLI). */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/**
 * `isobench=1`: on every container and volume a run creates, and on the image (set at import), so
 * containers made by hand from that image carry it too.
 */
export const LABEL = 'isobench';
/** `isobench.run=<runId>`: only isobench's drivers set it; `cleanup` finds leftovers by this label. */
export const RUN_LABEL = 'isobench.run';
/** `isobench.target=<target name>` (`docker-host`, `docker-nat`) on a run's containers and volumes. */
export const TARGET_LABEL = 'isobench.target';
/** `isobench.recipe=<recipe hash>` on the image: a tag is reused only when this label matches. */
export const RECIPE_LABEL = 'isobench.recipe';

/** A short API call (inspect, create, pause) that takes longer than this means the daemon is stuck. */
export const API_TIMEOUT_MS = 30_000;

/** A dockerode client on the local Engine API socket (see createDockerClient). */
export type DockerClient = Docker;

/**
 * The daemon's socket path: `DOCKER_HOST=unix://PATH` when set, else DEFAULT_DOCKER_SOCKET.
 * @throws Error when DOCKER_HOST names anything but a unix socket (`tcp://`, `ssh://`): a remote
 *   daemon would measure another machine.
 */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (!host) return DEFAULT_DOCKER_SOCKET;
  if (host.startsWith('unix://')) return host.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET;
  throw new Error(`DOCKER_HOST=${host} is not a unix socket: isobench's Docker targets drive the local daemon only`);
}

/**
 * A dockerode client on the local socket. No client-wide timeout: docker-modem's timeout is an idle
 * timeout on every request, and an exec stream stays silent for a whole fio run. Calls that must be
 * short go through `withDeadline` (core/poll.ts) instead.
 */
export function createDockerClient(socketPath: string = dockerSocketPath()): DockerClient {
  return new Docker({ socketPath });
}

/**
 * A dockerode client whose every request goes through `agent` (hosts/dial-stdio.ts's DialStdioAgent:
 * a remote host's daemon over SSH). docker-modem 5 hands its `agent` option to each request
 * (modem.js `dial`); @types/dockerode leaves the option out, docker-modem's own types have it. The
 * host name is only the HTTP `Host` header: the agent decides where the bytes go.
 */
export function createDialedDockerClient(agent: Agent): DockerClient {
  const options: Docker.DockerOptions & { agent: Agent } = { protocol: 'http', host: 'docker', port: 80, agent };
  return new Docker(options);
}

/** The message of an Engine API error: dockerode puts the daemon's own words in `json.message`. */
export function dockerErrorMessage(error: unknown): string {
  if (error && typeof error === 'object') {
    const record = error as { json?: unknown; message?: unknown; statusCode?: unknown; code?: unknown };
    const json = record.json as { message?: unknown } | null | undefined;
    if (json && typeof json === 'object' && typeof json.message === 'string') return json.message;
    if (typeof record.code === 'string' && typeof record.message === 'string') return `${record.code}: ${record.message}`;
    if (typeof record.message === 'string') return record.message.replace(/^\(HTTP code \d+\)\s*/, '');
  }
  return String(error);
}

/** The HTTP status of an Engine API error (dockerode's `statusCode`, e.g. 404), or null for anything else (a timeout, a socket error). */
export function dockerStatusCode(error: unknown): number | null {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : null;
}

/** Wraps a failure of one named step into an error that says which step failed and why. */
export class DockerStepError extends StepError {}

/**
 * Runs one Engine API call as a named step under a deadline.
 * @param step What is being done, e.g. `creating container isobench-docker-nat-…`.
 * @param timeoutMs In ms; defaults to API_TIMEOUT_MS (30 s). Calls that may legitimately take
 *   longer (building the tree, starting a container) pass their own.
 * @throws DockerStepError naming the step, with the daemon's message (or the DeadlineError's) as
 *   detail and the original as `cause`; a DockerStepError thrown inside passes through unchanged.
 */
export async function dockerStep<T>(step: string, action: () => Promise<T>, timeoutMs: number = API_TIMEOUT_MS): Promise<T> {
  try {
    return await withDeadline(action(), timeoutMs, step);
  } catch (error) {
    if (error instanceof DockerStepError) throw error;
    throw new DockerStepError(step, dockerErrorMessage(error), { cause: error });
  }
}

/** True when the daemon answers `GET /_ping` within `timeoutMs` (ms, default 3 s); any failure is false, never thrown. */
export async function pingDaemon(client: DockerClient, timeoutMs = 3_000): Promise<boolean> {
  try {
    await withDeadline(client.ping(), timeoutMs, 'docker ping');
    return true;
  } catch {
    return false;
  }
}
