import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { processStartTicks } from '../../core/proc.js';
import type { Leftover, LeftoverScanner } from '../types.js';
import { isobenchDomains, LIBVIRT_DOMAIN_GONE, LIBVIRT_FILES_PARENT, LIBVIRT_FILES_PREFIX, libvirtUri } from './libvirt.js';
import { secondLibvirtdLeftovers } from './libvirt-daemon.js';
import { QEMU_NAME_PREFIX } from './qemu-command.js';
import { LINK_GONE, linkNames, TAP_PREFIX } from './tap.js';

/** The `-name` of a QEMU that isobench started (it starts with `isobench-`), or null for any other process. */
export function isobenchQemuName(argv: readonly string[]): string | null {
  const program = argv[0];
  if (!program || !basename(program).startsWith('qemu-system-')) return null;
  const index = argv.indexOf('-name');
  const value = index >= 0 ? argv[index + 1] : undefined;
  const name = value?.split(',')[0]?.replace(/^guest=/, '');
  return name && name.startsWith(QEMU_NAME_PREFIX) ? name : null;
}

/**
 * Every running QEMU whose `-name` starts with QEMU_NAME_PREFIX (this process excluded), found by
 * scanning `/proc/PID/cmdline`. `startTicks` (null when the process is gone by then) lets the undo
 * tell the process from a later one that reused its pid.
 */
export async function findIsobenchQemuProcesses(): Promise<Array<{ pid: number; name: string; startTicks: string | null }>> {
  const found: Array<{ pid: number; name: string; startTicks: string | null }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const name = isobenchQemuName((cmdline.endsWith('\0') ? cmdline.slice(0, -1) : cmdline).split('\0'));
    if (name) found.push({ pid, name, startTicks: await processStartTicks(pid) });
  }
  return found;
}

/**
 * libvirt domains, QEMU processes and taps a crashed run left: QEMU first (a tap is held open by
 * its QEMU), so this scanner comes before the network one, which would find the taps by prefix too.
 */
export const kvmLeftovers: LeftoverScanner = {
  name: 'kvm',
  async find(): Promise<Leftover[]> {
    const leftovers: Leftover[] = [];
    // libvirt's domains first: destroying one ends its QEMU, and libvirt must forget it too.
    const uri = libvirtUri();
    for (const domain of await isobenchDomains(uri)) {
      if (domain.running) {
        leftovers.push({
          description: `libvirt domain ${domain.name} (running)`,
          undo: { kind: 'command', command: ['virsh', '-c', uri, 'destroy', domain.name], ignoreFailure: LIBVIRT_DOMAIN_GONE },
        });
      }
      leftovers.push({
        description: `libvirt domain ${domain.name} (definition)`,
        undo: { kind: 'command', command: ['virsh', '-c', uri, 'undefine', domain.name], ignoreFailure: LIBVIRT_DOMAIN_GONE },
      });
    }
    // A second libvirtd (a libvirt migration's destination on this host): its domains, itself, its directory.
    leftovers.push(...(await secondLibvirtdLeftovers()));
    for (const qemu of await findIsobenchQemuProcesses()) {
      leftovers.push({ description: `QEMU ${qemu.name} (pid ${qemu.pid})`, undo: { kind: 'process', pid: qemu.pid, startTicks: qemu.startTicks } });
    }
    for (const entry of await readdir(LIBVIRT_FILES_PARENT).catch(() => [] as string[])) {
      if (entry.startsWith(LIBVIRT_FILES_PREFIX)) {
        leftovers.push({ description: `libvirt guest files ${LIBVIRT_FILES_PARENT}/${entry}`, undo: { kind: 'path', path: `${LIBVIRT_FILES_PARENT}/${entry}` } });
      }
    }
    for (const name of await linkNames().catch(() => [] as string[])) {
      if (name.startsWith(TAP_PREFIX)) {
        leftovers.push({ description: `tap ${name}`, undo: { kind: 'command', command: ['ip', 'link', 'delete', name], ignoreFailure: LINK_GONE } });
      }
    }
    return leftovers;
  },
};
