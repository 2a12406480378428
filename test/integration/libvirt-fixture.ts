import { existsSync } from 'node:fs';
import { startBackground, type BackgroundProcess } from '../../core/exec.js';
import { findExecutable } from '../../core/tools.js';
import { libvirtdStatus, libvirtUri, loadLibvirtBindings } from '../../provisioning/kvm/libvirt.js';
import { waitFor } from '../helpers.js';

/*
 * What the libvirt integration tests (kvm-libvirt, libvirt-migration) share: why they cannot run
 * here, and the system libvirtd they start themselves (there is no systemd here) when none answers.
 */

/** Programs every libvirt test needs, with their Debian packages. */
const LIBVIRT_PROGRAMS = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['libvirtd', 'libvirt-daemon-system'],
  ['virtlogd', 'libvirt-daemon-system'],
  ['virsh', 'libvirt-clients'],
] as const;

/**
 * Why a libvirt test cannot run on this host, or undefined when it can.
 * @param rootWhy Completes "… need root", e.g. `libvirt guests`.
 * @param extra Further programs the test needs, with their Debian packages.
 */
export async function libvirtSkipReason(rootWhy: string, extra: ReadonlyArray<readonly [string, string]> = []): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return `${rootWhy} need root`;
  for (const [program, pkg] of [...LIBVIRT_PROGRAMS, ...extra]) {
    if (!(await findExecutable(program))) return `${program} is not installed (Debian package ${pkg})`;
  }
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return loadLibvirtBindings().then(
    () => undefined,
    (error: unknown) => (error as Error).message,
  );
}

/**
 * Starts virtlogd and libvirtd when the libvirtd at `uri` does not answer, and waits until it does.
 * @returns what it started, for the caller to stop (empty when one already answered).
 */
export async function ensureSystemLibvirtd(uri: string = libvirtUri()): Promise<BackgroundProcess[]> {
  if ((await libvirtdStatus(uri)).problem === null) return [];
  const started = [startBackground(['virtlogd'], { timeoutMs: 3 * 3600_000 }), startBackground(['libvirtd'], { timeoutMs: 3 * 3600_000 })];
  await waitFor(async () => (await libvirtdStatus(uri)).problem === null, 60_000, 'libvirtd to answer');
  return started;
}
