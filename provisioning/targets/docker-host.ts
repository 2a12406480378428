import { containerDriver } from '../docker/container-target.js';

/** Felter et al.'s "Docker --net=host": a container in the host's network namespace, data on a volume. */
export const dockerHostDriver = containerDriver({
  name: 'docker-host',
  network: 'host',
  display: { label: 'docker-host', order: 1, colour: '#54a24b' },
  description: 'Docker container, --net=host; client netns -> veth -> bridge -> host stack; volume (or --storage overlay)',
});
