import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkPublishedPorts,
  containerName,
  natPortBindings,
  natPublishedPorts,
  objectLabels,
} from '../../provisioning/docker/container-target.js';
import { findDriver } from '../../provisioning/targets/index.js';
import { SUITES } from '../../suites/index.js';
import { LEFTOVER_SCANNERS } from '../../provisioning/leftovers.js';
import { IPERF3_PORT } from '../../suites/tcp-bulk/index.js';
import { SOCKPERF_PORT } from '../../suites/tcp-rr/index.js';

const EVERY_SUITE_PORT = natPublishedPorts(SUITES.flatMap((suite) => suite.ports));

test('docker-nat publishes every suite server port, with the protocols the suite uses', () => {
  const published = (port: number) => EVERY_SUITE_PORT.find((entry) => entry.port === port)?.protocols ?? [];
  assert.deepEqual(published(IPERF3_PORT), ['tcp']);
  assert.deepEqual([...published(SOCKPERF_PORT)].sort(), ['tcp', 'udp']);
});

test('published ports are bound to one test address, never to 0.0.0.0', () => {
  const chosen = natPublishedPorts([
    { port: 5201, protocols: ['tcp'], why: 'iperf3 (tcp-bulk)' },
    { port: 11111, protocols: ['tcp', 'udp'], why: 'sockperf (tcp-rr)' },
    { port: 3306, protocols: ['tcp'], why: 'MariaDB (mysql)' },
  ]);
  const { exposed, bindings } = natPortBindings('198.18.0.10', chosen);
  assert.deepEqual(Object.keys(exposed).sort(), ['11111/tcp', '11111/udp', '3306/tcp', '5201/tcp']);
  for (const [key, list] of Object.entries(bindings)) {
    assert.deepEqual(list, [{ HostIp: '198.18.0.10', HostPort: key.split('/')[0] }]);
  }
  assert.doesNotThrow(() => checkPublishedPorts(bindings, '198.18.0.10', chosen));
  const everywhere = { ...bindings, '5201/tcp': [{ HostIp: '0.0.0.0', HostPort: '5201' }] };
  assert.throws(() => checkPublishedPorts(everywhere, '198.18.0.10', chosen), /5201\/tcp is published on 0\.0\.0\.0, not on 198\.18\.0\.10/);
  const missing: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = { ...bindings, '11111/udp': null };
  assert.throws(() => checkPublishedPorts(missing, '198.18.0.10', chosen), /11111\/udp is not published/);
  assert.throws(() => checkPublishedPorts({ ...bindings, '3306/tcp': [{ HostIp: '', HostPort: '3306' }] }, '198.18.0.10', chosen), /on 0\.0\.0\.0/);
});

test('container names and labels identify isobench and the run', () => {
  assert.equal(containerName('docker-nat', '20261125T153113Z-8982'), 'isobench-docker-nat-20261125T153113Z-8982');
  assert.equal(containerName('docker-host', 'a/b:c'), 'isobench-docker-host-a-b-c');
  assert.deepEqual(objectLabels('docker-host', 'r1'), { isobench: '1', 'isobench.run': 'r1', 'isobench.target': 'docker-host' });
});

test('both Docker drivers are registered, need docker.io, and cleanup scans Docker', () => {
  for (const name of ['docker-host', 'docker-nat'] as const) {
    const driver = findDriver(name);
    assert.equal(driver?.name, name);
    assert.ok(driver?.hostTools.some((tool) => tool.command === 'dockerd' && tool.debianPackage === 'docker.io'));
  }
  assert.ok(LEFTOVER_SCANNERS.some((scanner) => scanner.name === 'docker'));
});

test('docker-nat publishes only what the chosen suites declare, plus its NAT probe port', () => {
  assert.deepEqual(natPublishedPorts([]).map((entry) => entry.port), [5201]);
  const merged = natPublishedPorts([{ port: 5201, protocols: ['udp'], why: 'x' }, { port: 7, protocols: ['tcp'], why: 'y' }]);
  assert.deepEqual(merged.map((entry) => [entry.port, [...entry.protocols].sort()]), [[7, ['tcp']], [5201, ['tcp', 'udp']]]);
});
