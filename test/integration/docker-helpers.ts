import { ensureDockerDaemon } from '../../provisioning/docker/daemon.js';
import { ensureDockerImage } from '../../provisioning/docker/image.js';
import { ensureRootfs } from '../../provisioning/image/index.js';

/** The image tag of the current recipe, imported if missing (the tree is built once and cached). */
export async function ensureIsobenchImage(): Promise<string> {
  const { client } = await ensureDockerDaemon({ log: () => {} });
  const image = await ensureDockerImage(client, await ensureRootfs(), { log: () => {} });
  return image.tag;
}
