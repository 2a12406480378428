/**
 * Issue 13 §4, exposure: while a suite runs, no isobench service may listen on an address outside the
 * test range or loopback. Read with `ss -H -ltnup` (listening TCP and unconnected UDP sockets, numeric,
 * with their processes) in the host's network namespace: what is reachable from the machine's network.
 * Servers inside the client namespace, containers or guests are behind the test network anyway.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { allProcessStats } from '../../core/proc.js';
import { cidrContains, parseAddress, parseCidr } from '../../provisioning/ipv4.js';
import { DEFAULT_GUARD_RANGE, LINK_PREFIX } from '../../provisioning/topology.js';

const run = promisify(execFile);

/** One listening socket as `ss -H -ltnup` prints it. */
export interface Listener {
  protocol: 'tcp' | 'udp';
  /** The local address without brackets or `%interface`: `198.18.0.1`, `0.0.0.0`, `*`, `::`, `::1`. */
  address: string;
  port: number;
  /** The device it is bound to (`127.0.0.53%lo`), or null. */
  device: string | null;
  /** The processes holding it; empty when ss cannot tell (a socket of another PID namespace). */
  processes: Array<{ name: string; pid: number }>;
  /** The line as ss printed it, for messages. */
  line: string;
}

/**
 * Parses `ss -H -ltnup` output. Local addresses come as `198.18.0.1:5201`, `*:5201`, `[::]:22`,
 * `[::ffff:198.18.0.1]:5201`, `127.0.0.53%lo:53` or `[fe80::1]%eth0:546`.
 * @throws Error naming a line that does not have that shape.
 */
export function parseListeners(text: string): Listener[] {
  const listeners: Listener[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    const [protocol, , , , local] = fields;
    const match = /^(\[[^\]]*\]|[^%[\]]*?)(?:%([^:]+))?:(\d+|\*)$/.exec(local ?? '');
    if ((protocol !== 'tcp' && protocol !== 'udp') || !match) throw new Error(`unexpected ss line: ${line}`);
    const processes = [...line.matchAll(/\("([^"]+)",pid=(\d+),fd=\d+\)/g)].map((found) => ({ name: found[1]!, pid: Number(found[2]) }));
    listeners.push({ protocol, address: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[3]), device: match[2] ?? null, processes, line: line.trim() });
  }
  return listeners;
}

/**
 * Whether a listener is reachable only from loopback or the test range (default DEFAULT_GUARD_RANGE):
 * an IPv4 address in 127.0.0.0/8 or the range (also as `::ffff:a.b.c.d`), `::1`, or any address bound
 * to `lo` or to one of isobench's own links (`ib-…`). A wildcard (`0.0.0.0`, `*`, `::`) or any other
 * address is reachable from the machine's network.
 */
export function listensPrivately(listener: Listener, guardRange: string = DEFAULT_GUARD_RANGE): boolean {
  if (listener.device === 'lo' || listener.device?.startsWith(LINK_PREFIX)) return true;
  const address = listener.address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (address === '::1') return true;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(address)) return false;
  const value = parseAddress(address);
  return cidrContains(parseCidr('127.0.0.0/8'), value) || cidrContains(parseCidr(guardRange), value);
}

/** Programs isobench starts as services on the host or through Docker, by the name ss shows. */
const SERVICE_NAMES = /^(iperf3|sockperf|mariadbd|mysqld|docker-proxy|qemu-system-.*)$/;

/** Every listening socket in the host's network namespace now. */
export async function listListeners(): Promise<Listener[]> {
  const { stdout } = await run('ss', ['-H', '-ltnup'], { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 });
  return parseListeners(stdout);
}

const key = (listener: Listener) => `${listener.protocol} ${listener.address}%${listener.device ?? ''}:${listener.port}`;

/** What {@link ListenerWatch.stop} reports. */
export interface ListenerReport {
  /** How many times ss was read while the work ran (at least once). */
  samples: number;
  /** Listeners that appeared during the work and belong to isobench: a known service or a descendant of this test process. */
  services: Listener[];
  /** The subset of `services` that listened outside loopback and the test range: must be empty. */
  exposed: Listener[];
}

/** A running watch; see {@link watchListeners}. */
export interface ListenerWatch {
  /** Stops polling, takes a last sample, and reports. */
  stop(): Promise<ListenerReport>;
}

/**
 * Reads the listening sockets now (the baseline: the machine's own services are not isobench's),
 * then every `intervalMs` until stopped, keeping each new one that isobench started: a process named
 * like one of its services (iperf3, sockperf, mariadbd, docker-proxy, QEMU, …) or a descendant of
 * this process (the CLI a test runs, and what it starts).
 */
export async function watchListeners(options: { intervalMs?: number; guardRange?: string } = {}): Promise<ListenerWatch> {
  const baseline = new Set((await listListeners()).map(key));
  const seen = new Map<string, Listener>();
  let samples = 0;
  let failure: Error | undefined;

  const sample = async () => {
    const fresh = (await listListeners()).filter((listener) => !baseline.has(key(listener)) && !seen.has(key(listener)));
    samples++;
    if (fresh.length === 0) return;
    const parents = new Map((await allProcessStats()).map((stat) => [stat.pid, stat.ppid]));
    const descends = (pid: number) => {
      for (let current: number | undefined = pid, hops = 0; current !== undefined && current > 1 && hops < 64; current = parents.get(current), hops++) {
        if (current === process.pid) return true;
      }
      return false;
    };
    for (const listener of fresh) {
      if (listener.processes.some((owner) => SERVICE_NAMES.test(owner.name) || descends(owner.pid))) seen.set(key(listener), listener);
    }
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await sample().catch((error: unknown) => (failure ??= error instanceof Error ? error : new Error(`ss: ${JSON.stringify(error)}`)));
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await sample();
      if (failure instanceof Error) throw failure;
      const services = [...seen.values()];
      return { samples, services, exposed: services.filter((listener) => !listensPrivately(listener, options.guardRange)) };
    },
  };
}
