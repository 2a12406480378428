/**
 * A host's libvirtd through libvirt's own `qemu+ssh://` transport, with the host's ssh options.
 *
 * libvirt's ssh transport runs `ssh [-p PORT] -l USER -T -e none -- ADDRESS sh -c '…virt-ssh-helper
 * qemu:///system…'` (libvirt 9.0, read from the argv it passes; `nc -U` on hosts without
 * virt-ssh-helper) with the program its URI's `command` parameter names (default `ssh`). So the URI
 * names a small helper script that runs `ssh` with the host's own options first (SshHost.sshOptions:
 * the inventory's ssh-config, BatchMode, the shared ControlMaster connection), as dial-stdio.ts does
 * for Docker: the user's keys, agent and config apply, and no second authentication happens. The
 * remote daemon reached is the one `virsh -c qemu:///system` on the host reaches.
 */
import { chmod, writeFile } from 'node:fs/promises';
import type { SshHost } from './host.js';
import type { SshTarget } from './inventory.js';
import { quoteCommand } from './shell-quote.js';

/** The helper's file name after the host's ControlPath (in the HostSet's private directory). */
export const LIBVIRT_SSH_HELPER_SUFFIX = '.libvirt-ssh';

/** A host's libvirt URIs: the one to connect with, and the one to show and record. */
export interface LibvirtSshUri {
  /** `qemu+ssh://USER@ADDRESS[:PORT]/system?command=HELPER`: only meaningful on this machine while the HostSet is open. */
  uri: string;
  /** The same without the helper, as a user would type it: `qemu+ssh://root@lab-sut:2222/system`. */
  shown: string;
}

/**
 * The helper script: `exec` of the ssh options given, then whatever libvirt passes (its own options,
 * `--`, the destination and the remote command).
 */
export function libvirtSshHelperScript(sshOptions: readonly string[]): string {
  return `#!/bin/sh\n# Written by isobench: libvirt's qemu+ssh:// transport over the host's shared ssh connection.\nexec ${quoteCommand(sshOptions)} "$@"\n`;
}

/**
 * The URIs of a target's system libvirtd. An IPv6 address is bracketed, as RFC 3986 writes a host.
 * @throws Error when `helper` holds a character outside `[A-Za-z0-9/._-]`: it goes into the URI's
 *   query unescaped (isobench's own temp paths never do).
 */
export function libvirtSshUris(target: SshTarget, helper: string): LibvirtSshUri {
  if (!/^[A-Za-z0-9/._-]+$/.test(helper)) throw new Error(`the libvirt ssh helper's path cannot go into a URI as it is: ${helper}`);
  const address = target.address.includes(':') ? `[${target.address}]` : target.address;
  const shown = `qemu+ssh://${encodeURIComponent(target.user)}@${address}${target.port === undefined ? '' : `:${target.port}`}/system`;
  return { uri: `${shown}?command=${helper}`, shown };
}

/**
 * Writes the host's helper (mode 0700, beside its ControlPath, so HostSet.close removes it) and
 * returns its URIs. Writing again is harmless: the content is the same.
 * @throws the write's error.
 */
export async function libvirtSshUri(host: SshHost): Promise<LibvirtSshUri> {
  const helper = `${host.controlPath}${LIBVIRT_SSH_HELPER_SUFFIX}`;
  await writeFile(helper, libvirtSshHelperScript(host.sshOptions()), { mode: 0o700 });
  await chmod(helper, 0o700);
  return libvirtSshUris(host.target, helper);
}
