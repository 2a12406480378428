import Docker from 'dockerode';
import { StepError } from '../../core/errors.js';
import { withDeadline } from '../../core/poll.js';

/** The Engine API socket isobench talks to (DOCKER_HOST=unix://… overrides it, as for the docker CLI). */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** Every object isobench creates in Docker carries these labels; `cleanup` finds leftovers by the run label. */
export const LABEL = 'isobench';
export const RUN_LABEL = 'isobench.run';
export const TARGET_LABEL = 'isobench.target';
export const RECIPE_LABEL = 'isobench.recipe';

/** A short API call (inspect, create, pause) that takes longer than this means the daemon is stuck. */
export const API_TIMEOUT_MS = 30_000;

export type DockerClient = Docker;

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

export function dockerStatusCode(error: unknown): number | null {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : null;
}

/** Wraps a failure of one named step into an error that says which step failed and why. */
export class DockerStepError extends StepError {}

export async function dockerStep<T>(step: string, action: () => Promise<T>, timeoutMs: number = API_TIMEOUT_MS): Promise<T> {
  try {
    return await withDeadline(action(), timeoutMs, step);
  } catch (error) {
    if (error instanceof DockerStepError) throw error;
    throw new DockerStepError(step, dockerErrorMessage(error));
  }
}

/** True when the daemon answers `GET /_ping` within the timeout. */
export async function pingDaemon(client: DockerClient, timeoutMs = 3_000): Promise<boolean> {
  try {
    await withDeadline(client.ping(), timeoutMs, 'docker ping');
    return true;
  } catch {
    return false;
  }
}
