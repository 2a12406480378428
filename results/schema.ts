import { z } from 'zod';
import { IsobenchError } from '../core/errors.js';
import { formatZodIssues } from '../core/zod-text.js';
import { TrialDetail } from './trial-detail.js';

/*
 * The results file: one JSON document per run. Versioned; every read and write goes through
 * `parseResultsFile`, so a file that does not match is a clear error, never a half-trusted object.
 */

/** The `schema` field of every results file. */
export const RESULTS_SCHEMA_ID = 'isobench/results';
/**
 * The `version` field this isobench writes; bump it on an incompatible change. Older versions are
 * upgraded on read (results/migrate.ts); {@link parseResultsFile} itself accepts only this one.
 * Version 2 (isobench 0.2) added verdicts, the run's baseline, margin, mode, adaptive repetitions,
 * the trial order, steal time per trial, outliers and the pinning plan.
 */
export const RESULTS_SCHEMA_VERSION = 2;

const finite = z.number().finite();

/** One number a completed trial measured. Names and units come from results/metrics.ts. */
export const MetricSample = z.object({
  /** Stable metric name, e.g. `throughput_gbps`, `iops`, `latency_p99_us`. */
  name: z.string().min(1),
  /** e.g. `Gbit/s`, `µs`, `IOPS`. */
  unit: z.string().min(1),
  value: finite,
  /** How the number was obtained when more than one way exists (e.g. `proc-stat`, `perf-cycles`). */
  method: z.string().optional(),
});
/** A parsed MetricSample. */
export type MetricSample = z.infer<typeof MetricSample>;

/** The check before a trial that the host is idle enough to measure (harness/quiet-host.ts). */
export const QuietHostCheck = z.object({
  /** Whole-host CPU busy share (0..1) over the last sample before the trial. */
  busyFraction: finite,
  /** ms spent waiting for the host to quieten, the last sample excluded. */
  waitedMs: finite,
  /** True when the host never became quiet within the wait budget: the trial ran anyway. */
  flagged: z.boolean(),
  /** The inventory host sampled (lab mode: the `--server` host, over SSH); absent: this machine. */
  host: z.string().min(1).optional(),
});
/** A parsed QuietHostCheck. */
export type QuietHostCheck = z.infer<typeof QuietHostCheck>;

/**
 * CPU time the hypervisor took from this host while a trial ran (the `steal` column of the `cpu`
 * line of /proc/stat, proc(5)), as a share of all CPU time in that window. On a VM a busy neighbour
 * shows up here and nowhere else.
 */
export const StealCheck = z.object({
  /** steal / (all columns) between the trial's start and end, 0..1. */
  fraction: finite,
  /** True when `fraction` exceeded the run's threshold: the trial is kept and marked. */
  flagged: z.boolean(),
});
/** A parsed StealCheck. */
export type StealCheck = z.infer<typeof StealCheck>;

/** Lab mode: a StealCheck of one inventory host, read from that host's /proc/stat over SSH. */
export const HostStealCheck = StealCheck.extend({
  /** The inventory host's name. */
  host: z.string().min(1),
});
/** A parsed HostStealCheck. */
export type HostStealCheck = z.infer<typeof HostStealCheck>;

const trialBase = {
  /** 0 for the first trial of a point. */
  repetition: z.number().int().nonnegative(),
  /** ISO 8601. */
  startedAt: z.string(),
  /** Wall-clock ms of the trial, the quiet-host wait included. */
  durationMs: finite,
  /** The exact command lines that produced the numbers, so a user can rerun one point by hand. */
  commands: z.array(z.array(z.string())),
  quietHost: QuietHostCheck.optional(),
  /** Steal time during the trial; absent where /proc/stat could not be read, and in version 1 files. */
  steal: StealCheck.optional(),
  /**
   * Lab mode: steal time on each host the run measures (server, client), by name, in place of
   * `steal` (this machine's describes neither); a host whose /proc/stat could not be read is absent.
   */
  hostSteal: z.array(HostStealCheck).optional(),
  /** The interleaved round (0-based) the trial ran in; absent in version 1 files. */
  round: z.number().int().nonnegative().optional(),
  /** What a suite recorded beyond metrics (a migration's rounds, probe and outcome); absent for most suites. */
  detail: TrialDetail.optional(),
};

/**
 * One trial of a point on a target: `completed` with at least one metric, or `failed` / `skipped`
 * with the reason. A trial with no numbers is never `completed`.
 */
export const TrialRecord = z.discriminatedUnion('state', [
  z.object({ ...trialBase, state: z.literal('completed'), metrics: z.array(MetricSample).min(1) }),
  z.object({ ...trialBase, state: z.literal('failed'), reason: z.string().min(1) }),
  z.object({ ...trialBase, state: z.literal('skipped'), reason: z.string().min(1) }),
]);
/** A parsed TrialRecord. */
export type TrialRecord = z.infer<typeof TrialRecord>;

/**
 * A point's verdict (harness/point-summary.ts): `pending` before any trial; `ok` or `noisy` by the
 * headline metric's cv against the run's threshold; `failed` when no trial completed and one failed,
 * or the headline metric was never measured; `skipped` when no trial completed and none failed.
 */
export const PointStatus = z.enum(['ok', 'noisy', 'failed', 'skipped', 'pending']);
/** A parsed PointStatus. */
export type PointStatus = z.infer<typeof PointStatus>;

/**
 * Statistics of one metric over a point's completed trials (harness/statistics.ts), in the metric's
 * unit except `cv`.
 */
export const MetricSummary = z.object({
  metric: z.string(),
  unit: z.string(),
  method: z.string().optional(),
  /** Completed trials that measured this metric. */
  n: z.number().int().nonnegative(),
  mean: finite,
  /** Sample standard deviation (n - 1 denominator); 0 when n = 1. */
  sd: finite,
  /** 95 % confidence interval of the mean, Student's t with n - 1 degrees of freedom; the mean itself when n = 1. */
  ci95Low: finite,
  ci95High: finite,
  /** Coefficient of variation, sd / |mean|, a fraction; 0 when n < 2 or the mean is 0. */
  cv: finite,
  min: finite,
  max: finite,
  /** `noisy` when cv exceeds the run's `cvThreshold`. */
  status: z.enum(['ok', 'noisy']),
  /**
   * Repetitions (TrialRecord.repetition) whose value lies more than 3.5 robust z-scores from the
   * median (modified z = 0.6745·|x − median| / MAD; Iglewicz & Hoaglin 1993). Shown, never dropped:
   * the mean and interval include them. Absent in version 1 files.
   */
  outliers: z.array(z.number().int().nonnegative()).optional(),
});
/** A parsed MetricSummary. */
export type MetricSummary = z.infer<typeof MetricSummary>;

/** One value of a point's parameters or of the run's options. */
export const ParamValue = z.union([z.string(), finite, z.boolean()]);
/** A parsed ParamValue. */
export type ParamValue = z.infer<typeof ParamValue>;

/**
 * The metric a point is judged by (its status, verdicts, the report's headline), declared by the
 * suite with its unit and direction. Absent in files written before isobench 0.2: readers fall back
 * to the first summary.
 */
export const HeadlineMetric = z.object({
  metric: z.string().min(1),
  unit: z.string().min(1),
  direction: z.enum(['higher', 'lower']),
});
/** A parsed HeadlineMetric. */
export type HeadlineMetric = z.infer<typeof HeadlineMetric>;

const positive = z.number().finite().positive();
/** An interval on a ratio, `[low, high]`, both > 0. */
const RatioInterval = z.tuple([positive, positive]);
const verdictBase = {
  /** The target judged against, e.g. `native` (in an A/A run, the first arm). */
  baseline: z.string().min(1),
  /** The headline metric judged. */
  metric: z.string().min(1),
  /** The equivalence margin m in percent: a ratio inside [1/(1+m), 1+m] is no difference. */
  marginPercent: positive,
  /**
   * The smallest difference in percent a verdict may call `slower`/`faster`: the larger of the
   * margin and the noise floor an A/A run measured, when one was given.
   */
  floorPercent: positive,
  /** Completed trials of the baseline and the candidate that were judged. */
  n: z.object({ baseline: z.number().int().nonnegative(), candidate: z.number().int().nonnegative() }),
};
const comparable = {
  ...verdictBase,
  /** mean(candidate) / mean(baseline). */
  ratio: positive,
  /** 95 % interval of the ratio (results/verdict.ts). */
  ci95: RatioInterval,
  /** 90 % interval of the ratio, the one the equivalence test reads. */
  ci90: RatioInterval,
  /**
   * The minimum detectable effect in percent at this n and the current variance (power 0.8,
   * α = 0.05 two-sided): differences smaller than this could not be told from noise.
   */
  mdePercent: positive.nullable(),
};

/**
 * A point's verdict against the baseline (results/verdict.ts): `equivalent`, `slower`/`faster` by
 * `effectPercent`, `undecided` with the per-side repetitions that would decide it, or
 * `not-comparable` with the reason (too few samples, a non-positive sample, no baseline point).
 */
export const StoredVerdict = z.discriminatedUnion('verdict', [
  z.object({ ...comparable, verdict: z.literal('equivalent') }),
  z.object({ ...comparable, verdict: z.enum(['slower', 'faster']), effectPercent: finite.nonnegative() }),
  z.object({ ...comparable, verdict: z.literal('undecided'), repetitionsNeeded: z.number().int().positive().nullable() }),
  z.object({ ...verdictBase, verdict: z.literal('not-comparable'), reason: z.string().min(1), ratio: positive.nullable(), ci95: z.null(), ci90: z.null() }),
]);
/** A parsed StoredVerdict. */
export type StoredVerdict = z.infer<typeof StoredVerdict>;

/** One point (a bar or x position of a figure) on one target, with every trial it ran. */
export const PointResult = z.object({
  /** `target/suite/pointId`, unique in a run. */
  key: z.string(),
  /** The configuration, e.g. `docker-nat:overlay`. */
  target: z.string(),
  suite: z.string(),
  pointId: z.string(),
  params: z.record(z.string(), ParamValue),
  headline: HeadlineMetric.optional(),
  /** The raw trials: the only source of truth; summaries and status are recomputed from them. */
  trials: z.array(TrialRecord),
  summaries: z.array(MetricSummary),
  status: PointStatus,
  /** Why the point failed, was skipped or is noisy. */
  reason: z.string().optional(),
  /**
   * The verdict against the run's baseline on the headline metric, recomputed from the raw trials
   * whenever they change. Absent on the baseline's own points and on points with no completed trial.
   */
  verdict: StoredVerdict.optional(),
});
/** A parsed PointResult. */
export type PointResult = z.infer<typeof PointResult>;

/** A host tool's version as it reports it; null when it could not be read. */
export const ToolVersion = z.object({ tool: z.string(), version: z.string().nullable() });

/** The host the run measured on, as provisioning/host-probe.ts found it. */
export const HostFacts = z.object({
  hostname: z.string(),
  cpuModel: z.string(),
  cores: z.number().int().positive(),
  /** `cpu MHz` of /proc/cpuinfo; null when it has none. */
  cpuMHz: finite.nullable(),
  memoryBytes: finite,
  kernel: z.string(),
  distro: z.string(),
  nodeVersion: z.string(),
  tools: z.array(ToolVersion),
  /** Whether `perf stat` can read hardware cycle counters (else cycles per byte are estimated). */
  perfCounters: z.boolean(),
  /** Whether /dev/kvm exists. */
  kvmDevice: z.boolean(),
  /** null until a guest boot probe ran. */
  kvmUsable: z.boolean().nullable(),
  vhostNet: z.boolean(),
  docker: z
    .object({ version: z.string(), storageDriver: z.string(), cgroupVersion: z.string() })
    .nullable(),
});
/** A parsed HostFacts. */
export type HostFacts = z.infer<typeof HostFacts>;

/**
 * One host's clock against the controlling host's, measured NTP-style (provisioning/lab-host-facts.ts):
 * the controller stamps t0, the host reads its clock T, the controller stamps t3; the host's reading
 * happened between t0 and t3, so its offset lies within T − (t0 + t3) / 2 ± (t3 − t0) / 2. Of several
 * samples the one with the shortest round trip is kept (NTP's clock filter).
 */
export const ClockOffset = z.object({
  /** ms the host's clock is ahead of the controller's (negative: behind). */
  offsetMs: finite,
  /** ± ms: half the kept sample's round trip, a hard bound, not a standard deviation. */
  uncertaintyMs: finite.nonnegative(),
  /** ms, the kept sample's round trip (the command over SSH included). */
  roundTripMs: finite.nonnegative(),
  /** How many samples were taken. */
  samples: z.number().int().positive(),
});
/** A parsed ClockOffset. */
export type ClockOffset = z.infer<typeof ClockOffset>;

/**
 * What lab mode records of a host (issue 14), collected over SSH by one script. Fields a host could
 * not report are null, never a guess.
 */
export const LabHostFacts = z.object({
  hostname: z.string(),
  cpuModel: z.string(),
  cores: z.number().int().positive().nullable(),
  cpuMHz: finite.nullable(),
  memoryBytes: finite.nullable(),
  kernel: z.string(),
  distro: z.string(),
  tools: z.array(ToolVersion),
  perfCounters: z.boolean(),
  kvmDevice: z.boolean(),
  /**
   * The accel probe on that host: `works` (a kernel booted under KVM as far as mounting its root file system), `fails` (with QEMU's words in
   * `accelDetail`), `hangs` (cut off), `not probed` (no QEMU, no /dev/kvm).
   */
  accel: z.enum(['works', 'fails', 'hangs', 'not probed']),
  accelDetail: z.string(),
  vhostNet: z.boolean(),
  docker: z.object({ version: z.string(), storageDriver: z.string(), cgroupVersion: z.string() }).nullable(),
  /** The daemon's version, `virsh version --daemon`'s `Running against daemon` (e.g. `9.0.0`); null when libvirtd does not answer (or virsh is missing). */
  libvirt: z.string().nullable(),
});
/** A parsed LabHostFacts. */
export type LabHostFacts = z.infer<typeof LabHostFacts>;

/**
 * The accel probe's words without its verdict in front: a `not probed` detail is the probe's own
 * line, which already begins `not probed: ` (lab-host-facts.ts), the others do not.
 */
export function accelProbeWords(facts: Pick<LabHostFacts, 'accel' | 'accelDetail'>): string {
  return facts.accelDetail.startsWith(`${facts.accel}: `) ? facts.accelDetail.slice(facts.accel.length + 2) : facts.accelDetail;
}

/** One inventory host in a lab run's results: how it was reached, its facts and its clock. */
export const LabHost = z.object({
  name: z.string(),
  /** `local`, or `ssh USER@ADDRESS[:PORT]`: never a key or a password. */
  via: z.string(),
  roles: z.array(z.string()),
  testAddress: z.string(),
  /** null when the host could not be reached; `error` says why. */
  facts: LabHostFacts.nullable(),
  /** Against the controlling host; null when it could not be measured. */
  clockOffset: ClockOffset.nullable(),
  error: z.string().optional(),
});
/** A parsed LabHost. */
export type LabHost = z.infer<typeof LabHost>;

/**
 * What one target really ran as: the labels every figure needs (accel, vhost, storage, network path).
 * `degraded` lists what fell back (e.g. TCG instead of KVM); reports show it as a banner.
 */
export const TargetFacts = z.object({
  target: z.string(),
  state: z.enum(['ready', 'failed', 'skipped']),
  /** Why it failed or was skipped. */
  reason: z.string().optional(),
  /** The address the client reaches its servers at. */
  serverAddress: z.string().optional(),
  /** Hop by hop, e.g. `client netns -> veth -> BRIDGE -> host stack`. */
  networkPath: z.string(),
  /** Where its data directory lives, e.g. `host file system (PATH)`. */
  storage: z.string(),
  labels: z.record(z.string(), z.union([z.string(), finite, z.boolean(), z.null()])),
  degraded: z.array(z.string()),
});
/** A parsed TargetFacts. */
export type TargetFacts = z.infer<typeof TargetFacts>;

/** What `npm run bench` was asked to run, so a results file says how it was made. */
export const RunPlan = z.object({
  /** Configurations, e.g. `native`, `kvm:qcow2`. */
  targets: z.array(z.string()).min(1),
  suites: z.array(z.string()).min(1),
  quick: z.boolean(),
  /**
   * The `suite/pointId` keys the run measures when it measures not every point of its suites:
   * `--points`, or the first look of a bare `npm run bench`. Absent: every point.
   */
  points: z.array(z.string().min(1)).min(1).optional(),
  /** Trials per point. */
  repetitions: z.number().int().positive(),
  /** Seed of the trial order (harness/planner.ts), so a run's interleaving can be repeated. */
  seed: z.number().int(),
  /** The cv above which a point is `noisy` (a fraction, default 0.05). */
  cvThreshold: finite,
  /** Target and suite options and the test network's `subnet` and `guardRange`, as given or defaulted. */
  options: z.record(z.string(), ParamValue),
  /** `compare`: targets against the baseline; `aa`: one target as two interleaved arms, to measure the noise floor. */
  mode: z.enum(['compare', 'aa']),
  /** The configuration verdicts are judged against (default `native`; in an A/A run, the first arm). */
  baseline: z.string().min(1),
  /** The equivalence margin in percent (`--margin`, default 5). */
  marginPercent: positive,
  /** A measured noise floor in percent that verdicts respect (`--noise-floor`), or null. */
  noiseFloorPercent: positive.nullable(),
  /** Adaptive repetitions (`--until-decided`): rounds are added for undecided points up to the limits; null when off. */
  adaptive: z
    .object({
      /** Repetitions per point at most (`--max-reps`). */
      maxRepetitions: z.number().int().positive(),
      /** Wall-clock budget of the measurement loop in seconds (`--budget`), or null for none. */
      budgetSeconds: positive.nullable(),
    })
    .nullable(),
  /**
   * How work was placed on CPUs: `cpuSets` names a CPU list (taskset syntax) per role (`client`,
   * `server`, a configuration id) when the host had cores enough; otherwise null and `oversubscribed`.
   */
  pinning: z.object({ oversubscribed: z.boolean(), cpuSets: z.record(z.string(), z.string()).nullable(), reason: z.string() }),
  /** The arguments after `npm run bench --` that made this run, as given; empty when not known (version 1 files). */
  command: z.array(z.string()),
});
/** A parsed RunPlan. */
export type RunPlan = z.infer<typeof RunPlan>;

/**
 * How long one phase of a run took (harness/phases.ts): `installs`, `host probe`, `image build`,
 * `provision TARGET`, `prepare SUITE on TARGET`, `trials`, `finish and teardown`, `report`. A resumed
 * run appends the phases of each session, their names prefixed `resume N: ` (results/phases.ts reads
 * them back as sessions).
 */
export const RunPhase = z.object({
  name: z.string().min(1),
  /** Wall-clock milliseconds. */
  ms: finite.nonnegative(),
  /**
   * Absent for a phase that ended. `interrupted`: a signal stopped the run during the phase; `ms` is
   * the time until the signal. `recovered`: the session ended before its `trials` phase did and wrote
   * none (killed by SIGKILL or a power cut, or interrupted by an isobench that did not yet record
   * `interrupted`); the next `--resume` added it, `ms` the sum of the trials that session recorded
   * (a lower bound: the trial cut short and the gaps between trials are not in it). Absent in files
   * written before isobench recorded it (optional, so the schema version stays 2).
   */
  incomplete: z.enum(['interrupted', 'recovered']).optional(),
});
/** A parsed RunPhase. */
export type RunPhase = z.infer<typeof RunPhase>;

/** `running` until the run ends; `interrupted` by SIGINT or SIGTERM; `failed` with the error as the file's `reason`. */
export const RunStatus = z.enum(['running', 'completed', 'interrupted', 'failed']);
/** A parsed RunStatus. */
export type RunStatus = z.infer<typeof RunStatus>;

/**
 * The whole results file. Written when the run starts, with every planned point `pending`, and
 * rewritten atomically after each trial, so a crashed or interrupted run still leaves a valid file.
 */
export const ResultsFile = z.object({
  schema: z.literal(RESULTS_SCHEMA_ID),
  version: z.literal(RESULTS_SCHEMA_VERSION),
  runId: z.string().min(1),
  /** ISO 8601. */
  startedAt: z.string(),
  /** ISO 8601; null while the run is `running`. */
  finishedAt: z.string().nullable(),
  status: RunStatus,
  /** Why the run was interrupted or failed. */
  reason: z.string().optional(),
  isobenchVersion: z.string(),
  host: HostFacts,
  plan: RunPlan,
  targets: z.array(TargetFacts),
  points: z.array(PointResult),
  /**
   * The order trials ran in: one list of point keys per round, as run. Round order is shuffled from
   * the seed and counterbalanced across targets (harness/planner.ts).
   */
  order: z.array(z.array(z.string())),
  /**
   * Where the run's time went, phase by phase, in the order they ran; absent in files written
   * before isobench recorded it (optional, so the schema version stays 2).
   */
  phases: z.array(RunPhase).optional(),
  /**
   * When each `--resume` session started (`session` is N of its phases' `resume N: ` prefix), in
   * order; the first session started at `startedAt`. Absent in files never resumed and in files
   * written before isobench recorded it (optional, so the schema version stays 2).
   */
  resumes: z.array(z.object({ session: z.number().int().positive(), startedAt: z.string() })).optional(),
  /** Why the measurement loop stopped (e.g. `all points decided`, `--max-reps 10 reached`, `budget 10m spent`). */
  stopReason: z.string().optional(),
  /**
   * Lab mode (`--hosts`): every inventory host, facts and clock offset; absent in single-host runs
   * and in files written before lab mode (optional, so the schema version stays the same).
   */
  hosts: z.array(LabHost).optional(),
});
/** A parsed ResultsFile. */
export type ResultsFile = z.infer<typeof ResultsFile>;

/** A results file that does not match the schema: names the file and the first fields that did not fit. Exit code 2. */
export class ResultsFormatError extends IsobenchError {
  /**
   * @param source The file's path (or another name for where the data came from).
   * @param details What did not fit, e.g. formatZodIssues' text.
   * @param options `message` replaces the default `SOURCE is not a valid isobench results file: DETAILS`
   *   where the file is no results file at all (another program's JSON), not a damaged one.
   */
  constructor(
    readonly source: string,
    readonly details: string,
    options: { message?: string } = {},
  ) {
    super(options.message ?? `${source} is not a valid isobench results file: ${details}`, { exitCode: 2 });
  }
}

/**
 * Validates parsed JSON as a results file. The version is checked first, so a file from another
 * isobench says so rather than listing every field that moved.
 * @param source Names the file in the error.
 * @throws ResultsFormatError (exit 2) for another schema version or a value that does not match.
 */
export function parseResultsFile(data: unknown, source: string): ResultsFile {
  if (typeof data === 'object' && data !== null && 'version' in data && data.version !== RESULTS_SCHEMA_VERSION) {
    throw new ResultsFormatError(
      source,
      `schema version ${String(data.version)} is not supported (this isobench reads version ${RESULTS_SCHEMA_VERSION})`,
    );
  }
  const parsed = ResultsFile.safeParse(data);
  if (!parsed.success) {
    throw new ResultsFormatError(source, formatZodIssues(parsed.error));
  }
  return parsed.data;
}

/**
 * The summary a point is judged by: the one of its declared headline metric, else (files written
 * before headlines were declared) the first summary. Undefined when the point has no summaries or
 * its headline metric was never measured.
 */
export function headlineSummary(point: Pick<PointResult, 'headline' | 'summaries'>): MetricSummary | undefined {
  if (point.headline) return point.summaries.find((summary) => summary.metric === point.headline!.metric);
  return point.summaries[0];
}
