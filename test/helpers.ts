import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findDockerProxies, readDnatRules } from '../provisioning/docker/nat.js';
import { cidrContains, parseAddress, parseCidr } from '../provisioning/ipv4.js';
import { LEFTOVER_SCANNERS } from '../provisioning/leftovers.js';
import { DEFAULT_GUARD_RANGE } from '../provisioning/topology.js';
import { stateDirectory } from '../core/ledger.js';
import type { ResultsFile } from '../results/schema.js';
import { readResultsFile } from '../results/store.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as `npm run` does, without npm, so a test can see the real exit code. */
export async function runCli(args: string[], timeoutMs = 600_000): Promise<CliOutcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), ...args], {
      cwd: REPO_ROOT,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : -1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

const GUARD = parseCidr(DEFAULT_GUARD_RANGE);
const inTestRange = (address: string) => /^\d+\.\d+\.\d+\.\d+$/.test(address) && cidrContains(GUARD, parseAddress(address));

/**
 * Everything of isobench's still on the host: what `cleanup`'s scanners find (labelled containers,
 * volumes, QEMU guests, taps, ib- links, netns, rules), Docker's DNAT rules and proxies for test
 * addresses, ledgers, the run lock and run directories.
 */
export async function isobenchLeftovers(): Promise<string[]> {
  const found: string[] = [];
  for (const scanner of LEFTOVER_SCANNERS) found.push(...(await scanner.find()).map((leftover) => leftover.description));
  for (const rule of await readDnatRules().catch(() => [])) {
    if (inTestRange(rule.destination)) found.push(`DNAT rule ${rule.destination}:${rule.port}/${rule.protocol} -> ${rule.to}`);
  }
  for (const proxy of await findDockerProxies((candidate) => inTestRange(candidate.hostIp))) {
    found.push(`docker-proxy pid ${proxy.pid} on ${proxy.hostIp}:${proxy.hostPort}`);
  }
  const state = stateDirectory();
  if (existsSync(state)) found.push(...(await readdir(state)).map((name) => `state file ${name}`));
  found.push(...(await readdir('/var/tmp')).filter((name) => name.startsWith('isobench-run-')).map((name) => `run directory ${name}`));
  return found;
}

/**
 * Fails when isobench left anything on the host, after removing it with `cleanup`: a later run refuses
 * while a crashed run's ledger remains, so one leaking test would otherwise fail every test after it
 * (seen in CI: one ledger, 13 later tests failed and the run took 84 minutes instead of 35).
 * @param message Says what should be gone, for the failure.
 * @throws AssertionError listing what was left.
 */
export async function assertNoLeftovers(message?: string): Promise<void> {
  const left = await isobenchLeftovers();
  if (left.length === 0) return;
  const cleanup = await runCli(['cleanup'], 120_000);
  assert.deepEqual(left, [], `${message ?? 'isobench left nothing behind'} (cleanup removed it: exit ${cleanup.code})`);
}

/**
 * The results file a CLI run wrote to `out`, after asserting the run exited 0; a failure message
 * carries each trial's state and reason, stdout and stderr, so a red CI run says which point failed and why.
 * @returns The file's path and its validated contents.
 * @throws AssertionError when no file was written or the run did not exit 0.
 */
export async function completedRun(out: string, outcome: CliOutcome): Promise<{ path: string; results: ResultsFile }> {
  const file = (await readdir(out).catch(() => [])).find((name) => name.endsWith('.json'));
  assert.ok(file, `a results file in ${out}: ${outcome.stdout}\n${outcome.stderr}`);
  const path = join(out, file);
  const results = await readResultsFile(path);
  const reasons = results.points.flatMap((point) => point.trials.map((trial) => `${point.key}: ${trial.state}${trial.state === 'completed' ? '' : ` ${trial.reason}`}`));
  assert.equal(outcome.code, 0, `${reasons.join('\n')}\n${outcome.stdout}\n${outcome.stderr}`);
  return { path, results };
}

export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
