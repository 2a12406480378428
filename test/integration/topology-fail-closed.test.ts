/**
 * The test network's fail-closed checks against the real `ip` (root, about a second): what
 * test/unit/topology.test.ts fakes is what a real namespace answers. No packet is sent: only routes
 * are asked for. Run under `flock /tmp/isobench-heavy.lock`: it builds the one isobench network.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runChecked } from '../../core/exec.js';
import { ResourceRegistry } from '../../core/ledger.js';
import { CLIENT_NETNS, DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET, Topology, VETH_CLIENT } from '../../provisioning/topology.js';
import { assertNoLeftovers } from '../helpers.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';
const CONFIG = { subnet: DEFAULT_TEST_SUBNET, guardRange: DEFAULT_GUARD_RANGE };

/** `ip -j route get` in the client namespace, parsed. */
async function routeGet(address: string): Promise<Array<{ dev?: string; type?: string }>> {
  return JSON.parse((await runChecked(['ip', '-n', CLIENT_NETNS, '-j', 'route', 'get', address])).stdout) as Array<{ dev?: string; type?: string }>;
}

test('a real network: the destination check refuses what the unit test fakes, and a second network is refused', { skip, timeout: 60_000 }, async () => {
  await assertNoLeftovers('the host is clean before the test');
  const state = await mkdtemp(join(tmpdir(), 'isobench-topology-test-'));
  const resources = new ResourceRegistry(`topology-test-${process.pid}`, join(state, 'first'));
  const second = new ResourceRegistry(`topology-test-second-${process.pid}`, join(state, 'second'));
  try {
    const topology = await Topology.create(CONFIG, resources);
    const address = topology.allocateAddress('a test guest');

    // The shapes the unit test's fakes use: unicast out of the veth (no type), a broadcast, a local address.
    assert.deepEqual((await routeGet(address)).map(({ dev, type }) => ({ dev, type })), [{ dev: VETH_CLIENT, type: undefined }]);
    assert.deepEqual((await routeGet('198.18.0.255')).map(({ dev, type }) => ({ dev, type })), [{ dev: VETH_CLIENT, type: 'broadcast' }]);
    assert.deepEqual((await routeGet(topology.clientAddress)).map(({ dev, type }) => ({ dev, type })), [{ dev: 'lo', type: 'local' }]);

    await topology.verifyDestination(address);
    await topology.verifyDestination(topology.hostAddress);
    await assert.rejects(topology.verifyDestination('198.18.0.11'), /it is not an address isobench assigned/);
    await assert.rejects(topology.verifyDestination('198.19.0.10'), /outside the test subnet/);

    // A more specific route that leaves by another device than isobench's veth.
    await runChecked(['ip', '-n', CLIENT_NETNS, 'route', 'add', `${address}/32`, 'dev', 'lo']);
    await assert.rejects(topology.verifyDestination(address), /does not route it through ib-veth-c/);
    await runChecked(['ip', '-n', CLIENT_NETNS, 'route', 'replace', 'unreachable', `${address}/32`]);
    await assert.rejects(topology.verifyDestination(address), /route get .* exited with code 2: RTNETLINK answers: No route to host/);

    // The first network's routes lie in the guard range: a second one is refused having built nothing.
    await assert.rejects(Topology.create(CONFIG, second), /the host already routes 198\.18\.0\.0\/\d+ .*inside isobench's test range 198\.18\.0\.0\/15: run `npm run cleanup`/);
    assert.equal(second.size, 0, 'nothing registered by the refused network');
  } finally {
    await second.undoAll();
    await resources.undoAll();
    await rm(state, { recursive: true, force: true });
  }
  await assertNoLeftovers('the namespace, bridge, veth and routes are gone');
});
