import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { epochMs } from '../../core/clock.js';
import { CommandFailedError, runChecked, runCommand, type CommandOutcome } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { formatZodIssues } from '../../core/zod-text.js';
import { freezerFromCgroupFile, type FreezerPath } from './freezer.js';
import { ociConfig, type OciConfigInputs } from './oci-config.js';

/*
 * Containers run by Debian's runc directly (not through dockerd: `docker checkpoint` needs the daemon
 * in experimental mode, which would reconfigure the machine's Docker for everyone), checkpointed and
 * restored with isobench's own CRIU (runc's `--criu`).
 */

/** runc's own steps (create, state, delete) answer within a second here. */
export const RUNC_TIMEOUT_MS = 30_000;
/** A checkpoint or restore took about 0.2 s here; a loaded host gets a minute. */
export const CRIU_STEP_TIMEOUT_MS = 60_000;
/** What `runc delete` says when the container is already gone. */
export const CONTAINER_GONE = 'does not exist|not exist|container not found';

/** Where runc keeps its state and which CRIU it uses. */
export interface RuncSetup {
  /** runc's `--root`: isobench's own state directory, so `runc list` there lists only isobench's containers. */
  root: string;
  /** The CRIU binary runc calls (`--criu`). */
  criu: string;
}

/** A container that runs now. */
export interface RuncContainer {
  readonly name: string;
  readonly bundle: string;
  /** Its first process on the host. */
  readonly pid: number;
  /** Its cgroup freezer (for pauses of known length). */
  readonly freezer: FreezerPath;
  /** The commands that made it, for the results. */
  readonly commands: string[][];
  /** `runc delete --force` and its ledger entry. Idempotent. */
  remove(): Promise<void>;
}

/** What runc's `checkpoint` or `restore` did: its command, when it ran (epoch ms) and CRIU's log on failure. */
export interface CriuStep {
  command: string[];
  startedAtMs: number;
  endedAtMs: number;
  outcome: CommandOutcome;
  /** The `Error` lines of CRIU's log (dump.log / restore.log in the work directory) when it failed. */
  criuErrors: string[];
}

/**
 * Error lines CRIU logs and then carries on past: as root inside runc's rlimits it cannot raise its
 * own RLIMIT_NOFILE (criu/util.c), which every dump here logged, failed or not.
 */
const HARMLESS_CRIU_ERRORS = [/rlimit: Can't setup RLIMIT_NOFILE/];

/** The `Error (…)` lines of a CRIU log, in order, without their timestamps, leaving out the ones CRIU carries on past. */
export function criuLogErrors(log: string): string[] {
  return log
    .split('\n')
    .map((line) => line.replace(/^\(\s*[\d.]+\)\s*/, '').trim())
    .filter((line) => /^Error\b/.test(line) && !HARMLESS_CRIU_ERRORS.some((pattern) => pattern.test(line)));
}

/** `runc state`'s JSON, the fields isobench reads. */
export function parseRuncState(json: string): { pid: number; status: string } {
  const state = JSON.parse(json) as { pid?: unknown; status?: unknown };
  if (typeof state.pid !== 'number' || typeof state.status !== 'string') throw new Error(`runc state gave no pid and status: ${json.slice(0, 200)}`);
  return { pid: state.pid, status: state.status };
}

/**
 * One container as `runc list --format json` prints it (runc 1.1's `containerState`, list.go):
 * `pid` is the init process on the host (0 once stopped), `created` an RFC 3339 time, `status` one
 * of runc's states. Fields isobench does not read (`ociVersion`, `annotations`) are allowed, not kept.
 */
export const RuncListEntry = z.object({
  id: z.string().min(1),
  pid: z.number().int().nonnegative(),
  status: z.enum(['created', 'running', 'pausing', 'paused', 'stopped']),
  bundle: z.string(),
  rootfs: z.string(),
  created: z.string(),
  owner: z.string(),
});
/** A validated RuncListEntry. */
export type RuncListEntry = z.infer<typeof RuncListEntry>;

/** Longest piece of runc's output an error quotes, in characters. */
const QUOTE_LIMIT = 200;

function quote(text: string, limit = QUOTE_LIMIT): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return '(empty)';
  return line.length > limit ? `${line.slice(0, limit)}…` : line;
}

/**
 * Parses `runc --root R list --format json`: a JSON array of containers, or `null` when the root
 * holds none (runc 1.1 prints `null`, also for a root that does not exist; captured in
 * test/fixtures/criu/).
 * @throws Error `unexpected runc list output: …` quoting the text when it is not JSON or not a list,
 *   or naming the first field that does not match with the value found there
 *   (`1.status: … (found "exploded")`).
 */
export function parseRuncList(text: string): RuncListEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`unexpected runc list output: not JSON: ${quote(text)}`);
  }
  if (data === null) return [];
  if (!Array.isArray(data)) throw new Error(`unexpected runc list output: not a list of containers: ${quote(text)}`);
  const parsed = z.array(RuncListEntry).safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  let found: unknown = data;
  for (const key of issue?.path ?? []) found = found !== null && typeof found === 'object' ? (found as Record<PropertyKey, unknown>)[key] : undefined;
  throw new Error(`unexpected runc list output: ${formatZodIssues(parsed.error, 1)} (found ${found === undefined ? 'nothing' : quote(JSON.stringify(found), 80)})`);
}

/**
 * Writes the bundle's config.json and starts the container detached (`runc run --detach`),
 * registered for removal the moment runc made it.
 * @throws CommandFailedError when runc fails; Error when it is not running afterwards.
 */
export async function runContainer(setup: RuncSetup, name: string, bundle: string, config: OciConfigInputs, resources: ResourceRegistry): Promise<RuncContainer> {
  await writeBundle(bundle, config);
  const command = ['runc', '--root', setup.root, 'run', '--detach', '--bundle', bundle, name];
  const outcome = await runCommand(command, { timeoutMs: RUNC_TIMEOUT_MS });
  const remove = await registerContainer(setup, name, resources);
  if (!outcome.ok) {
    await remove();
    throw new CommandFailedError(outcome);
  }
  return describeRunning(setup, name, bundle, [command], remove);
}

/**
 * Checkpoints the container into `imageDir` (CRIU's images; the container is gone afterwards, as
 * stop-and-copy has it) with its established TCP connections. Never throws for CRIU's failure: the
 * step says what happened.
 */
export async function checkpointContainer(setup: RuncSetup, name: string, imageDir: string, workDir: string): Promise<CriuStep> {
  await mkdir(imageDir, { recursive: true });
  await mkdir(workDir, { recursive: true });
  const command = ['runc', '--root', setup.root, '--criu', setup.criu, 'checkpoint', '--image-path', imageDir, '--work-path', workDir, '--tcp-established', name];
  return criuStep(command, join(workDir, 'dump.log'));
}

/**
 * Restores a checkpoint as a new container `name` from `bundle` (whose config.json names the new
 * network namespace), detached, registered for removal as soon as runc made it.
 */
export async function restoreContainer(
  setup: RuncSetup,
  name: string,
  bundle: string,
  config: OciConfigInputs,
  imageDir: string,
  workDir: string,
  resources: ResourceRegistry,
): Promise<{ step: CriuStep; container: RuncContainer | null }> {
  await writeBundle(bundle, config);
  await mkdir(workDir, { recursive: true });
  const command = ['runc', '--root', setup.root, '--criu', setup.criu, 'restore', '--detach', '--image-path', imageDir, '--work-path', workDir, '--tcp-established', '--bundle', bundle, name];
  const step = await criuStep(command, join(workDir, 'restore.log'));
  const remove = await registerContainer(setup, name, resources);
  if (!step.outcome.ok) {
    await remove();
    return { step, container: null };
  }
  return { step, container: await describeRunning(setup, name, bundle, [command], remove) };
}

async function writeBundle(bundle: string, config: OciConfigInputs): Promise<void> {
  await mkdir(bundle, { recursive: true });
  await writeFile(join(bundle, 'config.json'), `${JSON.stringify(ociConfig(config), null, 1)}\n`);
}

async function criuStep(command: string[], log: string): Promise<CriuStep> {
  const startedAtMs = epochMs();
  const outcome = await runCommand(command, { timeoutMs: CRIU_STEP_TIMEOUT_MS });
  const endedAtMs = epochMs();
  const criuErrors = outcome.ok ? [] : criuLogErrors(await readFile(log, 'utf8').catch(() => ''));
  return { command, startedAtMs, endedAtMs, outcome, criuErrors };
}

async function registerContainer(setup: RuncSetup, name: string, resources: ResourceRegistry): Promise<() => Promise<void>> {
  const id = await resources.register(`runc container ${name}`, {
    kind: 'command',
    command: ['runc', '--root', setup.root, 'delete', '--force', name],
    ignoreFailure: CONTAINER_GONE,
  });
  let removed = false;
  return async () => {
    if (removed) return;
    removed = true;
    await resources.undo(id);
  };
}

async function describeRunning(setup: RuncSetup, name: string, bundle: string, commands: string[][], remove: () => Promise<void>): Promise<RuncContainer> {
  try {
    const state = parseRuncState((await runChecked(['runc', '--root', setup.root, 'state', name], { timeoutMs: RUNC_TIMEOUT_MS })).stdout);
    if (state.status !== 'running') throw new Error(`runc container ${name} is ${state.status}, not running`);
    const freezer = freezerFromCgroupFile(await readFile(`/proc/${state.pid}/cgroup`, 'utf8'));
    if (!freezer) throw new Error(`runc container ${name} (pid ${state.pid}) has no cgroup freezer`);
    return { name, bundle, pid: state.pid, freezer, commands, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
