import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackground, type BackgroundProcess } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { pollUntil } from '../../core/poll.js';
import { processStartTicks } from '../../core/proc.js';
import type { Leftover } from '../types.js';
import { isobenchDomains, LIBVIRT_DOMAIN_GONE, libvirtdStatus } from './libvirt.js';

/*
 * A second libvirtd on this host, the destination of a libvirt live migration when there is only one
 * host. libvirt refuses a migration whose destination has the source's hostname or host UUID
 * ("Attempt to migrate guest to the same host"), and two daemons on one set of state directories
 * would overwrite each other's domain status files, pid files and agent sockets (same domain name).
 * So the second daemon runs in its own mount and UTS namespaces (`unshare --mount --uts`), with its
 * own hostname, `host_uuid`, and its own /etc/libvirt, /run/libvirt, /var/lib/libvirt,
 * /var/cache/libvirt and /var/log/libvirt bind-mounted from one directory. It shares the network
 * namespace, so a guest that moves to it keeps its bridge and address.
 */

/** Where second daemons' directories live; `cleanup` finds leftovers by SECOND_LIBVIRTD_PREFIX here. */
export const SECOND_LIBVIRTD_PARENT = '/var/tmp';
/** `<SECOND_LIBVIRTD_PARENT>/isobench-libvirtd-XXXXXX`: one daemon's config, state and sockets. */
export const SECOND_LIBVIRTD_PREFIX = 'isobench-libvirtd-';
/** The state directories the system libvirtd uses (Debian 12, libvirt 9.0), each replaced by a private copy. */
const PRIVATE_DIRECTORIES = { etc: '/etc/libvirt', run: '/run/libvirt', lib: '/var/lib/libvirt', cache: '/var/cache/libvirt', log: '/var/log/libvirt' } as const;
/** libvirtd probes QEMU's capabilities on its first start (about 3 s here under load; 60 s is ample). */
const READY_TIMEOUT_MS = 60_000;
/** SIGTERM, then this long before SIGKILL: libvirtd saves its state on the way out. */
const STOP_GRACE_MS = 10_000;

/**
 * Runs in the new namespaces: bind the private directories, set the hostname, become libvirtd.
 * The paths arrive as positional arguments ($1 …), never spliced into the script.
 */
const NAMESPACE_SCRIPT = [
  'set -eu',
  'dir=$1; host=$2',
  ...Object.entries(PRIVATE_DIRECTORIES).map(([key, path]) => `mkdir -p ${path} && mount --bind "$dir/${key}" ${path}`),
  'hostname "$host"',
  'exec libvirtd --config "$dir/etc/libvirtd.conf" --pid-file "$dir/run/isobench-libvirtd.pid"',
].join('\n');

/**
 * libvirtd.conf of the second daemon: its own host UUID (libvirt compares it with the source's), no
 * TCP listener, the admin and read-write sockets under its own /run/libvirt.
 */
export function secondDaemonConfig(hostUuid: string): string {
  return [`host_uuid = "${hostUuid}"`, 'listen_tcp = 0', 'listen_tls = 0', 'unix_sock_group = "root"', 'unix_sock_rw_perms = "0700"', 'log_outputs = "3:stderr"', ''].join('\n');
}

/**
 * qemu.conf of the second daemon. `stdio_handler = "file"`: no virtlogd in its namespace.
 * `cgroup_controllers = []`: its domain would otherwise take the same cgroup as the source's (both
 * daemons number domains from their own counter and name the cgroup after it). `remember_owner = 0`:
 * the file-owner memory (xattrs on the disk) is per daemon, and two daemons sharing one disk would
 * restore each other's labels. No `migration_address`/`migration_host`: libvirt refuses loopback in
 * either ("must not be the address of the local machine"), and the daemon's own hostname resolves
 * nowhere, so the migration names loopback itself (`virsh migrate --listen-address 127.0.0.1
 * --migrateuri tcp://127.0.0.1`, see `listenAddress`).
 */
export function secondDaemonQemuConfig(): string {
  return ['stdio_handler = "file"', 'cgroup_controllers = [ ]', 'remember_owner = 0', ''].join('\n');
}

/** The client URI of a daemon whose /run/libvirt is `<directory>/run` on the host. */
export function secondDaemonUri(directory: string): string {
  return `qemu+unix:///system?socket=${join(directory, 'run', 'libvirt-sock')}`;
}

/** A running second libvirtd (startSecondLibvirtd). */
export interface SecondLibvirtd {
  /** Connect here, e.g. `qemu+unix:///system?socket=/var/tmp/isobench-libvirtd-ab12/run/libvirt-sock`. */
  readonly uri: string;
  readonly directory: string;
  readonly hostname: string;
  readonly hostUuid: string;
  /** libvirtd's pid (it exec'd the namespace's shell). */
  readonly pid: number;
  /** Where the destination QEMU must listen and the source's QEMU send (`127.0.0.1`): see secondDaemonQemuConfig. */
  readonly listenAddress: string;
  /** `libvirt 9.0.0, QEMU 7.2.22`, as the daemon says. */
  readonly version: string;
  /**
   * Destroys and undefines every isobench domain on it, stops the daemon, removes its directory
   * (through the ledger entries, so what fails stays for `cleanup`). Idempotent.
   */
  stop(): Promise<void>;
}

/** What startSecondLibvirtd needs. */
export interface SecondLibvirtdOptions {
  resources: ResourceRegistry;
  /** The daemon's hostname (default `isobench-libvirt-dest`). */
  hostname?: string;
  /**
   * A network namespace (`ip netns` name) to run the daemon in, as a lab test host's own libvirtd:
   * its guests' taps and its migration listener are then that host's. Absent: this host's.
   */
  netns?: string;
  /**
   * Its directory's prefix under SECOND_LIBVIRTD_PARENT (default SECOND_LIBVIRTD_PREFIX). Another
   * prefix keeps the daemon out of `cleanup`'s sweep: the lab tests' hosts use their own.
   */
  directoryPrefix?: string;
  log?: (line: string) => void;
}

/**
 * Starts a second libvirtd in its own mount and UTS namespaces (see the module comment). Registered
 * in the ledger as it comes up: its directory, the daemon's process, and a command that destroys
 * and undefines isobench's domains on it (undone first).
 * @throws Error when `unshare` or `libvirtd` is missing, or the daemon does not answer within 60 s
 *   (its last stderr lines quoted); whatever was made is removed then.
 */
export async function startSecondLibvirtd(options: SecondLibvirtdOptions): Promise<SecondLibvirtd> {
  const { resources } = options;
  const hostname = options.hostname ?? 'isobench-libvirt-dest';
  const hostUuid = randomUUID();
  const ids: number[] = [];
  let daemon: BackgroundProcess | undefined;
  const undoAll = async () => {
    for (const id of [...ids].reverse()) await resources.undo(id).catch(() => {});
  };
  try {
    const directory = await mkdtemp(join(SECOND_LIBVIRTD_PARENT, options.directoryPrefix ?? SECOND_LIBVIRTD_PREFIX));
    ids.push(await resources.register(`second libvirtd directory ${directory}`, { kind: 'path', path: directory }));
    // libvirt's QEMU user must traverse it to reach its channel sockets under lib/.
    await chmod(directory, 0o755);
    for (const key of Object.keys(PRIVATE_DIRECTORIES)) await mkdir(join(directory, key), { mode: 0o755 });
    await writeFile(join(directory, 'etc', 'libvirtd.conf'), secondDaemonConfig(hostUuid));
    await writeFile(join(directory, 'etc', 'qemu.conf'), secondDaemonQemuConfig());
    const uri = secondDaemonUri(directory);
    const enter = options.netns === undefined ? [] : ['nsenter', `--net=/run/netns/${options.netns}`, '--'];
    daemon = startBackground([...enter, 'unshare', '--mount', '--uts', '--propagation', 'private', '--', 'sh', '-c', NAMESPACE_SCRIPT, 'sh', directory, hostname], {
      timeoutMs: 24 * 3600_000,
    });
    const pid = daemon.pid;
    if (pid === undefined) throw new Error(`could not start the second libvirtd: ${(await daemon.exited).stderr.trim()}`);
    ids.push(await resources.register(`second libvirtd (pid ${pid})`, { kind: 'process', pid, startTicks: await processStartTicks(pid) }));
    ids.push(await resources.register(`isobench domains on the second libvirtd ${uri}`, { kind: 'command', command: destroyAllCommand(uri), ignoreFailure: NO_DAEMON }));
    let exited = false;
    void daemon.exited.then(() => (exited = true));
    const version = await pollUntil(
      async () => {
        if (exited) throw new Error(`the second libvirtd exited: ${lastLines((await daemon!.exited).stderr)}`);
        const status = await libvirtdStatus(uri);
        return status.version ?? undefined;
      },
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 300, what: `the second libvirtd to answer on ${uri}` },
    );
    options.log?.(`second libvirtd (pid ${pid}, hostname ${hostname}) answers on ${uri}`);
    let stopped = false;
    return {
      uri, directory, hostname, hostUuid, pid, version, listenAddress: '127.0.0.1',
      async stop() {
        if (stopped) return;
        stopped = true;
        await undoAll();
        await daemon?.stop(STOP_GRACE_MS).catch(() => {});
      },
    };
  } catch (error) {
    await undoAll();
    await daemon?.stop(STOP_GRACE_MS).catch(() => {});
    throw error;
  }
}

/** virsh's words when no daemon answers on the socket: nothing is left to destroy then. */
const NO_DAEMON = 'Failed to connect socket|No such file or directory|Connection refused|failed to connect to the hypervisor';

/**
 * One command that destroys and undefines every `isobench-*` domain on `uri`: `sh -c` over virsh,
 * because the ledger stores one argument array per resource; the URI arrives as $1, never spliced in.
 */
function destroyAllCommand(uri: string): string[] {
  const script = [
    'set -u',
    'virsh -c "$1" list --all --name >/dev/null || exit 1',
    'for name in $(virsh -c "$1" list --all --name | grep "^isobench-"); do',
    '  virsh -c "$1" destroy "$name" >/dev/null 2>&1',
    '  virsh -c "$1" undefine "$name" >/dev/null 2>&1',
    'done',
    'exit 0',
  ].join('\n');
  return ['sh', '-c', script, 'sh', uri];
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ') || 'no output';
}

/**
 * What a crashed run left of second libvirtds, for `cleanup`: per `isobench-libvirtd-*` directory,
 * its domains (destroyed and undefined while the daemon still answers), the daemon (by its pid
 * file, only when that process is a libvirtd started with this directory's config) and the directory.
 */
export async function secondLibvirtdLeftovers(): Promise<Leftover[]> {
  const leftovers: Leftover[] = [];
  for (const entry of await readdir(SECOND_LIBVIRTD_PARENT).catch(() => [] as string[])) {
    if (!entry.startsWith(SECOND_LIBVIRTD_PREFIX)) continue;
    const directory = join(SECOND_LIBVIRTD_PARENT, entry);
    const uri = secondDaemonUri(directory);
    if (existsSync(join(directory, 'run', 'libvirt-sock'))) {
      for (const domain of await isobenchDomains(uri)) {
        if (domain.running) {
          leftovers.push({ description: `libvirt domain ${domain.name} on ${uri} (running)`, undo: { kind: 'command', command: ['virsh', '-c', uri, 'destroy', domain.name], ignoreFailure: `${LIBVIRT_DOMAIN_GONE}|${NO_DAEMON}` } });
        }
        leftovers.push({ description: `libvirt domain ${domain.name} on ${uri} (definition)`, undo: { kind: 'command', command: ['virsh', '-c', uri, 'undefine', domain.name], ignoreFailure: `${LIBVIRT_DOMAIN_GONE}|${NO_DAEMON}` } });
      }
    }
    const pid = Number((await readFile(join(directory, 'run', 'isobench-libvirtd.pid'), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (argv.some((part) => part.endsWith('libvirtd')) && argv.includes(join(directory, 'etc', 'libvirtd.conf'))) {
        leftovers.push({ description: `second libvirtd (pid ${pid})`, undo: { kind: 'process', pid, startTicks: await processStartTicks(pid) } });
      }
    }
    leftovers.push({ description: `second libvirtd directory ${directory}`, undo: { kind: 'path', path: directory } });
  }
  return leftovers;
}
