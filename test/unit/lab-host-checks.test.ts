import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IsobenchError, UsageError } from '../../core/errors.js';
import { checkEveryHost, checkHostPaths, checkHostTools, isCpuMetric, readOnlineCores } from '../../harness/lab-host-checks.js';
import { HostError, LocalHost } from '../../hosts/host.js';
import type { InventoryHost } from '../../hosts/inventory.js';

const entry: InventoryHost = { name: 'localhost', testAddress: '198.18.1.2', roles: ['server'] };
const host = new LocalHost();

test('a host lacking tools is refused in one line naming the host, its role, the tools and their packages once each', async () => {
  await checkHostTools(host, entry, 'server', [{ command: 'sh', debianPackage: 'dash' }]);
  await assert.rejects(
    checkHostTools(host, entry, 'migration source', [
      { command: 'sh', debianPackage: 'dash' },
      { command: 'isobench-no-such-tool', debianPackage: 'isobench-pkg' },
      { command: 'isobench-no-such-tool-2', debianPackage: 'isobench-pkg' },
    ]),
    (error: unknown) =>
      error instanceof UsageError &&
      error.message === 'host localhost (migration source) lacks isobench-no-such-tool, isobench-no-such-tool-2: install isobench-pkg there (isobench installs nothing on lab hosts)',
  );
});

test('a missing bridge or directory is refused naming the host and the inventory field', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-host-checks-'));
  await checkHostPaths(host, entry, [['data-dir', directory]]);
  await assert.rejects(checkHostPaths(host, entry, [['shared-dir', join(directory, 'absent')]]), /^UsageError: host localhost has no writable directory .*absent \(its shared-dir in the inventory\): create it/);
  await assert.rejects(checkHostPaths(host, entry, [['bridge', 'ib-no-such-br']]), /host localhost has no link ib-no-such-br \(its bridge in the inventory\)/);
});

test('the cores read on a host are its online CPUs, a positive whole number', async () => {
  const cores = await readOnlineCores(host, entry);
  assert.ok(Number.isInteger(cores) && cores > 0, String(cores));
});

test('CPU-cost metrics are told from the others by name', () => {
  for (const name of ['cpu_ns_per_byte', 'cpu_us_per_tx_host sut', 'cycles_per_byte', 'est_cycles_per_byte', 'cpu_busy_percent']) assert.ok(isCpuMetric(name), name);
  for (const name of ['throughput_gbps', 'latency_mean_us', 'iops', 'downtime_ms']) assert.ok(!isCpuMetric(name), name);
});

test('checkEveryHost waits for every host and names each that failed, with the first failure\'s exit code', async () => {
  const lost = (name: string) => new HostError(name, 'unreachable', `ssh: connect to host 198.18.9.${name.length} port 22: No route to host (ssh root@198.18.9.${name.length})`);
  const checked: string[] = [];
  await assert.rejects(
    checkEveryHost(['sut', 'peer', 'watch'], async (name) => {
      await new Promise((resolve) => setTimeout(resolve, name === 'watch' ? 20 : 0));
      checked.push(name);
      if (name !== 'peer') throw lost(name);
    }),
    (error: unknown) => {
      assert.ok(error instanceof IsobenchError && !(error instanceof UsageError), String(error));
      assert.equal(error.exitCode, 1);
      assert.match(error.message, /^host sut: unreachable: .*; host watch: unreachable: .*No route to host \(ssh root@198\.18\.9\.5\)$/);
      return true;
    },
  );
  assert.deepEqual(checked.sort(), ['peer', 'sut', 'watch'], 'every host was checked to the end');
  // One failure is thrown as it is; a refusal keeps its exit code 2.
  const refusal = new UsageError('host peer (client) lacks sockperf: install sockperf there (isobench installs nothing on lab hosts)');
  await assert.rejects(checkEveryHost(['sut', 'peer'], async (name) => { if (name === 'peer') throw refusal; }), (error) => error === refusal);
  await assert.rejects(checkEveryHost(['a', 'b'], async () => { throw new UsageError('x'); }), (error: unknown) => error instanceof IsobenchError && error.exitCode === 2 && error.message === 'x; x');
  await checkEveryHost([], async () => {});
});
