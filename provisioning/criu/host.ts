import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { epochMs } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { describeFailure, runChecked } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import type {
  ContainerMigrationHost,
  ContainerMigrationReport,
  ContainerMigrationSupport,
  ContainerWorkloadSpec,
  MigratableContainer,
} from '../../contracts/container-migration.js';
import { UDP_ECHO_PATH } from '../image/recipe.js';
import { LINK_PREFIX, NETNS_PREFIX } from '../topology.js';
import { freezeFor } from './freezer.js';
import { createContainerNetwork, type ContainerNetwork, type ContainerNetworkSpec } from './netns.js';
import { workloadCommand, type OciConfigInputs } from './oci-config.js';
import { checkpointContainer, restoreContainer, runContainer, type CriuStep, type RuncContainer, type RuncSetup } from './runc.js';

/*
 * The container row's host side: containers run by runc on an overlay of the image tree, each in a
 * network namespace on isobench's bridge, migrated by stop-and-copy with CRIU. Source and
 * destination are on this host, as the VM migrations' two QEMUs are: the destination is a new
 * container in a new namespace with the same address and MAC, restored from a copy of the images,
 * on the same root file system (shared storage, as the VM's shared disk).
 */

/**
 * The name prefix of every runc container and network namespace of the container row
 * (`isobench-criu-<tag>-<trial><side>`): cleanup's runc scanner (criu/leftovers.ts) finds them by it.
 */
export const CRIU_NAME_PREFIX = `${NETNS_PREFIX}criu-`;
/** The prefix of a container namespace's bridge-side veth, `ib-cr<trial><side>` (LINK_PREFIX; at most 14 characters in all). */
export const CRIU_LINK_PREFIX = `${LINK_PREFIX}cr`;

/** Copying the images (a few MB) on the local disk, ms. */
export const COPY_TIMEOUT_MS = 60_000;

/** Everything the host needs, provisioned by the caller. */
export interface CriuHostSetup {
  resources: ResourceRegistry;
  runc: RuncSetup;
  /** The image tree (ensureRootfs) the containers' overlay is built on. */
  tree: string;
  /** A directory of this run for overlays, bundles and images; removed with the run. */
  workDirectory: string;
  bridge: string;
  address: string;
  prefixLength: number;
  /** Names the containers and namespaces, unique per run (e.g. the run id's last part). */
  tag: string;
  support: ContainerMigrationSupport;
  /** e.g. `CRIU 4.2.1 stop-and-copy via runc 1.1.5 (checkpoint, local copy, restore as a new container); shared overlay root` */
  method: string;
}

/** A locally administered MAC from the IPv4 address (02:00 and its four bytes), the same on both sides of a migration. */
export function macForAddress(address: string): string {
  return ['02', '00', ...address.split('.').map((part) => Number(part).toString(16).padStart(2, '0'))].join(':');
}

/** Files and bytes under a directory, recursively (CRIU's image directory is flat, but need not be). */
export async function directorySize(path: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
    files++;
  }
  return { bytes, files };
}

/**
 * Mounts the shared overlay root (registered for unmounting) and returns the host.
 * @throws CommandFailedError when the overlay cannot be mounted.
 */
export async function createCriuHost(setup: CriuHostSetup): Promise<ContainerMigrationHost> {
  const overlay = join(setup.workDirectory, 'overlay');
  const rootfs = join(overlay, 'root');
  let launched = 0;
  let mounted = false;

  async function mountRoot(): Promise<void> {
    if (mounted) return;
    for (const dir of ['upper', 'work', 'root']) await mkdir(join(overlay, dir), { recursive: true });
    await runChecked(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${setup.tree},upperdir=${overlay}/upper,workdir=${overlay}/work`, rootfs], { timeoutMs: 30_000 });
    await setup.resources.register(`overlay ${rootfs}`, { kind: 'command', command: ['umount', rootfs], ignoreFailure: 'not mounted|no mount point|not found' });
    mounted = true;
  }

  async function launch(workload: ContainerWorkloadSpec): Promise<MigratableContainer> {
    if (setup.support.kind === 'unsupported') throw new Error(`container migration is not supported on this host: ${setup.support.reason}`);
    await mountRoot();
    const trial = ++launched;
    const base = join(setup.workDirectory, `trial-${trial}`);
    const names = (side: 'a' | 'b') => ({
      container: `${CRIU_NAME_PREFIX}${setup.tag}-${trial}${side}`,
      network: {
        netns: `${CRIU_NAME_PREFIX}${setup.tag}-${trial}${side}`,
        hostLink: `${CRIU_LINK_PREFIX}${trial % 1000}${side}`,
        bridge: setup.bridge,
        address: setup.address,
        prefixLength: setup.prefixLength,
        mac: macForAddress(setup.address),
      } satisfies ContainerNetworkSpec,
    });
    const args = workloadCommand(workload.servers, workload.files);
    const configFor = (network: ContainerNetwork, hostname: string): OciConfigInputs => ({ hostname, rootfs, netnsPath: network.path, args });

    const source = names('a');
    let network: ContainerNetwork | null = await createContainerNetwork(source.network, setup.resources);
    let container: RuncContainer | null;
    try {
      container = await runContainer(setup.runc, source.container, join(base, 'bundle-a'), configFor(network, 'isobench-criu'), setup.resources);
    } catch (error) {
      await network.remove();
      throw error;
    }
    const commands = [...container.commands];
    let migrated = false;

    return {
      serverAddress: setup.address,
      commands,
      async freeze(ms) {
        if (!container) throw new Error('no container runs: the migration did not restore it');
        return { requestedMs: ms, ...(await freezeFor(container.freezer, ms)) };
      },
      async migrate(): Promise<ContainerMigrationReport> {
        if (migrated || !container || !network) throw new Error('this container was migrated already');
        migrated = true;
        const destination = names('b');
        const images = { source: join(base, 'images-a'), destination: join(base, 'images-b') };
        const phase = (step: CriuStep) => ({ startedAtMs: step.startedAtMs, endedAtMs: step.endedAtMs, command: step.command });
        const failure = (step: CriuStep) => step.criuErrors[0] ?? describeFailure(step.outcome);

        const dumped = await checkpointContainer(setup.runc, container.name, images.source, join(base, 'work-a'));
        const report: ContainerMigrationReport = { checkpoint: phase(dumped), outcome: { kind: 'converged' } };
        if (!dumped.outcome.ok) return { ...report, outcome: { kind: 'failed', step: 'checkpoint', error: failure(dumped) } };
        // runc left the source container stopped after the dump: its entry goes now (it is stop-and-copy).
        await container.remove();
        container = null;

        const copyCommand = ['cp', '-a', images.source, images.destination];
        const copyStart = epochMs();
        try {
          await runChecked(copyCommand, { timeoutMs: COPY_TIMEOUT_MS });
        } catch (error) {
          return { ...report, outcome: { kind: 'failed', step: 'copy', error: errorMessage(error) } };
        }
        const copyEnd = epochMs();
        report.copy = { startedAtMs: copyStart, endedAtMs: copyEnd, command: copyCommand, ...(await directorySize(images.destination)) };

        const networkStart = epochMs();
        try {
          await network.remove();
          network = null;
          network = await createContainerNetwork(destination.network, setup.resources);
        } catch (error) {
          return { ...report, outcome: { kind: 'failed', step: 'network', error: errorMessage(error) } };
        }
        report.network = { startedAtMs: networkStart, endedAtMs: epochMs(), command: [] };

        const restored = await restoreContainer(
          setup.runc, destination.container, join(base, 'bundle-b'), configFor(network, 'isobench-criu'), images.destination, join(base, 'work-b'), setup.resources,
        );
        report.restore = phase(restored.step);
        commands.push(restored.step.command);
        if (!restored.container) return { ...report, outcome: { kind: 'failed', step: 'restore', error: failure(restored.step) } };
        container = restored.container;
        return report;
      },
      async teardown() {
        await container?.remove();
        container = null;
        await network?.remove();
        network = null;
      },
    };
  }

  return { method: setup.method, support: setup.support, serverAddress: setup.address, programs: { udpEcho: UDP_ECHO_PATH }, launch };
}
