import { setTimeout as timerSleep } from 'node:timers/promises';
import { IsobenchError } from './errors.js';

/**
 * Waiting with a deadline, in one place: every "ask again until it is ready, but not forever" loop of
 * isobench (a socket appearing, a daemon answering, a guest booting, a lock coming free) goes through
 * `pollUntil`, and every "this must not take longer than" through `withDeadline`, so each wait has a
 * deadline and each missed deadline is the same kind of error.
 */

/**
 * A wait ran out of time. The message is `<what> within <N> ms[: <detail>]`, so `what` is phrased as
 * the failure (`nothing listened on 10.0.0.2:5201 (tcp)`, `dockerd did not answer on /run/docker.sock`).
 * Exit code 1.
 */
export class DeadlineError extends IsobenchError {
  /** The last thing seen before the deadline, if the waiter said. */
  readonly detail: string | undefined;

  /**
   * @param what The failure, phrased to be followed by "within N ms".
   * @param timeoutMs The deadline that passed, in ms from the start of the wait.
   * @param options `detail`: the last thing seen (a probe's last error, a log tail), appended after a colon;
   *   `message`: replaces the whole message, for call sites whose wording users already know;
   *   `cause`: the underlying error.
   */
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    options: { detail?: string | undefined; message?: string; cause?: unknown } = {},
  ) {
    super(options.message ?? `${what} within ${Math.round(timeoutMs)} ms${options.detail ? `: ${options.detail}` : ''}`, { cause: options.cause });
    this.detail = options.detail;
  }
}

/**
 * Resolves after `ms` milliseconds (0 or less: on the next turn of the event loop).
 * @throws the signal's reason (a DOMException AbortError by default) when `signal` aborts first.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await timerSleep(Math.max(0, ms), undefined, signal ? { signal } : undefined);
  } catch (error) {
    // timers/promises wraps the reason in its own AbortError; callers aborting with a reason want it back.
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}

/** What a probe is told about the wait it is part of, so it can bound its own work by what is left. */
export interface PollContext {
  /** 0 for the first call. */
  attempt: number;
  /** ms until the deadline, never negative. */
  remainingMs: number;
}

/** How long and how often pollUntil asks, and how its DeadlineError reads. */
export interface PollOptions {
  /** How long to keep asking, in ms from `startedAt`. The probe runs at least once, even for 0. */
  timeoutMs: number;
  /** ms to wait between a probe that said "not yet" and the next; 0 asks again at once. */
  intervalMs: number;
  /**
   * When set, the interval doubles after every "not yet" up to this many ms: short waits answer
   * fast, long ones do not poll hard. Unset: the interval stays `intervalMs`.
   */
  maxIntervalMs?: number;
  /** The failure, for the DeadlineError's message (see DeadlineError). */
  what: string;
  /** Computes the DeadlineError's detail once the deadline has passed (a last error, a log tail). */
  detail?: () => string | undefined | Promise<string | undefined>;
  /** performance.now() the deadline counts from; defaults to the call (a boot counts from the VM's start). */
  startedAt?: number;
  /** Stops the wait early; the signal's reason is thrown. */
  signal?: AbortSignal;
}

/**
 * Calls `probe` until it returns something other than undefined, null or false, and returns that.
 * Probe errors are not retried: they end the wait (a probe that wants to retry on an error catches it
 * and returns undefined, keeping the error for `detail`). The last probe runs at the deadline, not
 * one interval after it.
 *
 * @throws DeadlineError when `timeoutMs` passes with no answer; whatever the probe throws; the
 *   abort reason when `signal` aborts.
 */
export async function pollUntil<T>(probe: (context: PollContext) => Promise<T | undefined | null | false>, options: PollOptions): Promise<T> {
  const started = options.startedAt ?? performance.now();
  const deadline = started + options.timeoutMs;
  let interval = options.intervalMs;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    const value = await probe({ attempt, remainingMs: Math.max(0, deadline - performance.now()) });
    if (value !== undefined && value !== null && value !== false) return value;
    const remaining = deadline - performance.now();
    if (remaining <= 0) throw new DeadlineError(options.what, options.timeoutMs, { detail: await options.detail?.() });
    await sleep(Math.min(interval, remaining), options.signal);
    if (options.maxIntervalMs !== undefined) interval = Math.min(options.maxIntervalMs, Math.max(1, interval) * 2);
  }
}

/**
 * Waits for `promise`, but no longer than `timeoutMs`. The promise is not cancelled (a promise cannot
 * be): whoever owns the work must stop it if it matters.
 *
 * @param what The operation, e.g. `GET /info`: the error says `GET /info did not finish within 15000 ms`.
 * @throws DeadlineError when the time passes first; the promise's own rejection otherwise.
 */
export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} did not finish`, timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
