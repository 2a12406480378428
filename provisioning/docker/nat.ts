import { readdir, readFile } from 'node:fs/promises';
import { cpuSecondsOf, readProcessStat } from '../../core/proc.js';
import { runCommand } from '../../core/exec.js';

/**
 * Evidence of the path docker-nat's traffic takes: Docker's iptables DNAT rules (with their packet
 * counters) and the docker-proxy processes the daemon starts for published ports when its userland
 * proxy is on. Only connections the host makes to itself through loopback use docker-proxy; traffic
 * arriving from the client namespace is rewritten by DNAT before any socket sees it.
 */

/** One docker-proxy process: the daemon starts one per published port and protocol. */
export interface DockerProxy {
  /** In the host's pid namespace. */
  pid: number;
  proto: string;
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

/** `docker-proxy -proto tcp -host-ip A -host-port N -container-ip B -container-port M` (NUL-separated in /proc). */
export function parseDockerProxyArgs(args: readonly string[]): Omit<DockerProxy, 'pid'> | null {
  if (!args[0] || !/(^|\/)docker-proxy$/.test(args[0])) return null;
  const flag = (name: string) => {
    const index = args.indexOf(`-${name}`);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const proto = flag('proto');
  const hostIp = flag('host-ip');
  const hostPort = Number(flag('host-port'));
  const containerIp = flag('container-ip');
  const containerPort = Number(flag('container-port'));
  if (!proto || !hostIp || !containerIp || !Number.isInteger(hostPort) || !Number.isInteger(containerPort)) return null;
  return { proto, hostIp, hostPort, containerIp, containerPort };
}

/**
 * Every docker-proxy process `filter` accepts, found by scanning `/proc/PID/cmdline`; processes that
 * end during the scan are skipped.
 */
export async function findDockerProxies(filter: (proxy: DockerProxy) => boolean): Promise<DockerProxy[]> {
  const proxies: DockerProxy[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    const parsed = parseDockerProxyArgs(cmdline.split('\0').filter(Boolean));
    if (!parsed) continue;
    const proxy = { pid: Number(name), ...parsed };
    if (filter(proxy)) proxies.push(proxy);
  }
  return proxies;
}

/** User plus system CPU seconds of several processes together; one that has ended counts 0. */
export async function processesCpuSeconds(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const stat = await readProcessStat(pid);
    if (stat !== null) total += cpuSecondsOf(stat);
  }
  return total;
}

/** One `-j DNAT` rule of Docker's `DOCKER` chain in the nat table. */
export interface DnatRule {
  /** The `-d` address, without `/32`. */
  destination: string;
  /** The `-p` protocol (`tcp`, `udp`). */
  protocol: string;
  /** `--dport`. */
  port: number;
  /** `--to-destination`, `ADDRESS:PORT` in the container. */
  to: string;
  /** The rule's packet counter (0 when the line has no `-c`); a counter, so callers take differences. */
  packets: number;
  /** The rule's byte counter, like `packets`. */
  bytes: number;
}

/** Docker's DNAT rules from `iptables -t nat -S DOCKER -v` (`-c PACKETS BYTES` carries the counters). */
export function parseDnatRules(text: string): DnatRule[] {
  const rules: DnatRule[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('-A ') || !/ -j DNAT /.test(line)) continue;
    const destination = /(?:^| )-d (\S+?)(?:\/32)? /.exec(line)?.[1];
    const protocol = / -p (\S+) /.exec(line)?.[1];
    const port = Number(/ --dport (\d+)/.exec(line)?.[1]);
    const to = / --to-destination (\S+)/.exec(line)?.[1];
    const counters = / -c (\d+) (\d+)/.exec(line);
    if (!destination || !protocol || !to || !Number.isInteger(port)) continue;
    rules.push({ destination, protocol, port, to, packets: Number(counters?.[1] ?? 0), bytes: Number(counters?.[2] ?? 0) });
  }
  return rules;
}

/**
 * Docker's DNAT rules as they are now, counters included (`iptables -w`: waits for the xtables lock;
 * 10 s deadline).
 * @throws Error when iptables fails, e.g. without root or when there is no DOCKER chain.
 */
export async function readDnatRules(): Promise<DnatRule[]> {
  const outcome = await runCommand(['iptables', '-w', '-t', 'nat', '-S', 'DOCKER', '-v'], { timeoutMs: 10_000 });
  if (!outcome.ok) throw new Error(`cannot read Docker's nat rules: ${(outcome.stderr || outcome.stdout).trim()}`);
  return parseDnatRules(outcome.stdout);
}

/**
 * A probe run in the client namespace: one TCP connection to a published port with nothing listening
 * behind it in the container. Through DNAT the container's kernel refuses it; a userland proxy would
 * have accepted it first. Prints `refused`, `accepted` or `error:<code>`.
 */
export const CONNECT_PROBE_SCRIPT = `
const net = require('node:net');
const [host, port] = process.argv.slice(-2);
const socket = net.connect({ host, port: Number(port), timeout: 3000 });
socket.on('connect', () => { console.log('accepted'); socket.destroy(); });
socket.on('timeout', () => { console.log('error:timeout'); socket.destroy(); });
socket.on('error', (error) => console.log(error.code === 'ECONNREFUSED' ? 'refused' : 'error:' + error.code));
`;

/** The argv that runs CONNECT_PROBE_SCRIPT with `nodePath` (this Node) against `host:port`. */
export function connectProbeCommand(nodePath: string, host: string, port: number): string[] {
  return [nodePath, '-e', CONNECT_PROBE_SCRIPT, '--', host, String(port)];
}
