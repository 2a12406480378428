import { runChecked } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { LINK_PREFIX, NETNS_PREFIX } from '../topology.js';

/*
 * A container's network: a named network namespace with one veth whose other end joins the
 * bridge. runc joins it by path (config.json), so it outlives the container — and a restored
 * container joins a *new* one with the same address and MAC, the way a migrated container arrives on
 * another host's bridge.
 */

const IP_TIMEOUT_MS = 10_000;
/** What `ip netns del` says when the namespace is already gone: the undo has nothing to do. */
export const NETNS_GONE = 'No such file|Cannot remove namespace file|does not exist';

/** What a container network is made of. */
export interface ContainerNetworkSpec {
  /** The namespace's name, e.g. `isobench-criu-<run>-1` (NETNS_PREFIX, so `cleanup` finds it). */
  netns: string;
  /** The bridge end of the veth, at most 15 characters, e.g. `ib-cr1` (LINK_PREFIX, for `cleanup`). */
  hostLink: string;
  /** The bridge it joins (isobench's `ib-br0`). */
  bridge: string;
  /** The container's test address and the subnet's prefix length. */
  address: string;
  prefixLength: number;
  /** The container's MAC, kept across a migration so the client's ARP entry stays right. */
  mac: string;
}

/** A container network that exists now. */
export interface ContainerNetwork {
  spec: ContainerNetworkSpec;
  /** `/var/run/netns/NAME`, what runc's config.json names. */
  path: string;
  /** Deletes the namespace (its veth pair goes with it) and its ledger entry. Idempotent. */
  remove(): Promise<void>;
}

/** The `ip` commands that build a container network, in order; the container side is named eth0 inside the namespace. */
export function containerNetworkCommands(spec: ContainerNetworkSpec): string[][] {
  // The peer is created under a temporary name: `eth0` exists in the host's namespace already.
  const peer = `${spec.hostLink}p`;
  const inside = (...args: string[]) => ['ip', '-n', spec.netns, ...args];
  return [
    ['ip', 'link', 'add', spec.hostLink, 'type', 'veth', 'peer', 'name', peer],
    ['ip', 'link', 'set', peer, 'netns', spec.netns],
    inside('link', 'set', peer, 'name', 'eth0'),
    inside('link', 'set', 'eth0', 'address', spec.mac),
    inside('addr', 'add', `${spec.address}/${spec.prefixLength}`, 'dev', 'eth0'),
    inside('link', 'set', 'eth0', 'up'),
    inside('link', 'set', 'lo', 'up'),
    ['ip', 'link', 'set', spec.hostLink, 'master', spec.bridge],
    ['ip', 'link', 'set', spec.hostLink, 'up'],
  ];
}

/**
 * Creates the namespace (registered for removal the moment it exists) and its veth on the bridge.
 * @throws CommandFailedError when an `ip` command fails; the namespace is removed again then.
 */
export async function createContainerNetwork(spec: ContainerNetworkSpec, resources: ResourceRegistry): Promise<ContainerNetwork> {
  if (!spec.netns.startsWith(NETNS_PREFIX) || !spec.hostLink.startsWith(LINK_PREFIX) || spec.hostLink.length > 14) {
    throw new Error(`container network names must start with ${NETNS_PREFIX} and ${LINK_PREFIX} (link at most 14 characters): ${spec.netns}, ${spec.hostLink}`);
  }
  await runChecked(['ip', 'netns', 'add', spec.netns], { timeoutMs: IP_TIMEOUT_MS });
  const resourceId = await resources.register(`network namespace ${spec.netns}`, { kind: 'command', command: ['ip', 'netns', 'del', spec.netns], ignoreFailure: NETNS_GONE });
  let removed = false;
  const remove = async () => {
    if (removed) return;
    removed = true;
    await resources.undo(resourceId);
  };
  try {
    for (const command of containerNetworkCommands(spec)) await runChecked(command, { timeoutMs: IP_TIMEOUT_MS });
  } catch (error) {
    await remove();
    throw error;
  }
  return { spec, path: `/var/run/netns/${spec.netns}`, remove };
}
