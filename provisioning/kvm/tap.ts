import { CommandFailedError, type CommandOutcome } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { LocalHost, type Host } from '../../hosts/host.js';
import { LINK_PREFIX } from '../topology.js';

/** Guests' taps are `ib-tap0`, `ib-tap1`, …: isobench's link prefix, so `cleanup` finds them. */
export const TAP_PREFIX = `${LINK_PREFIX}tap`;
const IP_TIMEOUT_MS = 10_000;
/** What `ip link delete` says about a link that is already gone (a regex alternation): an undo that finds this has nothing to do. */
export const LINK_GONE = 'Cannot find device|No such device|does not exist';

/** The first `ib-tapN` name no link on the host has. */
export function freeTapName(existing: readonly string[]): string {
  const taken = new Set(existing);
  for (let index = 0; ; index++) {
    const name = `${TAP_PREFIX}${index}`;
    if (!taken.has(name)) return name;
  }
}

/** This machine: where taps are made unless a lab host is named. */
const THIS_HOST = new LocalHost();

/** Runs `ip …` on `host` with IP_TIMEOUT_MS; CommandFailedError when it fails. */
async function ipOn(host: Host, args: readonly string[]): Promise<CommandOutcome> {
  const outcome = await host.run(['ip', ...args], { timeoutMs: IP_TIMEOUT_MS });
  if (!outcome.ok) throw new CommandFailedError(outcome);
  return outcome;
}

/**
 * The names of every network link on `host` (default this machine; `ip -j link show`, 10 s deadline).
 * @throws CommandFailedError when ip fails; HostError when a lab host cannot be reached.
 */
export async function linkNames(host: Host = THIS_HOST): Promise<string[]> {
  const outcome = await ipOn(host, ['-j', 'link', 'show']);
  return (JSON.parse(outcome.stdout || '[]') as Array<{ ifname: string }>).map((link) => link.ifname);
}

/** A tap createTap made. */
export interface Tap {
  /** `ib-tapN`. */
  name: string;
  /** Its entry in the run's ledger (`ip link delete`). */
  resourceId: number;
}

/**
 * A persistent tap on `bridge`, registered for removal the moment it exists. QEMU opens
 * it by name (`-netdev tap,ifname=…,script=no`), so QEMU itself needs no network privileges.
 * Created with `vnet_hdr` (IFF_VNET_HDR: frames carry the virtio-net header, so checksum and
 * segmentation offloads reach the guest), enslaved to `bridge`, and up.
 * @param host Where the tap and bridge are: this machine by default, or a lab host, where the
 *   ledger's undo is the `ip link delete` run there over SSH (Host.commandLine).
 * @throws CommandFailedError when an `ip` command fails (e.g. without CAP_NET_ADMIN, or no such
 *   bridge); HostError when a lab host cannot be reached.
 */
export async function createTap(bridge: string, resources: ResourceRegistry, host: Host = THIS_HOST): Promise<Tap> {
  const name = freeTapName(await linkNames(host));
  await ipOn(host, ['tuntap', 'add', 'dev', name, 'mode', 'tap', 'vnet_hdr']);
  const where = host === THIS_HOST ? '' : ` on host ${host.name}`;
  const resourceId = await resources.register(`tap ${name}${where}`, { kind: 'command', command: host.commandLine(['ip', 'link', 'delete', name]), ignoreFailure: LINK_GONE });
  await ipOn(host, ['link', 'set', name, 'master', bridge]);
  await ipOn(host, ['link', 'set', name, 'up']);
  return { name, resourceId };
}

/** Whether a link of that name exists now on `host` (default this machine; `ip link show dev NAME` succeeds). */
export async function tapExists(name: string, host: Host = THIS_HOST): Promise<boolean> {
  return (await host.run(['ip', 'link', 'show', 'dev', name], { timeoutMs: IP_TIMEOUT_MS })).ok;
}
