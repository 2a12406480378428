import { containerDriver } from '../docker/container-target.js';

/** Felter et al.'s default Docker networking: the default bridge, ports published through iptables DNAT. */
export const dockerNatDriver = containerDriver({
  name: 'docker-nat',
  network: 'nat',
  display: { label: 'docker-nat', order: 2, colour: '#9ecf8f' },
  description: 'Docker container on the default bridge; client netns -> bridge -> iptables DNAT -> container veth; volume (or --storage overlay)',
});
