import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { findExecutable } from '../../core/tools.js';
import type { ContainerMigrationHost, ContainerMigrationSupport } from '../../contracts/container-migration.js';
import type { RunImage } from '../image/run-image.js';
import type { Topology } from '../topology.js';
import { ensureCriu } from './build.js';
import { runCriuCheck, runDirtyTrackCheck } from './check.js';
import { createCriuHost } from './host.js';

/*
 * The container row's provisioning in one call: isobench's CRIU (built once), `criu check`, the
 * image tree, and a host that launches runc containers on the bridge at one test address.
 */

/** What provisionCriuHost needs from the run. */
export interface ProvisionCriuOptions {
  resources: ResourceRegistry;
  topology: Pick<Topology, 'bridge' | 'prefixLength' | 'allocateAddress'>;
  /** The run's own directory (overlay, bundles, images go under it). */
  runDirectory: string;
  /** Names containers and namespaces, e.g. the run id's random tail. */
  tag: string;
  log: (line: string) => void;
  /** The run's image steps: the containers' overlay is built on its tree. */
  image: RunImage;
  /** Where CRIU's build is cached; default ensureCriu's. */
  cacheDir?: string;
}

/**
 * Where the container row keeps its files inside the run directory: the overlay root, bundles and
 * CRIU images under `workDirectory`, and runc's state (its `--root`) in `runcRoot`, so that the run
 * directory's removal takes everything, and cleanup's runc scanner finds the containers of a crashed
 * run by listing each run directory's `runcRoot`.
 */
export function criuDirectories(runDirectory: string): { workDirectory: string; runcRoot: string } {
  const workDirectory = join(runDirectory, 'criu');
  return { workDirectory, runcRoot: join(workDirectory, 'runc') };
}

/** `runc --version`'s first line's version, e.g. `1.1.5+ds1`; null when it is not there. */
export function parseRuncVersion(output: string): string | null {
  return /^runc version (\S+)/m.exec(output)?.[1] ?? null;
}

/**
 * Builds or finds CRIU, asks it whether this kernel is supported, and returns the host. An
 * unsupported kernel is not an error: the host's `support` carries CRIU's first failing line and
 * the trials skip with it.
 * @throws UsageError when runc is not installed or CRIU's build packages are missing; ensureCriu's
 *   and ensureRootfs's errors.
 */
export async function provisionCriuHost(options: ProvisionCriuOptions): Promise<ContainerMigrationHost> {
  const runc = await findExecutable('runc');
  if (!runc) throw new Error('runc is not installed on this host; it comes from the Debian package "runc" (apt-get install runc)');
  const runcVersion = parseRuncVersion((await runCommand([runc, '--version'], { timeoutMs: 10_000 })).stdout) ?? 'unknown';
  const criu = await ensureCriu({ log: options.log, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) });
  const check = await runCriuCheck(criu.path);
  let support: ContainerMigrationSupport;
  const tool = `CRIU ${criu.version} (built from Debian's source) via runc ${runcVersion}`;
  if (check.kind === 'unsupported') {
    support = { kind: 'unsupported', reason: `\`criu check\` (${tool}): ${check.firstFailure}` };
  } else {
    support = { kind: 'supported', tool, dirtyTracking: await runDirtyTrackCheck(criu.path) };
  }
  options.log(support.kind === 'supported' ? `${tool}: criu check passed; dirty tracking ${support.dirtyTracking.available ? 'available' : `unavailable (${support.dirtyTracking.detail})`}` : `container migration unsupported: ${support.reason}`);
  const { tree } = await options.image.rootfs(options.log);
  const { workDirectory, runcRoot } = criuDirectories(options.runDirectory);
  await mkdir(runcRoot, { recursive: true });
  const address = options.topology.allocateAddress(`runc container (criu ${options.tag})`);
  return createCriuHost({
    resources: options.resources,
    runc: { root: runcRoot, criu: criu.path },
    tree,
    workDirectory,
    bridge: options.topology.bridge,
    address,
    prefixLength: options.topology.prefixLength,
    tag: options.tag,
    support,
    method: `${tool}: stop-and-copy (runc checkpoint --tcp-established, a local copy of the images, runc restore as a new container in a new network namespace with the same address and MAC); shared overlay root on the image tree`,
  });
}
