import { runChecked, runCommand } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
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

/**
 * The names of every network link on the host (`ip -j link show`, 10 s deadline).
 * @throws CommandFailedError when ip fails.
 */
export async function linkNames(): Promise<string[]> {
  const outcome = await runChecked(['ip', '-j', 'link', 'show'], { timeoutMs: IP_TIMEOUT_MS });
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
 * A persistent tap on isobench's bridge, registered for removal the moment it exists. QEMU opens
 * it by name (`-netdev tap,ifname=…,script=no`), so QEMU itself needs no network privileges.
 * Created with `vnet_hdr` (IFF_VNET_HDR: frames carry the virtio-net header, so checksum and
 * segmentation offloads reach the guest), enslaved to `bridge`, and up.
 * @throws CommandFailedError when an `ip` command fails (e.g. without CAP_NET_ADMIN).
 */
export async function createTap(bridge: string, resources: ResourceRegistry): Promise<Tap> {
  const name = freeTapName(await linkNames());
  await runChecked(['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tap', 'vnet_hdr'], { timeoutMs: IP_TIMEOUT_MS });
  const resourceId = await resources.register(`tap ${name}`, { kind: 'command', command: ['ip', 'link', 'delete', name], ignoreFailure: LINK_GONE });
  await runChecked(['ip', 'link', 'set', name, 'master', bridge], { timeoutMs: IP_TIMEOUT_MS });
  await runChecked(['ip', 'link', 'set', name, 'up'], { timeoutMs: IP_TIMEOUT_MS });
  return { name, resourceId };
}

/** Whether a link of that name exists now (`ip link show dev NAME` succeeds). */
export async function tapExists(name: string): Promise<boolean> {
  const outcome = await runCommand(['ip', 'link', 'show', 'dev', name], { timeoutMs: IP_TIMEOUT_MS });
  return outcome.ok;
}
