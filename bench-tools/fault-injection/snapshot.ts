import { access, readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runCommand } from '../../core/exec.js';
import { allProcessStats } from '../../core/proc.js';
import { criuDirectories } from '../../provisioning/criu/index.js';
import { parseRuncList } from '../../provisioning/criu/runc.js';

/**
 * The host state a crashed isobench run could leave behind, read with the host's own tools and
 * /proc — never with isobench's leftover scanners, whose blind spots are what this looks for.
 */

/** One category of host state: its items, or why it could not be read (then it is not compared). */
export type CategoryState =
  | { kind: 'listed'; items: string[] }
  | { kind: 'unavailable'; reason: string };

/** Every category, by name (e.g. `netns`, `iptables`, `docker-containers`, `processes`). */
export interface HostSnapshot {
  /** ISO time the snapshot began. */
  takenAt: string;
  categories: Record<string, CategoryState>;
}

/** Deadline of each listing command, ms: a hung daemon (Docker, libvirt) must not hang the campaign. */
const LIST_TIMEOUT_MS = 15_000;

/**
 * Programs isobench runs as servers, clients or guests (suites' tools, targets' servers, QEMU,
 * the guest workloads, Docker's port proxy); a new one alive after cleanup is a leak.
 */
export const WATCHED_PROGRAMS: readonly RegExp[] = [
  /^qemu-system-/, /^mariadbd$/, /^mysqld$/, /^iperf3$/, /^sockperf$/, /^fio$/, /^sysbench$/, /^nginx/,
  /^docker-proxy$/, /^isobench-/, /^debootstrap$/, /^virtiofsd$/, /^perf$/,
];

/**
 * Directories whose entries with these name prefixes isobench creates: the state directory (ledgers,
 * run lock), run directories and libvirt guest files under /var/tmp, the temporary directories its
 * production code makes under /tmp (only those prefixes: the unit tests of concurrent work make
 * other `isobench-*` ones), pid and config files under /run, and the image cache's locks and
 * half-built trees (finished cache entries are a cache, kept on purpose).
 */
export const WATCHED_FILES: ReadonlyArray<{ directory: string; keep: (name: string) => boolean }> = [
  { directory: '/var/tmp', keep: (name) => name.startsWith('isobench') },
  { directory: '/var/tmp/isobench', keep: () => true },
  { directory: '/tmp', keep: (name) => /^isobench-(doctor|migration)-/.test(name) },
  { directory: '/run', keep: (name) => name.startsWith('isobench') },
  { directory: '/var/cache/isobench', keep: (name) => /\.lock$|\.building-|\.tmp/.test(name) },
];

/** This checkout's harness directory: its CLI processes are the ones under test. */
const ISOBENCH_HARNESS = new URL('../../harness/', import.meta.url).pathname;

/** Debian's service-start policy hook isobench writes while apt installs services (core/tools.ts). */
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

async function listed(read: () => Promise<string[]>): Promise<CategoryState> {
  try {
    return { kind: 'listed', items: (await read()).sort() };
  } catch (error) {
    return { kind: 'unavailable', reason: (error as Error).message.split('\n')[0]!.slice(0, 200) };
  }
}

async function commandLines(command: string[]): Promise<string> {
  const outcome = await runCommand(command, { timeoutMs: LIST_TIMEOUT_MS });
  if (!outcome.ok) throw new Error(`${command.join(' ')}: ${(outcome.stderr || outcome.stdout).trim() || (outcome.exitCode === null ? `could not run ${command[0]} (not installed?)` : `exit ${outcome.exitCode}`)}`);
  return outcome.stdout;
}

async function commandJson<T>(command: string[]): Promise<T[]> {
  const text = (await commandLines(command)).trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

/** iptables-save text as rules: `table chain-policy` and `table -A …` lines, packet counters dropped. */
export function iptablesItems(text: string): string[] {
  const items: string[] = [];
  let table = '?';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith(':') || line.startsWith('-')) items.push(`${table} ${line.replace(/\s*\[\d+:\d+\]/g, '').trim()}`);
  }
  return countDuplicates(items);
}

/** nft's words that open a block inside a table (nft(8), "RULESET" … "STATEFUL OBJECTS"). */
const NFT_BLOCK = /^(table|chain|set|map|flowtable|counter|quota|limit|ct (helper|timeout|expectation)|secmark|synproxy)\b.*\{$/;

/**
 * What changes in a ruleset on its own, not by anyone's hand: packet and byte counts (of `counter`
 * statements and named counters), a quota's bytes used, a dynamic set element's time left, and the
 * handles `nft -a` prints. Each is dropped, keeping the word that says the thing is there.
 */
function nftStable(line: string): string {
  return line
    .replace(/\s*# handle \d+/g, '')
    .replace(/\bpackets \d+ bytes \d+/g, '')
    .replace(/\s+used \d+ \w*bytes\b/g, '')
    .replace(/\s+expires [\d.dhms]+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * `nft list ruleset` as items that say where each statement sits: every block as its path
 * (`table ip filter > chain DOCKER`, so an empty chain left behind is seen too) and every statement
 * under it (`table ip filter > chain FORWARD: iifname "ib-br0" oifname "ib-br0" counter accept`), with
 * nftStable's changing parts dropped and duplicates counted. A statement spread over lines (a long
 * `elements = { … }`) is one item. iptables-nft's `# Warning:` notes (stderr, but skipped here too) are not state.
 */
export function nftRulesetItems(text: string): string[] {
  const items: string[] = [];
  const path: string[] = [];
  let pending = '';
  const depth = (part: string) => [...part].filter((c) => c === '{').length - [...part].filter((c) => c === '}').length;
  for (const raw of text.split('\n')) {
    const line = nftStable(raw);
    if (!line || line.startsWith('# ')) continue;
    if (pending) {
      pending = `${pending} ${line}`;
      if (depth(pending) > 0) continue;
      items.push(`${path.join(' > ')}: ${pending}`);
      pending = '';
    } else if (NFT_BLOCK.test(line)) {
      path.push(line.replace(/\s*\{$/, ''));
      items.push(path.join(' > '));
    } else if (line === '}') {
      path.pop();
    } else if (depth(line) > 0) {
      pending = line;
    } else {
      items.push(`${path.join(' > ')}: ${line}`);
    }
  }
  if (pending) items.push(`${path.join(' > ')}: ${pending}`);
  return countDuplicates(items);
}

/** A rule added twice is two items: `rule`, `rule (#2)`, so a multiset difference survives sorting. */
export function countDuplicates(items: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const count = (seen.get(item) ?? 0) + 1;
    seen.set(item, count);
    return count === 1 ? item : `${item} (#${count})`;
  });
}

interface RouteJson { type?: string; dst?: string; dev?: string; table?: string; protocol?: string; gateway?: string; prefsrc?: string; scope?: string }

/** One route as text, without the fields that change on their own (metrics, flags, expiry). */
export function routeItem(route: RouteJson): string {
  return [route.type ?? 'unicast', route.dst ?? '?', route.gateway ? `via ${route.gateway}` : '', route.dev ? `dev ${route.dev}` : '',
    `table ${route.table ?? 'main'}`, route.protocol ? `proto ${route.protocol}` : '', route.prefsrc ? `src ${route.prefsrc}` : '']
    .filter(Boolean).join(' ');
}

async function processes(): Promise<string[]> {
  const hostNetns = await readlink('/proc/self/ns/net').catch(() => '');
  const items: string[] = [];
  for (const stat of await allProcessStats()) {
    if (stat.pid === process.pid || stat.state === 'Z') continue;
    const cmdline = (await readFile(`/proc/${stat.pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
    // Kernel threads have no command line.
    if (cmdline.length === 0) continue;
    const program = basename(cmdline[0]!);
    const netns = await readlink(`/proc/${stat.pid}/ns/net`).catch(() => hostNetns);
    const watched = WATCHED_PROGRAMS.some((pattern) => pattern.test(stat.comm) || pattern.test(program));
    // This checkout's bench or cleanup only: other checkouts on the host run `report`, `results` and
    // unit tests at any time, outside the heavy lock.
    const isobenchNode = /node$/.test(program) && cmdline.some((word) => word.startsWith(ISOBENCH_HARNESS)) && cmdline.some((word) => word === 'bench' || word === 'cleanup');
    // A process in a network namespace of its own that outlives `ip netns delete` keeps the namespace alive, unseen by `ip netns`.
    if (watched || isobenchNode || netns !== hostNetns) {
      items.push(`pid ${stat.pid} ${stat.comm}${netns !== hostNetns ? ` in ${netns}` : ''}: ${cmdline.join(' ').slice(0, 160)}`);
    }
  }
  return items;
}

async function watchedFiles(): Promise<string[]> {
  const items: string[] = [];
  for (const { directory, keep } of WATCHED_FILES) {
    const names = await readdir(directory).catch(() => [] as string[]);
    items.push(...names.filter(keep).map((name) => `${directory}/${name}`));
  }
  if (await access(POLICY_RC_D).then(() => true, () => false)) items.push(`${POLICY_RC_D} (${(await readFile(POLICY_RC_D, 'utf8').catch(() => '')).includes('isobench') ? "isobench's" : 'not isobench\'s'})`);
  return items;
}

async function mounts(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  // Fields: id parent major:minor root mountpoint options … - fstype source
  return countDuplicates(text.split('\n').filter(Boolean).map((line) => {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    return `${fields[4]} (${fields[dash + 1]})`;
  }));
}

/** runc's default `--root` (containers someone ran with plain `runc run`). */
const RUNC_DEFAULT_ROOT = '/run/runc';

/**
 * runc containers as `ID STATUS (root ROOT)`: those in runc's default root and in the runc root of
 * every run directory under /var/tmp (where the runc-criu target keeps runc's state, criuDirectories);
 * roots that do not exist hold none.
 * @throws Error when runc is not installed or fails, so the category is unverified rather than empty.
 */
export async function runcContainerItems(): Promise<string[]> {
  const runDirectories = (await readdir('/var/tmp').catch(() => [] as string[])).filter((name) => name.startsWith('isobench-run-')).map((name) => join('/var/tmp', name));
  const roots = [RUNC_DEFAULT_ROOT, ...runDirectories.map((directory) => criuDirectories(directory).runcRoot)];
  const items: string[] = [];
  // runc itself must run, or the category is unverified: a missing runc is not "no containers".
  await commandLines(['runc', '--version']);
  for (const root of roots) {
    // runc 1.1 creates a --root that does not exist (mkdir -p) even to list it: ask only about one
    // that exists, or the snapshot would make the directory (a run directory among them) it looks for.
    if (!(await access(root).then(() => true, () => false))) continue;
    for (const container of parseRuncList(await commandLines(['runc', '--root', root, 'list', '--format', 'json']))) items.push(`${container.id} ${container.status} (root ${root})`);
  }
  return items;
}

/** Directories of the cgroup tree this deep are looked at: runc puts a container's cgroup 1-3 levels below a controller's root here. */
const CGROUP_DEPTH = 5;

/**
 * cgroups named `isobench*` (runc-criu's containers, `isobench-criu-…`, one per controller on cgroup
 * v1), as paths under /sys/fs/cgroup: a container removed without `runc delete` leaves them.
 */
export async function isobenchCgroups(root = '/sys/fs/cgroup'): Promise<string[]> {
  const found: string[] = [];
  const walk = async (directory: string, depth: number): Promise<void> => {
    if (depth > CGROUP_DEPTH) return;
    for (const entry of await readdir(directory, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      const path = join(directory, entry.name);
      if (entry.name.startsWith('isobench')) found.push(path.slice(root.length + 1));
      await walk(path, depth + 1);
    }
  };
  await walk(root, 1);
  return found;
}

/** Reads every category; one that cannot be read (Docker down, no virsh) says why instead of failing the snapshot. */
export async function takeSnapshot(): Promise<HostSnapshot> {
  const takenAt = new Date().toISOString();
  const categories: Record<string, CategoryState> = {
    netns: await listed(async () => (await commandJson<{ name: string }>(['ip', '-j', 'netns', 'list'])).map((entry) => entry.name)),
    links: await listed(async () => (await commandJson<{ ifname: string; link_info?: { info_kind?: string } }>(['ip', '-j', '-d', 'link', 'show']))
      .map((link) => `${link.ifname}${link.link_info?.info_kind ? ` (${link.link_info.info_kind})` : ''}`)),
    addresses: await listed(async () => (await commandJson<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number }> }>(['ip', '-j', 'addr', 'show']))
      .flatMap((link) => (link.addr_info ?? []).map((address) => `${address.local}/${address.prefixlen} on ${link.ifname}`))),
    routes: await listed(async () => countDuplicates((await commandJson<RouteJson>(['ip', '-j', 'route', 'show', 'table', 'all'])).map(routeItem))),
    routes6: await listed(async () => countDuplicates((await commandJson<RouteJson>(['ip', '-6', '-j', 'route', 'show', 'table', 'all'])).map(routeItem))),
    'ip-rules': await listed(async () => countDuplicates((await commandLines(['ip', 'rule', 'show'])).split('\n').filter(Boolean))),
    iptables: await listed(async () => iptablesItems(await commandLines(['iptables-save']))),
    ip6tables: await listed(async () => iptablesItems(await commandLines(['ip6tables-save']))),
    'iptables-legacy': await listed(async () => iptablesItems(await commandLines(['iptables-legacy-save']))),
    nftables: await listed(async () => nftRulesetItems(await commandLines(['nft', 'list', 'ruleset']))),
    'docker-containers': await listed(async () => (await commandLines(['docker', 'ps', '--all', '--no-trunc', '--format', '{{.Names}} {{.Image}} {{.ID}}'])).split('\n').filter(Boolean)),
    'docker-networks': await listed(async () => (await commandLines(['docker', 'network', 'ls', '--no-trunc', '--format', '{{.Name}} {{.ID}}'])).split('\n').filter(Boolean)),
    'docker-volumes': await listed(async () => (await commandLines(['docker', 'volume', 'ls', '--format', '{{.Name}}'])).split('\n').filter(Boolean)),
    'runc-containers': await listed(runcContainerItems),
    cgroups: await listed(() => isobenchCgroups()),
    'libvirt-domains': await listed(async () => (await commandLines(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name'])).split('\n').map((line) => line.trim()).filter(Boolean)),
    processes: await listed(processes),
    mounts: await listed(mounts),
    files: await listed(watchedFiles),
  };
  return { takenAt, categories };
}
