import { access, readFile } from 'node:fs/promises';
import { runCommand } from '../../core/exec.js';
import { existingRunDirectories } from '../../core/ledger.js';
import { mountPointsUnder } from '../image/tree-removal.js';
import type { Leftover, LeftoverScanner } from '../types.js';
import { CRIU_LINK_PREFIX, CRIU_NAME_PREFIX } from './host.js';
import { criuDirectories } from './index.js';
import { NETNS_GONE } from './netns.js';
import { CONTAINER_GONE, parseRuncList, RUNC_TIMEOUT_MS, type RuncListEntry } from './runc.js';

/*
 * What a crashed run of the runc-criu target left that its ledger may not name: runc registers a
 * container only once `runc run` or `runc restore` returned, and the overlay root only once it is
 * mounted, so a kill inside either step leaves one no ledger knows. runc's state lives in the run
 * directory (criuDirectories), which the ledger's replay removes: `cleanup` therefore runs this
 * scanner before the ledgers too (a container whose state is gone can no longer be deleted by runc).
 * Safe because `cleanup` holds the run lock, under which every run makes its run directory.
 */

/** What `umount` says when the overlay is no longer mounted (the same words the ledger's entry ignores). */
const NOT_MOUNTED = 'not mounted|no mount point|not found';
/** What `ip link delete` says when the link went with its namespace. */
const LINK_GONE = 'Cannot find device|No such device|does not exist';

/** How the scanner sees the host; the defaults read it, tests pass fakes. */
export interface RuncLeftoverSeams {
  /** Run directories that exist now (default: those with runDirectoryPrefix()). */
  runDirectories?: () => Promise<string[]>;
  /** runc's containers in one `--root` (default: `runc --root ROOT list --format json`, parsed); [] for a root that does not exist. */
  listContainers?: (root: string) => Promise<RuncListEntry[]>;
  /** The text of /proc/self/mountinfo. */
  mountinfo?: () => Promise<string>;
  /** Names of network namespaces (`ip -j netns list`). */
  namespaces?: () => Promise<string[]>;
  /** Names of the host's links (`ip -j link show`). */
  links?: () => Promise<string[]>;
}

/**
 * The containers in one runc root.
 * @throws Error when runc fails on a root that exists, or prints what parseRuncList does not accept.
 */
async function runcContainers(root: string): Promise<RuncListEntry[]> {
  // runc 1.1 creates a --root that does not exist (mkdir -p, measured here) even to list it: never
  // ask about one that is not there, or cleanup would make directories inside a run directory.
  if (!(await access(root).then(() => true, () => false))) return [];
  const command = ['runc', '--root', root, 'list', '--format', 'json'];
  const outcome = await runCommand(command, { timeoutMs: RUNC_TIMEOUT_MS });
  if (!outcome.ok) throw new Error(`\`${command.join(' ')}\` failed: ${(outcome.stderr || outcome.stdout).trim() || `exit ${outcome.exitCode}`}`);
  return parseRuncList(outcome.stdout);
}

async function ipNames(command: string[], field: 'name' | 'ifname'): Promise<string[]> {
  const outcome = await runCommand(command, { timeoutMs: 10_000 });
  const text = outcome.ok ? outcome.stdout.trim() : '';
  return text ? (JSON.parse(text) as Array<Record<string, string>>).map((entry) => entry[field] ?? '') : [];
}

/**
 * The container row's leftovers, in the order they must go: runc containers (listed in each run
 * directory's runc root, named CRIU_NAME_PREFIX…; `runc delete --force` kills a live one and removes
 * its cgroups), then mounts under the run directory's criu work directory (the overlay root the
 * containers ran on; deepest first), then the containers' network namespaces (a container before its
 * namespace, as the ledger's reverse order has it), then bridge-side veths (`ib-cr…`) a namespace
 * still held by something else left behind. The network scanner would find the namespaces and links
 * by prefix too; listing them here keeps the order within this scanner.
 */
export function runcLeftovers(seams: RuncLeftoverSeams = {}): LeftoverScanner {
  return {
    name: 'runc containers',
    async find(): Promise<Leftover[]> {
      const containers: Leftover[] = [];
      const mounts: Leftover[] = [];
      const mountinfo = await (seams.mountinfo ?? (() => readFile('/proc/self/mountinfo', 'utf8').catch(() => '')))();
      for (const runDirectory of await (seams.runDirectories ?? (() => existingRunDirectories()))()) {
        const { workDirectory, runcRoot } = criuDirectories(runDirectory);
        for (const container of await (seams.listContainers ?? runcContainers)(runcRoot)) {
          if (!container.id.startsWith(CRIU_NAME_PREFIX)) continue;
          containers.push({
            description: `runc container ${container.id} (${container.status}${container.pid > 0 ? `, pid ${container.pid}` : ''}, root ${runcRoot})`,
            undo: { kind: 'command', command: ['runc', '--root', runcRoot, 'delete', '--force', container.id], ignoreFailure: CONTAINER_GONE },
          });
        }
        for (const point of mountPointsUnder(mountinfo, workDirectory)) {
          mounts.push({ description: `mount ${point} (a container row's overlay root)`, undo: { kind: 'command', command: ['umount', point], ignoreFailure: NOT_MOUNTED } });
        }
      }
      const namespaces = (await (seams.namespaces ?? (() => ipNames(['ip', '-j', 'netns', 'list'], 'name')))())
        .filter((name) => name.startsWith(CRIU_NAME_PREFIX))
        .map((name): Leftover => ({ description: `network namespace ${name} (a runc container's)`, undo: { kind: 'command', command: ['ip', 'netns', 'del', name], ignoreFailure: NETNS_GONE } }));
      const links = (await (seams.links ?? (() => ipNames(['ip', '-j', 'link', 'show'], 'ifname')))())
        .filter((name) => name.startsWith(CRIU_LINK_PREFIX))
        .map((name): Leftover => ({ description: `network link ${name} (a runc container's veth)`, undo: { kind: 'command', command: ['ip', 'link', 'delete', name], ignoreFailure: LINK_GONE } }));
      return [...containers, ...mounts, ...namespaces, ...links];
    },
  };
}

/** The runc-criu driver's scanner, one instance: cleanup runs it before the ledgers and again with the drivers' scanners. */
export const RUNC_LEFTOVERS: LeftoverScanner = runcLeftovers();
