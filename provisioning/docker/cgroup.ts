import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The container's own CPU time, from its cgroup: cgroup v1 `cpuacct.usage` (nanoseconds), cgroup v2
 * `cpu.stat` `usage_usec`. The cgroup is found from the container's init process, so it works for any
 * cgroup driver or parent, and for processes `docker exec` adds (they join the same cgroup).
 */
export interface CpuAccounting {
  version: 1 | 2;
  file: string;
  /** How the number is obtained, for the results file. */
  method: string;
}

/** One line of `/proc/PID/cgroup` (cgroups(7)). */
export interface ProcCgroupLine {
  /** The hierarchy ID; 0 on the cgroup v2 line. */
  hierarchy: number;
  /** The v1 controllers bound to the hierarchy (`cpu`, `cpuacct`, or `name=systemd`); empty on the v2 line. */
  controllers: string[];
  /** The process's cgroup, relative to the hierarchy's root. */
  path: string;
}

/**
 * `/proc/PID/cgroup`: `hierarchy-ID:controller-list:path` per line; v2's line is `0::path`.
 * @throws Error on a non-empty line without two colons.
 */
export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const lines: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) throw new Error(`unexpected line in /proc/PID/cgroup: ${line}`);
    lines.push({
      hierarchy: Number(line.slice(0, first)),
      controllers: line.slice(first + 1, second).split(',').filter(Boolean),
      path: line.slice(second + 1),
    });
  }
  return lines;
}

/** A `cgroup` (v1) or `cgroup2` mount, from `/proc/self/mountinfo` (field layout in proc(5)). */
export interface CgroupMount {
  /** Where it is mounted, octal escapes (`\040`) undone. */
  mountPoint: string;
  /** The path inside the hierarchy that is mounted (usually `/`). */
  root: string;
  fsType: 'cgroup' | 'cgroup2';
  /** The super options; on a v1 mount they name its controllers (`rw,cpu,cpuacct`). */
  superOptions: string[];
}

/** The cgroup mounts of `/proc/self/mountinfo` (fields: id parent dev root mountpoint opts … - fstype source superopts). */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    const fsType = after[0];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({
      root: unescapeMountField(before[3] ?? '/'),
      mountPoint: unescapeMountField(before[4] ?? ''),
      fsType,
      superOptions: (after[2] ?? '').split(','),
    });
  }
  return mounts;
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function relativeTo(root: string, path: string): string | null {
  if (root === '/') return path;
  if (path === root) return '/';
  return path.startsWith(`${root}/`) ? path.slice(root.length) : null;
}

/**
 * Where a process's CPU time is accounted. `prefer` is Docker's CgroupVersion: on a hybrid host
 * (v1 controllers plus an empty v2 hierarchy, like this one) v1's cpuacct is the one Docker manages.
 *
 * @param procCgroup The text of the process's `/proc/PID/cgroup`.
 * @param mountinfo The text of `/proc/self/mountinfo`.
 * @param prefer `CgroupVersion` as the daemon's `GET /info` reports it (DaemonInfo.cgroupVersion):
 *   `'2'` tries v2 first; any other value (`'1'`, or `'unknown'` when the daemon does not say) tries v1 first.
 * @returns null when neither a v1 `cpuacct` hierarchy nor a v2 hierarchy holds the process.
 */
export function resolveCpuAccounting(procCgroup: string, mountinfo: string, prefer: string): CpuAccounting | null {
  const lines = parseProcCgroup(procCgroup);
  const mounts = parseCgroupMounts(mountinfo);
  const v1 = (): CpuAccounting | null => {
    const line = lines.find((candidate) => candidate.controllers.includes('cpuacct'));
    const mount = mounts.find((candidate) => candidate.fsType === 'cgroup' && candidate.superOptions.includes('cpuacct'));
    const path = line && mount ? relativeTo(mount.root, line.path) : null;
    if (!mount || path === null) return null;
    return { version: 1, file: join(mount.mountPoint, path, 'cpuacct.usage'), method: 'cgroup v1 cpuacct.usage' };
  };
  const v2 = (): CpuAccounting | null => {
    const line = lines.find((candidate) => candidate.hierarchy === 0 && candidate.controllers.length === 0);
    const mount = mounts.find((candidate) => candidate.fsType === 'cgroup2');
    const path = line && mount ? relativeTo(mount.root, line.path) : null;
    if (!mount || path === null) return null;
    return { version: 2, file: join(mount.mountPoint, path, 'cpu.stat'), method: 'cgroup v2 cpu.stat usage_usec' };
  };
  return prefer === '2' ? (v2() ?? v1()) : (v1() ?? v2());
}

/**
 * cgroup v1 `cpuacct.usage`: one integer, nanoseconds (user plus system). Returns seconds.
 * @throws Error when the file holds anything but one integer.
 */
export function parseCpuacctUsage(text: string): number {
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isFinite(value)) throw new Error(`cpuacct.usage holds "${text.trim()}", not a number of nanoseconds`);
  return value / 1e9;
}

/**
 * cgroup v2 `cpu.stat`: `usage_usec N` (microseconds, user plus system) among other keys. Returns seconds.
 * @throws Error when there is no `usage_usec` line.
 */
export function parseCpuStat(text: string): number {
  const match = /^usage_usec (\d+)$/m.exec(text);
  if (!match) throw new Error('cpu.stat has no usage_usec line');
  return Number(match[1]) / 1e6;
}

/**
 * The CPU seconds the cgroup has used so far (all its processes, user plus system); a counter, so
 * callers take differences.
 * @throws the read error when the file is gone (the container was removed), or the parser's Error.
 */
export async function readCpuSeconds(accounting: CpuAccounting): Promise<number> {
  const text = await readFile(accounting.file, 'utf8');
  return accounting.version === 1 ? parseCpuacctUsage(text) : parseCpuStat(text);
}

/**
 * The accounting of a running process (the container's init), checked by reading it once.
 * @param cgroupVersion Docker's `CgroupVersion`, passed to resolveCpuAccounting as `prefer`.
 * @throws Error when no cpuacct (v1) or cgroup2 hierarchy holds the process, or its file cannot be read.
 */
export async function cpuAccountingOf(pid: number, cgroupVersion: string): Promise<CpuAccounting> {
  const procCgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8');
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const accounting = resolveCpuAccounting(procCgroup, mountinfo, cgroupVersion);
  if (!accounting) throw new Error(`no cpuacct (v1) or cgroup2 hierarchy holds process ${pid}`);
  await readCpuSeconds(accounting);
  return accounting;
}
