import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CpuWindow } from '../../core/cpu-meter.js';
import { describeFailure, type CommandOutcome } from '../../core/exec.js';
import type { Suite, SuiteContext, TrialOutcome } from '../../contracts/suite.js';
import type { ProvisionedTarget } from '../../contracts/target.js';
import { cpuBusyPercentOf, cpuUsPerTransactionOf, hostCpuSource, MYSQL_METRICS as M } from '../../results/metrics.js';
import type { MetricSample } from '../../results/schema.js';
import { ToolOutputError } from '../parse-error.js';
import { failedTrial, sample } from '../trial-helpers.js';
import { MysqlOptions, MysqlParams, resolvePlan, type MysqlPlan } from './options.js';
import {
  bufferPoolMiB, errorLog, errorLogTail, MARIADB_SERVICE_PORTS, maxConnectionsFor, memTotalKiB, releasePort,
  startMariadbOnFreePort, stopMariadb, SYSBENCH_DATABASE, SYSBENCH_USER, type MariadbServer,
} from './server.js';
import { prepareCommand, redactPassword, runCommand, type SysbenchConnection, type SysbenchTables } from './sysbench-command.js';
import { parseSysbenchPrepare, parseSysbenchRun, SysbenchFatalError, type SysbenchInterval, type SysbenchReport } from './sysbench-report.js';

/** What `prepare` leaves running on a target for its trials. */
export interface MysqlState {
  server: MariadbServer;
  /** The address the server listens on and its port was claimed for. */
  address: string;
  connection: SysbenchConnection;
  tables: SysbenchTables;
  /** The commands that made the server and its tables, as stored (password replaced): every trial lists them first. */
  setupCommands: string[][];
  /** sysbench's version, from the prepare output. */
  sysbenchVersion: string;
  /** Seconds spent in the table load and in the warm-up. */
  loadSeconds: number;
  warmupSeconds: number;
}

/** Deadline of the table load, in ms: 10 min quick; 3 h at the paper's scale (a TCG guest loads slowly). */
export const LOAD_TIMEOUT_MS = { quick: 600_000, full: 3 * 3600_000 } as const;
/** A run may take this long past its `--time` (connecting, sysbench's report), in ms, before it is killed. */
export const RUN_GRACE_MS = 120_000;

/**
 * Felter et al. 2014's MySQL figures: isobench's own MariaDB server on the target (data on its
 * storage, listening on its test address), sysbench OLTP from the client namespace, one point per
 * thread count. `prepare` starts the server, loads the tables once and warms the buffer pool; every
 * trial is one fresh `sysbench run`; `finish` stops the server and removes its data. Headline:
 * `transactions_per_s`.
 */
export const mysqlSuite: Suite<MysqlParams, MysqlOptions, MysqlState> = {
  name: 'mysql',
  description: 'sysbench OLTP (read-only by default) against MariaDB on the target: transactions/s, latency and CPU per transaction against threads',
  figure: 'Felter et al. 2014, Figs. "MySQL throughput (transactions/s) vs. concurrency" and "MySQL throughput vs. latency"',
  hostTools: [
    { command: 'sysbench', debianPackage: 'sysbench', why: 'for the mysql suite (the client side)', side: 'client' },
    { command: 'mariadbd', debianPackage: 'mariadb-server', why: 'for the mysql suite on the native target (isobench starts its own server; the package\'s service is not started)', startsService: true, side: 'target' },
    { command: 'mariadb-install-db', debianPackage: 'mariadb-server', why: 'to create the native server\'s system tables', startsService: true, side: 'target' },
    { command: 'mariadb', debianPackage: 'mariadb-client', why: 'to set up and stop the native server over its socket', side: 'target' },
  ],
  ports: MARIADB_SERVICE_PORTS,
  flags: [
    { name: 'threads', valueName: 'LIST', description: 'mysql: sysbench thread counts, e.g. 1,2,4,8 (quick 1,2,4; full 1..16 x cores)' },
    { name: 'tables', valueName: 'N', description: 'mysql: sysbench tables, default 1 (the paper\'s)' },
    { name: 'table-size', valueName: 'N', description: 'mysql: rows per table (quick 10000, full 2000000 as in the paper)' },
    { name: 'mode', valueName: 'read-only|read-write', description: 'mysql: oltp_read_only (default, the paper\'s) or oltp_read_write' },
    { name: 'duration', valueName: 'S', description: 'mysql: seconds per point (quick 5, full 60)' },
  ],
  options: MysqlOptions,
  params: MysqlParams,

  points(config) {
    const plan = resolvePlan(config);
    return plan.threads.map((threads) => ({
      id: `threads-${threads}`,
      params: { threads, mode: plan.mode, script: plan.script, tables: plan.tables, tableSize: plan.tableSize, seconds: plan.seconds, percentile: 95 },
      headline: M.transactionsPerSecond,
    }));
  },

  /**
   * Starts the server, loads the tables from the client namespace, checks every row arrived, and
   * warms the buffer pool with one run at the largest thread count.
   * @throws Error naming the step, with the end of the server's error log (kept whole beside the
   *   results where the runner says where); the server and its data are removed first.
   */
  async prepare(context) {
    const { target, client, config } = context;
    const plan = resolvePlan(config);
    const address = target.serverAddress;
    let server: MariadbServer | undefined;
    try {
      const settings = { bufferPoolMiB: bufferPoolMiB(await memTotalKiB(target)), maxConnections: maxConnectionsFor(Math.max(...plan.threads)) };
      server = await startMariadbOnFreePort(target, settings);
      const port = server.port;
      await context.verifyDestination(address);
      const connection: SysbenchConnection = { host: address, port, user: SYSBENCH_USER, password: server.password, database: SYSBENCH_DATABASE };
      const tables: SysbenchTables = { script: plan.script, tables: plan.tables, tableSize: plan.tableSize };

      const load = prepareCommand(connection, tables, config.cores);
      const loadStarted = performance.now();
      const loaded = await client.exec(load, { timeoutMs: config.quick ? LOAD_TIMEOUT_MS.quick : LOAD_TIMEOUT_MS.full });
      const loadSeconds = (performance.now() - loadStarted) / 1000;
      let prepared;
      try {
        prepared = parseSysbenchPrepare(loaded.stdout);
      } catch (error) {
        // FATAL says why; a load killed at its deadline prints half a report, and its exit says more.
        if (error instanceof SysbenchFatalError || loaded.ok) throw error;
        throw new Error(`loading the tables failed: ${redactedFailure(loaded)}`, { cause: error });
      }
      if (!loaded.ok) throw new Error(`loading the tables failed: ${redactedFailure(loaded)}`);
      checkLoad(prepared.rowsInserted, plan);

      const warmup = runCommand(connection, tables, Math.max(...plan.threads), plan.warmupSeconds);
      const warmupStarted = performance.now();
      const warmed = await client.exec(warmup, { timeoutMs: plan.warmupSeconds * 1000 + RUN_GRACE_MS });
      const warmupSeconds = (performance.now() - warmupStarted) / 1000;
      const warmRun = parseSysbenchRun(warmed.stdout);
      if (warmRun.state === 'failed') throw new Error(`the warm-up run failed: ${fatalSummary(warmRun.fatal, warmRun.intervals)}`);
      if (!warmed.ok) throw new Error(`the warm-up run failed: ${redactedFailure(warmed)}`);

      return {
        server,
        address,
        connection,
        tables,
        setupCommands: [...server.commands, redactPassword(client.wrap(load)), redactPassword(client.wrap(warmup))],
        sysbenchVersion: prepared.version,
        loadSeconds,
        warmupSeconds,
      };
    } catch (error) {
      const saved = server ? await keepErrorLog(context, server, 'prepare') : '';
      const tail = server ? await errorLogTail(target, server.layout, 5) : null;
      if (server) {
        await stopMariadb(target, server);
        releasePort(address, server.port);
      }
      const message = (error as Error).message;
      throw new Error(`${message}${tail && !message.includes('error log') ? `; the server's error log ends: ${tail.split('\n').join(' | ')}` : ''}${saved}`, { cause: error });
    }
  },

  async runTrial(point, context) {
    const { target, client, state } = context;
    const command = runCommand(state.connection, state.tables, point.params.threads, point.params.seconds);
    const commands = [...state.setupCommands, redactPassword(client.wrap(command))];
    try {
      await context.verifyDestination(state.address);
      const stop = await context.cpu.start(() => target.cpuCounters());
      const outcome = await client.exec(command, { timeoutMs: point.params.seconds * 1000 + RUN_GRACE_MS });
      const window = await stop();
      const failure = async (reason: string): Promise<TrialOutcome> => ({
        state: 'failed',
        reason: `${reason}${await serverSide(context, state, point.id)}`,
        commands,
      });
      let run;
      try {
        run = parseSysbenchRun(outcome.stdout);
      } catch (error) {
        // A run killed at its deadline or refused by the shell prints a partial report: its exit says more.
        if (!outcome.ok) return await failure(redactedFailure(outcome));
        throw error;
      }
      if (run.state === 'failed') return await failure(`sysbench stopped: ${fatalSummary(run.fatal, run.intervals)}`);
      if (!outcome.ok) return await failure(redactedFailure(outcome));
      return { state: 'completed', metrics: mysqlMetrics(run.report, window, point.params.threads, `sysbench ${run.report.version} ${state.tables.script} -> MariaDB ${state.server.version}`), commands };
    } catch (error) {
      return failedTrial(error, commands);
    }
  },

  async finish({ target }, state) {
    await stopMariadb(target, state.server);
    releasePort(state.address, state.server.port);
  },
};

/**
 * One trial's samples:
 * - `transactions_per_s` and `queries_per_s` as sysbench computed them (count over its total time);
 * - `latency_mean_ms` and `latency_p95_ms` of the transactions;
 * - `errors` (ignored and retried) and `reconnects` over the run;
 * - `cpu_us_per_tx`: whole-host busy CPU seconds x 1e6 over transactions, the window spanning the
 *   sysbench process (connecting and reporting included, so a little above the steady state);
 *   `cpu_busy_percent`: the host's busy share of all cores over that window; in lab mode (the
 *   window's hosts are named) instead `cpu_us_per_tx_host NAME` and `cpu_busy_percent_host NAME` per host;
 * - `cpu_us_per_tx_SOURCE` for each of the target's own CPU sources (cgroup, QEMU process, guest).
 * @throws ToolOutputError when sysbench ran another thread count than asked, or completed no transaction.
 */
export function mysqlMetrics(report: SysbenchReport, window: CpuWindow, threads: number, method: string): MetricSample[] {
  if (report.threads !== threads) throw new ToolOutputError('sysbench', `it ran ${report.threads} threads, not the ${threads} asked for`);
  if (report.transactions === 0) throw new ToolOutputError('sysbench', `no transaction completed in ${report.totalSeconds} s`);
  const p95 = report.latencyMs.percentiles['95'];
  if (p95 === undefined) throw new ToolOutputError('sysbench', 'no 95th percentile line (the run must have --percentile=95)');
  const perTransaction = (seconds: number) => (seconds * 1e6) / report.transactions;
  const cpuMethod = 'proc-stat: whole-host busy CPU time over the sysbench run / transactions';
  const metrics: MetricSample[] = [
    sample(M.transactionsPerSecond, report.transactionsPerSecond, method),
    sample(M.queriesPerSecond, report.queriesPerSecond, method),
    sample(M.latencyMean, report.latencyMs.avg, method),
    sample(M.latencyP95, p95, method),
    sample(M.errors, report.ignoredErrors, method),
    sample(M.reconnects, report.reconnects, method),
  ];
  for (const host of window.hosts) {
    if (host.host === null) {
      metrics.push(sample(M.cpuUsPerTransaction, perTransaction(host.busySeconds), cpuMethod));
      metrics.push(sample(M.cpuBusyPercent, host.busyFraction * 100, 'proc-stat: whole host, all cores'));
    } else {
      const source = hostCpuSource(host.host);
      metrics.push(sample(cpuUsPerTransactionOf(source), perTransaction(host.busySeconds), `proc-stat of host ${host.host}: its busy CPU time over the sysbench run / transactions`));
      metrics.push(sample(cpuBusyPercentOf(source), host.busyFraction * 100, `proc-stat of host ${host.host}: all its cores`));
    }
  }
  for (const source of window.sources) metrics.push(sample(cpuUsPerTransactionOf(source.source), perTransaction(source.seconds), source.source));
  return metrics;
}

/** The first FATAL lines (three at most) and how far the run got by its interval reports. */
export function fatalSummary(fatal: readonly string[], intervals: readonly SysbenchInterval[]): string {
  const unique = [...new Set(fatal)];
  const lines = unique.slice(0, 3).join(' | ') + (unique.length > 3 ? ` | … (${unique.length - 3} more)` : '');
  const last = intervals.at(-1);
  return last ? `${lines} (after ${last.atSeconds} s; the last interval reported ${last.transactionsPerSecond} tx/s with ${last.threads} threads)` : `${lines} (before any interval report)`;
}

function checkLoad(rowsInserted: Map<string, number>, plan: MysqlPlan): void {
  for (let table = 1; table <= plan.tables; table++) {
    const rows = rowsInserted.get(`sbtest${table}`);
    if (rows !== plan.tableSize) throw new Error(`sysbench prepare inserted ${rows ?? 'no'} rows into sbtest${table}, not ${plan.tableSize}`);
  }
}

function redactedFailure(outcome: CommandOutcome): string {
  return describeFailure({ ...outcome, command: redactPassword(outcome.command) });
}

/** What the server says about a failed trial: the end of its error log, and where the whole log was kept. */
async function serverSide(context: SuiteContext<MysqlOptions>, state: MysqlState, pointId: string): Promise<string> {
  const tail = await errorLogTail(context.target, state.server.layout, 5);
  const saved = await keepErrorLog(context, state.server, pointId);
  return `${tail ? `; the server's error log ends: ${tail.split('\n').join(' | ')}` : '; the server\'s error log could not be read'}${saved}`;
}

/**
 * Copies the server's whole error log beside the results (the runner's log directory), named after
 * the target, the moment and `what` failed; returns `; error log kept at PATH`, or '' where there is
 * no log directory or the log cannot be read.
 */
async function keepErrorLog(context: SuiteContext<MysqlOptions>, server: MariadbServer, what: string): Promise<string> {
  if (!context.logDirectory) return '';
  const text = await errorLog(context.target, server.layout);
  if (text === null) return '';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const path = join(context.logDirectory, `mariadb-error-${fileSafe(context.target)}-${what}-${stamp}.log`);
  try {
    await mkdir(context.logDirectory, { recursive: true });
    await writeFile(path, text);
    return `; error log kept at ${path}`;
  } catch {
    return '';
  }
}

function fileSafe(target: ProvisionedTarget): string {
  return target.name.replace(/[^A-Za-z0-9_.-]/g, '-');
}
