/**
 * Lab hosts on one machine, for lab mode's integration tests (issue 14): each host is a network
 * namespace with its own address in a /24 of the test range, on a bridge this set-up creates, and
 * its own sshd (Debian's openssh-server, started in the namespace with its own config and host key);
 * the client key, known_hosts and an ssh_config naming them are generated per lab in a temp dir.
 * Nothing leaves the machine: the namespaces have no default route and the bridge has no uplink.
 *
 * Names avoid isobench's own prefixes (`isobench-` namespaces, `ib-` links, rules commented
 * `isobench`), so a concurrent isobench run's `cleanup` or leftover check never sees the lab, and the
 * lab never touches that run's network. Everything is registered in a private ledger the moment it
 * exists and removed on success and failure; `sweepLabLeftovers` removes what a killed test left.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked, runCommand, startBackground, type BackgroundProcess } from '../../core/exec.js';
import { ResourceRegistry } from '../../core/ledger.js';
import { pollUntil } from '../../core/poll.js';
import { findExecutable } from '../../core/tools.js';
import { HostSet } from '../../hosts/host.js';
import type { HostRole } from '../../hosts/inventory.js';
import { computeRecipeHash } from '../../provisioning/image/recipe.js';
import { SECOND_LIBVIRTD_PARENT, startSecondLibvirtd, type SecondLibvirtd } from '../../provisioning/kvm/libvirt-daemon.js';
import { cidrContains, hostAddress, parseAddress, parseCidr } from '../../provisioning/ipv4.js';

/** Every lab object's name starts with this; nothing else of isobench's does. */
export const LAB_PREFIX = 'islab-';
/** The lab's bridge; the controlling host (this process) has the subnet's .1 on it. */
export const LAB_BRIDGE = `${LAB_PREFIX}br`;
/** The iptables comment on the one FORWARD rule the lab adds (Docker's FORWARD policy is DROP). */
const LAB_RULE_COMMENT = 'islab-test';
/**
 * /24s the lab may use, tried in order: at the top of 198.18.0.0/15, far from isobench's default
 * 198.18.0.0/24 and the subnets its tests pass with `--subnet`; the first no interface uses is taken.
 */
export const LAB_SUBNET_CANDIDATES = ['198.19.214.0/24', '198.19.215.0/24', '198.19.216.0/24'];
const SSHD = '/usr/sbin/sshd';

/**
 * A lab host's own Docker daemon (`LabHostSpec.docker`) keeps everything under a directory of this
 * prefix in /tmp (socket, data root, exec root with its containerd, pid file), so a killed test's
 * daemon is found and removed by `sweepLabLeftovers` and nothing of it mixes with this machine's.
 */
export const LAB_DOCKERD_PREFIX = join(tmpdir(), `${LAB_PREFIX}dockerd-`);
/**
 * The lab daemon's default bridge (docker0 in the host's namespace, where docker-nat's container
 * lives): a /24 of the test range, apart from LAB_SUBNET_CANDIDATES and isobench's 198.18.0.0/24;
 * other networks (none are made) from the next /24.
 */
const LAB_DOCKER_BRIDGE = '198.19.220.1/24';
/**
 * A lab host's own libvirtd (`LabHostSpec.libvirt`) keeps its state under a directory of this prefix
 * in SECOND_LIBVIRTD_PARENT: not isobench's own prefix, so `cleanup` never takes it for a run's.
 */
export const LAB_LIBVIRTD_PREFIX = `${LAB_PREFIX}libvirtd-`;
const LAB_DOCKER_POOL = 'base=198.19.221.0/24,size=28';

/**
 * Stops a lab daemon and whatever it left: SIGTERM by its pid file (dockerd stops its containers),
 * up to 15 s; then SIGKILL to every process whose command line names the directory (containerd,
 * its shims) and their children (a docker-nat container's processes, in their own namespaces, are
 * the shims' children); then the directory's mounts (overlay layers, shm), deepest first, and the
 * directory. The directory is `$1`; exit 0 whatever was already gone.
 */
const STOP_LAB_DOCKERD = [
  'd=$1',
  'if [ -f "$d/docker.pid" ]; then p=$(cat "$d/docker.pid"); kill -TERM "$p" 2>/dev/null; i=0; while kill -0 "$p" 2>/dev/null && [ "$i" -lt 150 ]; do sleep 0.1; i=$((i+1)); done; fi',
  'for p in $(pgrep -f -- "$d/"); do [ "$p" = "$$" ] && continue; pkill -KILL -P "$p"; kill -KILL "$p" 2>/dev/null; done',
  'awk -v d="$d/" \'index($5, d) == 1 {print $5}\' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done',
  'rm -rf "$d"',
  'exit 0',
].join('\n');

/** The argv that runs STOP_LAB_DOCKERD on `directory`. */
function stopLabDockerdCommand(directory: string): string[] {
  return ['sh', '-c', STOP_LAB_DOCKERD, 'sh', directory];
}

/** The lab daemons' directories that exist now (a killed test's, or a running one's). */
async function labDockerdDirectories(): Promise<string[]> {
  const base = LAB_DOCKERD_PREFIX.slice(0, LAB_DOCKERD_PREFIX.lastIndexOf('/'));
  const prefix = LAB_DOCKERD_PREFIX.slice(base.length + 1);
  return (await readdir(base)).filter((name) => name.startsWith(prefix)).map((name) => join(base, name));
}

/** One host to create. */
export interface LabHostSpec {
  name: string;
  roles?: HostRole[];
  /** `ok` (default): sshd accepts the lab's client key; `wrong-key`: sshd knows another key only (auth refused). */
  sshd?: 'ok' | 'wrong-key';
  /** The inventory's `data-dir` for the host (absolute; namespaces share this machine's file system). */
  dataDir?: string;
  /**
   * Give the host its own Docker daemon: a second dockerd inside its namespace (entered with
   * `nsenter --net`, so the cgroup mounts stay those of this machine: `ip netns exec` remounts /sys
   * and dockerd then finds no devices cgroup), with its own socket, data root, exec root and pid
   * file under LAB_DOCKERD_PREFIX, and its sshd's `SetEnv DOCKER_HOST=unix://…`, so `docker` over
   * SSH (the CLI's `system dial-stdio` too) reaches this daemon, as on a real lab host.
   */
  docker?: boolean;
  /** Without `docker`: the sshd's `SetEnv DOCKER_HOST=` this, no daemon started (a host whose daemon does not answer). */
  dockerHost?: string;
  /**
   * A bridge of this name inside the host, carrying its lab link (the veth) and its test address, as a
   * real lab host's bridge on its lab NIC: a guest's tap on it is on the lab link, reachable from the
   * other hosts. Absent: the address is on the veth itself.
   */
  linkBridge?: string;
  /** The inventory's `shared-dir` for the host (namespaces share this machine's file system, so one path is one storage). */
  sharedDir?: string;
  /** The inventory's `guest-address`: this host number in the lab's subnet, written as `ADDRESS/24`. */
  guestHost?: number;
  /**
   * Give the host its own libvirtd: a second libvirtd (provisioning/kvm/libvirt-daemon.ts) in the
   * host's network namespace with its own mount and UTS namespaces, directory under
   * LAB_LIBVIRTD_PREFIX, and the host's sshd started inside the same namespaces, so that
   * `qemu+ssh://root@ADDRESS/system` reaches this daemon by libvirt's default socket path, as on a
   * real lab host.
   */
  libvirt?: boolean;
}

/** A created host. */
export interface LabHost {
  name: string;
  netns: string;
  address: string;
  sshd: BackgroundProcess;
  /** `unix://…` of the host's own Docker daemon (LabHostSpec.docker), for a test's `docker -H`. */
  dockerHost?: string;
  /** The host's own libvirtd (LabHostSpec.libvirt), reachable from this machine without SSH at `uri`. */
  libvirtd?: SecondLibvirtd;
}

/** A lab: its hosts, the files a HostSet or the CLI needs, and its teardown. */
export interface Lab {
  subnet: string;
  /** The controlling host's address on the lab bridge. */
  controllerAddress: string;
  hosts: LabHost[];
  /** An address in the subnet that nothing answers (no namespace holds it). */
  unreachableAddress: string;
  directory: string;
  /** ssh_config naming the lab's client key and known_hosts (`ssh -F`). */
  sshConfig: string;
  /** An inventory (YAML) of the hosts, `ssh-config` pointing at sshConfig. */
  inventoryPath: string;
  /** Removes everything, newest first; safe to call twice. */
  teardown(): Promise<void>;
}

const ip = (args: string[]) => runChecked(['ip', ...args], { timeoutMs: 10_000 });

/** Addresses of every interface in the host namespace and in every namespace, as text. */
async function addressesInUse(): Promise<string[]> {
  const namespaces = (await runCommand(['ip', 'netns', 'list'], { timeoutMs: 10_000 })).stdout.split('\n').map((line) => line.split(' ')[0]!).filter(Boolean);
  const texts = [(await runCommand(['ip', '-br', 'addr'], { timeoutMs: 10_000 })).stdout];
  for (const namespace of namespaces) texts.push((await runCommand(['ip', '-n', namespace, '-br', 'addr'], { timeoutMs: 10_000 })).stdout);
  return texts.join('\n').match(/\d+\.\d+\.\d+\.\d+/g) ?? [];
}

/** The first candidate /24 with no address in use on this machine and no route of its own. */
export async function pickLabSubnet(): Promise<string> {
  const used = (await addressesInUse()).map(parseAddress);
  const routes = (await runCommand(['ip', 'route', 'show', 'table', 'all'], { timeoutMs: 10_000 })).stdout;
  for (const candidate of LAB_SUBNET_CANDIDATES) {
    const cidr = parseCidr(candidate);
    if (used.some((address) => cidrContains(cidr, address))) continue;
    if (routes.includes(candidate.split('/')[0]!.split('.').slice(0, 3).join('.'))) continue;
    return candidate;
  }
  throw new Error(`every lab subnet is in use (${LAB_SUBNET_CANDIDATES.join(', ')}): a lab test is running, or \`sweepLabLeftovers\` should run`);
}

/** Removes lab objects a killed test left (namespaces, links, the FORWARD rule); the lab's own only. */
export async function sweepLabLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  // Daemons first: their containers' processes live outside the namespaces swept below.
  for (const directory of await labDockerdDirectories()) {
    await runCommand(stopLabDockerdCommand(directory), { timeoutMs: 60_000 });
    removed.push(`dockerd ${directory}`);
  }
  const namespaces = (await runCommand(['ip', 'netns', 'list'], { timeoutMs: 10_000 })).stdout.split('\n').map((line) => line.split(' ')[0]!).filter((name) => name.startsWith(LAB_PREFIX));
  for (const namespace of namespaces) {
    // sshd runs inside: kill what lives in the namespace before deleting it.
    const pids = (await runCommand(['ip', 'netns', 'pids', namespace], { timeoutMs: 10_000 })).stdout.split('\n').filter(Boolean);
    for (const pid of pids) await runCommand(['kill', '-KILL', pid], { timeoutMs: 5_000 });
    await runCommand(['ip', 'netns', 'delete', namespace], { timeoutMs: 10_000 });
    removed.push(`netns ${namespace}`);
  }
  const links = JSON.parse((await runCommand(['ip', '-j', 'link'], { timeoutMs: 10_000 })).stdout || '[]') as Array<{ ifname: string }>;
  for (const link of links.filter((candidate) => candidate.ifname.startsWith(LAB_PREFIX))) {
    await runCommand(['ip', 'link', 'delete', link.ifname], { timeoutMs: 10_000 });
    removed.push(`link ${link.ifname}`);
  }
  // The hosts' libvirtds lived in their namespaces (killed above); their directories stay.
  for (const entry of await readdir(SECOND_LIBVIRTD_PARENT).catch(() => [] as string[])) {
    if (!entry.startsWith(LAB_LIBVIRTD_PREFIX)) continue;
    await rm(join(SECOND_LIBVIRTD_PARENT, entry), { recursive: true, force: true });
    removed.push(`libvirtd directory ${entry}`);
  }
  const rules = (await runCommand(['iptables', '-S', 'FORWARD'], { timeoutMs: 10_000 })).stdout.split('\n').filter((line) => line.includes(`--comment ${LAB_RULE_COMMENT}`));
  for (const rule of rules) {
    await runCommand(['iptables', ...rule.replace(/^-A /, '-D ').split(' ')], { timeoutMs: 10_000 });
    removed.push(`iptables rule ${rule}`);
  }
  return removed;
}

/** The lab's sshd_config: its own address, host key and authorized keys; keys only, no PAM; `dockerHost` as every session's DOCKER_HOST. */
function sshdConfig(address: string, hostKey: string, authorizedKeys: string, pidFile: string, dockerHost?: string): string {
  return [
    ...(dockerHost ? [`SetEnv DOCKER_HOST=${dockerHost}`] : []),
    `ListenAddress ${address}:22`,
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    `PidFile ${pidFile}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The keys live under /tmp, whose mode StrictModes would refuse.
    'StrictModes no',
    'MaxStartups 50',
    // Multiplexed sessions over one connection (ControlMaster): more than the default 10 at once.
    'MaxSessions 50',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

/**
 * Starts a host's own dockerd in namespace `netns` (see LabHostSpec.docker), registered in `resources`
 * (STOP_LAB_DOCKERD) before it is waited for, and waits until it answers (60 s).
 * @returns Its `unix://` address.
 */
async function startLabDockerd(netns: string, resources: ResourceRegistry): Promise<string> {
  const root = await mkdtemp(LAB_DOCKERD_PREFIX);
  await resources.register(`dockerd ${root}`, { kind: 'command', command: stopLabDockerdCommand(root) });
  const dockerHost = `unix://${join(root, 'docker.sock')}`;
  const log = join(root, 'dockerd.log');
  // The script's redirection keeps the daemon's chatter in a file; it runs until STOP_LAB_DOCKERD.
  startBackground(['sh', '-c', 'exec "$@" >"$0" 2>&1', log,
    'nsenter', `--net=/run/netns/${netns}`, 'dockerd',
    '-H', dockerHost, '--data-root', join(root, 'root'), '--exec-root', join(root, 'exec'), '--pidfile', join(root, 'docker.pid'),
    '--bip', LAB_DOCKER_BRIDGE, '--default-address-pool', LAB_DOCKER_POOL, '--cgroup-parent', `/${LAB_PREFIX}docker`,
  ], { timeoutMs: 60 * 60_000 });
  await pollUntil(
    async () => (await runCommand(['docker', '-H', dockerHost, 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 })).ok,
    { timeoutMs: 60_000, intervalMs: 250, what: `the lab dockerd in ${netns} to answer (log: ${log})` },
  );
  return dockerHost;
}

/**
 * Creates the lab: bridge, one namespace per host with a veth on the bridge, keys, sshd in each
 * namespace (waiting until it listens), the inventory and ssh_config. On any failure what was
 * created is removed before the error is thrown.
 * @throws Error when not root, openssh-server is missing, or a step fails.
 */
export async function createLab(specs: readonly LabHostSpec[]): Promise<Lab> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: apt-get install openssh-server`);
  await sweepLabLeftovers();
  const directory = await mkdtemp(join(tmpdir(), 'isobench-lab-'));
  const resources = new ResourceRegistry(`lab-${process.pid}`, join(directory, 'ledger'));
  await mkdir(join(directory, 'ledger'));
  const teardown = async () => {
    await resources.undoAll();
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const subnet = await pickLabSubnet();
    const cidr = parseCidr(subnet);
    const controllerAddress = hostAddress(cidr, 1);
    await ip(['link', 'add', LAB_BRIDGE, 'type', 'bridge']);
    await resources.register(`bridge ${LAB_BRIDGE}`, { kind: 'command', command: ['ip', 'link', 'delete', LAB_BRIDGE], ignoreFailure: /Cannot find device/ });
    await ip(['addr', 'add', `${controllerAddress}/24`, 'dev', LAB_BRIDGE]);
    await ip(['link', 'set', LAB_BRIDGE, 'up']);
    const rule = ['FORWARD', '-i', LAB_BRIDGE, '-o', LAB_BRIDGE, '-m', 'comment', '--comment', LAB_RULE_COMMENT, '-j', 'ACCEPT'];
    await runChecked(['iptables', '-I', ...rule], { timeoutMs: 10_000 });
    await resources.register('iptables FORWARD accept on the lab bridge', { kind: 'command', command: ['iptables', '-D', ...rule], ignoreFailure: /does a matching rule exist|Bad rule/ });

    // Keys: the client's (ed25519, no passphrase: a test key that never leaves this temp dir), and another for a host that must refuse it.
    const clientKey = join(directory, 'client_ed25519');
    const otherKey = join(directory, 'other_ed25519');
    for (const key of [clientKey, otherKey]) await runChecked(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'isobench-lab-test', '-f', key], { timeoutMs: 30_000 });
    await mkdir('/run/sshd', { recursive: true }); // sshd's privilege separation directory

    const hosts: LabHost[] = [];
    const knownHosts: string[] = [];
    for (const [index, spec] of specs.entries()) {
      const netns = `${LAB_PREFIX}${spec.name}`.slice(0, 15);
      const address = hostAddress(cidr, index + 2);
      const vethHost = `${LAB_PREFIX}${index}h`;
      const vethNs = `${LAB_PREFIX}${index}n`;
      await ip(['netns', 'add', netns]);
      // Whatever still runs inside (sshd's session processes) is killed before the namespace goes.
      await resources.register(`netns ${netns}`, {
        kind: 'command',
        command: ['sh', '-c', 'ip netns pids "$1" | xargs -r kill -KILL; ip netns delete "$1"', 'sh', netns],
        ignoreFailure: /No such file/,
      });
      await ip(['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs]);
      await resources.register(`veth ${vethHost}`, { kind: 'command', command: ['ip', 'link', 'delete', vethHost], ignoreFailure: /Cannot find device/ });
      await ip(['link', 'set', vethNs, 'netns', netns]);
      await ip(['link', 'set', vethHost, 'master', LAB_BRIDGE]);
      await ip(['link', 'set', vethHost, 'up']);
      await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
      if (spec.linkBridge) {
        // Made inside the namespace, so it goes with it.
        await ip(['-n', netns, 'link', 'add', spec.linkBridge, 'type', 'bridge']);
        await ip(['-n', netns, 'link', 'set', vethNs, 'master', spec.linkBridge]);
        await ip(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', spec.linkBridge]);
        await ip(['-n', netns, 'link', 'set', spec.linkBridge, 'up']);
      } else {
        await ip(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', vethNs]);
      }
      await ip(['-n', netns, 'link', 'set', vethNs, 'up']);

      const hostKey = join(directory, `${spec.name}_host_ed25519`);
      await runChecked(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `isobench-lab-${spec.name}`, '-f', hostKey], { timeoutMs: 30_000 });
      const authorized = join(directory, `${spec.name}_authorized_keys`);
      await writeFile(authorized, await readFile(`${spec.sshd === 'wrong-key' ? otherKey : clientKey}.pub`), { mode: 0o600 });
      const config = join(directory, `${spec.name}_sshd_config`);
      const dockerd = spec.docker ? await startLabDockerd(netns, resources) : spec.dockerHost;
      await writeFile(config, sshdConfig(address, hostKey, authorized, join(directory, `${spec.name}_sshd.pid`), dockerd));
      const libvirtd = spec.libvirt
        ? await startSecondLibvirtd({ resources, netns, hostname: netns, directoryPrefix: LAB_LIBVIRTD_PREFIX })
        : undefined;
      // With a libvirtd, sshd joins its namespaces: a session's /run/libvirt is that daemon's.
      const enter = libvirtd ? ['nsenter', '-t', String(libvirtd.pid), '--mount', '--uts', '--net', '--'] : ['ip', 'netns', 'exec', netns];
      // -D: stay in the foreground, so this process owns it; -e: errors to stderr.
      const sshd = startBackground([...enter, SSHD, '-D', '-e', '-f', config], { timeoutMs: 60 * 60_000 });
      if (sshd.pid !== undefined) await resources.register(`sshd in ${netns}`, { kind: 'process', pid: sshd.pid, startTicks: null });
      knownHosts.push(`${address} ${(await readFile(`${hostKey}.pub`, 'utf8')).trim()}`);
      hosts.push({ name: spec.name, netns, address, sshd, ...(dockerd ? { dockerHost: dockerd } : {}), ...(libvirtd ? { libvirtd } : {}) });
    }
    // Wait until every sshd listens (ss in its namespace).
    for (const host of hosts) {
      await pollUntil(
        async () => (await runCommand(['ip', 'netns', 'exec', host.netns, 'ss', '-Hltn', 'src', `${host.address}:22`], { timeoutMs: 5_000 })).stdout.includes(':22'),
        { timeoutMs: 15_000, intervalMs: 100, what: `sshd in ${host.netns} to listen` },
      );
    }
    const knownHostsFile = join(directory, 'known_hosts');
    await writeFile(knownHostsFile, `${knownHosts.join('\n')}\n`);
    const sshConfig = join(directory, 'ssh_config');
    await writeFile(
      sshConfig,
      [
        'Host *',
        `  IdentityFile ${clientKey}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${knownHostsFile}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  IdentityAgent none',
        '',
      ].join('\n'),
    );
    const unreachableAddress = hostAddress(cidr, 200);
    const inventoryPath = join(directory, 'lab.yaml');
    await writeFile(
      inventoryPath,
      [
        `ssh-config: ${sshConfig}`,
        'hosts:',
        ...specs.flatMap((spec, index) => [
          `  - name: ${spec.name}`,
          `    ssh: root@${hosts[index]!.address}`,
          `    test-address: ${hosts[index]!.address}`,
          ...(spec.dataDir ? [`    data-dir: ${spec.dataDir}`] : []),
          ...(spec.sharedDir ? [`    shared-dir: ${spec.sharedDir}`] : []),
          // The bridge that carries the host's lab link is where its guests' taps go.
          ...(spec.linkBridge ? [`    bridge: ${spec.linkBridge}`] : []),
          ...(spec.guestHost !== undefined ? [`    guest-address: ${hostAddress(cidr, spec.guestHost)}/24`] : []),
          `    roles: [${(spec.roles ?? []).join(', ')}]`,
        ]),
        '',
      ].join('\n'),
    );
    return { subnet, controllerAddress, hosts, unreachableAddress, directory, sshConfig, inventoryPath, teardown };
  } catch (error) {
    await teardown();
    throw error;
  }
}

/** Every host of the lab, opened as lab mode opens an inventory's (root over SSH, the lab's ssh_config). */
export function openLabHosts(lab: Lab): Promise<HostSet> {
  return HostSet.open(
    lab.hosts.map((host) => ({ name: host.name, ssh: { user: 'root', address: host.address }, testAddress: host.address, roles: [] })),
    { configFile: lab.sshConfig },
  );
}

/**
 * What runs in a lab host's namespace besides its sshd (and `alsoExpected`, e.g. a host's own
 * dockerd and containerd), and what listens there beyond sshd's port 22: what a run left behind,
 * each as `HOST: pid PID COMM (ARGS)`. Zombies are not counted: they have ended, and pid 1 here
 * (a VM's init) reaps the orphans of dropped SSH sessions some time later. Empty when the hosts are clean.
 */
export async function strangersIn(lab: Lab, alsoExpected: readonly string[] = []): Promise<string[]> {
  const expected = new Set(['sshd', ...alsoExpected]);
  const found: string[] = [];
  for (const host of lab.hosts) {
    const pids = (await runCommand(['ip', 'netns', 'pids', host.netns], { timeoutMs: 10_000 })).stdout.split('\n').filter(Boolean);
    for (const pid of pids) {
      const ps = /^\s*(\S+)\s+(\S+)\s*(.*)$/.exec((await runCommand(['ps', '-o', 'stat=,comm=,args=', '-p', pid], { timeoutMs: 10_000 })).stdout.trim());
      if (!ps || ps[1]!.startsWith('Z') || expected.has(ps[2]!)) continue;
      found.push(`${host.name}: pid ${pid} ${ps[2]} (${ps[3]!.replace(new RegExp(`^${ps[2]}\\s*`), '').trim() || ps[2]})`);
    }
    const listening = (await runCommand(['ip', 'netns', 'exec', host.netns, 'ss', '-Hltnu'], { timeoutMs: 10_000 })).stdout.split('\n').filter((line) => line.trim() && !line.includes(':22 '));
    found.push(...listening.map((line) => `${host.name}: listening ${line.trim()}`));
  }
  return found;
}

/**
 * strangersIn after an interrupted run, given `graceMs` to end: a terminal's Ctrl-C reaches the
 * run's ssh clients too, and a remote command whose client it ended finishes on its own (under its
 * remote `timeout`; seen here: a session still in root's .bashrc 0.1 s after the run exited, gone
 * by 0.4 s). Returns what is still there after the grace, and how long the last one took to go.
 */
export async function strangersAfterInterrupt(lab: Lab, alsoExpected: readonly string[], graceMs: number): Promise<{ left: string[]; lastSeen: string[]; goneAfterMs: number }> {
  const started = performance.now();
  let lastSeen: string[] = [];
  for (;;) {
    const left = await strangersIn(lab, alsoExpected);
    const elapsed = performance.now() - started;
    if (left.length === 0 || elapsed > graceMs) return { left, lastSeen, goneAfterMs: elapsed };
    lastSeen = left;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The lab guests' shared-dir, kept between runs like a lab's NFS export: the image lands here once
 * per recipe (namespaces share this machine's file system, so one path is one storage).
 */
export const LAB_SHARED_DIR = '/var/tmp/isobench-lab-shared';
/** The bridge inside the migration hosts that carries their lab link; the guests' taps join it (inventory `bridge`). */
export const LAB_GUEST_BRIDGE = 'islab-gbr';

/**
 * Why a test that boots the real image on namespace hosts cannot run here, or false: it needs root,
 * QEMU, /dev/net/tun and the image (tree and 4 GiB qcow2) already built in the cache.
 */
export async function labQemuSkipReason(cache = process.env.ISOBENCH_CACHE_DIR ?? '/var/cache/isobench'): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, taps)';
  if (!(await findExecutable('qemu-system-x86_64'))) return 'qemu-system-x86_64 is not installed';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  const hash = await computeRecipeHash();
  if (!existsSync(join(cache, `rootfs-${hash}`)) || !existsSync(join(cache, `disk-${hash}-4g.qcow2`))) return `the image (rootfs-${hash}, its 4 GiB qcow2) is not built in ${cache}: run npm run bench -- --target kvm once`;
  return false;
}

/** Where MariaDB listened while a run went on: `ss` addresses in a lab host's namespace and in this one. */
export interface MariadbListeners {
  sut: Set<string>;
  here: Set<string>;
}

/**
 * Samples where a mariadbd listens, in `netns` (the server host's namespace) and in this machine's,
 * every 300 ms until `stop`: a lab run's MariaDB must listen on the server host only.
 * @returns `stop()`, which ends the sampling and gives what was seen; safe to call twice.
 */
export function watchMariadbListeners(netns: string): { stop: () => Promise<MariadbListeners> } {
  const listeners: MariadbListeners = { sut: new Set(), here: new Set() };
  let sampling = true;
  const note = (stdout: string, into: Set<string>) => {
    for (const line of stdout.split('\n').filter((text) => text.includes('mariadbd'))) into.add(line.trim().split(/\s+/)[3]!);
  };
  const sampler = (async () => {
    while (sampling) {
      note((await runCommand(['ip', 'netns', 'exec', netns, 'ss', '-Hltnp'], { timeoutMs: 10_000 })).stdout, listeners.sut);
      note((await runCommand(['ss', '-Hltnp'], { timeoutMs: 10_000 })).stdout, listeners.here);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  })();
  return {
    stop: async () => {
      sampling = false;
      await sampler;
      return listeners;
    },
  };
}
