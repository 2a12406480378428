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
import { randomSeed } from '../random.js';
import { runBench, type BenchOptions } from '../runner.js';
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
 * raw disk, 2 vCPUs, 2048 MiB, `--vm-manager qemu`, `--quiet-wait` 20 s.
 * @throws UsageError for an unknown flag, target or suite, a value out of range, `--quick` with
 *   `--full`, or a `--subnet`/`--guard-range` validateTopologyConfig refuses.
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
  return {
    targets,
    suites,
    quick,
    repetitions: integer('reps', values.reps, quick ? DEFAULT_REPETITIONS.quick : DEFAULT_REPETITIONS.full, 1, 1000),
    outDirectory: resolve(values.out ?? DEFAULT_OUT_DIRECTORY),
    seed: integer('seed', values.seed, randomSeed(), 0, 2 ** 31 - 1),
    cvThreshold: decimal('cv-threshold', values['cv-threshold'], DEFAULT_CV_THRESHOLD, 0, 10),
    subnet,
    guardRange,
    targetOptions,
    suiteOptions,
    quietHost: { maxWaitMs: decimal('quiet-wait', values['quiet-wait'], DEFAULT_MAX_WAIT_MS / 1000, 0, 3600) * 1000 },
  };
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
  console.error(
    `isobench: targets ${options.targets.map(({ id }) => id).join(', ')}; suites ${options.suites.map(({ name }) => name).join(', ')}; ` +
      `${options.quick ? 'quick (short durations)' : 'full (the papers\' durations)'}; ${options.repetitions} repetitions`,
  );
  const outcome = await runBench(options);
  const counts = new Map<string, number>();
  for (const point of outcome.results.points) counts.set(point.status, (counts.get(point.status) ?? 0) + 1);
  console.log(`results: ${outcome.resultsPath}`);
  try {
    const { writeReport } = await import('../../reports/write-report.js');
    const report = await writeReport([outcome.results], { out: outcome.resultsPath.replace(/\.json$/, '.html'), targetStyle: displayOf });
    console.log(`report: ${report}`);
  } catch (error) {
    console.error(`isobench: the results are safe, but the report failed: ${(error as Error).message}`);
  }
  console.log(`points: ${[...counts].map(([status, count]) => `${count} ${status}`).join(', ')}`);
  console.log(`see them with: npm run results -- ${outcome.resultsPath} --format table`);
  return outcome.results.points.some((point) => point.status === 'failed') ? 1 : 0;
}
