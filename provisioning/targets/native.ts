import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeFailure, runCommand, startBackground } from '../../core/exec.js';
import { processStartTicks } from '../../core/proc.js';
import { waitForListening } from '../service-readiness.js';
import type { ProvisionedTarget, ServiceSpec, TargetService } from '../../contracts/target.js';
import type { ProvisionContext, TargetDriver } from '../types.js';

/** Bare metal: host processes, reached from the client namespace through the veth and the bridge. */
export const nativeDriver: TargetDriver = {
  name: 'native',
  description: 'host processes; client netns -> veth -> bridge -> host; host file system',
  display: { label: 'native', order: 0, colour: '#4c78a8' },
  configurable: {},
  hostTools: [
    { command: 'ip', debianPackage: 'iproute2', why: 'to build the test network' },
    { command: 'ss', debianPackage: 'iproute2', why: 'to see when a server listens' },
  ],

  defaultAvailability: async () => null,

  async provision(context: ProvisionContext): Promise<ProvisionedTarget> {
    const { topology, resources } = context;
    const dataDirectory = join(context.runDirectory, 'native-data');
    await mkdir(dataDirectory, { recursive: true });

    async function startService(spec: ServiceSpec): Promise<TargetService> {
      const command = spec.command({ address: topology.hostAddress, port: spec.port });
      const server = startBackground(command, { timeoutMs: spec.timeoutMs });
      let alive = true;
      void server.exited.then(() => (alive = false));
      const resourceId = await resources.register(`${spec.name} server (pid ${server.pid})`, {
        kind: 'process',
        pid: server.pid ?? -1,
        startTicks: server.pid ? await processStartTicks(server.pid) : null,
      });
      try {
        await waitForListening(runCommand, spec.protocols, topology.hostAddress, spec.port, () => alive);
      } catch (error) {
        const outcome = await server.stop();
        await resources.forget(resourceId);
        throw new Error(`${(error as Error).message}; ${describeFailure(outcome)}`, { cause: error });
      }
      return {
        spec,
        command,
        async stop() {
          await server.stop();
          await resources.forget(resourceId);
        },
      };
    }

    return {
      name: context.configuration,
      serverAddress: topology.hostAddress,
      dataDirectory,
      facts: {
        target: context.configuration,
        state: 'ready',
        serverAddress: topology.hostAddress,
        networkPath: `client netns -> veth -> ${topology.bridge} -> host stack`,
        storage: `host file system (${dataDirectory})`,
        labels: { isolation: 'none' },
        degraded: [],
      },
      exec: (command, options) => runCommand(command, options),
      startService,
      cpuCounters: async () => [],
      pause: async () => {},
      resume: async () => {},
      teardown: async () => {},
    };
  },
};
