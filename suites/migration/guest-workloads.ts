import { z } from 'zod';
import { pollUntil, sleep } from '../../core/poll.js';
import type { ProvisionedTarget, ServicePort, TargetService } from '../../contracts/target.js';

/**
 * What runs in the guest during a migration trial: the echo server the probe talks to (always), and
 * the workload — nginx for `web`, isobench's memory dirtier for `dirty`. All of them are started
 * through the target (guest agent), so they keep running across the switch-over: the agent client
 * follows the guest to the destination.
 */

/** The UDP port of isobench-udp-echo in the guest. */
export const ECHO_PORT = 7_007;
/** The TCP port nginx listens on in the guest. */
export const WEB_PORT = 8_080;
/** The ports the suite's servers use, for docker-nat's published ports (the suite runs on kvm only). */
export const MIGRATION_PORTS: readonly ServicePort[] = [
  { port: ECHO_PORT, protocols: ['udp'], why: 'isobench-udp-echo (migration probe)' },
  { port: WEB_PORT, protocols: ['tcp'], why: 'nginx (migration, --workload web)' },
];
/** nginx's configuration file in the guest (tmpfs /run: nothing is left on the disk). */
export const NGINX_CONFIG = '/run/isobench-nginx.conf';
/** Where the dirtier writes its progress in the guest. */
export const DIRTIER_STATS = '/run/isobench-dirtier.json';
/** The page nginx serves: Debian's nginx package ships it (about 600 bytes). */
export const WEB_PAGE_ROOT = '/var/www/html';

/** Starts the echo server on the guest's address; it lives at most `timeoutMs`. */
export async function startEcho(target: ProvisionedTarget, program: string, timeoutMs: number): Promise<TargetService> {
  return target.startService({
    name: 'isobench-udp-echo',
    port: ECHO_PORT,
    protocols: ['udp'],
    command: ({ address, port }) => [program, address, String(port)],
    timeoutMs,
  });
}

/**
 * nginx's configuration for the web workload: one worker, no access log (the guest's disk would
 * be measured too), keep-alive without a request limit, Debian's default page.
 */
export function nginxConfig(address: string, port: number): string {
  return [
    'worker_processes 1;',
    'pid /run/isobench-nginx.pid;',
    'error_log /run/isobench-nginx-error.log;',
    'events { worker_connections 512; }',
    'http {',
    '  access_log off;',
    '  keepalive_requests 1000000;',
    `  server { listen ${address}:${port}; root ${WEB_PAGE_ROOT}; index index.nginx-debian.html; }`,
    '}',
    '',
  ].join('\n');
}

/**
 * Writes nginx's configuration into the guest and starts nginx in the foreground on the guest's
 * address; it lives at most `timeoutMs`.
 * @throws Error with the guest's stderr when the configuration cannot be written; startService's errors.
 */
export async function startWeb(target: ProvisionedTarget, timeoutMs: number): Promise<{ service: TargetService; commands: string[][] }> {
  const write = ['sh', '-c', `printf '%s' "$1" > ${NGINX_CONFIG}`, 'sh', nginxConfig(target.serverAddress, WEB_PORT)];
  const written = await target.exec(write, { timeoutMs: 30_000 });
  if (!written.ok) throw new Error(`writing ${NGINX_CONFIG} in the guest failed: ${written.stderr.trim() || `exit code ${written.exitCode}`}`);
  const service = await target.startService({
    name: 'nginx',
    port: WEB_PORT,
    protocols: ['tcp'],
    command: () => ['nginx', '-c', NGINX_CONFIG, '-g', 'daemon off;'],
    timeoutMs,
  });
  return { service, commands: [write, [...service.command]] };
}

/** The dirtier's progress line (provisioning/image/files/isobench-dirtier.c). */
export const DirtierStats = z.object({
  wws_mib: z.number().int().positive(),
  rate_mib_s: z.number().int().nonnegative(),
  page_bytes: z.number().int().positive(),
  elapsed_s: z.number().nonnegative(),
  pages_written: z.number().int().nonnegative(),
  last_second_mib_s: z.number().nonnegative(),
  late_slices: z.number().int().nonnegative(),
  running: z.boolean(),
});
/** A parsed DirtierStats. */
export type DirtierStats = z.infer<typeof DirtierStats>;

/** The MiB per second a dirtier's report says it wrote over its whole run (pages × page size / elapsed); null before a second passed. */
export function achievedRate(stats: DirtierStats): number | null {
  if (stats.elapsed_s <= 0) return null;
  return (stats.pages_written * stats.page_bytes) / 1_048_576 / stats.elapsed_s;
}

/** A dirtier running in the guest. */
export interface Dirtier {
  /** The command started in the guest. */
  readonly command: readonly string[];
  /** Its progress now; null when the file is not there yet or unreadable. */
  read(): Promise<DirtierStats | null>;
  /** Stops it (SIGTERM: it writes its last progress) and returns that; null when none could be read. */
  stop(): Promise<DirtierStats | null>;
}

/**
 * Starts isobench-dirtier in the background in the guest under coreutils' `timeout`, so it ends
 * after `maxSeconds` even if isobench is gone, and waits until its pages are mapped and its first
 * progress report is written (about a second).
 * @throws Error with the guest's stderr when it does not start; DeadlineError with its stderr when it reports nothing within 30 s.
 */
export async function startDirtier(target: ProvisionedTarget, program: string, wwsMiB: number, rateMiBs: number, maxSeconds: number): Promise<Dirtier> {
  const dirtier = ['timeout', String(Math.ceil(maxSeconds)), program, String(wwsMiB), String(rateMiBs), DIRTIER_STATS];
  const command = ['sh', '-c', `rm -f ${DIRTIER_STATS}; "$@" </dev/null >/dev/null 2>/run/isobench-dirtier.err & echo $!`, 'sh', ...dirtier];
  const started = await target.exec(command, { timeoutMs: 30_000 });
  const pid = Number(started.stdout.trim());
  if (!started.ok || !Number.isInteger(pid) || pid <= 0) throw new Error(`starting the dirtier in the guest failed: ${started.stderr.trim() || started.stdout.trim()}`);
  const read = async (): Promise<DirtierStats | null> => {
    const outcome = await target.exec(['cat', DIRTIER_STATS], { timeoutMs: 15_000 }).catch(() => null);
    if (!outcome?.ok) return null;
    try {
      const parsed = DirtierStats.safeParse(JSON.parse(outcome.stdout));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  };
  await pollUntil(read, {
    timeoutMs: 30_000,
    intervalMs: 250,
    what: 'the dirtier in the guest wrote no progress',
    detail: async () => (await target.exec(['cat', '/run/isobench-dirtier.err'], { timeoutMs: 10_000 }).catch(() => null))?.stdout.trim(),
  });
  return {
    command,
    read,
    async stop() {
      await target.exec(['kill', '-TERM', String(pid)], { timeoutMs: 15_000 }).catch(() => null);
      // It writes its last report on the signal; give it a moment.
      await sleep(300);
      return read();
    },
  };
}
