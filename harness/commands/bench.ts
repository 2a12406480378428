import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import type { AnySuite, SuiteOptions } from '../../contracts/suite.js';
import type { TargetOptions } from '../../contracts/target.js';
import { UsageError } from '../../core/errors.js';
import { probeHost } from '../../provisioning/host-probe.js';
import { allConfigurations, displayOf, parseTargetConfiguration, type TargetConfiguration } from '../../provisioning/targets/configuration.js';
import { TARGET_NAMES } from '../../provisioning/targets/index.js';
import { DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET, validateTopologyConfig } from '../../provisioning/topology.js';
import { findSuite, SUITE_NAMES, SUITES } from '../../suites/index.js';
import { DEFAULT_MARGIN_PERCENT } from '../../results/verdict.js';
import { aaSummaryLines, withAaArms } from '../aa.js';
import { DEFAULT_MAX_REPETITIONS, MIN_ADAPTIVE_REPETITIONS, verdictSummaryLine, type AdaptiveLimits } from '../adaptive.js';
import { parseDuration } from '../duration.js';
import { randomSeed } from '../random.js';
import { DEFAULT_MAX_STEAL_PERCENT, defaultBaseline, runBench, type BenchOptions } from '../runner.js';
import { DEFAULT_CV_THRESHOLD } from '../statistics.js';
import { DEFAULT_MAX_WAIT_MS } from '../quiet-host.js';

/** Trials per point when `--reps` is not given (README: 3 quick, 5 full). */
export const DEFAULT_REPETITIONS = { quick: 3, full: 5 } as const;
/** Where results files go without `--out`, relative to the working directory. */
export const DEFAULT_OUT_DIRECTORY = 'results';

const FLAGS = {
  target: { type: 'string' },
  suite: { type: 'string' },
  quick: { type: 'boolean' },
  full: { type: 'boolean' },
  reps: { type: 'string' },
  out: { type: 'string' },
  seed: { type: 'string' },
  'cv-threshold': { type: 'string' },
  subnet: { type: 'string' },
  'guard-range': { type: 'string' },
  storage: { type: 'string' },
  accel: { type: 'string' },
  disk: { type: 'string' },
  vcpus: { type: 'string' },
  memory: { type: 'string' },
  'vm-manager': { type: 'string' },
  'quiet-wait': { type: 'string' },
  baseline: { type: 'string' },
  margin: { type: 'string' },
  'noise-floor': { type: 'string' },
  aa: { type: 'boolean' },
  'until-decided': { type: 'boolean' },
  // parseArgs on Node 20 has no allowNegative: the negation is a flag of its own.
  'no-until-decided': { type: 'boolean' },
  'max-reps': { type: 'string' },
  budget: { type: 'string' },
  'max-steal': { type: 'string' },
  help: { type: 'boolean' },
  // Each suite's own flags (e.g. --streams), from the registry.
  ...Object.fromEntries(SUITES.flatMap((suite) => suite.flags.map((flag) => [flag.name, { type: 'string' } as const]))),
} as const;

const SUITE_FLAG_USAGE = SUITES.flatMap((suite) => suite.flags.map((flag) => `[--${flag.name} ${flag.valueName}]`)).join(' ');

/** `npm run bench -- --help`; targets, suites and suite flags come from the registries. */
export const BENCH_USAGE = `usage: npm run bench -- [--target NAME[:OPTION…][,…]|all] [--suite NAME[,NAME…]|all] [--quick|--full]
                      [--reps N] [--out DIR] [--seed N] [--storage volume|overlay]
                      [--accel auto|kvm|tcg] [--disk raw|qcow2] [--vcpus N] [--memory MiB] [--vm-manager qemu|libvirt]
                      [--subnet CIDR] [--guard-range CIDR] [--cv-threshold X] [--quiet-wait SECONDS] ${SUITE_FLAG_USAGE}
                      [--baseline CONFIG] [--margin PERCENT] [--noise-floor PERCENT] [--aa]
                      [--until-decided|--no-until-decided] [--max-reps N] [--budget DURATION] [--max-steal PERCENT]
targets: ${TARGET_NAMES.join(', ')}    suites: ${SUITE_NAMES.join(', ')}
A target may fix its own options after colons, one row each: --target native,docker-nat,docker-nat:overlay,kvm:qcow2
With no --target and no --suite it runs the default quick matrix: every target this host can run, every suite.`;

/** A comma-separated list (or `all`), parsed item by item, duplicates (by `keyOf`) dropped. */
function listOf<T>(text: string, all: () => T[], parse: (name: string) => T, keyOf: (item: T) => string): T[] {
  if (text === 'all') return all();
  const names = text.split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('an empty list: name at least one, or all');
  const items = new Map<string, T>();
  for (const item of names.map(parse)) if (!items.has(keyOf(item))) items.set(keyOf(item), item);
  return [...items.values()];
}

function parseSuite(name: string): AnySuite {
  const suite = findSuite(name);
  if (!suite) throw new UsageError(`unknown suite "${name}": choose from ${SUITE_NAMES.join(', ')} or all`);
  return suite;
}

/**
 * Each registered suite's options from its flags, parsed by the suite's own schema.
 * @throws UsageError naming the flag and what its schema said, e.g. `--streams takes a whole number from 1 to 128, not "500"`.
 */
export function parseSuiteOptions(values: Record<string, unknown>): Map<string, SuiteOptions> {
  const options = new Map<string, SuiteOptions>();
  for (const suite of SUITES) {
    const raw = Object.fromEntries(suite.flags.map((flag) => [flag.name, values[flag.name]]));
    const parsed = suite.options.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const flag = String(issue?.path[0] ?? suite.flags[0]?.name ?? suite.name);
      const message = issue?.message ?? 'invalid value';
      // Suites word their schema errors as "takes …" so the line reads like the harness's own flags.
      throw new UsageError(message.startsWith('takes ') ? `--${flag} ${message}, not "${String(values[flag])}"` : `--${flag} "${String(values[flag])}": ${message}`);
    }
    options.set(suite.name, parsed.data);
  }
  return options;
}

function integer(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${flag} takes a whole number from ${min} to ${max}, not "${text}"`);
  return value;
}

function decimal(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new UsageError(`--${flag} takes a number from ${min} to ${max}, not "${text}"`);
  return value;
}

/** A percentage in (0, 100]: margins and noise floors of zero would make every difference a verdict. */
function percent(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > 100) throw new UsageError(`--${flag} takes a percentage above 0 and at most 100, not "${text}"`);
  return value;
}

function choice<T extends string>(flag: string, text: string | undefined, choices: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`--${flag} takes one of ${choices.join(', ')}, not "${text}"`);
  return text as T;
}

/** node:util's parseArgs, strict, with its complaints turned into one-line usage errors. */
export function parseFlags<const Config extends ParseArgsConfig>(config: Config): ReturnType<typeof parseArgs<Config>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    // parseArgs reads `--reps -1` as a flag followed by another flag and calls it ambiguous.
    const ambiguous = /^Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
    throw new UsageError(ambiguous ? `${ambiguous[1]} needs a value; write a value that starts with "-" as ${ambiguous[1]}=VALUE` : message, { cause: error });
  }
}

/**
 * Turns the command line into the run's options; every bad value is a UsageError naming the flag.
 * With neither `--target` nor `--suite` it is the default matrix: quick, every suite, and every target
 * whose driver says this host can run it (probes the host). Defaults: volume storage, accel auto,
 * raw disk, 2 vCPUs, 2048 MiB, `--vm-manager qemu`, `--quiet-wait` 20 s, baseline `native` (else the
 * first target), `--margin` 5 %, no noise floor, `--max-steal` 10 %, `--until-decided` in quick runs
 * of 3 or more `--reps` only, `--max-reps` 10 quick / 20 full (never below `--reps`), no budget. `command` is `argv` as given.
 * @throws UsageError for an unknown flag, target or suite, a value out of range, `--quick` with
 *   `--full`, a `--subnet`/`--guard-range` validateTopologyConfig refuses, `--aa` without exactly one
 *   target, a `--baseline` not among the targets, or an inconsistent adaptive setting (see adaptiveLimits).
 */
export async function parseBenchOptions(argv: string[]): Promise<BenchOptions> {
  const { values } = parseFlags({ args: argv, options: FLAGS, strict: true });
  if (values.quick && values.full) throw new UsageError('--quick and --full contradict each other: choose one');
  const defaultMatrix = values.target === undefined && values.suite === undefined;
  const quick = values.full ? false : values.quick === true || defaultMatrix;
  const suites = listOf(values.suite ?? 'all', () => [...SUITES], parseSuite, (suite) => suite.name);
  const targets = values.target === undefined
    ? await availableTargets()
    : listOf(values.target, allConfigurations, parseTargetConfiguration, (configuration) => configuration.id);
  const suiteOptions = parseSuiteOptions(values);
  const subnet = values.subnet ?? DEFAULT_TEST_SUBNET;
  const guardRange = values['guard-range'] ?? DEFAULT_GUARD_RANGE;
  validateTopologyConfig({ subnet, guardRange });
  const targetOptions: TargetOptions = {
    storage: choice('storage', values.storage, ['volume', 'overlay'] as const, 'volume'),
    accel: choice('accel', values.accel, ['auto', 'kvm', 'tcg'] as const, 'auto'),
    disk: choice('disk', values.disk, ['raw', 'qcow2'] as const, 'raw'),
    vcpus: integer('vcpus', values.vcpus, 2, 1, 256),
    memoryMiB: integer('memory', values.memory, 2048, 256, 1_048_576),
    vmManager: choice('vm-manager', values['vm-manager'], ['qemu', 'libvirt'] as const, 'qemu'),
    quick,
  };
  const repetitions = integer('reps', values.reps, quick ? DEFAULT_REPETITIONS.quick : DEFAULT_REPETITIONS.full, 1, 1000);
  const ids = targets.map(({ id }) => id);
  const aa = values.aa === true;
  if (aa && ids.length !== 1) {
    throw new UsageError(`--aa measures one target against itself: name exactly one with --target, not ${ids.length === 0 ? 'none' : ids.join(', ')}`);
  }
  if (values.baseline !== undefined && !ids.includes(values.baseline)) {
    throw new UsageError(`--baseline ${values.baseline} is not one of this run's targets (${ids.join(', ')}): name one of them`);
  }
  return {
    targets,
    suites,
    quick,
    repetitions,
    outDirectory: resolve(values.out ?? DEFAULT_OUT_DIRECTORY),
    seed: integer('seed', values.seed, randomSeed(), 0, 2 ** 31 - 1),
    cvThreshold: decimal('cv-threshold', values['cv-threshold'], DEFAULT_CV_THRESHOLD, 0, 10),
    subnet,
    guardRange,
    targetOptions,
    suiteOptions,
    quietHost: { maxWaitMs: decimal('quiet-wait', values['quiet-wait'], DEFAULT_MAX_WAIT_MS / 1000, 0, 3600) * 1000 },
    mode: aa ? 'aa' : 'compare',
    // In an A/A run the first arm is the baseline whatever was named (it can only be the one target).
    baseline: values.baseline ?? defaultBaseline(ids),
    marginPercent: percent('margin', values.margin) ?? DEFAULT_MARGIN_PERCENT,
    noiseFloorPercent: percent('noise-floor', values['noise-floor']) ?? null,
    adaptive: adaptiveLimits(values, quick, repetitions),
    maxStealPercent: decimal('max-steal', values['max-steal'], DEFAULT_MAX_STEAL_PERCENT, 0, 100),
    command: [...argv],
  };
}

/**
 * `--until-decided` (default in quick runs whose `--reps` is at least 3), `--max-reps` and `--budget`,
 * or null when adaptive repetitions are off.
 * @throws UsageError for both `--until-decided` and `--no-until-decided`, `--max-reps` or `--budget`
 *   without adaptive repetitions, fewer than 3 `--reps`, a `--max-reps` below `--reps`, a bad duration.
 */
function adaptiveLimits(values: { 'until-decided'?: boolean; 'no-until-decided'?: boolean; 'max-reps'?: string; budget?: string }, quick: boolean, repetitions: number): AdaptiveLimits | null {
  if (values['until-decided'] && values['no-until-decided']) throw new UsageError('--until-decided and --no-until-decided contradict each other: choose one');
  // On by default in quick runs, unless --reps asks for fewer rounds than a verdict needs (a smoke run).
  const on = values['until-decided'] === true || (quick && values['no-until-decided'] !== true && repetitions >= MIN_ADAPTIVE_REPETITIONS);
  if (!on) {
    const stray = values['max-reps'] !== undefined ? '--max-reps' : values.budget !== undefined ? '--budget' : null;
    if (stray) throw new UsageError(`${stray} limits --until-decided, which is off in this run: add --until-decided or drop ${stray}`);
    return null;
  }
  if (repetitions < MIN_ADAPTIVE_REPETITIONS) {
    throw new UsageError(`--until-decided needs at least ${MIN_ADAPTIVE_REPETITIONS} rounds before it judges: raise --reps to ${MIN_ADAPTIVE_REPETITIONS} or add --no-until-decided`);
  }
  const fallback = Math.max(quick ? DEFAULT_MAX_REPETITIONS.quick : DEFAULT_MAX_REPETITIONS.full, repetitions);
  const maxRepetitions = integer('max-reps', values['max-reps'], fallback, 1, 1000);
  if (maxRepetitions < repetitions) throw new UsageError(`--max-reps ${maxRepetitions} is below --reps ${repetitions}: raise --max-reps`);
  let budgetSeconds: number | null = null;
  if (values.budget !== undefined) {
    try {
      budgetSeconds = parseDuration(values.budget);
    } catch (error) {
      throw new UsageError(`--budget ${(error as Error).message}`, { cause: error });
    }
  }
  return { maxRepetitions, budgetSeconds };
}

/** The default matrix: the plain configuration of every target this host can run; say why the others are left out. */
async function availableTargets(): Promise<TargetConfiguration[]> {
  const host = await probeHost();
  const chosen: TargetConfiguration[] = [];
  for (const configuration of allConfigurations()) {
    const reason = await configuration.driver.defaultAvailability(host);
    if (reason === null) chosen.push(configuration);
    else console.error(`leaving out ${configuration.id}: ${reason}`);
  }
  return chosen;
}

/**
 * `npm run bench`: runs the plan, writes the results file and its HTML report beside it, and prints
 * where they are. A report that fails is reported, not fatal: the results file is already written.
 * @returns The exit code: 1 when any point failed, else 0 (`--help` too).
 * @throws UsageError for bad flags; whatever runBench throws.
 */
export async function benchCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(BENCH_USAGE);
    return 0;
  }
  const options = await parseBenchOptions(argv);
  const adaptive = options.adaptive ? `, then until decided (up to ${options.adaptive.maxRepetitions})` : '';
  console.error(
    `isobench: targets ${options.targets.map(({ id }) => id).join(', ')}${options.mode === 'aa' ? ' (A/A: two arms of one target)' : ''}; ` +
      `suites ${options.suites.map(({ name }) => name).join(', ')}; ` +
      `${options.quick ? 'quick (short durations)' : 'full (the papers\' durations)'}; ${options.repetitions} repetitions${adaptive}`,
  );
  const outcome = await runBench(options);
  const counts = new Map<string, number>();
  for (const point of outcome.results.points) counts.set(point.status, (counts.get(point.status) ?? 0) + 1);
  console.log(`results: ${outcome.resultsPath}`);
  try {
    const { writeReport } = await import('../../reports/write-report.js');
    const { loadResultsSource } = await import('../../reports/model/source.js');
    // Read back from disk: the sha256 under each figure is of the file a reader will hold.
    const { source } = await loadResultsSource(outcome.resultsPath);
    const report = await writeReport([outcome.results], { out: outcome.resultsPath.replace(/\.json$/, '.html'), targetStyle: withAaArms(displayOf), sources: [source] });
    console.log(`report: ${report}`);
  } catch (error) {
    console.error(`isobench: the results are safe, but the report failed: ${(error as Error).message}`);
  }
  console.log(`points: ${[...counts].map(([status, count]) => `${count} ${status}`).join(', ')}`);
  const verdicts = verdictSummaryLine(outcome.results);
  if (verdicts) console.log(verdicts);
  for (const line of aaSummaryLines(outcome.results)) console.log(line);
  console.log(`see them with: npm run results -- ${outcome.resultsPath}`);
  return outcome.results.points.some((point) => point.status === 'failed') ? 1 : 0;
}
