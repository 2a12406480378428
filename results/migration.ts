import { z } from 'zod';
import { LibvirtMigrationRecord } from './libvirt-jobinfo.js';

/*
 * What one live-migration trial leaves in the results file beyond its metrics: the outcome class,
 * QEMU's own figures, every `query-migrate` poll and the rounds derived from them, the QMP events of
 * both sides, the client's echo probe (and its self-test), the web timeline and the dirtier's own
 * account. Times are ms relative to the migration's start (the `migrate` command) unless a field
 * says otherwise; byte counts are bytes. "Not measured" is null or an absent field, never 0.
 */

const finite = z.number().finite();
const count = z.number().int().nonnegative();

/** QEMU's MigrationStatus (qapi/migration.json, QEMU 7.2's `query-qmp-schema`). */
export const MIGRATION_STATUSES = [
  'none', 'setup', 'cancelling', 'cancelled', 'active', 'postcopy-active', 'postcopy-paused', 'postcopy-recover',
  'completed', 'failed', 'colo', 'pre-switchover', 'device', 'wait-unplug',
] as const;
/** One of MIGRATION_STATUSES. */
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

/** How the trial migrated: plain pre-copy, or pre-copy with one of QEMU's extras. */
export const MIGRATION_VARIANTS = ['precopy', 'auto-converge', 'xbzrle', 'multifd', 'postcopy'] as const;
/** One of MIGRATION_VARIANTS. */
export type MigrationVariant = (typeof MIGRATION_VARIANTS)[number];

/** One `query-migrate` poll of the source, about every 50 ms. */
export const MigrationSample = z.object({
  /** ms since the migration started. */
  tMs: finite,
  status: z.enum(MIGRATION_STATUSES),
  /** `ram.dirty-sync-count`: how many times QEMU synced the dirty bitmap, i.e. the pass (round) under way. */
  syncCount: count.nullable(),
  transferredBytes: count.nullable(),
  remainingBytes: count.nullable(),
  /** `ram.dirty-pages-rate`, pages per second, as QEMU last computed it (about once a second). */
  dirtyPagesRate: count.nullable(),
  /** `ram.mbps`: QEMU's throughput figure, megabits per second. */
  mbps: finite.nullable(),
  /** `expected-downtime`, ms: what QEMU expects the stop-and-copy to take at the current rate. */
  expectedDowntimeMs: count.nullable(),
  /** `cpu-throttle-percentage` (auto-converge), when QEMU reports it. */
  throttlePercent: count.nullable(),
  /** `ram.downtime-bytes`: what the stop-and-copy sent, once it has. */
  downtimeBytes: count.nullable(),
});
/** A parsed MigrationSample. */
export type MigrationSample = z.infer<typeof MigrationSample>;

/**
 * One pre-copy round: round k runs from QEMU's k-th dirty-bitmap sync (its MIGRATION_PASS event,
 * or the first poll that saw `dirty-sync-count` k when there was no event) to the next. Bytes at a
 * boundary are `transferred` interpolated between the polls either side (off by at most what one
 * 50 ms poll interval moves); a completed pre-copy migration's last round is the stop-and-copy,
 * whose bytes are QEMU's own `downtime-bytes`.
 */
export const MigrationRound = z.object({
  round: z.number().int().positive(),
  /** ms since the start. */
  startMs: finite,
  endMs: finite,
  sentBytes: count,
  /** Where sentBytes comes from. */
  bytesFrom: z.enum(['interpolated', 'downtime-bytes']),
  /** Where the round's start comes from. */
  boundary: z.enum(['event', 'poll']),
  /**
   * `pre-copy`: the guest ran while it was sent; `stop-and-copy`: a completed pre-copy migration's
   * last round, the guest stopped; `post-copy`: after the switch to post-copy, the guest running on
   * the destination while the rest of its memory followed.
   */
  phase: z.enum(['pre-copy', 'stop-and-copy', 'post-copy']),
  /** `remaining` at the first poll inside the round: what was dirty as it began; null when no poll fell inside. */
  remainingAtStartBytes: count.nullable(),
  /** The last `dirty-pages-rate` polled inside the round, pages/s. */
  dirtyPagesRate: count.nullable(),
  /** The last `mbps` polled inside the round. */
  mbps: finite.nullable(),
  expectedDowntimeMs: count.nullable(),
});
/** A parsed MigrationRound. */
export type MigrationRound = z.infer<typeof MigrationRound>;

/** A QMP event of either QEMU (MIGRATION status changes, MIGRATION_PASS, STOP, RESUME, …). */
export const MigrationEvent = z.object({
  /** ms since the migration started, from QEMU's own timestamp of the event. */
  tMs: finite,
  side: z.enum(['source', 'destination']),
  event: z.string().min(1),
  /** `data.status` of MIGRATION, `data.pass` of MIGRATION_PASS; absent otherwise. */
  detail: z.union([z.string(), finite]).optional(),
});
/** A parsed MigrationEvent. */
export type MigrationEvent = z.infer<typeof MigrationEvent>;

/**
 * How the trial ended. `converged`: QEMU completed within the limits on its own. `forced`: it
 * completed only because the variant forced it (auto-converge throttled the vCPUs, post-copy
 * switched). `not-converged`: stopped at the time or round limit and cancelled cleanly — a result,
 * with its rounds. `failed`: QEMU reported an error (its text) or a step failed. `guest-unhealthy`:
 * QEMU said completed but the guest is not running, its console shows a panic, or the workload
 * stopped answering.
 */
export const MigrationOutcome = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('converged') }),
  z.object({ kind: z.literal('forced'), by: z.enum(['auto-converge', 'postcopy']), detail: z.string() }),
  z.object({ kind: z.literal('not-converged'), limit: z.enum(['time', 'rounds']), detail: z.string() }),
  z.object({ kind: z.literal('failed'), error: z.string().min(1) }),
  z.object({ kind: z.literal('guest-unhealthy'), reason: z.string().min(1) }),
]);
/** A parsed MigrationOutcome. */
export type MigrationOutcome = z.infer<typeof MigrationOutcome>;

/** One pause of the self-test: QMP `stop`, a known wait, `cont`, and what the echo probe read. */
export const ProbePause = z.object({
  requestedMs: finite.positive(),
  /** RESUME's timestamp minus STOP's, as QEMU stamped the two events: the reference. */
  pausedMs: finite.nonnegative(),
  /** The echo stream's gap that covers the pause; null when the probe saw none. */
  probeGapMs: finite.nullable(),
  /** probeGapMs − pausedMs; null without a gap. */
  errorMs: finite.nullable(),
});
/** A parsed ProbePause. */
export type ProbePause = z.infer<typeof ProbePause>;

/**
 * The probe verified against pauses of known length: it passes when every pause is read within
 * `toleranceMs`; `resolutionMs` is the largest |error| (null when a pause went unseen).
 */
export const ProbeSelfTest = z.object({
  pauses: z.array(ProbePause),
  toleranceMs: finite.positive(),
  resolutionMs: finite.nullable(),
  passed: z.boolean(),
  /** Why it did not pass, in words. */
  reason: z.string().optional(),
});
/** A parsed ProbeSelfTest. */
export type ProbeSelfTest = z.infer<typeof ProbeSelfTest>;

/**
 * A self-test run twice: the first attempt failed, the suite waited for the echo stream to be
 * steady (`steadySecondsWanted` whole seconds in a row with every echo answered and no gap), then
 * ran it again. The trial's `selfTest` is the second attempt; the first stays here as it was read.
 */
export const ProbeSelfTestRetry = z.object({
  /** The failed first attempt, judged on the stream as it was right after its last pause. */
  first: ProbeSelfTest,
  /** Why the self-test was run again, and what the wait found, in words. */
  reason: z.string().min(1),
  steadySecondsWanted: count,
  /** Steady seconds in a row when the wait ended: below the wanted number, the wait timed out. */
  steadySecondsReached: count,
  /** How long the wait for a steady stream took, ms. */
  waitedMs: finite.nonnegative(),
});
/** A parsed ProbeSelfTestRetry. */
export type ProbeSelfTestRetry = z.infer<typeof ProbeSelfTestRetry>;

/** The 1 ms UDP echo stream from the client namespace to the guest, over the whole trial. */
export const ProbeRecord = z.object({
  /** The interval the probe sends at, ms. */
  intervalMs: finite.positive(),
  sent: count,
  received: count,
  /** The longest gap between two echoes received during the migration (start to end plus the watch after it), ms; null when no echo came at all. */
  migrationGapMs: finite.nullable(),
  /** Its start and end, ms since the migration started. */
  migrationGapStartMs: finite.nullable(),
  migrationGapEndMs: finite.nullable(),
  /** Whether that gap covers the source's STOP event (the switch-over). */
  coversSwitchover: z.boolean(),
  /** The probe's own worst lateness sending, ms: a probe process that stalled cannot see gaps shorter than this. */
  maxSendLateMs: finite.nonnegative(),
  /** The probe's command line as it ran. */
  command: z.array(z.string()),
});
/** A parsed ProbeRecord. */
export type ProbeRecord = z.infer<typeof ProbeRecord>;

/**
 * `--workload web`: requests completed per bucket, from the client namespace, through the trial.
 * Blackout: the longest run of buckets after the migration started in which no request completed.
 * Brownout: all buckets from the migration's start to the end of the watch in which fewer than half
 * the pre-migration rate completed (the blackout's buckets included).
 */
export const WebTimeline = z.object({
  bucketMs: finite.positive(),
  /** ms since the migration started at the first bucket's start (negative: before it). */
  firstBucketMs: finite,
  completed: z.array(count),
  failed: z.array(count),
  connections: z.number().int().positive(),
  /** Mean completions per second over the pre-migration window; null when it had none. */
  baselinePerSecond: finite.nonnegative().nullable(),
  blackoutMs: finite.nonnegative().nullable(),
  brownoutMs: finite.nonnegative().nullable(),
  command: z.array(z.string()),
});
/** A parsed WebTimeline. */
export type WebTimeline = z.infer<typeof WebTimeline>;

/** `--workload dirty`: what was asked of the dirtier and what it reported it did. */
export const DirtyRecord = z.object({
  wwsMiB: z.number().int().positive(),
  /** MiB/s; 0 = as fast as it can. */
  requestedMiBs: z.number().int().nonnegative(),
  /** Pages written per second over its whole run, in MiB/s; null when its report could not be read. */
  achievedMiBs: finite.nonnegative().nullable(),
  /** 10 ms slices that overran: the guest could not keep the rate. */
  lateSlices: count.nullable(),
});
/** A parsed DirtyRecord. */
export type DirtyRecord = z.infer<typeof DirtyRecord>;

/** The guest after the switch-over (or after a cancel, the source). */
export const GuestHealth = z.object({
  /** QMP `query-status` of the QEMU that runs the guest now. */
  runState: z.string(),
  /** A panic or oops line from its serial console; null when there is none. */
  serialProblem: z.string().nullable(),
  /** Whether the workload answered after the switch-over (echoes, requests, the dirtier's progress). */
  workloadAnswered: z.boolean(),
  detail: z.string(),
});
/** A parsed GuestHealth. */
export type GuestHealth = z.infer<typeof GuestHealth>;

const stopReason = z.enum(['converged', 'few-pages', 'rate-cap', 'round-limit', 'volume-limit', 'time-limit']);

/** One round a model predicts: start and length in ms from the migration's start, bytes sent, the rate it was held to (bytes/s). */
export const PredictedRoundRecord = z.object({
  round: z.number().int().positive(),
  kind: z.enum(['pre-copy', 'stop-and-copy']),
  startMs: finite.nonnegative(),
  durationMs: finite.nonnegative(),
  sentBytes: finite.nonnegative(),
  rateLimitBytesPerSecond: finite.positive(),
});
/** A parsed PredictedRoundRecord. */
export type PredictedRoundRecord = z.infer<typeof PredictedRoundRecord>;

/**
 * One model's prediction of the trial (models/precopy: `clark` is Clark et al.'s dynamic rate
 * limiting, `qemu` QEMU 7.2's switch-over rule). `stopReason` is why pre-copy ended (models/precopy/types.ts);
 * `precopyRounds` counts rounds sent while the guest ran; times in ms, bytes in bytes; `downtimeMs`
 * is null when the model cancels (QEMU's rule at the harness's limit).
 */
export const ModelPrediction = z.object({
  model: z.enum(['clark', 'qemu']),
  stopReason,
  switchedOver: z.boolean(),
  precopyRounds: count,
  totalTimeMs: finite.nonnegative(),
  downtimeMs: finite.nonnegative().nullable(),
  totalBytes: finite.nonnegative(),
  rounds: z.array(PredictedRoundRecord),
});
/** A parsed ModelPrediction. */
export type ModelPrediction = z.infer<typeof ModelPrediction>;

/**
 * Both models' predictions, stored beside what the trial measured (models/precopy/trial.ts says
 * how the inputs are taken from the trial and why its trace is the dirtier's account for `dirty`
 * and QEMU's polled dirty-pages-rate otherwise), or why there are none. Absent in files written
 * before predictions were stored: readers may compute them (the report does).
 */
export const MigrationPredictions = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('predicted'),
    trace: z.object({
      source: z.enum(['dirtier', 'query-migrate', 'none']),
      description: z.string(),
      /** bytes/s the trace starts with. */
      dirtyBytesPerSecond: finite.nonnegative(),
      /** bytes; null when not known. */
      workingSetBytes: finite.positive().nullable(),
    }),
    inputs: z.object({
      memoryBytes: count,
      pageSizeBytes: count,
      bandwidthBytesPerSecond: finite.positive(),
      downtimeLimitMs: finite.nonnegative(),
      timeLimitMs: finite.positive(),
      roundLimit: count,
      /** Share of guest memory QEMU's first pass sent as zero pages (QEMU model only). */
      zeroPageFraction: finite.min(0).max(1),
      clarkMinRateBytesPerSecond: finite.positive(),
      clarkMaxRateBytesPerSecond: finite.positive(),
      clarkRateIncrementBytesPerSecond: finite.nonnegative(),
    }),
    clark: ModelPrediction,
    qemu: ModelPrediction,
  }),
  z.object({ kind: z.literal('not-predicted'), reason: z.string().min(1) }),
]);
/** A parsed MigrationPredictions. */
export type MigrationPredictions = z.infer<typeof MigrationPredictions>;

/** QEMU's dirty-rate measurement modes (`DirtyRateMeasureMode`, qapi/migration.json, QEMU 6.2+). */
export const DIRTY_RATE_MODES = ['page-sampling', 'dirty-bitmap', 'dirty-ring'] as const;

/**
 * One `calc-dirty-rate` measurement, read back with `query-dirty-rate` once `measured`: the distinct
 * pages the guest changed over `calcTimeS` seconds, as QEMU's integer MiB/s (page sampling: the share
 * of sampled pages whose hash changed × the RAM block's MiB / seconds; QEMU 7.2 migration/dirtyrate.c).
 */
export const DirtyRateMeasurement = z.object({
  /** ms since the trace's first `calc-dirty-rate` was sent. */
  startMs: finite.nonnegative(),
  /** `calc-time`, s (QEMU 7.2 takes whole seconds only). */
  calcTimeS: z.number().int().positive(),
  /** `dirty-rate`, MiB/s, whole numbers (QEMU's integer division: under 1 MiB/s reads 0). */
  dirtyRateMiBs: count,
  /** dirtyRateMiBs × calcTimeS as 4 KiB pages: the distinct pages changed in the interval. */
  pages: finite.nonnegative(),
});
/** A parsed DirtyRateMeasurement. */
export type DirtyRateMeasurement = z.infer<typeof DirtyRateMeasurement>;

/**
 * `--wws-trace`: the guest's writable working set tracked while no migration runs (Clark et al.'s
 * "tracking the writable working set"), from QMP `calc-dirty-rate`/`query-dirty-rate` on the running
 * guest with the workload on: a series of back-to-back 1 s measurements (pages changed per second over
 * time), then longer intervals (distinct pages changed against the interval's length: the WWS curve).
 */
export const WwsTrace = z.discriminatedUnion('kind', [
  z.object({
  kind: z.literal('traced'),
  /** e.g. `QMP calc-dirty-rate, page-sampling, 16384 sample pages per GiB`. */
  method: z.string(),
  /** The mode every measurement used. */
  mode: z.enum(DIRTY_RATE_MODES),
  /** `sample-pages` per GiB (page-sampling only; null otherwise). */
  samplePagesPerGiB: count.nullable(),
  /** Why that mode: the accelerator, and what each mode probed answered. */
  modeReason: z.string(),
  /**
   * Each mode before the trace: `measured` (1 s, QEMU's MiB/s), `refused` (QEMU's error) or `not-tried`
   * (why: under TCG, QEMU 7.2 dies of SIGSEGV on dirty-bitmap and dirty-ring here).
   */
  probes: z.array(z.object({ mode: z.enum(DIRTY_RATE_MODES), outcome: z.enum(['measured', 'refused', 'not-tried']), dirtyRateMiBs: count.nullable(), detail: z.string().nullable() })),
  series: z.array(DirtyRateMeasurement),
  curve: z.array(DirtyRateMeasurement),
  }),
  /** The trace could not be taken (QEMU refused every mode, or a measurement never finished): why. The migration still ran. */
  z.object({ kind: z.literal('failed'), reason: z.string().min(1) }),
]);
/** A parsed WwsTrace. */
export type WwsTrace = z.infer<typeof WwsTrace>;

/**
 * What a third lab host saw of a lab migration with the echo probe (suites/migration/lab-watch.ts):
 * the longest gap in the migration's window (ms, epoch ms in the watcher's clock), none as long as
 * the probe's gap threshold, or no echo after the migration ended. Each names the watching host.
 */
export const LabWatchRecord = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('observed'), host: z.string(), gapMs: finite.nonnegative(), fromMs: finite, toMs: finite, sent: count, received: count }),
  z.object({ kind: z.literal('no-gap'), host: z.string(), gapThresholdMs: finite.positive(), sent: count, received: count }),
  z.object({ kind: z.literal('lost'), host: z.string(), reason: z.string().min(1), sent: count, received: count }),
]);
/** A parsed LabWatchRecord. */
export type LabWatchRecord = z.infer<typeof LabWatchRecord>;

/** Lab mode's migration between two hosts (issue 14): which way it went, its URI, and the watch host's verdict (null without one). */
export const LabMigrationRecord = z.object({
  source: z.string().min(1),
  destination: z.string().min(1),
  /** `tcp:DEST-TEST-ADDRESS:PORT`; null when it failed before a port was chosen. */
  uri: z.string().nullable(),
  watch: LabWatchRecord.nullable(),
  /**
   * The watch host's clock minus this machine's (ms), measured right after the trial, and its
   * uncertainty (half the best round trip): the window was moved by it before the gap was judged.
   * Absent in files written before it was measured (the window was then taken in this machine's clock).
   */
  watchClockOffset: z.object({ offsetMs: finite, uncertaintyMs: finite.nonnegative() }).nullable().optional(),
});

/** Everything one migration trial recorded besides its metrics. */
export const MigrationTrialDetail = z.object({
  kind: z.literal('migration'),
  /** How the guest moved, e.g. `QEMU 7.2 pre-copy over a unix socket; shared raw disk, cache=none`. */
  method: z.string(),
  workload: z.enum(['idle', 'web', 'dirty']),
  variant: z.enum(MIGRATION_VARIANTS),
  settings: z.object({
    maxBandwidthMiBs: finite.positive(),
    downtimeLimitMs: finite.positive(),
    timeLimitMs: finite.positive(),
    roundLimit: z.number().int().positive(),
    pollIntervalMs: finite.positive(),
  }),
  outcome: MigrationOutcome,
  /**
   * QEMU's own figures, ms and bytes: a completed migration's final `query-migrate`; a cancelled or
   * failed one's last answer that had them (the answer after a cancel holds only the status). Null
   * where QEMU gave none (no downtime without a switch-over).
   */
  qemu: z.object({
    totalTimeMs: count.nullable(),
    setupTimeMs: count.nullable(),
    downtimeMs: count.nullable(),
    /** The destination's RESUME minus the source's STOP at the switch-over, from QEMU's event stamps, ms. */
    eventDowntimeMs: finite.nonnegative().nullable(),
    transferredBytes: count.nullable(),
    /** The final dirty-sync-count. */
    syncCount: count.nullable(),
    /** The guest's RAM, bytes (`ram.total`). */
    ramBytes: count.nullable(),
  }),
  samples: z.array(MigrationSample),
  rounds: z.array(MigrationRound),
  events: z.array(MigrationEvent),
  probe: ProbeRecord.nullable(),
  selfTest: ProbeSelfTest.nullable(),
  /** Present when the first self-test failed and was run again (`selfTest` is then the second attempt). */
  selfTestRetry: ProbeSelfTestRetry.optional(),
  web: WebTimeline.optional(),
  dirty: DirtyRecord.optional(),
  health: GuestHealth.nullable(),
  /** The destination's serial console, kept beside the results. */
  destinationSerialLog: z.string().optional(),
  /**
   * The guest this trial found was unusable (an earlier migration left it so: a panic ends its QEMU),
   * so a fresh one was booted from the disk before the trial: why, and the boot's seconds.
   */
  recoveredBefore: z.object({ reason: z.string().min(1), bootSeconds: finite.nonnegative() }).optional(),
  /** Clark's and QEMU's predictions from what this trial measured; absent in files written before them. */
  predictions: MigrationPredictions.optional(),
  /** `--wws-trace`: the workload's dirty rate over time before the migration; absent without the flag. */
  wwsTrace: WwsTrace.optional(),
  /** Where `qemu`'s figures come from: absent, QEMU's query-migrate; `libvirt domjobinfo` with `--vm-manager libvirt` (then no samples, rounds or events). */
  figuresSource: z.literal('libvirt domjobinfo').optional(),
  /** `--vm-manager libvirt`: the destination, the migrate command and libvirt's job statistics, every row virsh printed. */
  libvirt: LibvirtMigrationRecord.optional(),
  /** Lab mode: the hosts it moved between and what the watch host saw. */
  lab: LabMigrationRecord.optional(),
});
/** A parsed MigrationTrialDetail. */
export type MigrationTrialDetail = z.infer<typeof MigrationTrialDetail>;
