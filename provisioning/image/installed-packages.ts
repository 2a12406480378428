import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What dpkg says is installed in a tree, read from its status file: a build that "succeeded" but
 * lacks a recipe package (debootstrap skips what it cannot resolve in some versions) is caught
 * here instead of as a missing fio in the middle of a benchmark.
 */

/** The names of packages whose dpkg `Status:` is exactly `install ok installed`; half-installed or removed ones are not counted. */
export function parseInstalledPackages(statusText: string): Set<string> {
  const installed = new Set<string>();
  for (const stanza of statusText.split(/\n\s*\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    const status = /^Status:\s*(.+)$/m.exec(stanza)?.[1]?.trim();
    if (name && status === 'install ok installed') installed.add(name);
  }
  return installed;
}

/**
 * The installed packages of the tree at `tree`, from `<tree>/var/lib/dpkg/status`.
 * @throws the read error when the tree has no dpkg status file.
 */
export async function readInstalledPackages(tree: string): Promise<Set<string>> {
  return parseInstalledPackages(await readFile(path.join(tree, 'var/lib/dpkg/status'), 'utf8'));
}

/**
 * The names in `wanted` dpkg does not list as installed in the tree, in `wanted`'s order; empty when all are.
 * @throws the read error when the tree has no dpkg status file.
 */
export async function missingPackages(tree: string, wanted: readonly string[]): Promise<string[]> {
  const installed = await readInstalledPackages(tree);
  return wanted.filter((name) => !installed.has(name));
}
