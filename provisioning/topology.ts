import { CommandFailedError, runCommand, type CommandOptions, type CommandOutcome } from '../core/exec.js';
import type { ResourceRegistry } from '../core/ledger.js';
import { UsageError } from '../core/errors.js';
import { cidrContains, cidrSize, cidrsOverlap, cidrWithin, formatCidr, hostAddress, parseAddress, parseCidr, type Cidr } from './ipv4.js';

/**
 * The addresses isobench hands out (`--subnet`): the bridge is .1, the client .2, targets from .10.
 * Inside RFC 2544's benchmarking range, never routed on the internet, so a stray packet cannot reach anyone.
 */
export const DEFAULT_TEST_SUBNET = '198.18.0.0/24';
/**
 * The range that is blackholed as a whole with an `unreachable` route (`--guard-range`): all of
 * RFC 2544's benchmarking range, 198.18.0.0 to 198.19.255.255.
 */
export const DEFAULT_GUARD_RANGE = '198.18.0.0/15';

/** Every link (bridge, veth, tap) isobench creates is named with this prefix, so `cleanup` can find them all. */
export const LINK_PREFIX = 'ib-';
/** Every network namespace isobench creates is named with this prefix, for `cleanup` likewise. */
export const NETNS_PREFIX = 'isobench-';
/** The namespace of the load generator: the papers' client machine. */
export const CLIENT_NETNS = `${NETNS_PREFIX}client`;
/** The bridge that joins the client's veth and guests' taps, and holds the host's test address. */
export const BRIDGE = `${LINK_PREFIX}br0`;
/** The bridge's end of the client's veth pair. */
export const VETH_HOST = `${LINK_PREFIX}veth-h`;
/** The client namespace's end of the veth pair: the only way test traffic may leave it. */
export const VETH_CLIENT = `${LINK_PREFIX}veth-c`;
/** The `-m comment` of every iptables rule isobench adds; `cleanup` removes the rules carrying it. */
export const IPTABLES_COMMENT = 'isobench';

const IP_TIMEOUT_MS = 10_000;
const GONE = 'Cannot find device|No such file|does not exist|No such process|Bad rule|No chain';

/**
 * How the topology runs `ip` and `iptables` (not the suites' commands: those go through
 * {@link Topology.clientExec}): core/exec's runCommand, or a unit test's fake that answers with
 * captured output. A seam, so the fail-closed checks can be tested without root.
 */
export type TopologyRunner = (command: readonly string[], options?: CommandOptions) => Promise<CommandOutcome>;

/** The test network's ranges as given on the command line, in CIDR notation. */
export interface TopologyConfig {
  /** `--subnet`, default DEFAULT_TEST_SUBNET. */
  subnet: string;
  /** `--guard-range`, default DEFAULT_GUARD_RANGE; must contain the subnet. */
  guardRange: string;
}

/**
 * Checks `--subnet` and `--guard-range` before anything is built: both parse as IPv4 ranges, the
 * subnet lies inside the guarded range and holds at least a /28 (bridge, client and targets).
 *
 * @throws UsageError naming the flag and the value, e.g. `--subnet 198.18.0.0/33: the prefix length must be at most 32`.
 */
export function validateTopologyConfig(config: TopologyConfig): { subnet: Cidr; guard: Cidr } {
  const parse = (flag: string, text: string): Cidr => {
    try {
      return parseCidr(text);
    } catch (error) {
      throw new UsageError(`--${flag} ${text}: ${(error as Error).message.replace(`${text}: `, '').replace(`${text} `, '')}`, { cause: error });
    }
  };
  const subnet = parse('subnet', config.subnet);
  const guard = parse('guard-range', config.guardRange);
  if (!cidrWithin(subnet, guard)) {
    throw new UsageError(`--subnet ${config.subnet} must lie inside --guard-range ${config.guardRange}`);
  }
  if (subnet.prefix > 28) throw new UsageError(`--subnet ${config.subnet} is too small: use a /28 or larger`);
  return { subnet, guard };
}

/**
 * The paper's client machine and server link, built on one host and built to fail closed: a `client`
 * network namespace joined by a veth pair to a bridge, addresses from a test range that is blackholed
 * as a whole (`unreachable`), and a check before any traffic that the destination is one of ours.
 */
export class Topology {
  /** The host's address on the bridge (the subnet's .1): native's servers listen here. */
  readonly hostAddress: string;
  /** The client namespace's address (the subnet's .2). */
  readonly clientAddress: string;
  readonly subnet: Cidr;
  readonly guard: Cidr;
  private readonly ownedAddresses = new Map<string, string>();
  private nextHostNumber = 10;
  private readonly releasedAddresses: string[] = [];
  private forwardingAllowed = false;

  private constructor(
    config: TopologyConfig,
    private readonly resources: ResourceRegistry,
    private readonly run: TopologyRunner,
  ) {
    ({ subnet: this.subnet, guard: this.guard } = validateTopologyConfig(config));
    this.hostAddress = hostAddress(this.subnet, 1);
    this.clientAddress = hostAddress(this.subnet, 2);
    this.ownedAddresses.set(this.hostAddress, `bridge ${BRIDGE}`);
  }

  /**
   * Validates the ranges, refuses a guard range the host already routes, then builds the network,
   * registering each piece in `resources` as it is made.
   * @param seams `run`: what runs `ip` and `iptables` (default core/exec's runCommand); for tests.
   * @throws UsageError for a bad `--subnet`/`--guard-range`; Error when the host already routes part
   *   of the guard range (a crashed run, or a network in use); CommandFailedError when an `ip` or
   *   `iptables` command fails.
   */
  static async create(config: TopologyConfig, resources: ResourceRegistry, seams: { run?: TopologyRunner } = {}): Promise<Topology> {
    const topology = new Topology(config, resources, seams.run ?? runCommand);
    await topology.refuseOverlappingRoutes();
    await topology.build();
    return topology;
  }

  /** The test subnet's prefix length, e.g. 24, for addresses handed to targets. */
  get prefixLength(): number {
    return this.subnet.prefix;
  }

  /** The bridge's name (BRIDGE), which guests' taps join. */
  get bridge(): string {
    return BRIDGE;
  }

  /**
   * Hands a target (a guest, a container) an address of the test subnet and remembers it as ours.
   * @throws UsageError when every target address of the subnet (host numbers 10 up to the last before
   *   broadcast) is in use, naming the subnet, the owner, how many it holds, and the fix (a larger --subnet).
   */
  allocateAddress(owner: string): string {
    const reused = this.releasedAddresses.shift();
    if (reused === undefined && this.nextHostNumber >= cidrSize(this.subnet) - 1) {
      const held = Math.max(0, cidrSize(this.subnet) - 1 - 10);
      throw new UsageError(`the test subnet ${formatCidr(this.subnet)} has no address left for ${owner}: its ${held} target addresses (from host number 10) are all in use; give a larger --subnet, e.g. a /24 inside the guard range`);
    }
    const address = reused ?? hostAddress(this.subnet, this.nextHostNumber++);
    this.ownedAddresses.set(address, owner);
    return address;
  }

  /**
   * Gives an address back when its target is torn down: the startup suite starts many fresh
   * instances in one run, which would otherwise exhaust the subnet. Traffic to it is refused again.
   */
  releaseAddress(address: string): void {
    if (address === this.hostAddress || !this.ownedAddresses.delete(address)) return;
    this.releasedAddresses.push(address);
  }

  /** Runs a program in the client namespace. */
  clientExec(command: readonly string[], options?: CommandOptions): Promise<CommandOutcome> {
    return runCommand(this.wrapClient(command), options);
  }

  /** The command as it runs in the client namespace (`ip netns exec isobench-client …`), as recorded in results. */
  wrapClient(command: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', CLIENT_NETNS, ...command];
  }

  /**
   * Throws unless `address` lies in the test subnet, is one isobench assigned, and the client
   * namespace routes it out of isobench's own veth. Called before every trial's traffic.
   */
  async verifyDestination(address: string): Promise<void> {
    if (!cidrContains(this.subnet, parseAddress(address))) {
      throw new Error(`refusing to send test traffic to ${address}: outside the test subnet ${formatCidr(this.subnet)}`);
    }
    const owner = this.ownedAddresses.get(address);
    if (!owner) throw new Error(`refusing to send test traffic to ${address}: it is not an address isobench assigned`);
    const outcome = await this.checked(['ip', '-n', CLIENT_NETNS, '-j', 'route', 'get', address]);
    const routes = JSON.parse(outcome.stdout) as Array<{ dev?: string; type?: string }>;
    const route = routes[0];
    if (!route || route.dev !== VETH_CLIENT || (route.type !== undefined && route.type !== 'unicast')) {
      throw new Error(`refusing to send test traffic to ${address}: the client namespace does not route it through ${VETH_CLIENT}`);
    }
    if (address === this.hostAddress) await this.verifyBridgeHoldsHostAddress();
  }

  /**
   * Once Docker runs, it sets the FORWARD policy to DROP and bridged frames pass through iptables
   * (br_netfilter): frames between the client veth and a guest's tap would vanish. Docker's
   * DOCKER-USER chain is the documented place to let isobench's own bridge through.
   */
  async allowBridgeForwarding(): Promise<void> {
    if (this.forwardingAllowed) return;
    const chain = await this.run(['iptables', '-w', '-S', 'DOCKER-USER'], { timeoutMs: IP_TIMEOUT_MS });
    if (!chain.ok) return;
    const rule = ['DOCKER-USER', '-i', BRIDGE, '-o', BRIDGE, '-m', 'comment', '--comment', IPTABLES_COMMENT, '-j', 'ACCEPT'];
    await this.checked(['iptables', '-w', '-I', ...rule]);
    await this.resources.register(`iptables rule: accept ${BRIDGE} <-> ${BRIDGE} in DOCKER-USER`, {
      kind: 'command',
      command: ['iptables', '-w', '-D', ...rule],
      ignoreFailure: GONE,
    });
    this.forwardingAllowed = true;
  }

  private async refuseOverlappingRoutes(): Promise<void> {
    const outcome = await this.checked(['ip', '-j', 'route', 'show', 'table', 'all']);
    const routes = JSON.parse(outcome.stdout) as Array<{ dst?: string; dev?: string; type?: string }>;
    for (const route of routes) {
      if (!route.dst || route.dst === 'default' || !/^[\d.]+(\/\d+)?$/.test(route.dst)) continue;
      const destination = parseCidr(route.dst.includes('/') ? route.dst : `${route.dst}/32`);
      if (destination.prefix === 0) continue;
      if (cidrsOverlap(destination, this.guard)) {
        throw new Error(
          `the host already routes ${route.dst}${route.dev ? ` via ${route.dev}` : ''}, inside isobench's test range ${formatCidr(this.guard)}: ` +
            'run `npm run cleanup` if a crashed run left it, or choose another range with --subnet and --guard-range',
        );
      }
    }
  }

  private async build(): Promise<void> {
    const subnet = `/${this.subnet.prefix}`;
    const guard = formatCidr(this.guard);
    await this.step(['ip', 'route', 'add', 'unreachable', guard], `unreachable route ${guard}`, ['ip', 'route', 'del', 'unreachable', guard]);
    await this.step(['ip', 'netns', 'add', CLIENT_NETNS], `network namespace ${CLIENT_NETNS}`, ['ip', 'netns', 'delete', CLIENT_NETNS]);
    await this.step(['ip', 'link', 'add', BRIDGE, 'type', 'bridge'], `bridge ${BRIDGE}`, ['ip', 'link', 'delete', BRIDGE]);
    await this.ip(['addr', 'add', `${this.hostAddress}${subnet}`, 'dev', BRIDGE]);
    await this.ip(['link', 'set', BRIDGE, 'up']);
    await this.step(
      ['ip', 'link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_CLIENT],
      `veth pair ${VETH_HOST} / ${VETH_CLIENT}`,
      ['ip', 'link', 'delete', VETH_HOST],
    );
    await this.ip(['link', 'set', VETH_CLIENT, 'netns', CLIENT_NETNS]);
    await this.ip(['link', 'set', VETH_HOST, 'master', BRIDGE, 'up']);
    await this.ip(['-n', CLIENT_NETNS, 'link', 'set', 'lo', 'up']);
    await this.ip(['-n', CLIENT_NETNS, 'addr', 'add', `${this.clientAddress}${subnet}`, 'dev', VETH_CLIENT]);
    await this.ip(['-n', CLIENT_NETNS, 'link', 'set', VETH_CLIENT, 'up']);
    await this.ip(['-n', CLIENT_NETNS, 'route', 'add', 'unreachable', guard]);
    await this.allowBridgeForwarding();
  }

  private async verifyBridgeHoldsHostAddress(): Promise<void> {
    const outcome = await this.checked(['ip', '-j', 'addr', 'show', 'dev', BRIDGE]);
    const links = JSON.parse(outcome.stdout) as Array<{ addr_info?: Array<{ local?: string }> }>;
    const held = links.flatMap((link) => link.addr_info ?? []).some((info) => info.local === this.hostAddress);
    if (!held) throw new Error(`refusing to send test traffic: ${BRIDGE} does not hold ${this.hostAddress}`);
  }

  private async step(command: string[], description: string, undo: string[]): Promise<void> {
    await this.checked(command);
    await this.resources.register(description, { kind: 'command', command: undo, ignoreFailure: GONE });
  }

  private async ip(args: string[]): Promise<void> {
    await this.checked(['ip', ...args]);
  }

  /** Like core/exec's runChecked, through the runner: a failure throws CommandFailedError. */
  private async checked(command: string[]): Promise<CommandOutcome> {
    const outcome = await this.run(command, { timeoutMs: IP_TIMEOUT_MS });
    if (!outcome.ok) throw new CommandFailedError(outcome);
    return outcome;
  }
}
