import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import type { AnySuite } from '../../contracts/suite.js';
import { runBench, type BenchOptions } from '../../harness/runner.js';
import { DEFAULT_CV_THRESHOLD } from '../../harness/statistics.js';
import { parseTargetConfiguration } from '../../provisioning/targets/configuration.js';
import { DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET } from '../../provisioning/topology.js';
import type { ResultsFile } from '../../results/schema.js';
import { mysqlSuite, type MysqlState } from '../../suites/mysql/index.js';
import { MysqlOptions } from '../../suites/mysql/options.js';
import { MARIADB_PORTS } from '../../suites/mysql/server.js';
import { assertNoLeftovers } from '../helpers.js';

// A tiny sweep (two thread counts, 2 s each, a 1000-row table) against real MariaDB servers through
// the real runner: native and docker-host share the host's test address, so they also show the
// port each claims. Run alone: it loads the host.

/** Every TCP listener on a MariaDB port (any address), as `ss` prints them. */
async function mariadbListeners(): Promise<string[]> {
  const outcome = await runCommand(['ss', '-H', '-l', '-n', '-t'], { timeoutMs: 10_000 });
  assert.ok(outcome.ok, outcome.stderr);
  const ports = new Set<string>(MARIADB_PORTS.map(String));
  return outcome.stdout.split('\n').map((line) => line.trim().split(/\s+/)[3] ?? '').filter((local) => ports.has(local.split(':').pop() ?? '')).sort();
}

/** The command lines of every mariadbd running on this host, containers' included (they are host processes too). */
async function mariadbProcesses(): Promise<string[]> {
  const outcome = await runCommand(['ps', '-eo', 'args='], { timeoutMs: 10_000 });
  return outcome.stdout.split('\n').filter((line) => /(^|\/)(mariadbd|mysqld)( |$)/.test(line.trim())).sort();
}

async function bench(targets: string[], suite: AnySuite, out: string, threads: string): Promise<ResultsFile> {
  const options: BenchOptions = {
    targets: targets.map(parseTargetConfiguration),
    suites: [suite],
    quick: true,
    repetitions: 1,
    outDirectory: out,
    seed: 7,
    cvThreshold: DEFAULT_CV_THRESHOLD,
    subnet: DEFAULT_TEST_SUBNET,
    guardRange: DEFAULT_GUARD_RANGE,
    targetOptions: { storage: 'volume', accel: 'auto', disk: 'raw', vcpus: 2, memoryMiB: 2048, vmManager: 'qemu', quick: true },
    suiteOptions: new Map([['mysql', MysqlOptions.parse({ threads, duration: '2', 'table-size': '1000' })]]),
    quietHost: { maxWaitMs: 3_000 },
  };
  return (await runBench(options)).results;
}

function mean(results: ResultsFile, key: string, metric: string): number {
  const point = results.points.find((candidate) => candidate.key === key);
  assert.ok(point, `${key} exists`);
  assert.ok(point.status === 'ok' || point.status === 'noisy', `${key}: ${point.status} ${point.reason ?? ''}`);
  const summary = point.summaries.find((candidate) => candidate.metric === metric);
  assert.ok(summary, `${key} has ${metric}`);
  return summary.mean;
}

test('native and docker-host: real MariaDB servers, sysbench from the client namespace, plausible numbers, and nothing left listening', { timeout: 15 * 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the run');
  const listenersBefore = await mariadbListeners();
  const processesBefore = await mariadbProcesses();
  const out = await mkdtemp(join(tmpdir(), 'isobench-mysql-'));
  const results = await bench(['native', 'docker-host'], mysqlSuite, out, '1,2');

  assert.equal(results.status, 'completed');
  assert.deepEqual(results.points.map((point) => point.key).sort(), ['docker-host/mysql/threads-1', 'docker-host/mysql/threads-2', 'native/mysql/threads-1', 'native/mysql/threads-2']);
  const ports = new Map<string, string>();
  for (const target of ['native', 'docker-host']) {
    assert.equal(results.targets.find((facts) => facts.target === target)?.state, 'ready');
    for (const threads of [1, 2]) {
      const key = `${target}/mysql/threads-${threads}`;
      const point = results.points.find((candidate) => candidate.key === key)!;
      assert.deepEqual(point.params, { threads, mode: 'read-only', script: 'oltp_read_only', tables: 1, tableSize: 1000, seconds: 2, percentile: 95 });
      assert.deepEqual(point.headline, { metric: 'transactions_per_s', unit: 'tx/s', direction: 'higher' });
      const tps = mean(results, key, 'transactions_per_s');
      assert.ok(tps > 10 && tps < 1e6, `${key}: ${tps} tx/s`);
      // oltp_read_only: 10 point selects, 4 range queries, BEGIN and COMMIT per transaction.
      const perTransaction = mean(results, key, 'queries_per_s') / tps;
      assert.ok(Math.abs(perTransaction - 16) < 0.1, `${key}: ${perTransaction} queries per transaction`);
      const latency = mean(results, key, 'latency_mean_ms');
      const p95 = mean(results, key, 'latency_p95_ms');
      assert.ok(latency > 0 && p95 > 0 && latency < 1000, `${key}: mean ${latency} ms, p95 ${p95} ms`);
      assert.equal(mean(results, key, 'reconnects'), 0);
      assert.ok(mean(results, key, 'errors') >= 0);
      const cpu = mean(results, key, 'cpu_us_per_tx');
      assert.ok(cpu > 1 && cpu < 1e6, `${key}: ${cpu} CPU µs per transaction`);
      const busy = mean(results, key, 'cpu_busy_percent');
      assert.ok(busy > 0 && busy <= 100);
      if (target === 'docker-host') {
        const container = mean(results, key, 'cpu_us_per_tx_container');
        assert.ok(container > 0 && container < cpu * 1.5, `${key}: the container's CPU (${container}) is part of the host's (${cpu})`);
      }

      const commands = point.trials[0]!.commands.map((command) => command.join(' '));
      assert.equal(commands.length, 5, 'install, server, load, warm-up, run');
      const server = commands.find((command) => / ?mariadbd --no-defaults /.test(command))!;
      assert.match(server, /--bind-address=198\.18\.0\.1 /, 'the server listens on the test address only');
      ports.set(target, /--port=(\d+)/.exec(server)![1]!);
      assert.match(server, target === 'native' ? /--datadir=\/var\/tmp\/isobench-run-[^/]+\/native-data\/isobench-mariadb-\d+\/data / : /^docker exec \S+ mariadbd .*--datadir=\/data\/isobench-mariadb-\d+\/data /);
      assert.match(commands.at(-1)!, new RegExp(`^ip netns exec isobench-client sysbench oltp_read_only .*--mysql-host=198\\.18\\.0\\.1 --mysql-port=${ports.get(target)} .*--mysql-password=<generated> .*--threads=${threads} --time=2 `));
    }
  }
  assert.notEqual(ports.get('native'), ports.get('docker-host'), 'two servers on one address need two ports');
  const text = await readFile(join(out, `${results.runId}.json`), 'utf8');
  assert.deepEqual([...new Set(text.match(/--mysql-password=[^"\s]*/g))], ['--mysql-password=<generated>'], 'no password in the results file');

  assert.deepEqual(await mariadbListeners(), listenersBefore, 'nothing listens on 3306-3309 that did not before');
  assert.deepEqual(await mariadbProcesses(), processesBefore, 'every mariadbd isobench started is gone, and none other was started');
  await assertNoLeftovers('no container, volume, rule, ledger or run directory (the native data went with it)');
});

test('a server killed mid-run: that point fails with sysbench\'s FATAL line and the server\'s error log beside the results; teardown still cleans up', { timeout: 10 * 60_000 }, async () => {
  const listenersBefore = await mariadbListeners();
  const processesBefore = await mariadbProcesses();
  const out = await mkdtemp(join(tmpdir(), 'isobench-mysql-'));
  // The real suite; the 4-thread trial kills its server with SIGKILL a second into the run.
  const killing: AnySuite = {
    ...(mysqlSuite as unknown as AnySuite),
    async runTrial(point, context) {
      if (point.id === 'threads-4') {
        const { pidFile } = (context.state as MysqlState).server.layout;
        setTimeout(() => void context.target.exec(['sh', '-c', `kill -9 "$(cat ${pidFile})"`], { timeoutMs: 10_000 }), 1_000);
      }
      return mysqlSuite.runTrial(point as never, context as never);
    },
  };
  const results = await bench(['native'], killing, out, '1,4');

  assert.equal(results.status, 'completed', 'a failed point does not fail the run');
  const killed = results.points.find((point) => point.key === 'native/mysql/threads-4')!;
  assert.equal(killed.status, 'failed');
  assert.equal(killed.summaries.length, 0, 'no numbers, never a zero');
  const trial = killed.trials[0]!;
  assert.equal(trial.state, 'failed');
  const reason = trial.state === 'failed' ? trial.reason : '';
  assert.match(reason, /^sysbench stopped: .*error 2013 \(Lost connection to server during query\)/);
  assert.match(reason, /the server's error log ends: /);
  const kept = /error log kept at (\S+)$/.exec(reason)?.[1];
  assert.ok(kept !== undefined && kept.startsWith(`${out}/mariadb-error-native-threads-4-`) && existsSync(kept), reason);
  assert.match(await readFile(kept, 'utf8'), /mariadbd: ready for connections/);
  assert.ok(trial.commands.length === 5, 'the failed trial keeps its commands');

  // The other point ran before (ok) or after, against a dead server (failed, connection refused).
  const other = results.points.find((point) => point.key === 'native/mysql/threads-1')!;
  if (other.status === 'failed') assert.match(JSON.stringify(other.trials), /Can't connect to server/);
  else assert.ok(mean(results, 'native/mysql/threads-1', 'transactions_per_s') > 10);

  assert.deepEqual(await mariadbListeners(), listenersBefore);
  assert.deepEqual(await mariadbProcesses(), processesBefore);
  await assertNoLeftovers();
});
