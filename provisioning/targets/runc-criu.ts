import { UsageError } from '../../core/errors.js';
import { findExecutable } from '../../core/tools.js';
import type { ProvisionedTarget } from '../../contracts/target.js';
import { provisionCriuHost } from '../criu/index.js';
import { RUNC_LEFTOVERS } from '../criu/leftovers.js';
import { CRIU_BUILD_TOOLS } from '../criu/recipe.js';
import type { ProvisionContext, TargetDriver } from '../types.js';

/** What every workload other than the migration suite's container row gets from this target. */
export const ONLY_MIGRATION = 'the runc-criu target runs only the migration suite\'s container row (--suite migration)';

/**
 * The migration suite's container row (issue 12): runc containers on the test bridge, migrated by
 * CRIU stop-and-copy. Each migration trial launches its own container with the workload, so the
 * target itself runs nothing between trials; `exec` and `startService` refuse, in one line. Where
 * `criu check` fails, the target is `skipped` with CRIU's first failing line.
 */
export const runcCriuDriver: TargetDriver = {
  name: 'runc-criu',
  display: { label: 'runc+CRIU', order: 2.5, colour: '#54a24b' },
  configurable: {},
  optIn: 'runs only the migration suite\'s container row: --target runc-criu --suite migration',
  onlySuites: ['migration'],
  leftovers: RUNC_LEFTOVERS,
  description: 'runc container on the test bridge, migrated by CRIU stop-and-copy (migration suite only); client netns -> veth -> bridge -> veth -> container netns',
  hostTools: [
    { command: 'runc', debianPackage: 'runc', why: 'to run the containers the container row checkpoints' },
    { command: 'ip', debianPackage: 'iproute2', why: 'to give each container a network namespace on the test bridge' },
    ...CRIU_BUILD_TOOLS,
  ],

  // Opt-in keeps it out of the default matrix already; named, it can run wherever runc can (a host
  // where `criu check` fails gets the target skipped with CRIU's line at provisioning).
  async defaultAvailability() {
    return (await findExecutable('runc')) ? null : 'runc is not installed (Debian package runc)';
  },

  async provision(context: ProvisionContext): Promise<ProvisionedTarget> {
    const host = await provisionCriuHost({
      resources: context.resources,
      topology: context.topology,
      runDirectory: context.runDirectory,
      tag: context.resources.runId.slice(-4),
      log: context.log,
      image: context.image,
    });
    const supported = host.support.kind === 'supported';
    const refuse = async (): Promise<never> => {
      throw new UsageError(ONLY_MIGRATION);
    };
    return {
      name: context.configuration,
      serverAddress: host.serverAddress,
      dataDirectory: '/run',
      facts: {
        target: context.configuration,
        state: supported ? 'ready' : 'skipped',
        ...(host.support.kind === 'unsupported' ? { reason: `container migration is not supported on this host: ${host.support.reason}` } : {}),
        serverAddress: host.serverAddress,
        networkPath: `client netns -> veth -> ${context.topology.bridge} -> veth -> container netns`,
        storage: 'overlay on the image tree (shared by source and destination)',
        labels: {
          isolation: 'runc container',
          migrationTool: host.support.kind === 'supported' ? host.support.tool : null,
          dirtyTracking: host.support.kind === 'supported' ? host.support.dirtyTracking.available : null,
        },
        degraded: [],
      },
      exec: refuse,
      startService: refuse,
      cpuCounters: async () => [],
      pause: async () => {},
      resume: async () => {},
      teardown: async () => {},
      containerMigration: host,
    };
  },
};
