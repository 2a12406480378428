import { readFile, writeFile } from 'node:fs/promises';
import { epochMs } from '../../core/clock.js';
import { pollUntil, sleep } from '../../core/poll.js';

/*
 * Pausing a container for a known time through its cgroup freezer, stamped on the host clock: the
 * container row's probe self-test, as QMP stop/cont is the VM's. Written directly (not `runc
 * pause`), so the stamps are the freezer's own transitions, not a Go program's start-up.
 */

/** Where a process's freezer is: cgroup v1's `freezer.state` or cgroup v2's `cgroup.freeze`. */
export type FreezerPath = { version: 1; state: string } | { version: 2; freeze: string; events: string };

/** Reads /proc/PID/cgroup's text into the freezer's files; null when it has neither a v1 freezer nor a v2 hierarchy. */
export function freezerFromCgroupFile(text: string, root = '/sys/fs/cgroup'): FreezerPath | null {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  const v1 = lines.map((line) => line.split(':')).find(([, controllers]) => controllers?.split(',').includes('freezer'));
  if (v1) return { version: 1, state: `${root}/freezer${v1.slice(2).join(':')}/freezer.state` };
  const v2 = lines.find((line) => line.startsWith('0::'));
  if (v2 && lines.length === 1) {
    const path = v2.slice(3);
    return { version: 2, freeze: `${root}${path}/cgroup.freeze`, events: `${root}${path}/cgroup.events` };
  }
  return null;
}

/** How long freezing may take before it counts as failed, ms (a handful of tasks freeze in well under 1 ms here). */
export const FREEZE_TIMEOUT_MS = 5_000;

/**
 * Freezes the cgroup, waits `ms`, thaws it, and returns the freezer's stamps (epoch ms): frozen once
 * the kernel reports FROZEN, thawed at the write that thaws.
 * @throws DeadlineError when it does not report frozen within FREEZE_TIMEOUT_MS (it is thawed again then).
 */
export async function freezeFor(path: FreezerPath, ms: number): Promise<{ stoppedAtMs: number; resumedAtMs: number }> {
  const freeze = () => (path.version === 1 ? writeFile(path.state, 'FROZEN') : writeFile(path.freeze, '1'));
  const thaw = () => (path.version === 1 ? writeFile(path.state, 'THAWED') : writeFile(path.freeze, '0'));
  const frozen = async () =>
    path.version === 1 ? (await readFile(path.state, 'utf8')).trim() === 'FROZEN' : /^frozen 1$/m.test(await readFile(path.events, 'utf8'));
  await freeze();
  let stoppedAtMs: number;
  try {
    await pollUntil(frozen, { timeoutMs: FREEZE_TIMEOUT_MS, intervalMs: 1, what: 'the container did not freeze' });
    stoppedAtMs = epochMs();
    await sleep(ms);
  } finally {
    await thaw();
  }
  return { stoppedAtMs, resumedAtMs: epochMs() };
}
