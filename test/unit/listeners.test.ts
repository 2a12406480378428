/**
 * The exposure check of the integration tests (test/integration/listeners.ts): `ss` output read
 * right, wildcards and public addresses flagged, and a real socket seen by the watch.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { listensPrivately, parseListeners, watchListeners } from '../integration/listeners.js';

/** `ss -H -ltnup` (iproute2 6.1): the first two lines captured on a test host, the rest in the same format. */
const SS = `tcp   LISTEN 0      128       0.0.0.0:2024 0.0.0.0:*
tcp   LISTEN 0      250    198.18.0.1:3306 0.0.0.0:* users:(("mariadbd",pid=27628,fd=17))
tcp   LISTEN 0      4096   198.18.0.10:5201 0.0.0.0:* users:(("docker-proxy",pid=4242,fd=4))
udp   UNCONN 0      0      127.0.0.53%lo:53 0.0.0.0:* users:(("systemd-resolve",pid=310,fd=13))
tcp   LISTEN 0      5            *:5201       *:* users:(("iperf3",pid=5150,fd=3))
tcp   LISTEN 0      4096      [::]:22      [::]:* users:(("sshd",pid=700,fd=4))
tcp   LISTEN 0      128      [::1]:631     [::]:* users:(("cupsd",pid=701,fd=7),("cupsd",pid=702,fd=7))
tcp   LISTEN 0      5    [::ffff:198.18.0.1]:11111 *:* users:(("sockperf",pid=5151,fd=3))
udp   UNCONN 0      0    [fe80::1]%eth0:546 [::]:* users:(("dhclient",pid=800,fd=5))
udp   UNCONN 0      0    0.0.0.0%ib-br0:11111 0.0.0.0:* users:(("sockperf",pid=5152,fd=3))
tcp   LISTEN 0      50    192.0.2.2:3306 0.0.0.0:* users:(("mariadbd",pid=900,fd=20))
`;

test('ss -ltnup lines are read: protocol, address, device, port and processes', () => {
  const listeners = parseListeners(SS);
  assert.equal(listeners.length, 11);
  assert.deepEqual(listeners.map(({ protocol, address, device, port }) => `${protocol} ${address}${device ? `%${device}` : ''} ${port}`), [
    'tcp 0.0.0.0 2024', 'tcp 198.18.0.1 3306', 'tcp 198.18.0.10 5201', 'udp 127.0.0.53%lo 53', 'tcp * 5201', 'tcp :: 22',
    'tcp ::1 631', 'tcp ::ffff:198.18.0.1 11111', 'udp fe80::1%eth0 546', 'udp 0.0.0.0%ib-br0 11111', 'tcp 192.0.2.2 3306',
  ]);
  assert.deepEqual(listeners[0]!.processes, [], 'a socket of another PID namespace has no process');
  assert.deepEqual(listeners[1]!.processes, [{ name: 'mariadbd', pid: 27628 }]);
  assert.deepEqual(listeners[6]!.processes.map((owner) => owner.pid), [701, 702]);
  assert.throws(() => parseListeners('tcp LISTEN 0 5 nonsense 0.0.0.0:*\n'), /unexpected ss line: tcp LISTEN 0 5 nonsense/);
});

test('only loopback, the test range and isobench\'s own links count as private', () => {
  const verdicts = parseListeners(SS).map((listener) => `${listener.address}${listener.device ? `%${listener.device}` : ''}:${listener.port} ${listensPrivately(listener) ? 'private' : 'EXPOSED'}`);
  assert.deepEqual(verdicts, [
    '0.0.0.0:2024 EXPOSED', '198.18.0.1:3306 private', '198.18.0.10:5201 private', '127.0.0.53%lo:53 private', '*:5201 EXPOSED', ':::22 EXPOSED',
    '::1:631 private', '::ffff:198.18.0.1:11111 private', 'fe80::1%eth0:546 EXPOSED', '0.0.0.0%ib-br0:11111 private', '192.0.2.2:3306 EXPOSED',
  ]);
  const [, inRange] = parseListeners(SS);
  assert.equal(listensPrivately(inRange!, '10.99.0.0/16'), false, 'the range is the one given');
});

test('the watch sees a socket this process opens during the work, and not the ones that were there before', async () => {
  const before = createServer();
  before.listen(0, '127.0.0.3');
  await once(before, 'listening');
  const watch = await watchListeners({ intervalMs: 50 });
  const during = createServer();
  during.listen(0, '127.0.0.2');
  await once(during, 'listening');
  const { port } = during.address() as { port: number };
  await new Promise((resolve) => setTimeout(resolve, 200));
  during.close();
  before.close();
  const report = await watch.stop();
  assert.ok(report.samples >= 2, `${report.samples} samples`);
  // Only this process's sockets: a benchmark another test runs at the same time may start services.
  const mine = report.services.filter((listener) => listener.processes.some((owner) => owner.pid === process.pid));
  assert.deepEqual(mine.map((listener) => `${listener.protocol} ${listener.address}:${listener.port}`), [`tcp 127.0.0.2:${port}`]);
  assert.ok(mine.every((listener) => listensPrivately(listener)));
});
