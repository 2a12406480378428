/**
 * The test network's fail-closed promises (provisioning/topology.ts), through its `run` seam: `ip`
 * answers with output captured from real hosts and namespaces (formats checked against the real
 * thing in test/integration/topology-fail-closed.test.ts), so no root and no namespace are needed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandOutcome } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { BRIDGE, CLIENT_NETNS, DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET, Topology, VETH_CLIENT, type TopologyConfig } from '../../provisioning/topology.js';

/** `ip -j route show table all` on a Debian host with Docker (captured), none of it in 198.18.0.0/15. */
const HOST_ROUTES = [
  { dst: 'default', gateway: '192.0.2.1', dev: 'eth0', flags: [] },
  { dst: '172.17.0.0/16', dev: 'docker0', protocol: 'kernel', scope: 'link', prefsrc: '172.17.0.1', flags: ['linkdown'] },
  { dst: '192.0.2.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.0.2.2', flags: [] },
  { type: 'local', dst: '127.0.0.0/8', dev: 'lo', table: 'local', protocol: 'kernel', scope: 'host', prefsrc: '127.0.0.1', flags: [] },
  { type: 'local', dst: '127.0.0.1', dev: 'lo', table: 'local', protocol: 'kernel', scope: 'host', prefsrc: '127.0.0.1', flags: [] },
  { type: 'broadcast', dst: '127.255.255.255', dev: 'lo', table: 'local', protocol: 'kernel', scope: 'link', prefsrc: '127.0.0.1', flags: [] },
  { type: 'local', dst: '192.0.2.2', dev: 'eth0', table: 'local', protocol: 'kernel', scope: 'host', prefsrc: '192.0.2.2', flags: [] },
  { type: 'broadcast', dst: '192.0.2.255', dev: 'eth0', table: 'local', protocol: 'kernel', scope: 'link', prefsrc: '192.0.2.2', flags: [] },
];

/** `ip -n isobench-client -j route get ADDRESS` answers (captured shapes). */
const ROUTE_GET = {
  /** The only acceptable answer: out of isobench's veth, as unicast. */
  viaVeth: (address: string) => [{ dst: address, dev: VETH_CLIENT, prefsrc: '198.18.0.2', flags: [], uid: 0, cache: [] }],
  /** A more specific route someone added that leaves by the host's uplink. */
  viaUplink: (address: string) => [{ dst: address, gateway: '192.0.2.1', dev: 'eth0', prefsrc: '192.0.2.2', flags: [], uid: 0, cache: [] }],
  /** The address is the namespace's own. */
  local: (address: string) => [{ type: 'local', dst: address, dev: 'lo', prefsrc: address, flags: [], uid: 0, cache: ['local'] }],
  /** Through the right device, but not as unicast (a broadcast address). */
  broadcast: (address: string) => [{ type: 'broadcast', dst: address, dev: VETH_CLIENT, prefsrc: '198.18.0.2', flags: [], uid: 0, cache: ['brd'] }],
  none: () => [],
};

const outcome = (command: readonly string[], stdout: string, exitCode = 0, stderr = ''): CommandOutcome => ({
  command: [...command], ok: exitCode === 0, exitCode, signal: null, timedOut: false, stdout, stderr, durationMs: 1,
});

interface FakeHost {
  routes?: object[];
  /** The client namespace's answer for an address; a string is `ip`'s error (exit code 2). */
  routeGet?: (address: string) => object[] | string;
  /** Addresses `ip -j addr show dev ib-br0` lists. */
  bridgeAddresses?: string[];
}

const DEFAULT_CONFIG: TopologyConfig = { subnet: DEFAULT_TEST_SUBNET, guardRange: DEFAULT_GUARD_RANGE };

/** A fake `ip` and ledger: every command and registration is recorded, build steps succeed. */
function fakeIp(host: FakeHost = {}) {
  const commands: string[][] = [];
  const registered: string[] = [];
  const resources = {
    register: async (description: string) => registered.push(description),
  } as unknown as ResourceRegistry;
  const run = async (command: readonly string[]): Promise<CommandOutcome> => {
    commands.push([...command]);
    const text = command.join(' ');
    if (text === 'ip -j route show table all') return outcome(command, JSON.stringify(host.routes ?? HOST_ROUTES));
    if (text.startsWith(`ip -n ${CLIENT_NETNS} -j route get `)) {
      const answer = (host.routeGet ?? ROUTE_GET.viaVeth)(command.at(-1)!);
      return typeof answer === 'string' ? outcome(command, '', 2, answer) : outcome(command, JSON.stringify(answer));
    }
    if (text === `ip -j addr show dev ${BRIDGE}`) {
      const info = (host.bridgeAddresses ?? ['198.18.0.1']).map((local) => ({ family: 'inet', local, prefixlen: 24 }));
      return outcome(command, JSON.stringify([{ ifname: BRIDGE, addr_info: info }]));
    }
    if (text === 'iptables -w -S DOCKER-USER') return outcome(command, '', 1, 'iptables: No chain/target/match by that name.');
    return outcome(command, '');
  };
  const routeGets = () => commands.filter((command) => command.includes('get'));
  return { run, resources, commands, registered, routeGets };
}

/** A Topology built against {@link fakeIp}. */
async function fakeTopology(host: FakeHost = {}, config: TopologyConfig = DEFAULT_CONFIG) {
  const ip = fakeIp(host);
  const topology = await Topology.create(config, ip.resources, { run: ip.run });
  return { topology, ...ip };
}

describe('the destination check', () => {
  it('lets traffic go to an address isobench assigned that the client namespace routes through its veth', async () => {
    const { topology, routeGets } = await fakeTopology();
    const address = topology.allocateAddress('a test guest');
    assert.equal(address, '198.18.0.10');
    await topology.verifyDestination(address);
    await topology.verifyDestination(topology.hostAddress);
    assert.deepEqual(routeGets().map((command) => command.at(-1)), [address, '198.18.0.1'], 'the route was asked for each');
  });

  it('refuses an address in the subnet that isobench did not assign, before asking for its route', async () => {
    const { topology, routeGets } = await fakeTopology();
    topology.allocateAddress('a test guest');
    for (const address of ['198.18.0.11', '198.18.0.2', '198.18.0.254']) {
      await assert.rejects(topology.verifyDestination(address), new RegExp(`refusing to send test traffic to ${address.replaceAll('.', '\\.')}: it is not an address isobench assigned`));
    }
    assert.deepEqual(routeGets(), []);
  });

  it('refuses an address released when its target was torn down', async () => {
    const { topology } = await fakeTopology();
    const address = topology.allocateAddress('a fresh instance');
    await topology.verifyDestination(address);
    topology.releaseAddress(address);
    await assert.rejects(topology.verifyDestination(address), /not an address isobench assigned/);
  });

  it('refuses an address outside the test subnet, inside the guard range or not, before anything else', async () => {
    const { topology, routeGets } = await fakeTopology();
    for (const address of ['198.18.1.10', '198.19.0.10', '10.0.0.1', '8.8.8.8', '127.0.0.1']) {
      await assert.rejects(topology.verifyDestination(address), new RegExp(`${address.replaceAll('.', '\\.')}: outside the test subnet 198\\.18\\.0\\.0/24`));
    }
    await assert.rejects(topology.verifyDestination('example.org'), /not an IPv4 address/);
    assert.deepEqual(routeGets(), []);
  });

  it('refuses an assigned address the client namespace routes elsewhere, or not as unicast, or not at all', async () => {
    const cases: Array<[string, FakeHost['routeGet'], RegExp]> = [
      ['a route out of the uplink', ROUTE_GET.viaUplink, /does not route it through ib-veth-c/],
      ['a local address', ROUTE_GET.local, /does not route it through ib-veth-c/],
      ['a broadcast route through the veth', ROUTE_GET.broadcast, /does not route it through ib-veth-c/],
      ['an empty answer', ROUTE_GET.none, /does not route it through ib-veth-c/],
      ['an unreachable route', () => 'RTNETLINK answers: No route to host', /route get .* exited with code 2: RTNETLINK answers: No route to host/],
    ];
    for (const [what, routeGet, message] of cases) {
      const { topology } = await fakeTopology({ routeGet });
      const address = topology.allocateAddress('a test guest');
      await assert.rejects(topology.verifyDestination(address), message, what);
    }
  });

  it('refuses the host address when the bridge no longer holds it', async () => {
    const { topology } = await fakeTopology({ bridgeAddresses: [] });
    await assert.rejects(topology.verifyDestination('198.18.0.1'), /refusing to send test traffic: ib-br0 does not hold 198\.18\.0\.1/);
  });
});

describe('a range the host already routes', () => {
  const overlapping: Array<[string, object, RegExp]> = [
    ['a crashed run\'s subnet route', { dst: '198.18.0.0/24', dev: 'ib-br0', protocol: 'kernel', scope: 'link', prefsrc: '198.18.0.1', flags: [] }, /198\.18\.0\.0\/24 via ib-br0/],
    ['a crashed run\'s unreachable route', { type: 'unreachable', dst: '198.18.0.0/15', flags: [] }, /already routes 198\.18\.0\.0\/15, inside/],
    ['another network in the upper half', { dst: '198.19.128.0/20', dev: 'eth1', flags: [] }, /198\.19\.128\.0\/20 via eth1/],
    ['a host address in the local table', { type: 'local', dst: '198.19.255.1', dev: 'eth1', table: 'local', flags: [] }, /198\.19\.255\.1 via eth1/],
    ['a wider route containing the whole range', { dst: '198.0.0.0/8', dev: 'tun0', flags: [] }, /198\.0\.0\.0\/8 via tun0/],
  ];
  for (const [what, route, message] of overlapping) {
    it(`is refused having only read the routes, nothing built or registered: ${what}`, async () => {
      const ip = fakeIp({ routes: [...HOST_ROUTES, route] });
      await assert.rejects(Topology.create(DEFAULT_CONFIG, ip.resources, { run: ip.run }), (error: unknown) => {
        assert.match(String(error), message);
        assert.match(String(error), /inside isobench's test range 198\.18\.0\.0\/15: run `npm run cleanup` if a crashed run left it, or choose another range with --subnet and --guard-range/);
        return true;
      });
      assert.deepEqual(ip.commands, [['ip', '-j', 'route', 'show', 'table', 'all']]);
      assert.deepEqual(ip.registered, []);
    });
  }

  it('neighbours of the range are not refused; the network is built and every piece registered', async () => {
    const neighbours = [{ dst: '198.16.0.0/15', dev: 'eth1', flags: [] }, { dst: '198.20.0.0/14', dev: 'eth1', flags: [] }, { dst: '198.17.255.255', dev: 'eth1', flags: [] }];
    const { commands, registered } = await fakeTopology({ routes: [...HOST_ROUTES, ...neighbours] });
    assert.deepEqual(commands[0], ['ip', '-j', 'route', 'show', 'table', 'all'], 'routes are read first');
    assert.deepEqual(commands[1], ['ip', 'route', 'add', 'unreachable', '198.18.0.0/15'], 'then the range is blackholed');
    assert.deepEqual(registered, ['unreachable route 198.18.0.0/15', `network namespace ${CLIENT_NETNS}`, `bridge ${BRIDGE}`, 'veth pair ib-veth-h / ib-veth-c']);
  });

  it('a --guard-range of the user\'s is checked the same way', async () => {
    const config = { subnet: '10.99.1.0/24', guardRange: '10.99.0.0/16' };
    await assert.rejects(fakeTopology({ routes: [...HOST_ROUTES, { dst: '10.0.0.0/8', dev: 'wg0', flags: [] }] }, config), /already routes 10\.0\.0\.0\/8 via wg0, inside isobench's test range 10\.99\.0\.0\/16/);
    const { topology } = await fakeTopology({}, config);
    assert.equal(topology.allocateAddress('a test guest'), '10.99.1.10');
  });
});

describe('addresses of a small subnet', () => {
  it('a /28 hands out .10 to .14, then refuses instead of the broadcast address or one outside', async () => {
    const { topology } = await fakeTopology({}, { subnet: '198.18.0.16/28', guardRange: DEFAULT_GUARD_RANGE });
    assert.equal(topology.hostAddress, '198.18.0.17');
    assert.equal(topology.clientAddress, '198.18.0.18');
    const handed = Array.from({ length: 5 }, (_, index) => topology.allocateAddress(`guest ${index}`));
    assert.deepEqual(handed, ['198.18.0.26', '198.18.0.27', '198.18.0.28', '198.18.0.29', '198.18.0.30']);
    assert.throws(() => topology.allocateAddress('one too many'), (error: Error) => error.name === 'UsageError' &&
      error.message === 'the test subnet 198.18.0.16/28 has no address left for one too many: its 5 target addresses (from host number 10) are all in use; give a larger --subnet, e.g. a /24 inside the guard range');
    assert.throws(() => topology.allocateAddress('and another'), /has no address left for and another: its 5 target addresses/);
    // A released address is handed out again, and the refused ones were never assigned.
    topology.releaseAddress('198.18.0.28');
    assert.equal(topology.allocateAddress('a fresh instance'), '198.18.0.28');
    for (const address of ['198.18.0.31', '198.18.0.32']) {
      await assert.rejects(topology.verifyDestination(address), /outside the test subnet|not an address isobench assigned/);
    }
    await assert.rejects(topology.verifyDestination('198.18.0.31'), /not an address isobench assigned/, 'the broadcast address is never ours');
  });

  it('the host address cannot be released, and releasing an address twice hands it out once', async () => {
    const { topology } = await fakeTopology();
    topology.releaseAddress(topology.hostAddress);
    await topology.verifyDestination(topology.hostAddress);
    const address = topology.allocateAddress('a guest');
    topology.releaseAddress(address);
    topology.releaseAddress(address);
    assert.equal(topology.allocateAddress('first'), address);
    assert.equal(topology.allocateAddress('second'), '198.18.0.11');
  });
});
