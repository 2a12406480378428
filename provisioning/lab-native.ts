/**
 * Lab mode's first target (issue 14): `native` on an inventory host, and the client side on
 * another, both through hosts/host.ts, so a suite written against ProvisionedTarget and ClientSide
 * runs across a real link unchanged. Servers bind only to the server host's test address.
 */
import type { ClientSide } from '../contracts/suite.js';
import type { ResourceRegistry } from '../core/ledger.js';
import type { ProvisionedTarget, ServiceSpec, TargetService } from '../contracts/target.js';
import { describeFailure } from '../core/exec.js';
import type { Host } from '../hosts/host.js';
import type { InventoryHost } from '../hosts/inventory.js';
import { waitForListening } from './service-readiness.js';

/**
 * What a lab target says it does not measure (TargetFacts.degraded; the report shows it as a banner).
 * CPU time and steal are read on each lab host (harness/lab.ts); cycles are not: perf and the
 * nominal-clock estimate run on the controlling host only.
 */
export const LAB_CYCLES_NOT_MEASURED =
  'cycles per byte not measured on lab hosts (perf and the nominal-clock estimate run only on the controlling host); CPU cost is per host from its own /proc/stat (cpu_ns_per_byte_host NAME)';

/**
 * The native target on `server`: programs run there as host processes, servers bind its test
 * address. No CPU counters of its own: the harness reads the server's and the client's whole-host
 * CPU time from their /proc/stat (harness/lab.ts); cycles are not counted there, and `degraded` says so.
 * @param resources Where each server started on the host is registered (a command that kills its
 *   pid there over SSH), so a crashed run's `cleanup` reaches it; the remote `timeout` bounds it too.
 */
export function labNativeTarget(server: Host, entry: InventoryHost, client: InventoryHost, resources?: ResourceRegistry): ProvisionedTarget {
  const started = new Set<TargetService>();
  async function startService(spec: ServiceSpec): Promise<TargetService> {
    const command = spec.command({ address: entry.testAddress, port: spec.port });
    const process = server.start(command, { timeoutMs: spec.timeoutMs });
    let alive = true;
    void process.exited.then(() => (alive = false));
    let resourceId: number | undefined;
    try {
      await waitForListening((probe, options) => server.run(probe, options), spec.protocols, entry.testAddress, spec.port, () => alive);
      // The host reports the pid before the program starts, so it is known once the program listens.
      const pid = process.hostPid();
      if (resources && pid !== undefined) {
        resourceId = await resources.register(`${spec.name} server on host ${server.name} (pid ${pid} there)`, {
          kind: 'command',
          command: server.commandLine(['kill', '-TERM', String(pid)]),
          ignoreFailure: /No such process/,
        });
      }
    } catch (error) {
      const outcome = await process.stop();
      throw new Error(`host ${server.name}: ${(error as Error).message}; ${describeFailure(outcome)}`, { cause: error });
    }
    const service: TargetService = {
      spec,
      command: process.command,
      async stop() {
        started.delete(service);
        await process.stop();
        if (resourceId !== undefined) await resources?.forget(resourceId);
      },
    };
    started.add(service);
    return service;
  }
  return {
    name: 'native',
    serverAddress: entry.testAddress,
    dataDirectory: entry.dataDir ?? '/var/tmp',
    facts: {
      target: 'native',
      state: 'ready',
      serverAddress: entry.testAddress,
      networkPath: `${client.name} (${client.testAddress}) -> lab link -> ${server.name} (${entry.testAddress}) host stack`,
      storage: `host file system of ${server.name} (${entry.dataDir ?? '/var/tmp'})`,
      labels: { host: server.name, via: server.via },
      degraded: [LAB_CYCLES_NOT_MEASURED],
    },
    exec: (command, options) => server.run(command, options),
    startService,
    cpuCounters: async () => [],
    pause: async () => {},
    resume: async () => {},
    async teardown() {
      await Promise.all([...started].map((service) => service.stop()));
    },
  };
}

/** The client side on an inventory host: the load generator runs there. */
export function labClientSide(client: Host): ClientSide {
  return {
    exec: (command, options) => client.run(command, options),
    // For the results file: the command as the controller ran it (the ssh wrapper included).
    wrap: (command) => client.commandLine(command),
  };
}

/**
 * The destination check of lab mode: test traffic goes only to the server host's test address.
 * @throws Error for any other address.
 */
export function labDestinationCheck(server: InventoryHost): (address: string) => Promise<void> {
  return async (address) => {
    if (address !== server.testAddress) throw new Error(`refusing to send test traffic to ${address}: not host ${server.name}'s test address ${server.testAddress}`);
  };
}
