import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../core/exec.js';
import { allProcessStats } from '../../core/proc.js';
import { seededRandom } from '../../core/random.js';
import { readResultsFile } from '../../results/store.js';
import { descendantsOf, diffSnapshots, orphansAlive, type Leak, type LiveProcess, type RecordedProcess, type SnapshotDiff } from './diff.js';
import { takeSnapshot, type HostSnapshot } from './snapshot.js';

/** The repository root: the bench and cleanup run from here, as `npm run` does. */
export const REPO_ROOT = new URL('../..', import.meta.url).pathname;

/** One fault to inject: which run, and how long after its start the kill lands. */
export interface KillPlan {
  target: string;
  suite: string;
  /** The bench's `--seed` (its run order); the campaign's seed chose `delayMs`. */
  seed: number;
  /** ms from the bench's start to the SIGKILL of its CLI process. */
  delayMs: number;
  /** This kill's directory: the bench's log, its results (`results/`), the plan and outcome. */
  outDirectory: string;
  /** Skip `npm run cleanup` (proves the check can fail: the integration test's control). */
  skipCleanup?: boolean;
}

/** What one kill did. */
export type KillOutcome =
  | {
      kind: 'killed';
      plan: KillPlan;
      /** `git describe --always --dirty` of the checkout when the kill ran: the cleanup code under test. */
      commit: string;
      /** ms from the bench's start to the kill, as it happened. */
      killedAtMs: number;
      /** The bench's last output line before the kill: where in the run it landed. */
      lastLine: string;
      /** The CLI's descendants at the kill (what a real crash orphans). */
      orphaned: RecordedProcess[];
      cleanup: { exitCode: number | null; durationMs: number; output: string } | null;
      /** New after cleanup and still there PERSIST_MS later. */
      leaks: Leak[];
      /** New after cleanup but gone PERSIST_MS later (not counted as leaks). */
      transient: Leak[];
      removed: Leak[];
      unverified: SnapshotDiff['unverified'];
      /** The results file's status after cleanup; absent when the run was killed before writing one. */
      resultsStatus?: string;
    }
  /** The run ended (or refused to start) before the kill moment: no fault was injected. */
  | { kind: 'missed'; plan: KillPlan; runMs: number; exitCode: number | null; lastLines: string };

/**
 * The moment of kill `index`'s draw `draw`, in ms after the start: uniform in [500, guess], from a
 * generator seeded by (campaign seed, index, draw), so a kill's moment does not depend on how
 * the kills before it were batched.
 */
export function drawDelayMs(seed: number, index: number, draw: number, guessS: number): number {
  const random = seededRandom((seed * 1_000_003 + index * 101 + draw) >>> 0);
  random(); // mulberry32's first output follows its seed closely; the second is well mixed
  return Math.round(500 + random() * Math.max(0, guessS * 1000 - 500));
}

/** The bench's arguments for the shortest run of one target × suite: one repetition, quick, no waits. */
export function benchArguments(plan: Pick<KillPlan, 'target' | 'suite' | 'seed' | 'outDirectory'>): string[] {
  const out = join(plan.outDirectory, 'results');
  const args = ['bench', '--target', plan.target, '--suite', plan.suite, '--quick', '--reps', '1', '--no-until-decided',
    '--quiet-wait', '0', '--seed', String(plan.seed), '--out', out];
  // The mysql suite's smallest meaningful run: one thread count, one small table, 2 s.
  if (plan.suite === 'mysql') args.push('--threads', '1', '--tables', '1', '--table-size', '1000', '--duration', '2');
  return args;
}

/** How long a new item must last to count as a leak, ms. */
export const PERSIST_MS = 5_000;

/** New items (snapshot diff) and live orphans; an orphan the process snapshot already names is one leak, not two. */
function leaksBetween(before: HostSnapshot, after: HostSnapshot, orphaned: readonly RecordedProcess[], table: readonly LiveProcess[]): Leak[] {
  const diff = diffSnapshots(before, after);
  const named = new Set(diff.leaks.flatMap((leak) => /^pid (\d+) /.exec(leak.item)?.[1] ?? []));
  return [...diff.leaks, ...orphansAlive(orphaned, table).filter((leak) => !named.has(/^pid (\d+) /.exec(leak.item)?.[1] ?? ''))];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The CLI node process bootstrap.mjs started (`… harness/cli.ts …`), once it exists. */
async function findCli(bootstrapPid: number): Promise<number | null> {
  const table = await allProcessStats();
  for (const child of table.filter((entry) => entry.ppid === bootstrapPid)) {
    const cmdline = await readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('harness/cli.ts')) return child.pid;
  }
  return null;
}

async function lastLines(path: string, count: number): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

async function resultsStatus(directory: string): Promise<string | undefined> {
  const files = (await readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.json'));
  if (files.length === 0) return undefined;
  return (await readResultsFile(join(directory, files[0]!)).catch((error: unknown) => ({ status: `unreadable: ${(error as Error).message}` }))).status;
}

/**
 * Runs one fault: snapshot, start the bench as `npm run bench` does (bootstrap.mjs, then the CLI
 * under it), SIGKILL the CLI process alone at `delayMs` — as an OOM kill or a crash would: its
 * children (servers, tools, QEMU) are orphaned and the wrapper exits — run `npm run cleanup`,
 * snapshot again and diff. The caller holds the heavy lock, so the diff is this run's doing.
 * @param log Progress lines.
 */
export async function injectKill(plan: KillPlan, log: (line: string) => void): Promise<KillOutcome> {
  await mkdir(plan.outDirectory, { recursive: true });
  const commit = (await runCommand(['git', 'describe', '--always', '--dirty'], { cwd: REPO_ROOT, timeoutMs: 10_000 })).stdout.trim() || 'unknown';
  const before = await takeSnapshot();
  const logPath = join(plan.outDirectory, 'bench.log');
  const fd = openSync(logPath, 'a');
  // The bench's output goes to a file, not a pipe: an orphan that inherited the pipe would keep it open.
  const wrapper = spawn(process.execPath, [join(REPO_ROOT, 'harness', 'bootstrap.mjs'), ...benchArguments(plan)], { cwd: REPO_ROOT, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const started = performance.now();
  let wrapperExit: number | null | undefined;
  const exited = new Promise<void>((resolve) => wrapper.on('exit', (code) => { wrapperExit = code; resolve(); }));
  let cliPid: number | null = null;
  while (performance.now() - started < plan.delayMs && wrapperExit === undefined) {
    if (cliPid === null && wrapper.pid !== undefined) cliPid = await findCli(wrapper.pid);
    await sleep(Math.min(50, Math.max(0, plan.delayMs - (performance.now() - started))));
  }
  if (wrapperExit !== undefined || cliPid === null) {
    if (wrapperExit === undefined) {
      // bootstrap.mjs has not started the CLI yet: too early to be a kill of isobench; stop the wrapper.
      wrapper.kill('SIGKILL');
      await exited;
    }
    return { kind: 'missed', plan, runMs: Math.round(performance.now() - started), exitCode: wrapperExit ?? null, lastLines: await lastLines(logPath, 3) };
  }
  const table = await allProcessStats();
  const orphaned = descendantsOf(cliPid, table).map(({ pid, startTime, comm }) => ({ pid, startTime, comm }));
  try {
    process.kill(cliPid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    // The run ended in the instant between the last look and the kill: nothing was injected.
    await exited;
    return { kind: 'missed', plan, runMs: Math.round(performance.now() - started), exitCode: wrapperExit ?? null, lastLines: await lastLines(logPath, 3) };
  }
  const killedAtMs = Math.round(performance.now() - started);
  await exited; // bootstrap.mjs exits once its child is gone
  const lastLine = await lastLines(logPath, 1);
  log(`  killed ${plan.target}/${plan.suite} at ${(killedAtMs / 1000).toFixed(1)} s (${orphaned.length} orphan(s)); last line: ${lastLine.slice(0, 100)}`);
  let cleanup: Extract<KillOutcome, { kind: 'killed' }>['cleanup'] = null;
  if (!plan.skipCleanup) {
    const outcome = await runCommand(['npm', 'run', '-s', 'cleanup'], { cwd: REPO_ROOT, timeoutMs: 10 * 60_000 });
    cleanup = { exitCode: outcome.exitCode, durationMs: Math.round(outcome.durationMs), output: (outcome.stdout + outcome.stderr).trim() };
  }
  // Orphans signalled by cleanup may need a moment to be reaped by init.
  await sleep(500);
  const first = leaksBetween(before, await takeSnapshot(), orphaned, await allProcessStats());
  // A leak persists. Something new that is gone again PERSIST_MS later came and went: a unit test
  // of other work making a run directory, or an orphan ending by itself; listed, not counted.
  await sleep(first.length > 0 ? PERSIST_MS : 0);
  const second = first.length > 0 ? leaksBetween(before, await takeSnapshot(), orphaned, await allProcessStats()) : [];
  const key = (leak: Leak) => `${leak.category}\0${leak.item}`;
  const persisting = new Set(second.map(key));
  const leaks = first.filter((leak) => persisting.has(key(leak)));
  const transient = first.filter((leak) => !persisting.has(key(leak)));
  const diff = diffSnapshots(before, await takeSnapshot());
  const status = await resultsStatus(join(plan.outDirectory, 'results'));
  // cleanup promises to mark a crashed run's file; a file still `running` is a leak of state too.
  if (status === 'running') leaks.push({ category: 'results-file', item: `results file in ${plan.outDirectory} still says running` });
  return {
    kind: 'killed', plan, commit, killedAtMs, lastLine, orphaned, cleanup, leaks, transient, removed: diff.removed, unverified: diff.unverified,
    ...(status === undefined ? {} : { resultsStatus: status }),
  };
}
