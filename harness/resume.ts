import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { AnySuite, SuiteOptions } from '../contracts/suite.js';
import type { TargetOptions } from '../contracts/target.js';
import { UsageError } from '../core/errors.js';
import { formatZodIssues } from '../core/zod-text.js';
import { parseCpuInfo } from '../provisioning/host-probe.js';
import { parseTargetConfiguration, type TargetConfiguration } from '../provisioning/targets/configuration.js';
import { resumePrefix } from '../results/phases.js';
import type { HostFacts, PointResult, ResultsFile } from '../results/schema.js';
import { readResultsFile } from '../results/store.js';
import { findSuite, SUITE_NAMES } from '../suites/index.js';
import { armConfiguration } from './aa.js';
import type { Plan } from './planner.js';

/**
 * `npm run bench -- --resume RESULTS.json`: the run a results file describes, rebuilt from the file
 * alone (plan, seed, options), so the rest of it can run into that same file.
 */

/** A run being resumed: its file and what the file held when the resume began. */
export interface ResumeState {
  /** The results file, absolute; the resumed run writes to it. */
  path: string;
  /** Its content as read (validated; an older schema version upgraded). */
  results: ResultsFile;
}

/** What a resume takes from a file's plan, everything the runner needs to run the same plan. */
export interface ResumedRun {
  targets: TargetConfiguration[];
  suites: AnySuite[];
  suiteOptions: Map<string, SuiteOptions>;
  targetOptions: TargetOptions;
  subnet: string;
  guardRange: string;
}

/** The host facts a resume must find unchanged: a run's numbers compare only on one machine and kernel. */
export type HostIdentity = Pick<HostFacts, 'hostname' | 'cores' | 'cpuModel' | 'kernel'>;

/** This host's identity, read as provisioning/host-probe.ts reads it but without running any tool. */
export async function hostIdentity(): Promise<HostIdentity> {
  const cpu = parseCpuInfo(await readFile('/proc/cpuinfo', 'utf8').catch(() => ''));
  return { hostname: os.hostname(), cores: os.cpus().length, cpuModel: cpu.model, kernel: os.release() };
}

/**
 * Reads the file to resume and refuses what cannot be resumed.
 * @throws ResultsFormatError (exit 2) for a file that cannot be read, is not JSON, has a newer schema
 *   version or does not pass the schema; UsageError for a completed run, or a file not named after its
 *   run id (`RUNID.json`, the name the resumed run writes to).
 */
export async function readResumable(file: string): Promise<ResumeState> {
  const path = resolve(file);
  const results = await readResultsFile(path);
  if (results.status === 'completed') {
    throw new UsageError(`${file} is a completed run: there is nothing to resume; start a new run with npm run bench`);
  }
  if (basename(path) !== `${results.runId}.json`) {
    throw new UsageError(`${file} holds run ${results.runId}, and a resumed run writes to ${results.runId}.json: rename the file back to ${results.runId}.json`);
  }
  return { path, results };
}

/** Target options as the plan stores them (flat in `plan.options`, beside the suites' options). */
const StoredTargetOptions = z.object({
  storage: z.enum(['volume', 'overlay']),
  accel: z.enum(['auto', 'kvm', 'tcg']),
  disk: z.enum(['raw', 'qcow2']),
  vcpus: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
  // Files written before --vm-manager existed ran QEMU directly.
  vmManager: z.enum(['qemu', 'libvirt']).default('qemu'),
});

/**
 * The targets, suites and options of a file's plan, looked up in this isobench's registries.
 * @param parseSuiteOptions The bench command's parser of suite flags (raw text by flag name).
 * @throws UsageError `cannot rebuild the plan of FILE: …` naming a target or suite no longer
 *   registered, or an option this isobench no longer accepts.
 */
export function rebuildRun(state: ResumeState, parseSuiteOptions: (values: Record<string, unknown>) => Map<string, SuiteOptions>): ResumedRun {
  const { plan } = state.results;
  const refuse = (why: string): never => {
    throw new UsageError(`cannot rebuild the plan of ${state.path}: ${why}; resume it with the isobench that started it, or start a new run`);
  };
  const ids = plan.mode === 'aa' ? [armConfiguration(plan.targets[0]!)] : plan.targets;
  const targets = ids.map((id) => {
    try {
      return parseTargetConfiguration(id);
    } catch (error) {
      return refuse(`target ${id}: ${(error as Error).message}`);
    }
  });
  const suites = plan.suites.map((name) => findSuite(name) ?? refuse(`suite "${name}" is no longer registered (registered: ${SUITE_NAMES.join(', ')})`));
  const stored = StoredTargetOptions.safeParse(plan.options);
  if (!stored.success) refuse(`its target options do not fit (${formatZodIssues(stored.error)})`);
  // Suite options were stored parsed; their flags take text, so they go back through the same parser.
  const raw = Object.fromEntries(Object.entries(plan.options).map(([key, value]) => [key, String(value)]));
  let suiteOptions: Map<string, SuiteOptions>;
  try {
    suiteOptions = parseSuiteOptions(raw);
  } catch (error) {
    return refuse((error as Error).message);
  }
  const subnet = plan.options.subnet;
  const guardRange = plan.options.guardRange;
  if (typeof subnet !== 'string' || typeof guardRange !== 'string') return refuse('it records no test subnet and guard range');
  return { targets, suites, suiteOptions, targetOptions: { ...stored.data!, quick: plan.quick }, subnet, guardRange };
}

/**
 * Refuses a resume on another machine: hostname, cores, CPU model and kernel must be the file's.
 * @throws UsageError naming what differs and where the run was measured.
 */
export function checkSameHost(path: string, recorded: HostFacts, here: HostIdentity): void {
  const what = identityDifferences(recorded, here, ['there', 'here']);
  if (what === null) return;
  throw new UsageError(`${path} was measured on another host (${what}): resume it on that host, or start a new run here`);
}

/** A machine's identity as either probe reads it (a lab host's core count may be unknown: null). */
type MachineIdentity = Record<keyof HostIdentity, string | number | null>;

/**
 * What makes two readings of a machine's identity (hostname, cores, CPU model, kernel) different
 * machines, as `hostname "a" there, "b" here; …` with the two words given; null when they agree.
 * Shared by the single-host resume check and the lab hosts' (lab.ts refuseChangedLabHosts).
 */
export function identityDifferences(recorded: MachineIdentity, now: MachineIdentity, [was, is]: readonly [string, string]): string | null {
  const fields: Array<keyof MachineIdentity> = ['hostname', 'cores', 'cpuModel', 'kernel'];
  const differs = fields.filter((field) => recorded[field] !== now[field]);
  if (differs.length === 0) return null;
  return differs.map((field) => `${field} ${JSON.stringify(recorded[field])} ${was}, ${JSON.stringify(now[field])} ${is}`).join('; ');
}

/**
 * Refuses a resume whose plan, rebuilt from the file's seed and options, does not give the file's
 * points (same keys in the same order, same parameters and headline metrics): the resumed run would
 * not finish the run the file describes.
 * @throws UsageError naming the first point that differs.
 */
export function checkSamePlan(path: string, results: ResultsFile, plan: Plan): void {
  const refuse = (why: string): never => {
    throw new UsageError(`cannot rebuild the plan of ${path}: ${why}; resume it with the isobench that started it, or start a new run`);
  };
  const points = results.points;
  if (plan.cells.length !== points.length) refuse(`its ${points.length} points are ${plan.cells.length} in the plan rebuilt here`);
  for (const [index, cell] of plan.cells.entries()) {
    const point = points[index]!;
    if (point.key !== cell.key) refuse(`point ${index + 1} is ${point.key} in the file and ${cell.key} in the plan rebuilt here`);
    if (!isDeepStrictEqual(point.params, cell.point.params)) refuse(`point ${cell.key} has other parameters in the file (${JSON.stringify(point.params)}) than here (${JSON.stringify(cell.point.params)})`);
    if (point.headline && point.headline.metric !== cell.point.headline.name) refuse(`point ${cell.key} is judged by ${point.headline.metric} in the file and by ${cell.point.headline.name} here`);
  }
}

/**
 * The rounds a point has already run: each trial's `round`; trials without one (a version 1 file)
 * fill the lowest rounds not otherwise taken. A trial counts whatever its state: a failed trial was
 * that round's trial of the point.
 */
export function roundsDone(point: Pick<PointResult, 'trials'>): Set<number> {
  const rounds = new Set<number>();
  let unnumbered = 0;
  for (const trial of point.trials) {
    if (trial.round === undefined) unnumbered++;
    else rounds.add(trial.round);
  }
  for (let round = 0; unnumbered > 0; round++) {
    if (rounds.has(round)) continue;
    rounds.add(round);
    unnumbered--;
  }
  return rounds;
}

/**
 * The session number of the next resume of a file: 1 for its first, then one more than the last
 * session it records (a `resume N: ` phase, or an entry of `resumes`: a session killed before its
 * first phase ended left only the latter).
 */
export function nextResumeSession(results: Pick<ResultsFile, 'phases' | 'resumes'>): number {
  let last = 0;
  for (const phase of results.phases ?? []) {
    const match = /^resume (\d+): /.exec(phase.name);
    if (match) last = Math.max(last, Number(match[1]));
  }
  for (const resume of results.resumes ?? []) last = Math.max(last, resume.session);
  return last + 1;
}

/**
 * The file's `phases` and `resumes` as a new `--resume` session begins at `now` (ISO 8601): the
 * session is added to `resumes`, and the phases keep every earlier session's. The session before it
 * may have ended without recording its `trials` phase, which is written when the phase ends (a
 * SIGKILL, a power cut); then the time of the trials it recorded (their `durationMs`, those started
 * since that session started) is added as its `trials` phase, marked `recovered`: without it the
 * file would not say how long the run took. A session whose start the file does not record (resumed
 * by an isobench before `resumes`) gets nothing added: its trials cannot be told from the others.
 */
export function resumedSessions(previous: Pick<ResultsFile, 'startedAt' | 'phases' | 'resumes' | 'points'>, now: string): Pick<ResultsFile, 'phases' | 'resumes'> {
  const session = nextResumeSession(previous);
  const phases = [...(previous.phases ?? [])];
  const resumes = [...(previous.resumes ?? []), { session, startedAt: now }];
  const last = session - 1;
  const prefix = last === 0 ? '' : resumePrefix(last);
  const start = last === 0 ? previous.startedAt : previous.resumes?.find((resume) => resume.session === last)?.startedAt;
  if (start === undefined || phases.some((phase) => phase.name === `${prefix}trials`)) return { phases, resumes };
  const from = Date.parse(start);
  const until = Date.parse(now);
  const trials = previous.points.flatMap((point) => point.trials).filter((trial) => {
    const at = Date.parse(trial.startedAt);
    return at >= from && at <= until;
  });
  if (trials.length > 0) {
    phases.push({ name: `${prefix}trials`, ms: Math.round(trials.reduce((sum, trial) => sum + trial.durationMs, 0)), incomplete: 'recovered' });
  }
  return { phases, resumes };
}

/** The directory a resumed run writes to: the file's own. */
export function resumeDirectory(state: ResumeState): string {
  return dirname(state.path);
}
