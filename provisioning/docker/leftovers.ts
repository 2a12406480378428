import type { Leftover, LeftoverScanner } from '../types.js';
import { createDockerClient, pingDaemon, RUN_LABEL } from './client.js';
import { withDeadline } from '../../core/poll.js';

const LIST_TIMEOUT_MS = 15_000;

/**
 * Containers, volumes and networks a crashed run left, found by the run label only isobench's drivers
 * set (containers made by hand from isobench's image inherit the image's `isobench=1`, not this).
 * The image itself is a cache, like the root file system tree, and stays.
 */
export const dockerLeftovers: LeftoverScanner = {
  name: 'docker',
  async find(): Promise<Leftover[]> {
    let client;
    try {
      client = createDockerClient();
    } catch {
      return []; // DOCKER_HOST names a remote daemon: not this host's to clean.
    }
    if (!(await pingDaemon(client))) return [];
    const filters = JSON.stringify({ label: [RUN_LABEL] });
    const leftovers: Leftover[] = [];
    const containers = await withDeadline(client.listContainers({ all: true, filters }), LIST_TIMEOUT_MS, 'listing containers');
    for (const container of containers) {
      const name = container.Names[0]?.replace(/^\//, '') ?? container.Id.slice(0, 12);
      leftovers.push({
        description: `Docker container ${name} (${container.State}, run ${container.Labels[RUN_LABEL]})`,
        undo: { kind: 'command', command: ['docker', 'rm', '--force', '--volumes', container.Id], ignoreFailure: 'No such container' },
      });
    }
    const volumes = await withDeadline(client.listVolumes({ filters }), LIST_TIMEOUT_MS, 'listing volumes');
    for (const volume of volumes.Volumes ?? []) {
      leftovers.push({
        description: `Docker volume ${volume.Name} (run ${volume.Labels?.[RUN_LABEL]})`,
        undo: { kind: 'command', command: ['docker', 'volume', 'rm', '--force', volume.Name], ignoreFailure: 'no such volume|No such volume' },
      });
    }
    const networks = await withDeadline(client.listNetworks({ filters }), LIST_TIMEOUT_MS, 'listing networks');
    for (const network of networks) {
      leftovers.push({
        description: `Docker network ${network.Name} (run ${network.Labels?.[RUN_LABEL]})`,
        undo: { kind: 'command', command: ['docker', 'network', 'rm', network.Id], ignoreFailure: 'No such network|not found' },
      });
    }
    return leftovers;
  },
};
