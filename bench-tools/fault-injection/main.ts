import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCommand } from '../../core/exec.js';
import { writeJsonAtomic } from '../../core/json-file.js';
import { DRIVERS } from '../../provisioning/targets/index.js';
import { DEFAULT_SUITES, SUITES } from '../../suites/index.js';
import { drawDelayMs, injectKill, REPO_ROOT, type KillOutcome, type KillPlan } from './inject.js';

/**
 * `npm run fault-injection -- --kills N --seed S [--target LIST] [--suite LIST] [--out DIR] [--heavy-lock PATH|none]`:
 * kills N short bench runs at seeded moments, one target × suite after another, and counts what
 * `npm run cleanup` failed to remove. Writes DIR/fault-injection.json. Exit 0: no leak; 1: leaks; 2: bad input.
 */


/**
 * First guess, in seconds, of how long the shortest run of a target × suite lasts on the
 * development machine (2-core VM, TCG guests; from this tool's own runs, 2026-11-30). A kill is drawn
 * uniformly in [0.5 s, guess]; a run that ends first lowers the guess to 90 % of its length and
 * the kill is drawn again.
 */
const DURATION_GUESS_S: Record<string, number> = { native: 15, 'docker-host': 20, 'docker-nat': 20, kvm: 60 };
const SUITE_EXTRA_S: Record<string, number> = { 'random-io': 10, mysql: 10, startup: 6 };
/** Draws for one kill before it is given up as missed (each lowers the guess). */
const MAX_DRAWS = 4;

/** The campaign's record, as written to fault-injection.json. */
export interface CampaignRecord {
  seed: number;
  /** The isobench commit the campaign started on (`git describe --always --dirty`): cleanup's code under test. */
  commit: string;
  startedAt: string;
  finishedAt?: string;
  faultsInjected: number;
  leaksFound: number;
  /** Every leak, `target/suite @ s: category: item`. */
  leaks: string[];
  /** New items gone again 5 s later (concurrent light work, an orphan ending itself): named, not counted. */
  transient?: string[];
  /** Draws whose run ended before the kill (not faults). */
  missed: number;
  kills: KillOutcome[];
}

function fail(message: string): never {
  console.error(`fault-injection: ${message}`);
  process.exit(2);
}

function list(value: string | undefined, all: readonly string[], what: string, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback];
  const names = value === 'all' ? [...fallback] : value.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !all.includes(name));
  if (unknown.length > 0 || names.length === 0) fail(`unknown ${what} ${unknown.join(',') || '(none)'}: choose from ${all.join(', ')}`);
  return names;
}

function integer(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) fail(`--${name} ${value}: give a whole number from ${min} to ${max}`);
  return number;
}

/**
 * Runs kills in a child process under `flock LOCK`: the first always, the next ones only while the
 * hold has lasted less than `holdMs` (0: exactly one kill per take of the lock, so other heavy work
 * interleaves between kills). Without a lock (the caller holds it) they run here.
 * @returns The outcomes of the kills that ran, in order (at least one).
 */
async function injectUnderLock(plans: readonly KillPlan[], lock: string | null, holdMs: number, log: (line: string) => void): Promise<KillOutcome[]> {
  if (lock === null) return [await injectKill(plans[0]!, log)];
  const batchDirectory = plans[0]!.outDirectory;
  await mkdir(batchDirectory, { recursive: true });
  const planPath = join(batchDirectory, 'plans.json');
  const outcomePath = join(batchDirectory, 'outcomes.json');
  await writeJsonAtomic(planPath, { plans, holdMs });
  await rm(outcomePath, { force: true });
  const child = await runCommand(['flock', lock, process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench-tools', 'fault-injection', 'main.ts'), '--batch', planPath, '--batch-out', outcomePath],
    { cwd: REPO_ROOT, timeoutMs: 4 * 60 * 60_000 });
  for (const line of child.stdout.trimEnd().split('\n').filter(Boolean)) log(line);
  const outcomes = JSON.parse(await readFile(outcomePath, 'utf8').catch(() => '[]')) as KillOutcome[];
  if (!child.ok || outcomes.length === 0) throw new Error(`the kill of ${plans[0]!.target}/${plans[0]!.suite} failed: ${child.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return outcomes;
}

/** The child half of injectUnderLock, already under the lock. */
async function runBatch(planPath: string, outcomePath: string): Promise<void> {
  const { plans, holdMs } = JSON.parse(await readFile(planPath, 'utf8')) as { plans: KillPlan[]; holdMs: number };
  const started = performance.now();
  const outcomes: KillOutcome[] = [];
  for (const plan of plans) {
    if (outcomes.length > 0 && performance.now() - started >= holdMs) break;
    console.log(`kill ${plan.outDirectory.split('/').at(-1)}: ${plan.target}/${plan.suite} at ${(plan.delayMs / 1000).toFixed(1)} s`);
    try {
      outcomes.push(await injectKill(plan, (line) => console.log(line)));
    } catch (error) {
      // The batch ends here; the kills before it are kept and this one is planned again.
      console.log(`  the kill failed: ${(error as Error).stack ?? String(error)}`);
      break;
    }
    await writeJsonAtomic(outcomePath, outcomes);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string' }, seed: { type: 'string' }, target: { type: 'string' }, suite: { type: 'string' },
      out: { type: 'string' }, 'heavy-lock': { type: 'string' }, 'skip-cleanup': { type: 'boolean' },
      'lock-hold': { type: 'string' }, batch: { type: 'string' }, 'batch-out': { type: 'string' },
    },
    strict: true,
  });
  if (values.batch !== undefined) {
    await runBatch(values.batch, values['batch-out']!);
    return 0;
  }
  if (process.getuid?.() !== 0) fail('run as root: the bench and cleanup build and remove namespaces, rules and containers');
  const targets = list(values.target, DRIVERS.map((driver) => driver.name), 'target', DRIVERS.map((driver) => driver.name));
  const suites = list(values.suite, SUITES.map((suite) => suite.name), 'suite', DEFAULT_SUITES.map((suite) => suite.name)); // the opt-in migration suite only when named
  const kills = integer(values.kills, 'kills', targets.length * suites.length, 1, 10_000);
  const seed = integer(values.seed, 'seed', 1, 0, 2 ** 32 - 1);
  const lock = values['heavy-lock'] === 'none' ? null : values['heavy-lock'] ?? '/tmp/isobench-heavy.lock';
  const out = values.out ?? `/tmp/isobench-fault-injection/seed-${seed}-${new Date().toISOString().replace(/[:.]/g, '')}`;
  await mkdir(out, { recursive: true });
  const holdMs = integer(values['lock-hold'], 'lock-hold', 0, 0, 3600) * 1000;
  const guessS = new Map<string, number>();
  const commit = (await runCommand(['git', 'describe', '--always', '--dirty'], { cwd: REPO_ROOT, timeoutMs: 10_000 })).stdout.trim() || 'unknown';
  const record: CampaignRecord = { seed, commit, startedAt: new Date().toISOString(), faultsInjected: 0, leaksFound: 0, leaks: [], missed: 0, kills: [] };
  const recordPath = join(out, 'fault-injection.json');
  const pairs = targets.flatMap((target) => suites.map((suite) => ({ target, suite })));
  const guessOf = (target: string, suite: string) => guessS.get(`${target}/${suite}`) ?? (DURATION_GUESS_S[target] ?? 30) + (SUITE_EXTRA_S[suite] ?? 0);
  const planOf = ({ index, draw }: { index: number; draw: number }): KillPlan => {
    const { target, suite } = pairs[index % pairs.length]!;
    return {
      target, suite, seed: seed + index, delayMs: drawDelayMs(seed, index, draw, guessOf(target, suite)),
      outDirectory: join(out, `kill-${index + 1}-${target}-${suite}-draw-${draw}`), ...(values['skip-cleanup'] ? { skipCleanup: true } : {}),
    };
  };
  const queue = Array.from({ length: kills }, (_, index) => ({ index, draw: 1 }));
  while (queue.length > 0) {
    // With a hold, every queued kill is planned; the child runs as many as fit in the hold.
    const batch = queue.slice(0, holdMs > 0 ? queue.length : 1);
    const outcomes = await injectUnderLock(batch.map(planOf), lock, holdMs, (line) => console.log(line));
    const done = queue.splice(0, outcomes.length);
    for (const [position, outcome] of outcomes.entries()) {
      const { index, draw } = done[position]!;
      const key = `${outcome.plan.target}/${outcome.plan.suite}`;
      record.kills.push(outcome);
      if (outcome.kind === 'missed') {
        record.missed++;
        guessS.set(key, Math.max(1, (Math.min(guessOf(outcome.plan.target, outcome.plan.suite) * 1000, outcome.runMs) / 1000) * 0.9));
        console.log(`  missed: the run ended after ${(outcome.runMs / 1000).toFixed(1)} s (exit ${outcome.exitCode}): ${outcome.lastLines.split('\n').at(-1)?.slice(0, 120)}`);
        if (draw < MAX_DRAWS) queue.unshift({ index, draw: draw + 1 });
        continue;
      }
      record.faultsInjected++;
      record.leaksFound += outcome.leaks.length;
      for (const leak of outcome.leaks) record.leaks.push(`${key} @ ${(outcome.killedAtMs / 1000).toFixed(1)} s: ${leak.category}: ${leak.item}`);
      for (const leak of outcome.transient ?? []) (record.transient ??= []).push(`${key} @ ${(outcome.killedAtMs / 1000).toFixed(1)} s: ${leak.category}: ${leak.item}`);
      const cleanupLine = outcome.cleanup ? `cleanup exit ${outcome.cleanup.exitCode} in ${(outcome.cleanup.durationMs / 1000).toFixed(1)} s` : 'cleanup skipped';
      console.log(`  ${cleanupLine}; results ${outcome.resultsStatus ?? 'not written'}; leaks ${outcome.leaks.length}${outcome.leaks.map((leak) => `\n    LEAK ${leak.category}: ${leak.item}`).join('')}${(outcome.transient ?? []).map((leak) => `\n    transient (gone 5 s later) ${leak.category}: ${leak.item}`).join('')}`);
    }
    await writeJsonAtomic(recordPath, record);
  }
  record.finishedAt = new Date().toISOString();
  await writeJsonAtomic(recordPath, record);
  console.log(`faults injected: ${record.faultsInjected}, leaks found: ${record.leaksFound}, transient changes: ${record.transient?.length ?? 0}, missed draws: ${record.missed}`);
  for (const leak of record.leaks) console.log(`  ${leak}`);
  console.log(`written ${recordPath}`);
  return record.leaksFound === 0 ? 0 : 1;
}

process.exitCode = await main();
