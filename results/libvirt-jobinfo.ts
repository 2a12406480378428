import { z } from 'zod';

/*
 * The job statistics of a libvirt live migration, read once after it ended with `virsh domjobinfo
 * --completed` (`--keep-completed` where virsh has it, so reading does not discard them): every row
 * virsh printed, in isobench's units. A row virsh did not print is absent, never 0. Byte figures
 * come from virsh's binary units with three decimals ("239.792 MiB"), so they are exact to half a
 * thousandth of the unit printed (±524 bytes for MiB); ms, page and count rows are exact integers.
 */

const ms = z.number().int().nonnegative();
const bytes = z.number().int().nonnegative();
const count = z.number().int().nonnegative();

/** libvirt's virDomainJobType words as virsh prints them (`Job type:`). */
export const LIBVIRT_JOB_TYPES = ['None', 'Bounded', 'Unbounded', 'Completed', 'Failed', 'Cancelled'] as const;

/** One `virsh domjobinfo` answer, parsed (provisioning/kvm/libvirt-jobinfo.ts). */
export const LibvirtJobInfo = z
  .object({
    /** Where the figures come from, for readers of a trial that has no QEMU query-migrate record. */
    source: z.literal('libvirt domjobinfo'),
    /** The exact virsh command that printed them. */
    command: z.array(z.string()),
    jobType: z.enum(LIBVIRT_JOB_TYPES),
    /** `Outgoing migration` on the source, `Incoming migration` on the destination. */
    operation: z.string().optional(),
    /** `Error message:` of a failed job. */
    errorMessage: z.string().optional(),
    /** `Time elapsed`: from the job's start to its end, ms. */
    timeElapsedMs: ms.optional(),
    /** `Time elapsed w/o network`: the same without the time the stream took to cross (source and destination clocks compared), ms. */
    timeElapsedNoNetworkMs: ms.optional(),
    timeRemainingMs: ms.optional(),
    expectedDowntimeMs: ms.optional(),
    /** `Total downtime`: from the source's stop to the destination's resume, ms. */
    downtimeMs: ms.optional(),
    downtimeNoNetworkMs: ms.optional(),
    setupTimeMs: ms.optional(),
    dataProcessedBytes: bytes.optional(),
    dataRemainingBytes: bytes.optional(),
    dataTotalBytes: bytes.optional(),
    memoryProcessedBytes: bytes.optional(),
    memoryRemainingBytes: bytes.optional(),
    memoryTotalBytes: bytes.optional(),
    /** `Memory bandwidth`, bytes per second. */
    memoryBandwidthBytesPerSecond: bytes.optional(),
    /** `Dirty rate`, pages per second. */
    dirtyRatePagesPerSecond: count.optional(),
    pageSizeBytes: bytes.optional(),
    /** `Iteration` (libvirt's memory_iteration): the pre-copy passes QEMU made, i.e. its dirty-sync count. */
    iterations: count.optional(),
    postcopyRequests: count.optional(),
    constantPages: count.optional(),
    normalPages: count.optional(),
    normalDataBytes: bytes.optional(),
    fileProcessedBytes: bytes.optional(),
    fileRemainingBytes: bytes.optional(),
    fileTotalBytes: bytes.optional(),
    fileBandwidthBytesPerSecond: bytes.optional(),
    compressionCacheBytes: bytes.optional(),
    compressedDataBytes: bytes.optional(),
    compressedPages: count.optional(),
    compressionCacheMisses: count.optional(),
    compressionOverflows: count.optional(),
    /** `Auto converge throttle`, percent of vCPU time taken away. */
    autoConvergeThrottlePercent: z.number().int().min(0).max(100).optional(),
    temporaryDiskUseBytes: bytes.optional(),
    temporaryDiskTotalBytes: bytes.optional(),
  })
  .strict();
/** A parsed LibvirtJobInfo. */
export type LibvirtJobInfo = z.infer<typeof LibvirtJobInfo>;

/**
 * What the libvirt path of a migration trial keeps beside the trial detail's shared fields: the job
 * statistics (null when they could not be read, with why), the destination and the exact migrate
 * command. Lives in MigrationTrialDetail as `libvirt`.
 */
export const LibvirtMigrationRecord = z.object({
  /** The destination libvirtd, e.g. `qemu+ssh://lab2/system`. */
  destinationUri: z.string().min(1),
  /** The `virsh migrate` command as it ran. */
  migrateCommand: z.array(z.string()),
  /** The source domain's completed-job statistics. */
  job: LibvirtJobInfo.nullable(),
  /** Why `job` is null. */
  jobProblem: z.string().optional(),
  /** Whether virsh kept the statistics for later readers (`--keep-completed`, where `virsh domjobinfo --help` lists it). */
  keptCompleted: z.boolean(),
});
/** A parsed LibvirtMigrationRecord. */
export type LibvirtMigrationRecord = z.infer<typeof LibvirtMigrationRecord>;
