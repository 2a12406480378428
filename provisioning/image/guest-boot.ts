import { GUEST_INIT_PATH } from './recipe.js';

/**
 * The kernel command line that boots the recipe's disk image into the isobench init. Kept here,
 * beside the init it talks to, so the parameters the init reads and the ones QEMU passes cannot
 * drift apart.
 */
export interface GuestBootParameters {
  /** eth0's address with prefix length, e.g. "198.18.0.10/24"; omit for a guest without network. */
  address?: string;
  /** Default gateway for eth0. */
  gateway?: string;
  /** Extra kernel parameters, appended as given. */
  extra?: readonly string[];
}

/**
 * `console=ttyS0 root=/dev/vda rw init=<GUEST_INIT_PATH>`, then `isobench.addr=`/`isobench.gw=`
 * when given (files/isobench-init reads them), then `extra`. One string, for QEMU's `-append`.
 */
export function guestKernelCommandLine(parameters: GuestBootParameters = {}): string {
  const words = ['console=ttyS0', 'root=/dev/vda', 'rw', `init=${GUEST_INIT_PATH}`];
  if (parameters.address) words.push(`isobench.addr=${parameters.address}`);
  if (parameters.gateway) words.push(`isobench.gw=${parameters.gateway}`);
  words.push(...(parameters.extra ?? []));
  return words.join(' ');
}
