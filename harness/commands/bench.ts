import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { AnySuite, SuiteOptions } from '../../contracts/suite.js';
import type { TargetOptions } from '../../contracts/target.js';
import { UsageError } from '../../core/errors.js';
import { userPath } from '../../core/user-path.js';
import { allConfigurations, displayOf, parseTargetConfiguration } from '../../provisioning/targets/configuration.js';
import { DRIVERS, TARGET_NAMES } from '../../provisioning/targets/index.js';
import { DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET } from '../../provisioning/topology.js';
import { readResultsFile, writeResultsFile } from '../../results/store.js';
import { DEFAULT_SUITES, findSuite, SUITE_NAMES, SUITES } from '../../suites/index.js';
import { DEFAULT_MARGIN_PERCENT } from '../../results/verdict.js';
import { aaSummaryLines, withAaArms } from '../aa.js';
import { FIRST_LOOK_BUDGET_SECONDS, firstLook, parsePointList } from '../point-selection.js';
import { formatDuration } from '../progress.js';
import { DEFAULT_MAX_REPETITIONS, MIN_ADAPTIVE_REPETITIONS, verdictSummaryLine, type AdaptiveLimits } from '../adaptive.js';
import { parseDuration } from '../duration.js';
import { randomSeed } from '../random.js';
import { fitTargets, leftOutLine, unfitReason, type LeftOutTarget } from '../target-fit.js';
import { validateNetworkRanges } from '../network-range.js';
import { HostSet } from '../../hosts/host.js';
import { anyLabPlacement, LAB_DOCKER_SUITES, LAB_KVM_SUITES, LAB_SUITES, labResumeSelection, labSelection, refuseChangedLabHosts, type AnyLabSelection } from '../lab.js';
import { prepareOutputDirectory, removeCreated } from '../../core/output-directory.js';
import { phaseLines } from '../phases.js';
import { refuseBeforePlan } from './refusals.js';
import { parseFlags } from '../../core/flags.js';
import { nextResumeSession, readResumable, rebuildRun } from '../resume.js';
import { DEFAULT_MAX_STEAL_PERCENT, defaultBaseline, runBench, type BenchOptions } from '../runner.js';
import { DEFAULT_CV_THRESHOLD } from '../statistics.js';
import { DEFAULT_MAX_WAIT_MS } from '../quiet-host.js';

/** Trials per point when `--reps` is not given (README: 3 quick, 5 full). */
export const DEFAULT_REPETITIONS = { quick: 3, full: 5 } as const;
/** Where results files go without `--out`, relative to the working directory; not `results/`, which holds the schema's source. */
export const DEFAULT_OUT_DIRECTORY = 'runs';

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
  points: { type: 'string' },
  'max-steal': { type: 'string' },
  resume: { type: 'string' },
  // Lab mode (issue 14): an inventory and the hosts of the two roles (a migration run: --source, and the suite's --dest).
  hosts: { type: 'string' },
  server: { type: 'string' },
  client: { type: 'string' },
  source: { type: 'string' },
  help: { type: 'boolean' },
  // Each suite's own flags (e.g. --streams), from the registry.
  ...Object.fromEntries(SUITES.flatMap((suite) => suite.flags.map((flag) => [flag.name, { type: 'string' } as const]))),
} as const;

const SUITE_FLAG_USAGE = SUITES.flatMap((suite) => suite.flags.map((flag) => `[--${flag.name} ${flag.valueName}]`)).join(' ');

const OPT_IN_USAGE = [
  ...DRIVERS.filter((driver) => driver.optIn !== undefined).map((driver) => `--target all leaves out ${driver.name}: it ${driver.optIn}.`),
  ...SUITES.filter((suite) => suite.optIn !== undefined).map((suite) => `--suite all leaves out ${suite.name}: name it to run it (${suite.optIn}).`),
].join('\n');

/** `npm run bench -- --help`; targets, suites and suite flags come from the registries. */
export const BENCH_USAGE = `usage: npm run bench -- [--target NAME[:OPTION…][,…]|all] [--suite NAME[,NAME…]|all] [--quick|--full] | --resume RESULTS.json
                      [--reps N] [--out DIR] [--seed N] [--storage volume|overlay]
                      [--accel auto|kvm|tcg] [--disk raw|qcow2] [--vcpus N] [--memory MiB] [--vm-manager qemu|libvirt]
                      [--subnet CIDR] [--guard-range CIDR] [--cv-threshold PERCENT] [--quiet-wait SECONDS] ${SUITE_FLAG_USAGE}
                      [--baseline CONFIG] [--margin PERCENT] [--noise-floor PERCENT] [--aa]
                      [--until-decided|--no-until-decided] [--max-reps N] [--budget DURATION] [--max-steal PERCENT] [--points LIST]
targets: ${TARGET_NAMES.join(', ')}    suites: ${SUITE_NAMES.join(', ')}
${OPT_IN_USAGE}
A target may fix its own options after colons, one row each: --target native,docker-nat,docker-nat:overlay,kvm:qcow2
With no --target, --suite or --points it runs the first look: every target this host can run, quick, the headline point of
tcp-bulk, tcp-rr and random-io, 3 repetitions then until decided within --budget 5m. --suite all runs every point of every suite.
--points SUITE/POINT[,…] runs only those points (e.g. random-io/randread); with --suite, of those suites.
--resume RESULTS.json finishes an interrupted run in that file, with the file's own plan, seed and options.
--hosts FILE [--server NAME] [--client NAME]: lab mode: native, the Docker targets and kvm on the server host, the client on the client host, over SSH
  (so far native with ${LAB_SUITES.join(', ')}; docker-host and docker-nat with ${LAB_DOCKER_SUITES.join(', ')}; kvm with ${LAB_KVM_SUITES.join(", ")}; startup's points skipped, saying why; see README).
--hosts FILE --target kvm --suite migration [--source NAME] [--dest NAME] [--client NAME]: lab mode's live migration of the kvm guest
  between two hosts with a shared-dir, watched from the client host's echo probe when there is one (see README).`;

/**
 * A comma-separated list (or `all`), parsed item by item.
 * @param what Completes "name each … once", e.g. `configuration`.
 * @throws UsageError for an empty list, `all` inside a list, an item `parse` refuses, or an item
 *   named twice (by `keyOf`): dropping it would leave the recorded command line, which a report
 *   prints to reproduce the run, naming it twice.
 */
function listOf<T>(flag: string, what: string, text: string, all: () => T[], parse: (name: string) => T, keyOf: (item: T) => string): T[] {
  if (text === 'all') return all();
  const names = text.split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`--${flag} "${text}" names nothing: name at least one, or all`);
  // `all` stands alone; inside a list it would read as an unknown name and the hint "or all" would contradict it.
  if (names.includes('all')) throw new UsageError(`--${flag} ${text}: all stands alone (it already includes every one); give --${flag} all, or a list without it`);
  const items = new Map<string, T>();
  for (const item of names.map(parse)) {
    const key = keyOf(item);
    if (items.has(key)) throw new UsageError(`--${flag} names ${key} twice: name each ${what} once`);
    items.set(key, item);
  }
  return [...items.values()];
}

function parseSuite(name: string): AnySuite {
  const suite = findSuite(name);
  if (!suite) throw new UsageError(`unknown suite "${name}": choose from ${SUITE_NAMES.join(', ')} or all`);
  return suite;
}

/** Each suite flag's name and the suites that declare it, in SUITES order. */
function suiteFlagOwners(): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const suite of SUITES) for (const flag of suite.flags) owners.set(flag.name, [...(owners.get(flag.name) ?? []), suite.name]);
  return owners;
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

/**
 * Plain decimal notation only: `Number()` reads "" as 0, "1e3" as 1000 and "0x3" as 3, so an empty or
 * odd value would silently become a seed of 0 or a thousand repetitions.
 */
const WHOLE_NUMBER = /^\d+$/;
const DECIMAL_NUMBER = /^-?(\d+\.?\d*|\.\d+)$/;

/** `--out ""` would resolve to the working directory (the source tree under npm run): refused instead. */
function outDirectory(text: string | undefined): string {
  if (text !== undefined && text.trim() === '') throw new UsageError('--out takes a directory, not an empty value: give a path, or leave --out out for runs/');
  // A directory typed in a subdirectory is that directory's; the default `runs/` is the package root's.
  return text === undefined ? resolve(DEFAULT_OUT_DIRECTORY) : userPath(text);
}

function integer(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = WHOLE_NUMBER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${flag} takes a whole number from ${min} to ${max}, not "${text}"`);
  return value;
}

function decimal(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = DECIMAL_NUMBER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value) || value < min || value > max) throw new UsageError(`--${flag} takes a number from ${min} to ${max}, not "${text}"`);
  return value;
}

/** A percentage in (0, 100]: margins and noise floors of zero would make every difference a verdict. */
function percent(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = DECIMAL_NUMBER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value) || value <= 0 || value > 100) throw new UsageError(`--${flag} takes a percentage above 0 and at most 100, not "${text}"`);
  return value;
}

function choice<T extends string>(flag: string, text: string | undefined, choices: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`--${flag} takes one of ${choices.join(', ')}, not "${text}"`);
  return text as T;
}

/**
 * Turns the command line into the run's options; every bad value is a UsageError naming the flag.
 * With neither `--target` nor `--suite` it is the default matrix: quick, every suite, and every
 * registered target as a candidate (`defaultMatrix`: the runner installs what they need and leaves
 * out those this host cannot run, saying why); with no `--points` either it is the first look: only
 * the suites' `firstLook` points (harness/point-selection.ts) and `--budget` 5m unless given.
 * `--points` keeps only the points it names, and without `--suite` only their suites. Defaults: volume storage, accel auto, raw disk, 2
 * vCPUs, 2048 MiB, `--vm-manager qemu`, `--quiet-wait` 20 s, baseline `native` (else the first
 * target), `--margin` 5 %, no noise floor, `--max-steal` 10 %, `--until-decided` in quick runs of 3
 * or more `--reps` only, `--max-reps` 10 quick / 20 full (never below `--reps`), no budget (the first look: 5m). `command`
 * is `argv` as given. `--resume FILE` takes everything from the file instead (see resumeBenchOptions).
 * A target that can run none of the suites (a suite's `onlyTargets`, a driver's `onlySuites`) is not
 * in `targets` but in `leftOut`, with the reason, for `bench` to print (harness/target-fit.ts).
 * @throws UsageError for an unknown flag, target or suite, a target configuration or suite named
 *   twice (`--target native,native`), a value out of range, `--quick` with
 *   `--full`, a named target that runs only other suites, no target left that can run the suites
 *   (`--target native --suite migration`), a `--subnet`/`--guard-range` validateNetworkRanges
 *   refuses, `--aa` without exactly one target, a `--baseline` not among the targets, or an
 *   inconsistent adaptive setting (see adaptiveLimits), a suite's flag without its suite, or a
 *   migration `--wws` that does not fit in the kvm guest's `--memory`, or a `--points` item that is
 *   not a point of the run's suites (parsePointList).
 */
export async function parseBenchOptions(argv: string[]): Promise<BenchOptions & { lab?: AnyLabSelection; leftOut?: LeftOutTarget[] }> {
  const { values } = parseFlags({ args: argv, options: FLAGS, strict: true }, 'npm run bench -- --help', 'name targets and suites with --target and --suite');
  if (values.resume !== undefined) return resumeBenchOptions(values.resume === '' ? '' : userPath(values.resume), argv);
  if (values.quick && values.full) throw new UsageError('--quick and --full contradict each other: choose one');
  const defaultMatrix = values.target === undefined && values.suite === undefined;
  // A bare `npm run bench`: the first look, each suite's headline point within a 5-minute budget.
  const firstLookRun = defaultMatrix && values.points === undefined;
  const quick = values.full ? false : values.quick === true || defaultMatrix;
  let suites = listOf('suite', 'suite', values.suite ?? 'all', () => [...DEFAULT_SUITES], parseSuite, (suite) => suite.name);
  const suiteOptions = parseSuiteOptions(values);
  let points: string[] | null = null;
  if (values.points !== undefined) {
    const cores = availableParallelism();
    ({ suites, points } = parsePointList(values.points, suites, values.suite !== undefined, (suite) => ({ quick, cores, options: suiteOptions.get(suite.name) ?? {} })));
  } else if (firstLookRun) {
    ({ suites, points } = firstLook(suites));
  }
  const given = values.target === undefined
    ? allConfigurations()
    : listOf('target', 'configuration', values.target, allConfigurations, parseTargetConfiguration, (configuration) => configuration.id);
  for (const { id, driver } of given) {
    const others = driver.onlySuites ? suites.filter((suite) => !driver.onlySuites!.includes(suite.name)) : [];
    if (others.length > 0) {
      throw new UsageError(`${id} runs only the ${driver.onlySuites!.join(', ')} suite, not ${others.map((suite) => suite.name).join(', ')}: run it with --suite ${driver.onlySuites!.join(',')}`);
    }
  }
  // Before anything is installed or provisioned: a target that can run none of the suites (docker-nat
  // with --suite migration) would only skip every point, so the plan leaves it out.
  const fitted = fitTargets(given, suites);
  const leftOut = [...fitted.leftOut];
  let targets = fitted.kept;
  const everyTarget = values.target === undefined || values.target === 'all';
  // Lab mode migrates only the kvm guest (runc-criu's containers stay on this machine): the general advice would name both.
  if (targets.length === 0 && values.hosts !== undefined && suites.some((suite) => suite.name === 'migration')) {
    throw new UsageError(`lab mode migrates the kvm target between hosts, not ${given.map(({ id }) => id).join(', ')}: use --target kvm --suite migration --source HOST --dest HOST`);
  }
  if (targets.length === 0) throw new UsageError(noFittingTarget(values.target, suites, leftOut));
  // A suite's flag without the suite would be ignored without a word (a newcomer's `--bandwidth 64
  // --suite tcp-rr` ran tcp-rr and exited 0).
  for (const [flag, owners] of suiteFlagOwners()) {
    if ((values as Record<string, unknown>)[flag] === undefined || suites.some((suite) => owners.includes(suite.name))) continue;
    const which = owners.length === 1 ? `the ${owners[0]} suite` : `the ${owners.join(', ')} suites`;
    throw new UsageError(`--${flag} is a flag of ${which}, which this run does not include: add --suite ${owners[0]}, or leave --${flag} out`);
  }
  const subnet = values.subnet ?? DEFAULT_TEST_SUBNET;
  const guardRange = values['guard-range'] ?? DEFAULT_GUARD_RANGE;
  validateNetworkRanges({ subnet, guardRange });
  const targetOptions: TargetOptions = {
    storage: choice('storage', values.storage, ['volume', 'overlay'] as const, 'volume'),
    accel: choice('accel', values.accel, ['auto', 'kvm', 'tcg'] as const, 'auto'),
    disk: choice('disk', values.disk, ['raw', 'qcow2'] as const, 'raw'),
    vcpus: integer('vcpus', values.vcpus, 2, 1, 256),
    memoryMiB: integer('memory', values.memory, 2048, 256, 1_048_576),
    vmManager: choice('vm-manager', values['vm-manager'], ['qemu', 'libvirt'] as const, 'qemu'),
    quick,
  };
  const migrating = suites.some((suite) => suite.name === 'migration');
  const dest = suiteOptions.get('migration')?.dest;
  // As `--target kvm:raw` is refused (harness/lab.ts): a typed run-wide --disk raw would be ignored, the row labelled qcow2.
  if (values.hosts !== undefined && values.disk === 'raw' && targets.some(({ driver }) => driver.name === 'kvm')) {
    throw new UsageError('lab mode\'s kvm guest boots from a qcow2 overlay over the image on the host (a raw disk would cross the link at its full size), not --disk raw: leave --disk out, or use --disk qcow2');
  }
  // In lab mode --dest names the inventory host a migration goes to (harness/lab-migration.ts).
  const lab = await labSelection({ ...values, dest: values.hosts !== undefined && typeof dest === 'string' ? dest : undefined }, guardRange, targets.map(({ id }) => id), suites.map(({ name }) => name), targetOptions.vmManager, everyTarget);
  if (lab?.kind === 'load' && lab.leftOut.length > 0) {
    leftOut.push(...lab.leftOut);
    targets = targets.filter(({ id }) => !lab.leftOut.some((left) => left.id === id));
  }
  if (typeof dest === 'string' && lab === null && !dest.includes('://')) throw new UsageError(`--dest ${dest} names an inventory host: give the inventory with --hosts FILE, or a libvirt URI with --vm-manager libvirt`);
  // --dest belongs to libvirt's migration: without it the migration would silently stay on this host.
  if (dest !== undefined && lab === null && (targetOptions.vmManager !== 'libvirt' || !migrating)) {
    throw new UsageError('--dest is the destination libvirtd of a libvirt migration: add --vm-manager libvirt --suite migration, or leave --dest out');
  }
  // The dirtier maps its working set inside the guest: one as large as the guest cannot be mapped
  // (`--wws 4096 --memory 512` booted a guest, then failed the point on the dirtier's mmap).
  const migration = suiteOptions.get('migration') as { wws?: number; workload?: string } | undefined;
  if (migrating && migration?.workload?.split(',').includes('dirty') && migration.wws !== undefined && migration.wws >= targetOptions.memoryMiB && targets.some(({ driver }) => driver.name === 'kvm')) {
    throw new UsageError(`--wws ${migration.wws} MiB does not fit in the kvm guest's ${targetOptions.memoryMiB} MiB (--memory): choose a --wws well below --memory, or a larger --memory`);
  }
  if (dest === undefined && lab === null && migrating && targetOptions.vmManager === 'libvirt' && targets.some(({ driver }) => driver.name === 'kvm')) {
    throw new UsageError('a libvirt migration needs its destination: add --dest URI (e.g. qemu+ssh://host/system), or use --vm-manager qemu');
  }
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
    defaultMatrix,
    suites,
    points,
    quick,
    repetitions,
    outDirectory: outDirectory(values.out),
    seed: integer('seed', values.seed, randomSeed(), 0, 2 ** 31 - 1),
    // In percent, as --margin and --noise-floor are (it was a fraction: `--cv-threshold 5` meant 500 %).
    cvThreshold: values['cv-threshold'] === undefined ? DEFAULT_CV_THRESHOLD : percent('cv-threshold', values['cv-threshold'])! / 100,
    subnet,
    guardRange,
    targetOptions,
    suiteOptions,
    quietHost: { maxWaitMs: quietWaitMs(values['quiet-wait']) },
    mode: aa ? 'aa' : 'compare',
    // In the default matrix, unset unless named: the runner takes native, else the first target
    // that can run (some may be left out). In an A/A run the first arm is the baseline whatever was named.
    ...(values.baseline !== undefined || !defaultMatrix ? { baseline: values.baseline ?? defaultBaseline(ids) } : {}),
    marginPercent: percent('margin', values.margin) ?? DEFAULT_MARGIN_PERCENT,
    noiseFloorPercent: percent('noise-floor', values['noise-floor']) ?? null,
    adaptive: adaptiveLimits(values, quick, repetitions, firstLookRun ? FIRST_LOOK_BUDGET_SECONDS : null),
    maxStealPercent: maxSteal(values['max-steal']),
    command: [...argv],
    ...(lab ? { lab } : {}),
    leftOut,
  };
}

/**
 * The one line when no target given can run the chosen suites, e.g. `native cannot run --suite
 * migration: the migration suite runs only on kvm and runc-criu; name a target that can: --target kvm or --target runc-criu`.
 */
function noFittingTarget(target: string | undefined, suites: readonly AnySuite[], leftOut: readonly LeftOutTarget[]): string {
  const subject = target === undefined || target === 'all' ? 'no target of --target all can' : `${leftOut.map(({ id }) => id).join(', ')} cannot`;
  const reasons = [...new Set(leftOut.flatMap((target) => target.reasons))].join('; ');
  // Those --target all runs first, then the opt-in ones (runc-criu).
  const able = DRIVERS.filter((driver) => suites.some((suite) => unfitReason(driver, suite) === null))
    .sort((a, b) => Number(a.optIn !== undefined) - Number(b.optIn !== undefined));
  const fix = able.length > 0 ? `name a target that can: ${able.map(({ name }) => `--target ${name}`).join(' or ')}` : 'no registered target can: choose other suites with --suite';
  return `${subject} run --suite ${suites.map(({ name }) => name).join(',')}: ${reasons}; ${fix}`;
}

const quietWaitMs = (text: string | undefined) => decimal('quiet-wait', text, DEFAULT_MAX_WAIT_MS / 1000, 0, 3600) * 1000;
const maxSteal = (text: string | undefined) => decimal('max-steal', text, DEFAULT_MAX_STEAL_PERCENT, 0, 100);

/**
 * `--resume FILE`: the options of the run the file describes, from the file alone: targets, suites,
 * their options, repetitions, seed, thresholds, baseline, margin, noise floor and adaptive limits
 * from its plan; `--quiet-wait` and `--max-steal` (which the plan does not store) from the command
 * line it records. Nothing else may be given. A lab run's `--hosts`, `--server` and `--client` come
 * from that command line too: the inventory is read again and its two hosts must be the file's
 * (harness/lab.ts's labResumeSelection); the returned `lab` makes `bench` place the run there again.
 * @throws UsageError for another flag beside `--resume`, a completed run, a file not named after
 *   its run id, a lab run whose inventory is missing or whose hosts differ from the file's, or a plan this isobench cannot rebuild (a target or suite no longer registered, an
 *   option no longer accepted); ResultsFormatError (exit 2) for a file that is not a results file.
 */
export async function resumeBenchOptions(file: string, argv: readonly string[]): Promise<BenchOptions & { lab?: AnyLabSelection }> {
  const others = argv.filter((arg) => arg.startsWith('--') && !/^--resume(=|$)/.test(arg)).map((arg) => arg.split('=')[0]!);
  if (others.length > 0) {
    throw new UsageError(`--resume takes the plan, seed and options from the results file: drop ${[...new Set(others)].join(' ')}`);
  }
  if (file === '') throw new UsageError('--resume needs the results file of the run to finish: --resume runs/RUN-ID.json');
  const state = await readResumable(file);
  const { plan } = state.results;
  const run = rebuildRun(state, parseSuiteOptions);
  let recorded: { values: Record<string, unknown> };
  try {
    // Read as the run's own command line was (parseFlags: `--out -1` is the directory -1).
    recorded = parseFlags({ args: plan.command, options: FLAGS, strict: true });
  } catch (error) {
    throw new UsageError(`cannot rebuild the plan of ${file}: its command line (${plan.command.join(' ')}) no longer parses (${(error as Error).message.split('\n')[0]}); start a new run`, { cause: error });
  }
  // A lab run continues on the hosts it measured on: its inventory is read again and checked against the file.
  const lab = recorded.values.hosts !== undefined
    ? await labResumeSelection(file, recorded.values, state.results.hosts, run.guardRange, run.targets.map(({ id }) => id), run.suites.map(({ name }) => name))
    : null;
  let checked: { quietWait: number; steal: number };
  try {
    checked = { quietWait: quietWaitMs(recorded.values['quiet-wait'] as string | undefined), steal: maxSteal(recorded.values['max-steal'] as string | undefined) };
    validateNetworkRanges({ subnet: run.subnet, guardRange: run.guardRange });
  } catch (error) {
    throw new UsageError(`cannot rebuild the plan of ${file}: ${(error as Error).message}; start a new run`, { cause: error });
  }
  return {
    targets: run.targets,
    suites: run.suites,
    points: plan.points ?? null,
    quick: plan.quick,
    repetitions: plan.repetitions,
    outDirectory: resolve(file, '..'),
    seed: plan.seed,
    cvThreshold: plan.cvThreshold,
    subnet: run.subnet,
    guardRange: run.guardRange,
    targetOptions: run.targetOptions,
    suiteOptions: run.suiteOptions,
    quietHost: { maxWaitMs: checked.quietWait },
    mode: plan.mode,
    baseline: plan.baseline,
    marginPercent: plan.marginPercent,
    noiseFloorPercent: plan.noiseFloorPercent,
    adaptive: plan.adaptive,
    maxStealPercent: checked.steal,
    command: plan.command,
    resume: state,
    ...(lab ? { lab } : {}),
  };
}

/**
 * `--until-decided` (default in quick runs whose `--reps` is at least 3), `--max-reps` and `--budget`,
 * or null when adaptive repetitions are off.
 * @throws UsageError for a malformed `--max-reps` or `--budget` (checked first), both `--until-decided`
 *   and `--no-until-decided`, `--max-reps` or `--budget` without adaptive repetitions, fewer than 3
 *   `--reps`, a `--max-reps` below `--reps`.
 */
function adaptiveLimits(
  values: { 'until-decided'?: boolean; 'no-until-decided'?: boolean; 'max-reps'?: string; budget?: string },
  quick: boolean,
  repetitions: number,
  defaultBudgetSeconds: number | null,
): AdaptiveLimits | null {
  if (values['until-decided'] && values['no-until-decided']) throw new UsageError('--until-decided and --no-until-decided contradict each other: choose one');
  // A malformed value is said first, whatever else is wrong: `--budget 5x` without --quick was told
  // to add --until-decided, only to be refused for the value after doing so.
  const givenMaxRepetitions = values['max-reps'] === undefined ? undefined : integer('max-reps', values['max-reps'], 0, 1, 1000);
  const givenBudgetSeconds = values.budget === undefined ? undefined : budgetSecondsOf(values.budget);
  // On by default in quick runs, unless --reps asks for fewer rounds than a verdict needs (a smoke run).
  const on = values['until-decided'] === true || (quick && values['no-until-decided'] !== true && repetitions >= MIN_ADAPTIVE_REPETITIONS);
  if (!on) {
    const stray = givenMaxRepetitions !== undefined ? '--max-reps' : givenBudgetSeconds !== undefined ? '--budget' : null;
    if (stray) throw new UsageError(`${stray} limits --until-decided, which is off in this run: add --until-decided or drop ${stray}`);
    return null;
  }
  if (repetitions < MIN_ADAPTIVE_REPETITIONS) {
    throw new UsageError(`--until-decided needs at least ${MIN_ADAPTIVE_REPETITIONS} rounds before it judges: raise --reps to ${MIN_ADAPTIVE_REPETITIONS} or add --no-until-decided`);
  }
  const fallback = Math.max(quick ? DEFAULT_MAX_REPETITIONS.quick : DEFAULT_MAX_REPETITIONS.full, repetitions);
  // A quick run's default adaptivity with --reps at or above its cap would add no round ("20
  // repetitions, then until decided (up to 20)", a newcomer's check): a plain run says what it is.
  if (values['until-decided'] !== true && givenMaxRepetitions === undefined && givenBudgetSeconds === undefined && fallback === repetitions) return null;
  const maxRepetitions = givenMaxRepetitions ?? fallback;
  if (maxRepetitions < repetitions) throw new UsageError(`--max-reps ${maxRepetitions} is below --reps ${repetitions}: raise --max-reps`);
  const budgetSeconds = givenBudgetSeconds ?? defaultBudgetSeconds;
  return { maxRepetitions, budgetSeconds };
}

/** `--budget`'s seconds; a UsageError saying how a duration is written (parseDuration's words) otherwise. */
function budgetSecondsOf(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new UsageError(`--budget ${(error as Error).message}`, { cause: error });
  }
}

/**
 * `npm run bench`: runs the plan (or, with `--resume`, the rest of one), writes the results file and
 * its HTML report beside it, and prints where they are and how long each phase took. The results
 * directory is checked before anything else (within a second, however broken the path). A report
 * that fails is reported, not fatal: the results file is already written.
 * @param seams Test seams passed on to runBench (host, availability, tools, …); none in real use.
 * @returns The exit code: 1 when any point failed, else 0 (`--help` too).
 * @throws UsageError for bad flags; whatever runBench throws.
 */
export async function benchCommand(argv: string[], seams?: BenchOptions['seams']): Promise<number> {
  if (argv.includes('--help')) {
    console.log(BENCH_USAGE);
    return 0;
  }
  const { lab, leftOut, ...parsed } = await parseBenchOptions(argv);
  const options: BenchOptions = { ...parsed, ...(seams ? { seams } : {}) };
  const output = await prepareOutputDirectory(options.outDirectory);
  // Before any line is printed: a refusal is the run's one line (runBench checks again, for its other callers).
  await refuseBeforePlan(options, lab !== undefined).catch(async (error: unknown) => {
    await removeCreated(output.created);
    throw error;
  });
  // Lab mode: the hosts' shared SSH connections are opened (lazily, at the first command) here and closed below.
  const hosts = lab ? await HostSet.open(lab.inventory.hosts, lab.inventory.sshConfig ? { configFile: lab.inventory.sshConfig } : {}) : undefined;
  if (lab && hosts) {
    options.placement = anyLabPlacement(lab, hosts, options.targets.map(({ id }) => id));
    // A resumed lab run continues only on the machines it measured, as a single-host resume does.
    if (options.resume) {
      await refuseChangedLabHosts(options.resume.path, options.resume.results.hosts, lab, (name) => hosts.get(name)).catch(async (error: unknown) => {
        await hosts.close();
        await removeCreated(output.created);
        throw error;
      });
    }
  }
  const budget = options.adaptive?.budgetSeconds != null ? `, budget ${formatDuration(options.adaptive.budgetSeconds * 1000)}` : '';
  const adaptive = options.adaptive ? `, then until decided (up to ${options.adaptive.maxRepetitions}${budget})` : '';
  const targets = options.targets.map(({ id }) => id).join(', ');
  for (const target of leftOut ?? []) console.error(leftOutLine(target));
  console.error(
    `isobench: ${options.resume ? `resuming ${options.resume.path}: ` : ''}` +
      `targets ${options.defaultMatrix ? `every one this host can run of ${targets}` : targets}${options.mode === 'aa' ? ' (A/A: two arms of one target)' : ''}; ` +
      (options.points
        ? `points ${options.points.join(', ')}${options.defaultMatrix && !argv.includes('--points') && !options.resume ? ' (the first look; --suite all runs every point)' : ''}; `
        : `suites ${options.suites.map(({ name }) => name).join(', ')}; `) +
      `${options.quick ? 'quick (short durations)' : 'full (the papers\' durations)'}; ${options.repetitions} repetitions${adaptive}`,
  );
  let outcome;
  try {
    outcome = await runBench(options);
  } catch (error) {
    // Refused before the results file was written: leave no empty directory behind either.
    await removeCreated(output.created);
    throw error;
  } finally {
    await hosts?.close();
  }
  const counts = new Map<string, number>();
  for (const point of outcome.results.points) counts.set(point.status, (counts.get(point.status) ?? 0) + 1);
  console.log(`results: ${outcome.resultsPath}`);
  const report = await writeBenchReport(outcome.resultsPath, options.resume ? `resume ${nextResumeSession(options.resume.results)}: ` : '');
  if (report) console.log(`report: ${report}`);
  console.log(`points: ${[...counts].map(([status, count]) => `${count} ${status}`).join(', ')}`);
  const final = await readResultsFile(outcome.resultsPath).catch(() => outcome.results);
  const verdicts = verdictSummaryLine(final);
  if (verdicts) console.log(verdicts);
  for (const line of aaSummaryLines(final)) console.log(line);
  for (const line of phaseLines(final.phases ?? [])) console.log(line);
  console.log(`see them with: npm run results -- ${outcome.resultsPath}`);
  return final.points.some((point) => point.status === 'failed') ? 1 : 0;
}

/**
 * Writes the report beside the results file and records its time as the run's `report` phase. The
 * report carries the results file's sha256, so it is rendered again after the phase is added: the
 * file a reader holds is the one whose hash the report shows (rendering takes well under a second
 * once vega is loaded). Returns the report's path, or null when it failed (said on stderr).
 */
async function writeBenchReport(resultsPath: string, phasePrefix: string): Promise<string | null> {
  const render = async () => {
    const { reportPathBeside, writeReport } = await import('../../reports/write-report.js');
    const { loadResultsSource } = await import('../../reports/model/source.js');
    // Read back from disk: the sha256 under each figure is of the file a reader will hold.
    const { results, source } = await loadResultsSource(resultsPath);
    return writeReport([results], { out: reportPathBeside([resultsPath]), targetStyle: withAaArms(displayOf), sources: [source] });
  };
  const begin = performance.now();
  try {
    await render();
    const results = await readResultsFile(resultsPath);
    results.phases = [...(results.phases ?? []), { name: `${phasePrefix}report`, ms: Math.round(performance.now() - begin) }];
    await writeResultsFile(resultsPath, results);
    return await render();
  } catch (error) {
    console.error(`isobench: the results are safe, but the report failed: ${(error as Error).message}`);
    return null;
  }
}
