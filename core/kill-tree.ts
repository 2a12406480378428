import { DeadlineError, pollUntil } from './poll.js';
import { allProcessStats, readProcessStat, type ProcessStat } from './proc.js';

/**
 * Stopping something on a deadline, one way everywhere: SIGTERM, a grace period to exit cleanly,
 * then SIGKILL, then a bounded wait for it to be gone. `terminate` holds that sequence for anything
 * that can be signalled and asked whether it is gone (a host process tree, a program in a guest
 * reached through its agent); `hostProcessTree` is the host implementation, `killProcessTree` the
 * two together.
 */

/** The two signals of the stop sequence; nothing else is sent. */
export type KillSignal = 'SIGTERM' | 'SIGKILL';

/** Something `terminate` can stop. */
export interface Killable {
  /** For messages, e.g. `pid 1234 and its descendants`. */
  readonly description: string;
  /** Sends the signal; something already gone is not an error. */
  signal(signal: KillSignal): Promise<void>;
  /** Whether it has ended. */
  gone(): Promise<boolean>;
}

/** Timing of `terminate`, all in ms. */
export interface TerminateOptions {
  /** ms between SIGTERM and SIGKILL; 0 sends SIGKILL at once (no SIGTERM). Default 2000. */
  graceMs?: number;
  /** ms between two `gone()` checks during the grace period. Default 50. */
  intervalMs?: number;
  /** How long, in ms, SIGKILL may take before giving up. Default 5000. */
  killWaitMs?: number;
  /** ms between two `gone()` checks after SIGKILL. Default `intervalMs`. */
  killIntervalMs?: number;
  /** Called with each signal right before it is sent (to record how a program ended). */
  onSignal?: (signal: KillSignal) => void;
}

/** How it ended: it had already, it heeded SIGTERM, or it took SIGKILL. */
export type TerminateResult = 'already-gone' | 'terminated' | 'killed';

/**
 * SIGTERM, wait up to `graceMs` for it to be gone, then SIGKILL and wait up to `killWaitMs`.
 * @throws DeadlineError (`<description> did not exit after SIGKILL within N ms`) when even SIGKILL
 *   does not end it (a process stuck in the kernel); whatever `signal` or `gone` throw.
 */
export async function terminate(target: Killable, options: TerminateOptions = {}): Promise<TerminateResult> {
  const graceMs = options.graceMs ?? 2_000;
  const intervalMs = options.intervalMs ?? 50;
  if (await target.gone()) return 'already-gone';
  if (graceMs > 0) {
    options.onSignal?.('SIGTERM');
    await target.signal('SIGTERM');
    const ended = await pollUntil(() => target.gone(), { timeoutMs: graceMs, intervalMs, what: `${target.description} did not exit after SIGTERM` }).catch(
      (error: unknown) => {
        if (error instanceof DeadlineError) return false;
        throw error;
      },
    );
    if (ended) return 'terminated';
  }
  options.onSignal?.('SIGKILL');
  await target.signal('SIGKILL');
  await pollUntil(() => target.gone(), {
    timeoutMs: options.killWaitMs ?? 5_000,
    intervalMs: options.killIntervalMs ?? intervalMs,
    what: `${target.description} did not exit after SIGKILL`,
  });
  return 'killed';
}

/** One host process, named by its pid and start time so a reused pid is never signalled. */
interface Member {
  pid: number;
  startTime: string;
}

/**
 * A host process and (unless `descendants: false`) every process below it, as a Killable.
 *
 * Descendants are collected before each signal (not on every `gone()` check) and remembered: once the root dies its children are
 * re-parented (to init or a subreaper) and could no longer be found from it. A member counts as gone
 * when its pid is free, now names another process (a different start time), or is a zombie (dead,
 * waiting for its parent to reap it: nothing left to signal).
 *
 * @param startTime The root's start time (field 22 of /proc/PID/stat) when the caller read it earlier,
 *   so a root that has ended and whose pid was reused is recognised as gone. Default: read now.
 */
export function hostProcessTree(pid: number, options: { descendants?: boolean; startTime?: string | null } = {}): Killable {
  const descendants = options.descendants ?? true;
  let members: Member[] | null = null;

  /** `scan`: look for new descendants (a read of every /proc/PID/stat), else only re-check the known members. */
  async function refresh(scan: boolean): Promise<Array<Member & { alive: boolean }>> {
    if (members === null) {
      const startTime = options.startTime ?? (await readProcessStat(pid))?.startTime ?? null;
      members = startTime === null ? [] : [{ pid, startTime }];
    }
    const known: Member[] = members;
    const stats: ProcessStat[] = scan
      ? await allProcessStats()
      : (await Promise.all(known.map((member) => readProcessStat(member.pid)))).filter((stat): stat is ProcessStat => stat !== null);
    const byPid = new Map(stats.map((stat) => [stat.pid, stat]));
    const isAlive = (member: Member) => {
      const stat = byPid.get(member.pid);
      return stat !== undefined && stat.startTime === member.startTime && stat.state !== 'Z';
    };
    if (scan) {
      const seen = new Set(known.map((member) => member.pid));
      const children = new Map<number, number[]>();
      for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat.pid]);
      const queue = known.filter(isAlive).map((member) => member.pid);
      while (queue.length > 0) {
        for (const child of children.get(queue.shift()!) ?? []) {
          if (seen.has(child)) continue;
          seen.add(child);
          known.push({ pid: child, startTime: byPid.get(child)!.startTime });
          queue.push(child);
        }
      }
    }
    return known.map((member) => ({ ...member, alive: isAlive(member) }));
  }

  return {
    description: descendants ? `process ${pid} and its descendants` : `process ${pid}`,
    async signal(signal) {
      // Parents first: a parent stopped first cannot start new children while its tree is signalled.
      for (const member of await refresh(descendants)) {
        if (!member.alive) continue;
        try {
          process.kill(member.pid, signal);
        } catch {
          // Ended between the scan and the signal.
        }
      }
    },
    async gone() {
      // Only the members found when signalling: a full scan every poll would cost CPU while benchmarks run.
      return (await refresh(false)).every((member) => !member.alive);
    },
  };
}

/**
 * Stops a host process and all its descendants: SIGTERM to every one, `graceMs` to exit, then SIGKILL.
 * Options as for `terminate` (default grace 2000 ms, SIGKILL wait 5000 ms) plus `startTime`, the
 * root's /proc start time when known (guards against pid reuse).
 * @throws DeadlineError when processes survive SIGKILL for `killWaitMs`.
 */
export function killProcessTree(pid: number, options: TerminateOptions & { startTime?: string | null } = {}): Promise<TerminateResult> {
  return terminate(hostProcessTree(pid, { startTime: options.startTime ?? null }), options);
}
