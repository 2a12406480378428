/**
 * Lab mode end to end for one target × suite (issue 14): the native target's iperf3 server on lab
 * host `sut`, the load from lab host `peer`, over the namespaces' link (lab-hosts.ts), run by the
 * real tcp-bulk suite's runTrial through provisioning/lab-native.ts. Root; about 30 s. Run under
 * `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CpuMeter } from '../../core/cpu-meter.js';
import { HostSet } from '../../hosts/host.js';
import { readInventory } from '../../hosts/inventory.js';
import { testRangeOf } from '../../harness/lab.js';
import { probeHost } from '../../provisioning/host-probe.js';
import { labClientSide, labDestinationCheck, labNativeTarget } from '../../provisioning/lab-native.js';
import { describeLabHost } from '../../provisioning/lab-host-facts.js';
import { LabHost } from '../../results/schema.js';
import { tcpBulkSuite, TcpBulkOptions } from '../../suites/tcp-bulk/index.js';
import { createLab, sweepLabLeftovers } from './lab-hosts.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';

test('tcp-bulk on the native target of host sut, driven from host peer, over the lab link', { skip, timeout: 180_000 }, async () => {
  const lab = await createLab([{ name: 'sut', roles: ['server'] }, { name: 'peer', roles: ['client'] }]);
  const inventory = await readInventory(lab.inventoryPath, testRangeOf('198.18.0.0/15'));
  const hosts = await HostSet.open(inventory.hosts, { configFile: inventory.sshConfig! });
  const [sutEntry, peerEntry] = inventory.hosts;
  const target = labNativeTarget(hosts.get('sut'), sutEntry!, peerEntry!);
  try {
    const config = { quick: true, cores: 2, options: TcpBulkOptions.parse({}) };
    const context = {
      target,
      client: labClientSide(hosts.get('peer')),
      config,
      host: await probeHost(),
      cpu: new CpuMeter(),
      verifyDestination: labDestinationCheck(sutEntry!),
      state: undefined,
    };
    for (const point of tcpBulkSuite.points(config)) {
      const outcome = await tcpBulkSuite.runTrial(point, context);
      assert.equal(outcome.state, 'completed', outcome.state === 'completed' ? '' : outcome.reason);
      if (outcome.state !== 'completed') continue;
      const gbps = outcome.metrics.find((metric) => metric.name === 'throughput_gbps')!.value;
      console.log(`# ${point.id}: ${gbps.toFixed(2)} Gbit/s from peer ${peerEntry!.testAddress} to sut ${sutEntry!.testAddress}`);
      assert.ok(gbps > 0.1, `${gbps} Gbit/s`);
      // Provenance: the server ran on sut and the client on peer, each through ssh.
      const [server, client] = outcome.commands.map((command) => command.join(' '));
      assert.ok(server!.includes(`root@${sutEntry!.testAddress}`) && server!.includes(`iperf3 --server --bind ${sutEntry!.testAddress}`), server);
      assert.ok(client!.includes(`root@${peerEntry!.testAddress}`) && client!.includes(`iperf3 --client ${sutEntry!.testAddress}`), client);
    }
    // Host facts of every host, as the results file would store them.
    for (const entry of inventory.hosts) {
      const described = await describeLabHost(entry, hosts.get(entry.name));
      assert.ok(LabHost.safeParse(described).success);
      assert.equal(described.error, undefined, described.error);
    }
    // Test traffic to anything but sut's test address is refused.
    await assert.rejects(context.verifyDestination(peerEntry!.testAddress), /not host sut's test address/);
  } finally {
    await target.teardown();
    await hosts.close();
    await lab.teardown();
  }
  assert.deepEqual(await sweepLabLeftovers(), []);
});
