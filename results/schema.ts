import { z } from 'zod';
import { IsobenchError } from '../core/errors.js';
import { formatZodIssues } from '../core/zod-text.js';

/**
 * The results file: one JSON document per run. Versioned; every read and write goes through
 * `parseResultsFile`, so a file that does not match is a clear error, never a half-trusted object.
 */
export const RESULTS_SCHEMA_ID = 'isobench/results';
export const RESULTS_SCHEMA_VERSION = 1;

const finite = z.number().finite();

export const MetricSample = z.object({
  /** Stable metric name, e.g. `throughput`, `iops`, `clat_p99`. */
  name: z.string().min(1),
  unit: z.string().min(1),
  value: finite,
  /** How the number was obtained when more than one way exists (e.g. `proc-stat`, `perf-cycles`). */
  method: z.string().optional(),
});
export type MetricSample = z.infer<typeof MetricSample>;

export const QuietHostCheck = z.object({
  /** Whole-host CPU busy share (0..1) over the last sample before the trial. */
  busyFraction: finite,
  waitedMs: finite,
  /** True when the host never became quiet within the wait budget: the trial ran anyway. */
  flagged: z.boolean(),
});
export type QuietHostCheck = z.infer<typeof QuietHostCheck>;

const trialBase = {
  repetition: z.number().int().nonnegative(),
  startedAt: z.string(),
  durationMs: finite,
  /** The exact command lines that produced the numbers, so a user can rerun one point by hand. */
  commands: z.array(z.array(z.string())),
  quietHost: QuietHostCheck.optional(),
};

export const TrialRecord = z.discriminatedUnion('state', [
  z.object({ ...trialBase, state: z.literal('completed'), metrics: z.array(MetricSample).min(1) }),
  z.object({ ...trialBase, state: z.literal('failed'), reason: z.string().min(1) }),
  z.object({ ...trialBase, state: z.literal('skipped'), reason: z.string().min(1) }),
]);
export type TrialRecord = z.infer<typeof TrialRecord>;

export const PointStatus = z.enum(['ok', 'noisy', 'failed', 'skipped', 'pending']);
export type PointStatus = z.infer<typeof PointStatus>;

export const MetricSummary = z.object({
  metric: z.string(),
  unit: z.string(),
  method: z.string().optional(),
  n: z.number().int().nonnegative(),
  mean: finite,
  sd: finite,
  ci95Low: finite,
  ci95High: finite,
  /** Coefficient of variation, sd / mean; 0 when n < 2. */
  cv: finite,
  min: finite,
  max: finite,
  status: z.enum(['ok', 'noisy']),
});
export type MetricSummary = z.infer<typeof MetricSummary>;

export const ParamValue = z.union([z.string(), finite, z.boolean()]);
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
export type HeadlineMetric = z.infer<typeof HeadlineMetric>;

export const PointResult = z.object({
  /** `target/suite/pointId`, unique in a run. */
  key: z.string(),
  target: z.string(),
  suite: z.string(),
  pointId: z.string(),
  params: z.record(z.string(), ParamValue),
  headline: HeadlineMetric.optional(),
  trials: z.array(TrialRecord),
  summaries: z.array(MetricSummary),
  status: PointStatus,
  /** Why the point failed, was skipped or is noisy. */
  reason: z.string().optional(),
});
export type PointResult = z.infer<typeof PointResult>;

export const ToolVersion = z.object({ tool: z.string(), version: z.string().nullable() });

export const HostFacts = z.object({
  hostname: z.string(),
  cpuModel: z.string(),
  cores: z.number().int().positive(),
  cpuMHz: finite.nullable(),
  memoryBytes: finite,
  kernel: z.string(),
  distro: z.string(),
  nodeVersion: z.string(),
  tools: z.array(ToolVersion),
  perfCounters: z.boolean(),
  kvmDevice: z.boolean(),
  /** null until a guest boot probe ran. */
  kvmUsable: z.boolean().nullable(),
  vhostNet: z.boolean(),
  docker: z
    .object({ version: z.string(), storageDriver: z.string(), cgroupVersion: z.string() })
    .nullable(),
});
export type HostFacts = z.infer<typeof HostFacts>;

/**
 * What one target really ran as: the labels every figure needs (accel, vhost, storage, network path).
 * `degraded` lists what fell back (e.g. TCG instead of KVM); reports show it as a banner.
 */
export const TargetFacts = z.object({
  target: z.string(),
  state: z.enum(['ready', 'failed', 'skipped']),
  reason: z.string().optional(),
  serverAddress: z.string().optional(),
  networkPath: z.string(),
  storage: z.string(),
  labels: z.record(z.string(), z.union([z.string(), finite, z.boolean(), z.null()])),
  degraded: z.array(z.string()),
});
export type TargetFacts = z.infer<typeof TargetFacts>;

export const RunPlan = z.object({
  targets: z.array(z.string()).min(1),
  suites: z.array(z.string()).min(1),
  quick: z.boolean(),
  repetitions: z.number().int().positive(),
  seed: z.number().int(),
  cvThreshold: finite,
  options: z.record(z.string(), ParamValue),
});
export type RunPlan = z.infer<typeof RunPlan>;

export const RunStatus = z.enum(['running', 'completed', 'interrupted', 'failed']);
export type RunStatus = z.infer<typeof RunStatus>;

export const ResultsFile = z.object({
  schema: z.literal(RESULTS_SCHEMA_ID),
  version: z.literal(RESULTS_SCHEMA_VERSION),
  runId: z.string().min(1),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  status: RunStatus,
  reason: z.string().optional(),
  isobenchVersion: z.string(),
  host: HostFacts,
  plan: RunPlan,
  targets: z.array(TargetFacts),
  points: z.array(PointResult),
});
export type ResultsFile = z.infer<typeof ResultsFile>;

/** A results file that does not match the schema: names the file and the first fields that did not fit. Exit code 2. */
export class ResultsFormatError extends IsobenchError {
  constructor(
    readonly source: string,
    readonly details: string,
  ) {
    super(`${source} is not a valid isobench results file: ${details}`, { exitCode: 2 });
  }
}

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
