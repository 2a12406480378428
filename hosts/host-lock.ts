import { describeFailure, type CommandOutcome } from '../core/exec.js';
import { classifySshFailure, HostError, type Host, type HostProcess } from './host.js';

/**
 * An exclusive lock on a host, between isobench processes on any controlling machines: util-linux's
 * `flock(1)` on a file there, held by a remote `cat` that reads the SSH session's standard input.
 * When the lock is released, or the controlling process dies however it dies (even SIGKILL), the
 * session's input closes, `cat` ends and the kernel drops the lock: nothing is left to clean up.
 */

/** flock's exit code when `--wait` ran out (flock(1) `--conflict-exit-code`; 75 is sysexits' EX_TEMPFAIL). */
const CONFLICT_EXIT_CODE = 75;
/** The line the holder prints once it holds the lock. */
const HELD = 'isobench-lock-held';

/** A held lock; `release()` ends the holder and waits for it (idempotent, never throws). */
export interface HostLock {
  release(): Promise<void>;
}

/** Why a lock was not taken: another holder for the whole wait, or the holder failing (flock missing, the folder not writable). */
export class HostLockError extends Error {}

/**
 * Takes the lock at `path` on the host (its folder is created), waiting at most `waitMs` for
 * another holder to let go.
 * @param what Who waits, for the message (`copying the image`).
 * @param holdMs How long the lock may be held at most, in ms; the holder ends then (the remote `timeout`).
 * @throws HostLockError `host NAME: another isobench process held PATH for N s (copying the image): …`
 *   when the wait ran out, or naming the holder's failure; HostError when the host cannot be reached.
 */
export async function takeHostLock(host: Host, path: string, options: { waitMs: number; holdMs: number; what: string }): Promise<HostLock> {
  const waitS = Math.ceil(options.waitMs / 1000);
  let held: () => void = () => undefined;
  const heldNow = new Promise<void>((resolve) => (held = resolve));
  let seen = '';
  const holder: HostProcess = host.start(
    [
      'sh',
      '-c',
      `mkdir -p -- "$(dirname -- "$1")" && exec flock --exclusive --wait "$2" --conflict-exit-code ${CONFLICT_EXIT_CODE} "$1" sh -c 'echo ${HELD}; exec cat >/dev/null'`,
      'sh',
      path,
      String(waitS),
    ],
    {
      timeoutMs: options.waitMs + options.holdMs,
      onOutput: (stream, text) => {
        if (stream !== 'stdout') return;
        seen += text;
        if (seen.includes(HELD)) held();
      },
    },
  );
  const outcome = await Promise.race([heldNow.then(() => null), holder.exited]);
  if (outcome !== null) {
    const ssh = classifySshFailure(outcome);
    if (ssh) throw new HostError(host.name, ssh.failure, `${ssh.detail} (${host.via})`, outcome);
    throw new HostLockError(lockFailure(host.name, path, waitS, options.what, outcome));
  }
  let released: Promise<void> | null = null;
  return {
    release: () => (released ??= holder.stop().then(() => undefined, () => undefined)),
  };
}

/** The one line for a holder that ended before holding the lock. */
function lockFailure(host: string, path: string, waitS: number, what: string, outcome: CommandOutcome): string {
  if (outcome.exitCode === CONFLICT_EXIT_CODE) {
    return `host ${host}: another isobench process held ${path} for ${waitS} s while this one waited to start ${what}: wait for it to finish, or look for a stuck run there`;
  }
  return `host ${host}: could not lock ${path} before ${what}: ${describeFailure(outcome)}`;
}
