import { readFile } from 'node:fs/promises';
import { runCommand } from '../core/exec.js';
import { allProcessStats, type ProcessStat } from '../core/proc.js';
import { existingRunDirectories, runDirectoryPrefix } from '../core/ledger.js';
import { isIsobenchPolicy, POLICY_RC_D } from '../core/tools.js';
import { mountPointsUnder } from './image/tree-removal.js';
import { networkLeftovers } from './network-leftovers.js';
import { NETNS_PREFIX } from './topology.js';
import { DRIVERS } from './targets/index.js';
import type { Leftover, LeftoverScanner } from './types.js';

/**
 * The path prefix of every run directory with the default state directory (core/ledger.ts's
 * runDirectoryPrefix(), which the scanners read when they run: it follows `ISOBENCH_STATE_DIR`).
 */
export const RUN_DIRECTORY_PREFIX = '/var/tmp/isobench-run-';

/** How processLeftovers sees the host; the defaults read it, tests pass fakes. */
export interface ProcessSeams {
  /** Every process's stat. */
  processes?: () => Promise<ProcessStat[]>;
  /** A process's argv, or [] when it is gone. */
  argv?: (pid: number) => Promise<string[]>;
  /** Names of network namespaces (`ip netns list`). */
  namespaces?: () => Promise<string[]>;
  /** Pids inside a named namespace (`ip netns pids NAME`). */
  pidsIn?: (namespace: string) => Promise<number[]>;
}

async function namespaceNames(): Promise<string[]> {
  const outcome = await runCommand(['ip', '-j', 'netns', 'list'], { timeoutMs: 10_000 });
  const text = outcome.ok ? outcome.stdout.trim() : '';
  return text ? (JSON.parse(text) as Array<{ name: string }>).map((entry) => entry.name) : [];
}

async function pidsInNamespace(namespace: string): Promise<number[]> {
  const outcome = await runCommand(['ip', 'netns', 'pids', namespace], { timeoutMs: 10_000 });
  return outcome.ok ? outcome.stdout.split(/\s+/).filter((word) => /^\d+$/.test(word)).map(Number) : [];
}

async function processArgv(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
}

/**
 * Processes a crashed run orphaned that no ledger names: the trial's tools in the client namespace
 * (`ip netns exec isobench-client sockperf …`: they outlive `ip netns delete`, which only drops the
 * name, and keep the namespace alive unseen) and any process whose command line names a run
 * directory (a native fio on its file, a MariaDB on its data; QEMU excepted, see kvmLeftovers). `cleanup` ends them before it replays
 * the ledgers, while the namespace still has its name. This process and its ancestors are spared.
 */
export function processLeftovers(seams: ProcessSeams = {}): LeftoverScanner {
  return {
    name: 'processes',
    async find(): Promise<Leftover[]> {
      const table = await (seams.processes ?? allProcessStats)();
      const byPid = new Map(table.map((stat) => [stat.pid, stat]));
      const spared = new Set<number>();
      for (let pid: number | undefined = process.pid; pid !== undefined && pid > 0 && !spared.has(pid); pid = byPid.get(pid)?.ppid) spared.add(pid);
      const found = new Map<number, string>();
      const runDirectories = runDirectoryPrefix();
      for (const namespace of (await (seams.namespaces ?? namespaceNames)()).filter((name) => name.startsWith(NETNS_PREFIX))) {
        for (const pid of await (seams.pidsIn ?? pidsInNamespace)(namespace)) found.set(pid, `in network namespace ${namespace}`);
      }
      for (const stat of table) {
        if (found.has(stat.pid) || stat.state === 'Z') continue;
        // QEMU is left to the ledger and the kvm scanner: a libvirt guest's must go through libvirt.
        if (stat.comm.startsWith('qemu-system')) continue;
        if ((await (seams.argv ?? processArgv)(stat.pid)).some((word) => word.includes(runDirectories))) found.set(stat.pid, 'using a run directory');
      }
      return [...found].filter(([pid]) => !spared.has(pid) && byPid.get(pid)?.state !== 'Z').map(([pid, where]) => {
        const stat = byPid.get(pid);
        return { description: `process ${stat?.comm ?? '?'} (pid ${pid}) ${where}`, undo: { kind: 'process', pid, startTicks: stat?.startTime ?? null } };
      });
    },
  };
}

/** Package tools whose run means an install is under way: the hook is then still in use. */
const INSTALLERS = new Set(['apt-get', 'apt', 'dpkg']);

/**
 * Debian's policy-rc.d hook that isobench writes while apt installs services (core/tools.ts),
 * left behind when a run is killed mid-install. Found only when it holds isobench's exact text and
 * no apt-get or dpkg runs (an install under way, isobench's or not, still needs it).
 * @param path The hook; POLICY_RC_D unless a test says otherwise.
 * @param installerRunning Whether an install is under way; default: an apt-get, apt or dpkg process exists.
 */
export function servicePolicyLeftovers(
  path: string = POLICY_RC_D,
  installerRunning: () => Promise<boolean> = async () => (await allProcessStats()).some((stat) => INSTALLERS.has(stat.comm)),
): LeftoverScanner {
  return {
    name: 'service policy',
    async find(): Promise<Leftover[]> {
      if (!(await isIsobenchPolicy(path)) || (await installerRunning())) return [];
      return [{ description: `service-start policy ${path} (isobench's, left by a run killed while apt-get installed)`, undo: { kind: 'path', path } }];
    },
  };
}

/**
 * Run directories (`/var/tmp/isobench-run-*`) that no ledger removed: a run killed between its
 * `mkdtemp` and the ledger entry that names the directory leaves one no ledger knows. `cleanup`
 * holds the run lock while it scans, and every run (and `calibrate`) makes its directory under that
 * lock, beside the state directory that holds it (runDirectoryPrefix), so none of these belongs to a
 * live run; cleanup scans them after the ledgers, which remove every directory they name.
 * @param prefix The directories' path prefix; runDirectoryPrefix() when the scan runs unless a test says otherwise.
 * @param mountinfo The text of /proc/self/mountinfo (read by default), parsed by mountPointsUnder.
 */
export function runDirectoryLeftovers(prefix?: string, mountinfo: () => Promise<string> = () => readFile('/proc/self/mountinfo', 'utf8').catch(() => '')): LeftoverScanner {
  return {
    name: 'run directories',
    async find(): Promise<Leftover[]> {
      const directories = await existingRunDirectories(prefix);
      const mounts = await mountinfo();
      return directories
        // A mount inside (an overlay whose ledger entry failed to unmount it) is not removed through:
        // a recursive delete would cross into it.
        .filter((path) => mountPointsUnder(mounts, path).length === 0)
        .map((path) => ({ description: `run directory ${path} (no ledger named it)`, undo: { kind: 'path', path } }));
    },
  };
}

/**
 * Every kind of resource `cleanup` looks for beyond the ledgers: orphaned processes first (cleanup
 * also runs that one before the ledgers), the test network every run builds,
 * then each registered driver's own scanner (drivers may share one: both Docker drivers do), then
 * the service-start policy of an interrupted install, then run directories no ledger named (last:
 * the drivers' scanners may still need files inside them).
 */
export const LEFTOVER_SCANNERS: readonly LeftoverScanner[] = [
  processLeftovers(),
  ...new Set([...DRIVERS.flatMap((driver) => (driver.leftovers ? [driver.leftovers] : [])), networkLeftovers]),
  servicePolicyLeftovers(),
  runDirectoryLeftovers(),
];
