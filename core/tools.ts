import { access, constants, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { MissingToolError } from './errors.js';
import { runChecked } from './exec.js';

/** A host program isobench runs, the Debian package that provides it, and why it is needed (shown when installing). */
export interface ToolRequirement {
  /** The executable looked up on PATH, e.g. `fio`. */
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

/** The requirements whose command findExecutable does not find, in the given order. */
export async function missingTools(requirements: readonly ToolRequirement[]): Promise<ToolRequirement[]> {
  const missing: ToolRequirement[] = [];
  for (const requirement of requirements) {
    if (!(await findExecutable(requirement.command))) missing.push(requirement);
  }
  return missing;
}

/**
 * Installs what is missing with apt-get, saying what and why; without root or apt-get it stops
 * with an error that names the package to install. When a missing requirement is marked
 * `startsService`, the install runs with service starts denied (withServiceStartsDenied).
 * @param log Receives one `installing PACKAGE: COMMAND is needed WHY` line per missing tool.
 * @throws MissingToolError (exit 2) for the first missing tool when it cannot install, or when a
 *   tool is still missing after installing; CommandFailedError when apt-get fails.
 */
export async function ensureTools(requirements: readonly ToolRequirement[], log: (line: string) => void): Promise<void> {
  const missing = await missingTools(requirements);
  if (missing.length === 0) return;
  const canInstall = process.getuid?.() === 0 && (await findExecutable('apt-get')) !== null;
  if (!canInstall) {
    const first = missing[0]!;
    throw new MissingToolError(first.command, first.debianPackage, first.why);
  }
  const packages = [...new Set(missing.map((requirement) => requirement.debianPackage))];
  for (const requirement of missing) log(`installing ${requirement.debianPackage}: ${requirement.command} is needed ${requirement.why}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await runChecked(['apt-get', 'update', '-qq'], { timeoutMs: APT_TIMEOUT_MS, env });
  const install = () => runChecked(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages], { timeoutMs: APT_TIMEOUT_MS, env });
  if (missing.some((requirement) => requirement.startsService)) await withServiceStartsDenied(install);
  else await install();
  const still = await missingTools(missing);
  if (still.length > 0) {
    const first = still[0]!;
    throw new MissingToolError(first.command, first.debianPackage, first.why);
  }
}
