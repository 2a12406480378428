import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What dpkg says is installed in a tree, read from its status file: a build that "succeeded" but
 * lacks a recipe package (debootstrap skips what it cannot resolve in some versions) is caught
 * here instead of as a missing fio in the middle of a benchmark.
 */

export function parseInstalledPackages(statusText: string): Set<string> {
  const installed = new Set<string>();
  for (const stanza of statusText.split(/\n\s*\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    const status = /^Status:\s*(.+)$/m.exec(stanza)?.[1]?.trim();
    if (name && status === 'install ok installed') installed.add(name);
  }
  return installed;
}

export async function readInstalledPackages(tree: string): Promise<Set<string>> {
  return parseInstalledPackages(await readFile(path.join(tree, 'var/lib/dpkg/status'), 'utf8'));
}

export async function missingPackages(tree: string, wanted: readonly string[]): Promise<string[]> {
  const installed = await readInstalledPackages(tree);
  return wanted.filter((name) => !installed.has(name));
}
