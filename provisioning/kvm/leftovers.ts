import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { processStartTicks } from '../../harness/resources.js';
import type { Leftover, LeftoverScanner } from '../types.js';
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
 * QEMU processes and taps a crashed run left: QEMU first (a tap is held open by its QEMU), so
 * this scanner comes before the network one, which would find the taps by prefix as well.
 */
export const kvmLeftovers: LeftoverScanner = {
  name: 'kvm',
  async find(): Promise<Leftover[]> {
    const leftovers: Leftover[] = [];
    for (const qemu of await findIsobenchQemuProcesses()) {
      leftovers.push({ description: `QEMU ${qemu.name} (pid ${qemu.pid})`, undo: { kind: 'process', pid: qemu.pid, startTicks: qemu.startTicks } });
    }
    for (const name of await linkNames().catch(() => [] as string[])) {
      if (name.startsWith(TAP_PREFIX)) {
        leftovers.push({ description: `tap ${name}`, undo: { kind: 'command', command: ['ip', 'link', 'delete', name], ignoreFailure: LINK_GONE } });
      }
    }
    return leftovers;
  },
};
