/**
 * The mysql suite without a server: options, points, command lines, the server's configuration, the
 * metrics, and prepare/runTrial/finish against a fake target whose client answers with captured
 * sysbench output. The integration test (test/integration/mysql-bench.test.ts) runs the real thing.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CpuWindow } from '../../core/cpu-meter.js';
import type { CommandOptions, CommandOutcome } from '../../core/exec.js';
import type { SuiteContext, SuitePoint } from '../../contracts/suite.js';
import type { ProvisionedTarget, ServiceSpec } from '../../contracts/target.js';
import { parseSuiteOptions } from '../../harness/commands/bench.js';
import type { HostFacts } from '../../results/schema.js';
import { mysqlMetrics, mysqlSuite } from '../../suites/mysql/index.js';
import { fullThreadSweep, MysqlOptions, type MysqlParams } from '../../suites/mysql/options.js';
import {
  bufferPoolMiB, claimPort, MARIADB_PORTS, mariadbLayout, maxConnectionsFor, releasePort, serverCommand, setupSql,
} from '../../suites/mysql/server.js';
import { prepareCommand, redactPassword, runCommand } from '../../suites/mysql/sysbench-command.js';
import { SshHost } from '../../hosts/host.js';
import { parseSysbenchRun, type SysbenchReport } from '../../suites/mysql/sysbench-report.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/sysbench/${name}`, import.meta.url), 'utf8');

const HOST: HostFacts = {
  hostname: 'unit-test', cpuModel: 'fake', cores: 2, cpuMHz: null, memoryBytes: 2 ** 34, kernel: '6.1.0', distro: 'test',
  nodeVersion: process.version, tools: [], perfCounters: false, kvmDevice: false, kvmUsable: null, vhostNet: false, docker: null,
};

function outcome(command: readonly string[], fields: Partial<CommandOutcome> = {}): CommandOutcome {
  return { command, ok: true, exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1, ...fields };
}

describe('mysql options and points', () => {
  it('flags not given are the mode\'s: quick sweeps 1,2,4 threads on 10k rows for 5 s; full, 1..16 x cores on 2M rows for 60 s', () => {
    const options = MysqlOptions.parse({});
    assert.deepEqual(options, { threads: 'auto', tables: 1, 'table-size': 'auto', mode: 'read-only', duration: 'auto' });
    const quick = mysqlSuite.points({ quick: true, cores: 2, options });
    assert.deepEqual(quick.map((point) => point.id), ['threads-1', 'threads-2', 'threads-4']);
    assert.deepEqual(quick[0]!.params, { threads: 1, mode: 'read-only', script: 'oltp_read_only', tables: 1, tableSize: 10_000, seconds: 5, percentile: 95 });
    assert.equal(quick[0]!.headline.name, 'transactions_per_s');
    assert.equal(quick[0]!.headline.direction, 'higher');
    const full = mysqlSuite.points({ quick: false, cores: 2, options });
    assert.deepEqual(full.map((point) => point.params.threads), [1, 2, 4, 8, 16, 32]);
    assert.equal(full[0]!.params.tableSize, 2_000_000);
    assert.equal(full[0]!.params.seconds, 60);
    assert.deepEqual(fullThreadSweep(16), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
    for (const point of [...quick, ...full]) assert.ok(mysqlSuite.params.safeParse(point.params).success, point.id);
  });

  it('--threads, --tables, --table-size, --mode, --duration are typed, sorted and deduplicated', () => {
    const options = parseSuiteOptions({ threads: '8, 1,2,8', tables: '4', 'table-size': '5000', mode: 'read-write', duration: '2' }).get('mysql')!;
    assert.deepEqual(options, { threads: '1,2,8', tables: 4, 'table-size': 5000, mode: 'read-write', duration: 2 });
    const points = mysqlSuite.points({ quick: false, cores: 2, options: options as MysqlOptions });
    assert.deepEqual(points.map((point) => point.id), ['threads-1', 'threads-2', 'threads-8']);
    assert.deepEqual(points[2]!.params, { threads: 8, mode: 'read-write', script: 'oltp_read_write', tables: 4, tableSize: 5000, seconds: 2, percentile: 95 });
  });

  it('a bad value is one usage line naming the flag', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ threads: '0' }, /^--threads takes a comma-separated list of thread counts from 1 to 1024, e\.g\. 1,2,4,8, not "0"$/],
      [{ threads: '1,,2' }, /^--threads takes a comma-separated list/],
      [{ threads: '2000' }, /^--threads takes/],
      [{ tables: '0' }, /^--tables takes a whole number of tables from 1 to 64, not "0"$/],
      [{ 'table-size': '1e6' }, /^--table-size takes a whole number of rows per table from 100 to 100000000, not "1e6"$/],
      [{ mode: 'write-only' }, /^--mode takes read-only or read-write, not "write-only"$/],
      [{ duration: '0' }, /^--duration takes whole seconds from 1 to 3600, not "0"$/],
    ];
    for (const [values, message] of bad) {
      assert.throws(() => parseSuiteOptions(values), (error: unknown) => error instanceof Error && error.name === 'UsageError' && message.test(error.message), JSON.stringify(values));
    }
  });
});

describe('sysbench command lines', () => {
  const connection = { host: '198.18.0.1', port: 3307, user: 'isobench', password: 'S3cret-pw_x', database: 'sbtest' };
  const tables = { script: 'oltp_read_only', tables: 3, tableSize: 1000 } as const;

  it('prepare loads with at most one thread per table; run reports every second and the 95th percentile', () => {
    assert.deepEqual(prepareCommand(connection, tables, 2), [
      'sysbench', 'oltp_read_only', '--db-driver=mysql', '--mysql-host=198.18.0.1', '--mysql-port=3307', '--mysql-user=isobench',
      '--mysql-password=S3cret-pw_x', '--mysql-db=sbtest', '--tables=3', '--table-size=1000', '--threads=2', 'prepare',
    ]);
    assert.deepEqual(runCommand(connection, tables, 16, 60).slice(-5), ['--threads=16', '--time=60', '--report-interval=1', '--percentile=95', 'run']);
  });

  it('the password never reaches the stored command', () => {
    const stored = redactPassword(['ip', 'netns', 'exec', 'isobench-client', ...runCommand(connection, tables, 1, 5)]);
    assert.ok(stored.includes('--mysql-password=<generated>'));
    assert.ok(!stored.join(' ').includes('S3cret'));
  });

  it('nor in lab mode, where ssh carries the whole remote command as one shell-quoted argument', () => {
    const peer = new SshHost('peer', { user: 'root', address: '198.19.214.3' }, { controlDirectory: '/tmp/isobench-ssh-x' });
    const wrapped = peer.commandLine(runCommand(connection, tables, 1, 5));
    assert.ok(wrapped.join(' ').includes('S3cret'), 'the wrapper carries it (the test must be able to fail)');
    const stored = redactPassword(wrapped).join(' ');
    assert.ok(!stored.includes('S3cret'), stored);
    assert.match(stored, /--mysql-password=<generated>/);
    assert.match(stored, /root@198\.19\.214\.3/);
  });
});

describe('the MariaDB server', () => {
  it('its buffer pool is half the target\'s memory in 128 MiB steps, within 128 MiB..4 GiB; connections above the sweep', () => {
    assert.equal(bufferPoolMiB(24_684_096), 4096, 'this host: 23.5 GiB, capped');
    assert.equal(bufferPoolMiB(2_013_000), 896, 'a 2 GiB guest (MemTotal a little under)');
    assert.equal(bufferPoolMiB(100_000), 128);
    assert.equal(maxConnectionsFor(4), 1000);
    assert.equal(maxConnectionsFor(1024), 2098);
  });

  it('listens on the test address and the claimed port, its files under the target\'s data directory, no option files', () => {
    const layout = mariadbLayout('/data/', 3306);
    assert.equal(layout.directory, '/data/isobench-mariadb-3306');
    const command = serverCommand(layout, { bufferPoolMiB: 896, maxConnections: 1000 }, { address: '198.18.0.10', port: 3306 });
    assert.deepEqual(command.slice(0, 2), ['mariadbd', '--no-defaults'], '--no-defaults must come first');
    for (const option of ['--bind-address=198.18.0.10', '--port=3306', '--datadir=/data/isobench-mariadb-3306/data', '--socket=/data/isobench-mariadb-3306/mariadbd.sock',
      '--innodb-buffer-pool-size=896M', '--innodb-flush-method=O_DIRECT', '--innodb-flush-log-at-trx-commit=0', '--max-connections=1000', '--skip-name-resolve']) {
      assert.ok(command.includes(option), option);
    }
    assert.ok(!command.some((option) => /0\.0\.0\.0|127\.0\.0\.1|\/run\/mysqld|\/var\/lib\/mysql\b/.test(option)), 'never the machine\'s own server\'s address, socket or data');
  });

  it('the setup SQL takes the password on stdin and refuses one that would need quoting', () => {
    assert.match(setupSql('abc-DEF_123'), /CREATE USER 'isobench'@'%' IDENTIFIED BY 'abc-DEF_123';/);
    assert.throws(() => setupSql("x'; DROP USER root; --"), /would need quoting/);
  });

  it('targets on one address get different ports; another address starts again at 3306', () => {
    const native = claimPort('198.18.0.201');
    const dockerHost = claimPort('198.18.0.201');
    const kvm = claimPort('198.18.0.210');
    assert.deepEqual([native, dockerHost, kvm], [3306, 3307, 3306]);
    releasePort('198.18.0.201', native);
    assert.equal(claimPort('198.18.0.201'), 3306);
    claimPort('198.18.0.201');
    claimPort('198.18.0.201');
    assert.throws(() => claimPort('198.18.0.201'), /all of MariaDB's ports \(3306, 3307, 3308, 3309\) are taken on 198\.18\.0\.201/);
    for (const port of MARIADB_PORTS) releasePort('198.18.0.201', port);
    releasePort('198.18.0.210', kvm);
    assert.deepEqual(mysqlSuite.ports.map((entry) => entry.port), [...MARIADB_PORTS]);
  });
});

const WINDOW: CpuWindow = { elapsedSeconds: 3.1, hosts: [{ host: null, busySeconds: 6, busyFraction: 0.97 }], sources: [{ source: 'container', seconds: 4 }], harnessSeconds: 0.01 };

describe('mysql metrics', () => {
  const report = (): SysbenchReport => {
    const run = parseSysbenchRun(fixture('oltp-read-only-2threads.txt'));
    assert.equal(run.state, 'completed');
    return structuredClone(run.report);
  };

  it('throughput, latency, errors and CPU per transaction, host-wide and per source', () => {
    const byName = new Map(mysqlMetrics(report(), WINDOW, 2, 'sysbench 1.0.20').map((metric) => [metric.name, metric]));
    assert.equal(byName.get('transactions_per_s')?.value, 2674.34);
    assert.equal(byName.get('transactions_per_s')?.unit, 'tx/s');
    assert.equal(byName.get('queries_per_s')?.value, 42789.43);
    assert.equal(byName.get('latency_mean_ms')?.value, 0.75);
    assert.equal(byName.get('latency_p95_ms')?.value, 0.86);
    assert.equal(byName.get('errors')?.value, 0);
    assert.equal(byName.get('reconnects')?.value, 0);
    assert.equal(byName.get('cpu_us_per_tx')?.value, (6 * 1e6) / 8028);
    assert.equal(byName.get('cpu_us_per_tx_container')?.value, (4 * 1e6) / 8028);
    assert.equal(byName.get('cpu_busy_percent')?.value, 97);
  });

  it('in lab mode: CPU per transaction and busy share of each named host, no whole-host figure', () => {
    const lab: CpuWindow = { ...WINDOW, hosts: [{ host: 'sut', busySeconds: 6, busyFraction: 0.97 }], sources: [] };
    const names = mysqlMetrics(report(), lab, 2, 'sysbench 1.0.20').map((metric) => metric.name);
    assert.deepEqual(names.filter((name) => name.startsWith('cpu')), ['cpu_us_per_tx_host sut', 'cpu_busy_percent_host sut']);
  });

  it('another thread count than asked, or no transaction at all, is an error, never a zero', () => {
    assert.throws(() => mysqlMetrics(report(), WINDOW, 4, 'x'), /ran 2 threads, not the 4 asked for/);
    const none = { ...report(), transactions: 0, transactionsPerSecond: 0 };
    assert.throws(() => mysqlMetrics(none, WINDOW, 2, 'x'), /no transaction completed in 3\.0013 s/);
  });
});

/** A fake target and client: every command is recorded; the client answers with captured sysbench output. */
function fakeRig(answers: { prepare?: string; run?: string; runExit?: number; busyPorts?: number[] }) {
  const journal: string[] = [];
  const logDirectory = mkdtemp(join(tmpdir(), 'isobench-mysql-unit-'));
  const target: ProvisionedTarget = {
    name: 'docker-nat:overlay',
    facts: { target: 'docker-nat:overlay', state: 'ready', networkPath: 'fake', storage: 'fake', labels: {}, degraded: [] },
    serverAddress: '198.18.0.77',
    dataDirectory: '/data',
    async exec(command: readonly string[], options?: CommandOptions) {
      journal.push(`target: ${command.join(' ')}${options?.input ? ` <<< ${options.input.split('\n')[0]}` : ''}`);
      if (command[0] === 'cat' && command[1] === '/proc/meminfo') return outcome(command, { stdout: 'MemTotal:       2013000 kB\nMemFree: 1 kB\n' });
      if (command[0] === 'tail' || (command[0] === 'cat' && command[1]!.endsWith('error.log'))) return outcome(command, { stdout: '2026-11-30  5:24:49 0 [Note] mariadbd: ready for connections.\n2026-11-30  5:25:01 0 [Note] mariadbd: Normal shutdown\n' });
      if (command[0] === 'mariadb' && options?.input) return outcome(command, { stdout: '10.11.18-MariaDB-0+deb12u1\n' });
      return outcome(command);
    },
    async startService(spec: ServiceSpec) {
      const command = spec.command({ address: '172.17.0.5', port: spec.port });
      if (answers.busyPorts?.includes(spec.port)) {
        journal.push(`busy: ${spec.port}`);
        throw new Error(`the server for 172.17.0.5:${spec.port} exited before it listened: [ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use`);
      }
      journal.push(`start: ${command.join(' ')}`);
      return { spec, command: ['docker', 'exec', 'c', ...command], stop: async () => void journal.push('stop service') };
    },
    cpuCounters: async () => [{ source: 'container', seconds: journal.length }],
    pause: async () => {},
    resume: async () => {},
    teardown: async () => {},
  };
  const context = async (): Promise<SuiteContext<MysqlOptions>> => ({
    target,
    client: {
      async exec(command: readonly string[]) {
        journal.push(`client: ${command.at(-1)} ${command.find((argument) => argument.startsWith('--threads='))}`);
        if (command.at(-1) === 'prepare') return outcome(command, { stdout: answers.prepare ?? fixture('prepare-2tables.txt').replace(/sbtest2/g, 'sbtest9') });
        const stdout = answers.run ?? fixture('oltp-read-only-2threads.txt');
        return outcome(command, { stdout, ok: (answers.runExit ?? 0) === 0, exitCode: answers.runExit ?? 0 });
      },
      wrap: (command: readonly string[]) => ['ip', 'netns', 'exec', 'isobench-client', ...command],
    },
    config: { quick: true, cores: 2, options: MysqlOptions.parse({ threads: '1,2', 'table-size': '10000' }) },
    host: HOST,
    cpu: { start: async () => async () => WINDOW },
    verifyDestination: async (address) => void journal.push(`verify ${address}`),
    logDirectory: await logDirectory,
  });
  return { journal, context };
}

const POINT = (threads: number): SuitePoint<MysqlParams> => mysqlSuite.points({ quick: true, cores: 2, options: MysqlOptions.parse({ threads: String(threads) }) })[0]!;

describe('mysql suite against a fake target', () => {
  it('prepare: memory, install, server on the bind address, setup on stdin, load, warm-up; a trial lists them all, password replaced', async () => {
    const { journal, context } = fakeRig({});
    const suiteContext = await context();
    const state = await mysqlSuite.prepare!(suiteContext);
    assert.equal(state.server.port, 3306);
    assert.equal(state.server.settings.bufferPoolMiB, 896);
    assert.equal(state.server.version, '10.11.18-MariaDB-0+deb12u1');
    assert.match(state.server.password, /^[A-Za-z0-9_-]{24}$/);
    const order = journal.map((line) => line.split(' ').slice(0, 2).join(' '));
    assert.deepEqual(order.slice(0, 7), ['target: cat', 'target: rm', 'target: mkdir', 'target: mariadb-install-db', 'start: mariadbd', 'target: mariadb', 'target: mariadb']);
    assert.ok(journal.some((line) => line.startsWith('start: ') && line.includes('--bind-address=172.17.0.5') && line.includes('--port=3306')));
    assert.ok(journal.some((line) => line.includes('<<< CREATE DATABASE sbtest;')));
    assert.ok(!journal.some((line) => line.startsWith('target: ') && line.includes(state.server.password)), 'the password is on no target command line');
    assert.deepEqual(journal.filter((line) => line.startsWith('client:')), ['client: prepare --threads=1', 'client: run --threads=2'], 'one load, one warm-up at the largest thread count');

    const trial = await mysqlSuite.runTrial(POINT(2), { ...suiteContext, state });
    assert.equal(trial.state, 'completed');
    assert.equal(trial.commands.length, 5, 'install, server, load, warm-up, this run');
    assert.ok(!JSON.stringify(trial).includes(state.server.password));
    assert.match(trial.commands.at(-1)!.join(' '), /^ip netns exec isobench-client sysbench oltp_read_only .*--mysql-host=198\.18\.0\.77 --mysql-port=3306 .*--mysql-password=<generated> .*--threads=2 --time=5 /);
    if (trial.state === 'completed') assert.match(trial.metrics[0]!.method!, /^sysbench 1\.0\.20 oltp_read_only -> MariaDB 10\.11\.18/);

    await mysqlSuite.finish!(suiteContext, state);
    assert.ok(journal.some((line) => line.includes('--execute=SHUTDOWN')));
    assert.equal(journal.at(-1), 'target: rm -rf /data/isobench-mariadb-3306', 'its data is removed last');
    assert.equal(claimPort('198.18.0.77'), 3306, 'finish gave the port back');
    releasePort('198.18.0.77', 3306);
  });

  it('a server that dies mid-run: a failed trial with the FATAL line, how far it got, the error log\'s end, and the whole log beside the results', async () => {
    const { context } = fakeRig({ run: fixture('fatal-server-killed.txt'), runExit: 1 });
    const suiteContext = await context();
    // The warm-up must pass: prepare with a good run, then the trial sees the killed server.
    const good = fakeRig({});
    const state = await mysqlSuite.prepare!(await good.context());
    const trial = await mysqlSuite.runTrial(POINT(2), { ...suiteContext, state });
    assert.equal(trial.state, 'failed');
    if (trial.state !== 'failed') return;
    assert.match(trial.reason, /^sysbench stopped: mysql_stmt_execute\(\) returned error 2013 \(Lost connection to server during query\) for query 'COMMIT'/);
    assert.match(trial.reason, /\(after 2 s; the last interval reported 2824\.81 tx\/s with 2 threads\)/);
    assert.match(trial.reason, /the server's error log ends: .*Normal shutdown/);
    const kept = /error log kept at (\S+)$/.exec(trial.reason)?.[1];
    assert.ok(kept && existsSync(kept), trial.reason);
    assert.equal(kept.startsWith(suiteContext.logDirectory!), true);
    assert.match(kept, /mariadb-error-docker-nat-overlay-threads-2-\d{8}T\d{6}Z\.log$/);
    assert.match(await readFile(kept, 'utf8'), /ready for connections/);
    assert.ok(!trial.reason.includes(state.server.password));
    await mysqlSuite.finish!(await good.context(), state);
  });

  it('sysbench killed at its deadline without FATAL: the exit says it, the password is not in the reason', async () => {
    const cut = fixture('oltp-read-only-report-interval.txt').split('SQL statistics:')[0]!;
    const { context } = fakeRig({ run: cut, runExit: 137 });
    const suiteContext = await context();
    const good = fakeRig({});
    const state = await mysqlSuite.prepare!(await good.context());
    const trial = await mysqlSuite.runTrial(POINT(1), { ...suiteContext, state });
    assert.equal(trial.state, 'failed');
    if (trial.state === 'failed') {
      assert.match(trial.reason, /^`ip netns exec|^`sysbench oltp_read_only .* exited with code 137/);
      assert.ok(trial.reason.includes('--mysql-password=<generated>'));
      assert.ok(!trial.reason.includes(state.server.password));
    }
    await mysqlSuite.finish!(await good.context(), state);
  });

  it('a load that fails stops the server, removes its data, gives the port back and keeps the log', async () => {
    const { journal, context } = fakeRig({ prepare: fixture('prepare-table-exists.txt') });
    const suiteContext = await context();
    await assert.rejects(mysqlSuite.prepare!(suiteContext), (error: unknown) => error instanceof Error
      && /^sysbench prepare failed: FATAL: mysql_drv_query\(\) returned error 1050/.test(error.message)
      && /the server's error log ends: .*; error log kept at \S+mariadb-error-docker-nat-overlay-prepare-/.test(error.message));
    assert.ok(journal.some((line) => line.includes('--execute=SHUTDOWN')));
    assert.equal(journal.at(-1), 'target: rm -rf /data/isobench-mariadb-3306');
    assert.equal((await readdir(suiteContext.logDirectory!)).length, 1);
    assert.equal(claimPort('198.18.0.77'), 3306);
    releasePort('198.18.0.77', 3306);
  });

  it('a port another program holds (a machine\'s own MariaDB on 0.0.0.0:3306) is skipped; all of them taken is a clear error', async () => {
    const { journal, context } = fakeRig({ busyPorts: [3306] });
    const suiteContext = await context();
    const state = await mysqlSuite.prepare!(suiteContext);
    assert.equal(state.server.port, 3307);
    assert.ok(journal.includes('busy: 3306'));
    assert.ok(journal.includes('target: rm -rf /data/isobench-mariadb-3306'), 'the failed start left nothing behind');
    await mysqlSuite.finish!(suiteContext, state);
    assert.equal(claimPort('198.18.0.77'), 3306, 'the busy port is not held once a free one is found');
    releasePort('198.18.0.77', 3306);

    const { context: allBusy } = fakeRig({ busyPorts: [...MARIADB_PORTS] });
    await assert.rejects(mysqlSuite.prepare!(await allBusy()), /no MariaDB port is free on 198\.18\.0\.77: 3306, 3307, 3308, 3309 in use by another program$/);
    assert.equal(claimPort('198.18.0.77'), 3306);
    releasePort('198.18.0.77', 3306);
  });

  it('a load that inserted fewer rows than asked is a failed prepare', async () => {
    const { context } = fakeRig({ prepare: fixture('prepare-2tables.txt').replace('Inserting 10000 records into \'sbtest1\'', 'Inserting 9999 records into \'sbtest1\'') });
    await assert.rejects(mysqlSuite.prepare!(await context()), /sysbench prepare inserted 9999 rows into sbtest1, not 10000/);
  });
});
