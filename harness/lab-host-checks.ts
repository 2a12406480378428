/**
 * What both kinds of lab run (load between `--server` and `--client`, harness/lab.ts; a migration
 * between `--source` and `--dest`, harness/lab-migration.ts) ask of their hosts before anything is
 * made, and how they tell a lost host: one wording of every refusal, whichever run meets it.
 */
import type { CommandOutcome } from '../core/exec.js';
import { errorMessage, IsobenchError, UsageError } from '../core/errors.js';
import type { Host, HostSet } from '../hosts/host.js';
import type { InventoryHost } from '../hosts/inventory.js';

/** ms allowed for one check command on a host (`command -v` of the tools, `getconf`, `test -d`). */
const CHECK_TIMEOUT_MS = 30_000;
/** ms allowed for `true` on a host when telling whether it still answers. */
const ANSWER_TIMEOUT_MS = 20_000;

/**
 * Runs `check` on every host at once and waits for all of them: a lab with two hosts down names
 * both (a newcomer's check: only the first to fail was named).
 * @throws The one failure as it is; several as one IsobenchError, `host a: …; host b: …`, with the
 *   first's exit code (2 when it is a refusal the user can fix); a failure that is not an
 *   IsobenchError (a bug) as it is.
 */
export async function checkEveryHost<T>(items: readonly T[], check: (item: T) => Promise<void>): Promise<void> {
  const failures = (await Promise.allSettled(items.map(check))).flatMap((settled) => (settled.status === 'rejected' ? [settled.reason as unknown] : []));
  if (failures.length === 0) return;
  const bug = failures.find((failure) => !(failure instanceof IsobenchError));
  if (failures.length === 1 || bug !== undefined) throw bug ?? failures[0];
  const first = failures[0] as IsobenchError;
  throw new IsobenchError(failures.map(errorMessage).join('; '), { exitCode: first.exitCode, cause: first });
}

/** A program a lab host must have, and the Debian package that brings it (for the refusal's advice). */
export interface HostTool {
  command: string;
  debianPackage: string;
}

/**
 * Asks a host for its tools with one shell (`command -v` each; the script is a constant, the names
 * its arguments).
 * @param role Names the host's part in the refusal, e.g. `server`, `migration source`.
 * @throws UsageError `host NAME (ROLE) lacks A, B: install P Q there (isobench installs nothing on
 *   lab hosts)`, or naming the host when the check itself failed; HostError when it does not answer.
 */
export async function checkHostTools(host: Host, entry: InventoryHost, role: string, tools: readonly HostTool[]): Promise<void> {
  const outcome = await host.run(['sh', '-c', 'for t; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done', 'sh', ...tools.map((tool) => tool.command)], { timeoutMs: CHECK_TIMEOUT_MS });
  if (!outcome.ok) throw new UsageError(`host ${entry.name}: checking its tools failed (exit ${outcome.exitCode ?? outcome.signal}): ${outcome.stderr.trim().split('\n').pop() ?? ''}`);
  const missing = outcome.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  if (missing.length === 0) return;
  const packages = tools.filter((tool) => missing.includes(tool.command)).map((tool) => tool.debianPackage);
  throw new UsageError(`host ${entry.name} (${role}) lacks ${missing.join(', ')}: install ${[...new Set(packages)].join(' ')} there (isobench installs nothing on lab hosts)`);
}

/**
 * That a host has the inventory's bridge (`ip link show dev`) and directories (`test -d` and `-w`).
 * @throws UsageError naming the host, the field and its value; HostError when the host does not answer.
 */
export async function checkHostPaths(host: Host, entry: InventoryHost, items: ReadonlyArray<readonly ['bridge' | 'shared-dir' | 'data-dir', string]>): Promise<void> {
  for (const [field, value] of items) {
    const command = field === 'bridge' ? ['ip', 'link', 'show', 'dev', value] : ['sh', '-c', 'test -d "$1" && test -w "$1"', 'sh', value];
    const outcome = await host.run(command, { timeoutMs: CHECK_TIMEOUT_MS });
    if (!outcome.ok) throw new UsageError(`host ${entry.name} has no ${field === 'bridge' ? 'link' : 'writable directory'} ${value} (its ${field} in the inventory)${field === 'bridge' ? ': create the bridge on its lab link, or name the one it has' : ': create it (and mount the shared storage there), or name the one it has'}`);
  }
}

/**
 * The core count `getconf _NPROCESSORS_ONLN` printed on a host (its online CPUs, as
 * lab-host-facts.ts's `cores` reads them).
 * @throws Error naming the host when the command failed or printed anything but a positive whole number.
 */
export function parseOnlineCores(hostName: string, outcome: Pick<CommandOutcome, 'ok' | 'stdout' | 'stderr'>): number {
  const text = outcome.stdout.trim();
  const cores = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!outcome.ok || !(cores > 0)) throw new Error(`host ${hostName}: getconf _NPROCESSORS_ONLN ${outcome.ok ? `printed "${text.slice(0, 80)}"` : `failed: ${outcome.stderr.trim().split('\n').pop() ?? ''}`}, not a core count`);
  return cores;
}

/**
 * A host's online cores, read over its connection (what fio's numjobs and mysql's full sweep scale to).
 * @throws Error naming the host (parseOnlineCores); HostError when it does not answer.
 */
export async function readOnlineCores(host: Host, entry: InventoryHost): Promise<number> {
  return parseOnlineCores(entry.name, await host.run(['getconf', '_NPROCESSORS_ONLN'], { timeoutMs: CHECK_TIMEOUT_MS }));
}

/**
 * CPU-cost metrics of results/metrics.ts (`cpu_ns_per_byte…`, `cpu_us_per_tx…`, `cpu_busy_percent…`,
 * `cycles_per_byte`, `est_cycles_per_byte`): in a lab run, unless they name one of its measured hosts
 * (`cpu_ns_per_byte_host sut`), they would be this machine's /proc/stat or perf, which describes no host of the run.
 */
export function isCpuMetric(name: string): boolean {
  return /^(cpu_|cycles_|est_cycles_)/.test(name);
}

/**
 * The first of a run's hosts that no longer answers (`true` within 20 s), as one line naming it.
 * @returns `host NAME: why`, or null when every host answers.
 */
export async function firstLostHost(hosts: HostSet, used: readonly InventoryHost[]): Promise<string | null> {
  for (const entry of used) {
    const failure = await hosts.get(entry.name).run(['true'], { timeoutMs: ANSWER_TIMEOUT_MS }).then(() => null, (error: unknown) => errorMessage(error));
    if (failure !== null) return failure.startsWith(`host ${entry.name}`) ? failure : `host ${entry.name}: ${failure}`;
  }
  return null;
}
