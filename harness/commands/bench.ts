import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { probeHost } from '../../provisioning/host-probe.js';
import { DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET, validateTopologyConfig } from '../../provisioning/topology.js';
import { driverFor, parseTargetName, TARGET_NAMES } from '../../provisioning/targets/index.js';
import type { TargetName, TargetOptions } from '../../provisioning/types.js';
import { isSuiteName, SUITE_NAMES } from '../../suites/index.js';
import type { SuiteName } from '../../suites/types.js';
import { UsageError } from '../../core/errors.js';
import { randomSeed } from '../random.js';
import { runBench, type BenchOptions } from '../runner.js';
import { DEFAULT_CV_THRESHOLD } from '../statistics.js';
import { DEFAULT_MAX_WAIT_MS } from '../quiet-host.js';

export const DEFAULT_REPETITIONS = { quick: 3, full: 5 } as const;
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
  streams: { type: 'string' },
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
} as const;

export const BENCH_USAGE = `usage: npm run bench -- [--target NAME[,NAME…]|all] [--suite NAME[,NAME…]|all] [--quick|--full]
                      [--reps N] [--out DIR] [--seed N] [--streams N] [--storage volume|overlay]
                      [--accel auto|kvm|tcg] [--disk raw|qcow2] [--vcpus N] [--memory MiB] [--vm-manager qemu|libvirt]
                      [--subnet CIDR] [--guard-range CIDR] [--cv-threshold X] [--quiet-wait SECONDS]
targets: ${TARGET_NAMES.join(', ')}    suites: ${SUITE_NAMES.join(', ')}
With no --target and no --suite it runs the default quick matrix: every target this host can run, every suite.`;

function listOf<T extends string>(text: string, all: readonly T[], parse: (name: string) => T): T[] {
  if (text === 'all') return [...all];
  const names = text.split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('an empty list: name at least one, or all');
  return [...new Set(names.map(parse))];
}

function parseSuiteName(name: string): SuiteName {
  if (!isSuiteName(name)) throw new UsageError(`unknown suite "${name}": choose from ${SUITE_NAMES.join(', ')} or all`);
  return name;
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
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
}

/** Turns the command line into the run's options; every bad value is a UsageError naming the flag. */
export async function parseBenchOptions(argv: string[]): Promise<BenchOptions> {
  const { values } = parseFlags({ args: argv, options: FLAGS, strict: true });
  if (values.quick && values.full) throw new UsageError('--quick and --full contradict each other: choose one');
  const defaultMatrix = values.target === undefined && values.suite === undefined;
  const quick = values.full ? false : values.quick === true || defaultMatrix;
  const suites = listOf(values.suite ?? 'all', SUITE_NAMES, parseSuiteName);
  const targets = values.target === undefined ? await availableTargets() : listOf(values.target, TARGET_NAMES, parseTargetName);
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
    suiteOptions: { streams: integer('streams', values.streams, 1, 1, 128) },
    quietHost: { maxWaitMs: decimal('quiet-wait', values['quiet-wait'], DEFAULT_MAX_WAIT_MS / 1000, 0, 3600) * 1000 },
  };
}

/** The default matrix: every implemented target this host can run; say why the others are left out. */
async function availableTargets(): Promise<TargetName[]> {
  const host = await probeHost();
  const chosen: TargetName[] = [];
  for (const name of TARGET_NAMES) {
    const driver = driverFor(name);
    const reason = driver ? await driver.defaultAvailability(host) : 'not implemented yet';
    if (reason === null) chosen.push(name);
    else console.error(`leaving out ${name}: ${reason}`);
  }
  return chosen;
}

export async function benchCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(BENCH_USAGE);
    return 0;
  }
  const options = await parseBenchOptions(argv);
  console.error(
    `isobench: targets ${options.targets.join(', ')}; suites ${options.suites.join(', ')}; ` +
      `${options.quick ? 'quick (short durations)' : 'full (the papers\' durations)'}; ${options.repetitions} repetitions`,
  );
  const outcome = await runBench(options);
  const counts = new Map<string, number>();
  for (const point of outcome.results.points) counts.set(point.status, (counts.get(point.status) ?? 0) + 1);
  console.log(`results: ${outcome.resultsPath}`);
  try {
    const { writeReport } = await import('../../reports/write-report.js');
    const report = await writeReport([outcome.results], { out: outcome.resultsPath.replace(/\.json$/, '.html') });
    console.log(`report: ${report}`);
  } catch (error) {
    console.error(`isobench: the results are safe, but the report failed: ${(error as Error).message}`);
  }
  console.log(`points: ${[...counts].map(([status, count]) => `${count} ${status}`).join(', ')}`);
  console.log(`see them with: npm run results -- ${outcome.resultsPath} --format table`);
  return outcome.results.points.some((point) => point.status === 'failed') ? 1 : 0;
}
