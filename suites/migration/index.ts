import { z } from 'zod';
import type { Suite, SuitePoint } from '../../contracts/suite.js';
import { MIGRATION_VARIANTS } from '../../results/migration.js';
import { MIGRATION_METRICS as M } from '../../results/metrics.js';
import { MIGRATION_PORTS } from './guest-workloads.js';
import { MigrationOptions, numbers, TIME_LIMIT_S, variantsOf, words, type Workload } from './options.js';
import { runContainerMigrationTrial } from './container-trial.js';
import { runMigrationTrial } from './trial.js';
import { runLibvirtMigrationTrial } from './libvirt-trial.js';
import { runLabMigrationTrial } from './lab-trial.js';

/** One migration point: a workload at one link rate, downtime limit and variant (and dirty rate). */
export const MigrationParams = z.object({
  workload: z.enum(['idle', 'web', 'dirty']),
  variant: z.enum(MIGRATION_VARIANTS),
  /** QEMU `max-bandwidth`, MiB/s. */
  bandwidthMiBs: z.number().int().positive(),
  /** QEMU `downtime-limit`, ms. */
  downtimeLimitMs: z.number().int().positive(),
  /** `dirty`: the writable working set, MiB. */
  wwsMiB: z.number().int().positive().optional(),
  /** `dirty`: MiB/s the dirtier rewrites (0: as fast as it can). */
  dirtyRateMiBs: z.number().int().nonnegative().optional(),
  /** Cancelled as not converged after this many seconds. */
  timeLimitS: z.number().int().positive(),
  /** … or once the round count passes this. */
  roundLimit: z.number().int().positive(),
  /** `--wws-trace S`: seconds of 1 s calc-dirty-rate measurements before the migration (absent or 0: none). */
  wwsTraceS: z.number().int().nonnegative().optional(),
});
/** A parsed MigrationParams. */
export type MigrationParams = z.infer<typeof MigrationParams>;

/** `idle-bw32-dl300-precopy`, `dirty48-wws64-bw32-dl300-precopy`: readable in tables, unique in a sweep. */
export function pointId(params: MigrationParams): string {
  const workload = params.workload === 'dirty' ? `dirty${params.dirtyRateMiBs}-wws${params.wwsMiB}` : params.workload;
  return `${workload}-bw${params.bandwidthMiBs}-dl${params.downtimeLimitMs}-${params.variant}`;
}

/**
 * Clark et al. 2005's live migration between two QEMU processes on this host: per point, one
 * migration of the kvm target's running guest to a fresh destination (see README, "The migration
 * suite"), with QEMU's figures, every round, a client-observed downtime from a verified 1 ms echo
 * probe, and for `web` the blackout and brownout. Headline: `migration_total_ms`, which every trial
 * that reached QEMU has (a not-converged one to its cancel); downtimes are recorded where there was
 * a switch-over. It runs on kvm and runc-criu only (`onlyTargets`): the plan leaves out the other
 * targets, and in a run with other suites their migration points are skipped.
 */
export const migrationSuite: Suite<MigrationParams, MigrationOptions> = {
  name: 'migration',
  description: 'live migration of the kvm guest between two QEMU processes: total time, rounds, downtime (QEMU and a verified client probe), web blackout',
  figure: 'Clark et al. 2005, "Live Migration of Virtual Machines": rounds, downtime, web throughput during migration',
  optIn: 'kvm, and runc-criu for the container row; on a TCG host its quick sweep alone takes about 12 minutes',
  // The QEMU or libvirt path needs the kvm guest, the container row the runc-criu container; every other target would only skip its points.
  onlyTargets: ['kvm', 'runc-criu'],
  hostTools: [{ command: 'chrt', debianPackage: 'util-linux', why: 'to run the migration suite\'s echo probe at real-time priority' }],
  ports: MIGRATION_PORTS,
  flags: [
    { name: 'workload', valueName: 'idle|web|dirty,…', description: 'migration: guest workloads, default idle,web,dirty' },
    { name: 'wws', valueName: 'MiB', description: 'migration: the dirtier\'s writable working set, default 64' },
    { name: 'dirty-rate', valueName: 'MiB/s,…', description: 'migration: rates the dirtier rewrites its set at (0: flat out), default 16,48,128' },
    { name: 'bandwidth', valueName: 'MiB/s,…', description: 'migration: QEMU max-bandwidth (the link rate), default 32,64' },
    { name: 'downtime-limit', valueName: 'ms,…', description: 'migration: QEMU downtime-limit, default 300' },
    { name: 'variant', valueName: 'precopy|auto-converge|xbzrle|multifd|postcopy,…', description: 'migration: QEMU\'s variants, default precopy' },
    { name: 'migration-time-limit', valueName: 'S', description: 'migration: cancel as not converged after S seconds, default 30 (quick), 120 (full)' },
    { name: 'wws-trace', valueName: 'S', description: 'migration: before each migration, trace the workload\'s writable working set with QMP calc-dirty-rate for S seconds (1 s samples, then 2 s and 4 s intervals); default 0 (off)' },
    { name: 'migration-rounds', valueName: 'N', description: 'migration: cancel as not converged past N rounds, default 30 (Clark)' },
    { name: 'dest', valueName: 'URI|HOST', description: 'migration with --vm-manager libvirt: the destination libvirtd (virsh migrate --live); with --hosts: the inventory host the guest migrates to (role migration-dest)' },
  ],
  options: MigrationOptions,
  params: MigrationParams,

  points(config) {
    const options = config.options;
    const timeLimitS = options['migration-time-limit'] === 'auto' ? (config.quick ? TIME_LIMIT_S.quick : TIME_LIMIT_S.full) : options['migration-time-limit'];
    const points: SuitePoint<MigrationParams>[] = [];
    for (const workload of words<Workload>(options.workload)) {
      const loads = workload === 'dirty' ? numbers(options['dirty-rate']).map((rate) => ({ wwsMiB: options.wws, dirtyRateMiBs: rate })) : [{}];
      for (const load of loads) {
        for (const bandwidthMiBs of numbers(options.bandwidth)) {
          for (const downtimeLimitMs of numbers(options['downtime-limit'])) {
            for (const variant of variantsOf(options)) {
              const params: MigrationParams = { workload, variant, bandwidthMiBs, downtimeLimitMs, ...load, timeLimitS, roundLimit: options['migration-rounds'], ...(options['wws-trace'] > 0 ? { wwsTraceS: options['wws-trace'] } : {}) };
              points.push({ id: pointId(params), params, headline: M.totalTime });
            }
          }
        }
      }
    }
    return points;
  },

  async runTrial(point, context) {
    // The container row (issue 12): CRIU stop-and-copy; the link rate, downtime limit and variant are QEMU's and do not apply.
    if (context.target.containerMigration) return runContainerMigrationTrial(point.params.workload, context.target.containerMigration, context);
    if (context.target.libvirtMigration) return runLibvirtMigrationTrial(point.params, context, context.config.options.dest);
    // Lab mode (issue 14): the guest moves between two lab hosts; --dest named the host, not a libvirtd.
    if (context.target.labMigration) return runLabMigrationTrial(point.params, context);
    return runMigrationTrial(point.params, context);
  },
};
