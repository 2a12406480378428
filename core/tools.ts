import { access, constants, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { MissingToolError, UsageError } from './errors.js';
import { runChecked } from './exec.js';

/** A host program isobench runs, the Debian package that provides it, and why it is needed (shown when installing). */
export interface ToolRequirement {
  /**
   * The executable looked up on PATH, e.g. `fio`; or, for a package without one (a `-dev` package),
   * the absolute path of a file it installs, e.g. `/usr/include/uuid/uuid.h`, which must exist.
   */
  command: string;
  /** The Debian package `apt-get install` takes, e.g. `fio`. */
  debianPackage: string;
  /** Completes "needed …", e.g. `to run the random-io suite`. */
  why: string;
  /**
   * The package's maintainer scripts would start a system service that isobench must not run
   * (mariadb-server starts the machine's own MariaDB on 127.0.0.1:3306): it is installed with
   * service starts denied (withServiceStartsDenied). isobench starts its own server where it needs one.
   */
  startsService?: boolean;
  /**
   * Which side of a run executes it: `client` (sysbench, the load generator) or `target` (fio,
   * mariadbd: inside the target, on the host for native); absent, both (iperf3, sockperf). Single-host
   * mode installs every tool here regardless; lab mode checks each host for its side's only.
   */
  side?: 'client' | 'target';
}

/** Debian's hook that invoke-rc.d and deb-systemd-invoke ask before starting a service (policy-rc.d(8)). */
export const POLICY_RC_D = '/usr/sbin/policy-rc.d';
/** What isobench puts there while it installs: exit 101, "action forbidden by policy". */
export const DENY_ALL_POLICY = '#!/bin/sh\n# Written by isobench while apt-get installs packages whose services it must not start; removed afterwards.\nexit 101\n';

/**
 * Runs `work` (an apt-get install) with every service start denied: writes POLICY_RC_D (exit 101)
 * and removes it afterwards, success or not. A policy the host already has is left alone and decides.
 * @param path The hook's path; POLICY_RC_D unless a test says otherwise.
 * @throws whatever `work` throws, or the file system's error writing the hook.
 */
export async function withServiceStartsDenied<T>(work: () => Promise<T>, path: string = POLICY_RC_D): Promise<T> {
  const existing = await access(path).then(() => true, () => false);
  if (existing) return work();
  await writeFile(path, DENY_ALL_POLICY, { mode: 0o755 });
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}

/**
 * Whether the hook at `path` is the one withServiceStartsDenied writes, byte for byte: a run killed
 * mid-install leaves it, and it would deny every service start on the machine from then on. Only
 * this text may be removed by `cleanup`; a hook the administrator wrote is never isobench's.
 * @returns false when the file is absent, unreadable or anything else.
 */
export async function isIsobenchPolicy(path: string = POLICY_RC_D): Promise<boolean> {
  return (await readFile(path, 'utf8').catch(() => null)) === DENY_ALL_POLICY;
}

/** Deadline of each `apt-get update` and `apt-get install` run, in ms (15 min). */
export const APT_TIMEOUT_MS = 15 * 60_000;

/**
 * Searched after PATH even when PATH lacks them: debootstrap, mkfs.ext4 and dockerd live in the sbin
 * directories, and a non-login root shell (or a test runner) often has a PATH without them.
 */
const SYSTEM_DIRECTORIES = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Where a program would run from (an absolute path when PATH's entries are), or null: the search the
 * shell does, without a shell, then the system directories.
 * @param searchPath A PATH-style list; default `process.env.PATH`.
 */
export async function findExecutable(command: string, searchPath: string = process.env.PATH ?? ''): Promise<string | null> {
  const directories = new Set([...searchPath.split(delimiter), ...SYSTEM_DIRECTORIES].filter(Boolean));
  for (const directory of directories) {
    const candidate = join(directory, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return null;
}

/** An absolute path names a file a package installs (a header): it must exist; a bare name is looked up on PATH. */
async function defaultFind(command: string): Promise<string | null> {
  if (!isAbsolute(command)) return findExecutable(command);
  return access(command, constants.F_OK).then(() => command, () => null);
}

/**
 * The requirements whose command is not found, in the given order.
 * @param find Where a command would run from, or null; default findExecutable.
 */
export async function missingTools(
  requirements: readonly ToolRequirement[],
  find: (command: string) => Promise<string | null> = defaultFind,
): Promise<ToolRequirement[]> {
  const missing: ToolRequirement[] = [];
  for (const requirement of requirements) {
    if (!(await find(requirement.command))) missing.push(requirement);
  }
  return missing;
}

/** How ensureTools may act; the defaults are what `npm run bench` does. */
export interface EnsureToolsOptions {
  /**
   * Whether it may install at all (default: when running as root with apt-get on PATH). False
   * turns a missing tool straight into its MissingToolError: the test seam for "a missing tool".
   */
  install?: boolean;
  /** Runs a command to completion or throws (default runChecked); the seam for apt-get in tests. */
  run?: (command: readonly string[]) => Promise<unknown>;
  /** Where a command would run from, or null (default findExecutable); the seam for "a missing tool". */
  findExecutable?: (command: string) => Promise<string | null>;
  /**
   * The run's earlier installs (see {@link InstallSession}): a package already announced is not
   * announced again, and an install that already failed is not tried again. Default: none.
   */
  session?: InstallSession;
}

/**
 * What one run's installs have said and where they failed. A run installs in several steps when an
 * install fails (the default matrix then tries the suites' tools and each target's alone, to leave
 * out only the target whose package fails), and two targets often need the same package (docker.io
 * for docker-host and docker-nat, the image builder's for every image target): each package is
 * announced once a run, and a failed install is not run again for the next target that needs it.
 */
export class InstallSession {
  private readonly announced = new Set<string>();
  /** Package sets whose `apt-get install` failed, with the refusal that said so. */
  private readonly failures: Array<{ packages: ReadonlySet<string>; error: Error }> = [];

  /** The packages not announced yet in this run; from now on they count as announced. */
  announce(packages: readonly string[]): Set<string> {
    const fresh = new Set(packages.filter((name) => !this.announced.has(name)));
    for (const name of fresh) this.announced.add(name);
    return fresh;
  }

  /**
   * The refusal of an earlier install of some of these packages, or null. apt-get installs all or
   * nothing, so installing a superset of packages that failed together fails again.
   */
  failureFor(packages: readonly string[]): Error | null {
    const wanted = new Set(packages);
    return this.failures.find((failure) => [...failure.packages].every((name) => wanted.has(name)))?.error ?? null;
  }

  /** Records that installing `packages` failed with `error`. */
  recordFailure(packages: readonly string[], error: Error): void {
    this.failures.push({ packages: new Set(packages), error });
  }
}

/**
 * `apt-get update` ran in this process already: one run installs in several steps (the suites' and
 * named targets' tools, then each optional target's), and the package lists do not change between them.
 */
let aptUpdated = false;

/**
 * One line per Debian package, however many requirements name it: `installing iperf3: iperf3 is
 * needed for the tcp-bulk suite and as the service the startup suite waits for`. Commands of one
 * package are joined with `; `, each with its reasons joined by ` and `.
 */
export function installLines(missing: readonly ToolRequirement[]): string[] {
  const byPackage = new Map<string, Map<string, string[]>>();
  for (const { command, debianPackage, why } of missing) {
    const commands = byPackage.get(debianPackage) ?? new Map<string, string[]>();
    byPackage.set(debianPackage, commands);
    const reasons = commands.get(command) ?? [];
    if (!reasons.includes(why)) reasons.push(why);
    commands.set(command, reasons);
  }
  return [...byPackage].map(([debianPackage, commands]) =>
    `installing ${debianPackage}: ${[...commands].map(([command, reasons]) => `${command} is needed ${reasons.join(' and ')}`).join('; ')}`);
}

/**
 * Installs what is missing with apt-get, saying what and why (one line per package, once per
 * `session`); without root or apt-get it stops with an error that names the package to install.
 * `apt-get update` runs once per process, before the first install. When a missing requirement is
 * marked `startsService`, the install runs with service starts denied (withServiceStartsDenied).
 * @param log Receives one installLines line per missing package.
 * @throws MissingToolError (exit 2) for the first missing tool when it cannot install, or when a tool
 *   is still missing after installing; UsageError (exit 2) when apt-get fails (the message quotes
 *   apt-get's last line: no network, a package this release lacks), or, with a `session`, the same
 *   UsageError again, without running apt-get, when an install of some of these packages failed before.
 */
export async function ensureTools(requirements: readonly ToolRequirement[], log: (line: string) => void, options: EnsureToolsOptions = {}): Promise<void> {
  const find = options.findExecutable ?? defaultFind;
  const missing = await missingTools(requirements, find);
  if (missing.length === 0) return;
  const canInstall = options.install ?? (process.getuid?.() === 0 && (await findExecutable('apt-get')) !== null);
  if (!canInstall) {
    const first = missing[0]!;
    throw new MissingToolError(first.command, first.debianPackage, first.why);
  }
  const packages = [...new Set(missing.map((requirement) => requirement.debianPackage))];
  const session = options.session;
  const failed = session?.failureFor(packages);
  if (failed) throw failed;
  const fresh = session ? session.announce(packages) : new Set(packages);
  for (const line of installLines(missing.filter((requirement) => fresh.has(requirement.debianPackage)))) log(line);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const run = options.run ?? ((command: readonly string[]) => runChecked(command, { timeoutMs: APT_TIMEOUT_MS, env }));
  try {
    if (!aptUpdated) await run(['apt-get', 'update', '-qq']);
    aptUpdated = true;
    const install = () => run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]);
    if (missing.some((requirement) => requirement.startsService)) await withServiceStartsDenied(install);
    else await install();
  } catch (error) {
    const first = missing[0]!;
    // One line: apt-get's own last words say why (no network, a package this release lacks).
    const detail = (error instanceof Error ? error.message : String(error)).split('\n').at(-1)!.slice(0, 300);
    const refusal = new UsageError(`${first.command} is missing (needed ${first.why}) and \`apt-get install ${packages.join(' ')}\` failed (${detail}): install it by hand, then run again`, { cause: error });
    session?.recordFailure(packages, refusal);
    throw refusal;
  }
  const still = await missingTools(missing, find);
  if (still.length > 0) {
    const first = still[0]!;
    throw new MissingToolError(first.command, first.debianPackage, first.why);
  }
}
