import { randomBytes } from 'node:crypto';
import { describeFailure, type CommandOutcome } from '../../core/exec.js';
import { pollUntil } from '../../core/poll.js';
import type { ProvisionedTarget, ServicePort, TargetService } from '../../contracts/target.js';

/**
 * isobench's own MariaDB server on a target: its files in the target's data directory (host disk,
 * Docker volume or overlay, the guest's virtio disk), its configuration on the command line
 * (`--no-defaults`: no my.cnf of the host or the image is read), listening only on the target's test
 * address, reached as a user with a generated password. Never the machine's own MariaDB: not its
 * data directory, socket, configuration or port on loopback.
 */

/**
 * The ports isobench's servers may listen on. Native and docker-host share the host's test address,
 * and a server lives for all of a target's trials, so two targets on one address need two ports:
 * each target takes the first free one for its address (docker-nat publishes all of them).
 */
export const MARIADB_PORTS = [3306, 3307, 3308, 3309] as const;
/** The suite's `ports`: every port of MARIADB_PORTS, TCP. */
export const MARIADB_SERVICE_PORTS: readonly ServicePort[] = MARIADB_PORTS.map((port) => ({ port, protocols: ['tcp'], why: 'MariaDB (mysql)' }));

/** How long a server may live, in ms: a backstop only (finish stops it, and the run's ledger on Ctrl-C); 24 h covers a full sweep on five configurations. */
export const SERVER_LIFETIME_MS = 24 * 3600_000;
/** How long a started server may take to answer on its socket, in ms (InnoDB's start on a TCG guest takes seconds). */
export const SERVER_ANSWER_TIMEOUT_MS = 120_000;
/** Deadline of `mariadb-install-db`, in ms (it starts a bootstrap server; under TCG that takes a while). */
export const INSTALL_TIMEOUT_MS = 300_000;
/** The buffer pool never exceeds this, in MiB: the paper-scale table (2M rows, about 0.5 GB) fits with room. */
export const MAX_BUFFER_POOL_MIB = 4096;
/** Nor goes below this (MariaDB's own default), in MiB. */
export const MIN_BUFFER_POOL_MIB = 128;
/** The user sysbench connects as (created with a generated password, for any client address: the server listens on the test address only). */
export const SYSBENCH_USER = 'isobench';
/** sysbench's database (its default name). */
export const SYSBENCH_DATABASE = 'sbtest';

/** Where one server's files live on the target. */
export interface MariadbLayout {
  /** Everything of the server, removed by `remove`. */
  directory: string;
  dataDirectory: string;
  socket: string;
  pidFile: string;
  /** MariaDB's error log: its start, its warnings, why it stopped. */
  errorLog: string;
}

/** The server's files under `<target data directory>/isobench-mariadb-<port>/`. */
export function mariadbLayout(targetDataDirectory: string, port: number): MariadbLayout {
  const directory = `${targetDataDirectory.replace(/\/$/, '')}/isobench-mariadb-${port}`;
  return {
    directory,
    dataDirectory: `${directory}/data`,
    socket: `${directory}/mariadbd.sock`,
    pidFile: `${directory}/mariadbd.pid`,
    errorLog: `${directory}/error.log`,
  };
}

/** What the configuration depends on. */
export interface MariadbSettings {
  /** innodb_buffer_pool_size in MiB (bufferPoolMiB). */
  bufferPoolMiB: number;
  /** max_connections: above the largest thread count, with room. */
  maxConnections: number;
}

/**
 * Half the target's memory (its /proc/meminfo MemTotal: the host's for native and containers, the
 * guest's own), in whole 128 MiB chunks, within MIN_BUFFER_POOL_MIB..MAX_BUFFER_POOL_MIB.
 */
export function bufferPoolMiB(memTotalKiB: number): number {
  const half = Math.floor(memTotalKiB / 1024 / 2 / 128) * 128;
  return Math.min(MAX_BUFFER_POOL_MIB, Math.max(MIN_BUFFER_POOL_MIB, half));
}

/** max_connections for a sweep up to `maxThreads`: the threads, the warm-up and setup sessions, and room; at least 1000. */
export function maxConnectionsFor(maxThreads: number): number {
  return Math.max(1000, maxThreads * 2 + 50);
}

/** Creates the system tables in a fresh data directory; root may log in only as the OS root over the socket. */
export function installCommand(layout: MariadbLayout): string[] {
  return [
    'mariadb-install-db', '--no-defaults', '--user=root', `--datadir=${layout.dataDirectory}`,
    '--auth-root-authentication-method=socket', '--skip-test-db', '--skip-name-resolve',
  ];
}

/**
 * The server's command line, modelled on Felter et al.'s: the buffer pool sized to the target,
 * O_DIRECT data files (the page cache is not a second buffer pool), the log flushed once a second
 * rather than at every commit (`innodb_flush_log_at_trx_commit=0`), many connections, room for
 * sysbench's prepared statements. The buffer pool is neither dumped nor loaded (the warm-up fills it).
 * `--user=root`: every target runs it as root (the run directory of native is root's alone).
 */
export function serverCommand(layout: MariadbLayout, settings: MariadbSettings, bind: { address: string; port: number }): string[] {
  return [
    'mariadbd', '--no-defaults', '--user=root',
    `--datadir=${layout.dataDirectory}`, `--socket=${layout.socket}`, `--pid-file=${layout.pidFile}`, `--log-error=${layout.errorLog}`,
    `--bind-address=${bind.address}`, `--port=${bind.port}`, '--skip-name-resolve',
    `--innodb-buffer-pool-size=${settings.bufferPoolMiB}M`,
    '--innodb-flush-method=O_DIRECT',
    '--innodb-flush-log-at-trx-commit=0',
    '--innodb-buffer-pool-dump-at-shutdown=OFF', '--innodb-buffer-pool-load-at-startup=OFF',
    `--max-connections=${settings.maxConnections}`,
    '--max-prepared-stmt-count=1048576',
  ];
}

/** The `mariadb` client on the server's socket, as root (unix_socket authentication), no option files. */
export function socketClient(layout: MariadbLayout): string[] {
  return ['mariadb', '--no-defaults', '--protocol=socket', `--socket=${layout.socket}`, '--user=root', '--batch', '--skip-column-names'];
}

/** A password of 24 URL-safe characters: nothing in it needs quoting in SQL or on a command line. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** The statements that make sysbench's database and its user (fed on stdin, so the password is on no command line). */
export function setupSql(password: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new Error('the generated password has characters that would need quoting');
  return [
    `CREATE DATABASE ${SYSBENCH_DATABASE};`,
    `CREATE USER '${SYSBENCH_USER}'@'%' IDENTIFIED BY '${password}';`,
    `GRANT ALL PRIVILEGES ON ${SYSBENCH_DATABASE}.* TO '${SYSBENCH_USER}'@'%';`,
    'SELECT VERSION();',
  ].join('\n');
}

/**
 * The target's memory in KiB (MemTotal of /proc/meminfo as the target sees it).
 * @throws Error when the file cannot be read or has no MemTotal line.
 */
export async function memTotalKiB(target: ProvisionedTarget): Promise<number> {
  const outcome = await target.exec(['cat', '/proc/meminfo'], { timeoutMs: 30_000 });
  const match = /^MemTotal:\s+(\d+) kB$/m.exec(outcome.stdout);
  if (!outcome.ok || !match) throw new Error(`reading the target's memory failed: ${outcome.ok ? 'no MemTotal line in /proc/meminfo' : describeFailure(outcome)}`);
  return Number(match[1]);
}

/** Ports claimed by servers this process started, by the address they listen on. */
const claimed = new Map<string, Set<number>>();

/**
 * The first of MARIADB_PORTS no other server of this run listens on at `address`.
 * @throws Error when all are taken (more configurations on one address than ports).
 */
export function claimPort(address: string): number {
  const taken = claimed.get(address) ?? new Set<number>();
  const port = MARIADB_PORTS.find((candidate) => !taken.has(candidate));
  if (port === undefined) throw new Error(`all of MariaDB's ports (${MARIADB_PORTS.join(', ')}) are taken on ${address}: run fewer configurations that share the host's address`);
  taken.add(port);
  claimed.set(address, taken);
  return port;
}

/** Gives a port back (idempotent). */
export function releasePort(address: string, port: number): void {
  claimed.get(address)?.delete(port);
}

/** A server isobench started on a target and set up for sysbench. */
export interface MariadbServer {
  layout: MariadbLayout;
  settings: MariadbSettings;
  /** The port it listens on, at the target's test address. */
  port: number;
  password: string;
  /** `SELECT VERSION()`, e.g. `10.11.18-MariaDB-0+deb12u1`. */
  version: string;
  /** The install and server command lines as they ran (server: with the target's wrapper). */
  commands: string[][];
  service: TargetService;
}

/**
 * Installs a fresh data directory, starts the server on the target's test address (startService
 * returns once it listens), waits until it answers on its socket, and creates sysbench's database
 * and user. On failure everything it made is removed again.
 * @throws Error naming the step, with the last lines of the server's error log when the server did
 *   not start or answer.
 */
export async function startMariadb(target: ProvisionedTarget, settings: MariadbSettings, port: number): Promise<MariadbServer> {
  const layout = mariadbLayout(target.dataDirectory, port);
  const commands: string[][] = [];
  let service: TargetService | undefined;
  try {
    await checked(target, ['rm', '-rf', layout.directory], 60_000, 'removing an earlier server directory');
    await checked(target, ['mkdir', '-p', layout.directory], 30_000, `creating ${layout.directory}`);
    const install = installCommand(layout);
    commands.push(install);
    await checked(target, install, INSTALL_TIMEOUT_MS, 'creating the system tables (mariadb-install-db)');
    try {
      service = await target.startService({
        name: 'mariadbd',
        port,
        protocols: ['tcp'],
        command: (bind) => serverCommand(layout, settings, bind),
        timeoutMs: SERVER_LIFETIME_MS,
      });
    } catch (error) {
      throw new Error(`starting mariadbd failed: ${(error as Error).message}${await errorLogSuffix(target, layout)}`, { cause: error });
    }
    commands.push([...service.command]);
    const password = generatePassword();
    await pollUntil(async () => (await target.exec([...socketClient(layout), '--execute=SELECT 1'], { timeoutMs: 10_000 })).ok, {
      timeoutMs: SERVER_ANSWER_TIMEOUT_MS,
      intervalMs: 100,
      maxIntervalMs: 1_000,
      what: `mariadbd did not answer on ${layout.socket}`,
      detail: async () => (await errorLogSuffix(target, layout)).replace(/^; /, ''),
    });
    const setup = await target.exec(socketClient(layout), { input: setupSql(password), timeoutMs: 60_000 });
    if (!setup.ok) throw new Error(`creating sysbench's database and user failed: ${describeFailure(setup)}`);
    return { layout, settings, port, password, version: setup.stdout.trim().split('\n').pop() ?? 'unknown', commands, service };
  } catch (error) {
    await service?.stop().catch(() => {});
    await target.exec(['rm', '-rf', layout.directory], { timeoutMs: 60_000 }).catch(() => {});
    throw error;
  }
}

/** How mariadbd's error log says its port is taken (`Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use`). */
const ADDRESS_IN_USE = /Bind on TCP\/IP port|Address already in use/;

/**
 * Starts a server on the first port of MARIADB_PORTS that is free at the target's test address:
 * claimed by no other server of this run, and not taken by another program (a machine's own MariaDB
 * listening on 0.0.0.0:3306 holds 3306 on the test address too). A port in use is skipped.
 * The port stays claimed until `releasePort`.
 * @throws Error when every port is claimed or in use (naming the ones in use), or as startMariadb.
 */
export async function startMariadbOnFreePort(target: ProvisionedTarget, settings: MariadbSettings): Promise<MariadbServer> {
  const address = target.serverAddress;
  const inUse: number[] = [];
  try {
    for (;;) {
      let port: number;
      try {
        port = claimPort(address);
      } catch (error) {
        if (inUse.length === 0) throw error;
        const others = inUse.length === MARIADB_PORTS.length ? '' : ', the others by this run\'s other servers';
        throw new Error(`no MariaDB port is free on ${address}: ${inUse.join(', ')} in use by another program${others}`, { cause: error });
      }
      try {
        return await startMariadb(target, settings, port);
      } catch (error) {
        if (!ADDRESS_IN_USE.test((error as Error).message)) {
          releasePort(address, port);
          throw error;
        }
        // Keep it claimed while the next ones are tried; give it back once a port is found.
        inUse.push(port);
      }
    }
  } finally {
    for (const port of inUse) releasePort(address, port);
  }
}

/**
 * Shuts the server down cleanly (SQL `SHUTDOWN` on its socket), ends its process whatever that
 * said, and removes its directory. Never throws: it runs at the end, after the measurements.
 */
export async function stopMariadb(target: ProvisionedTarget, server: MariadbServer): Promise<void> {
  await target.exec([...socketClient(server.layout), '--execute=SHUTDOWN'], { timeoutMs: 60_000 }).catch(() => null);
  await server.service.stop().catch(() => {});
  await target.exec(['rm', '-rf', server.layout.directory], { timeoutMs: 120_000 }).catch(() => null);
}

/** The last `lines` lines of the server's error log, or null when it cannot be read. */
export async function errorLogTail(target: ProvisionedTarget, layout: MariadbLayout, lines = 20): Promise<string | null> {
  const outcome = await target.exec(['tail', '-n', String(lines), layout.errorLog], { timeoutMs: 30_000 }).catch(() => null);
  return outcome?.ok ? outcome.stdout.trim() : null;
}

/** The whole error log, or null when it cannot be read. */
export async function errorLog(target: ProvisionedTarget, layout: MariadbLayout): Promise<string | null> {
  const outcome = await target.exec(['cat', layout.errorLog], { timeoutMs: 30_000 }).catch(() => null);
  return outcome?.ok ? outcome.stdout : null;
}

async function errorLogSuffix(target: ProvisionedTarget, layout: MariadbLayout): Promise<string> {
  const tail = await errorLogTail(target, layout, 5);
  return tail ? `; its error log ends: ${tail.split('\n').join(' | ')}` : '';
}

async function checked(target: ProvisionedTarget, command: string[], timeoutMs: number, step: string): Promise<CommandOutcome> {
  const outcome = await target.exec(command, { timeoutMs });
  if (!outcome.ok) throw new Error(`${step} failed: ${describeFailure(outcome)}`);
  return outcome;
}
