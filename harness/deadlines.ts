import { IsobenchError } from '../core/errors.js';
import { formatDuration } from './progress.js';

/**
 * The longest each step of a run may take before the runner cuts it off and goes on without it
 * (ms). Drivers and suites have their own, finer deadlines (every command runs under a timeout);
 * these are the harness's last line, for a step that hangs in a way no inner deadline sees: a
 * guest that never boots, a tool that never exits, a daemon that stops answering mid-request.
 * Each is far above what the step takes on a slow host (an emulated guest included), so only a
 * hung step meets it.
 */
export interface StepDeadlines {
  /** One target's `provision`, the first image build included when no cache exists (~2–15 min). */
  provisionMs: number;
  /** One suite's `prepare` on one target (the full fio file is 16 GiB, a database loads its tables: minutes, on an emulated guest many). */
  prepareMs: number;
  /** One trial, the quiet-host wait included (the longest, a full startup point, runs about a minute). */
  trialMs: number;
  /** One suite's `finish` on one target. */
  finishMs: number;
  /** One `pause` or `resume` of a target (a container freeze, a QMP `stop`). */
  pauseMs: number;
  /** One target's `teardown` (a guest gets a clean shutdown first). */
  teardownMs: number;
  /** Building (or finding) the image the Docker and KVM targets run, before they are provisioned. */
  imageMs: number;
}

/** The deadlines a run uses unless a test gives shorter ones. */
export const DEFAULT_STEP_DEADLINES: Readonly<StepDeadlines> = {
  provisionMs: 30 * 60_000,
  prepareMs: 60 * 60_000,
  trialMs: 20 * 60_000,
  finishMs: 5 * 60_000,
  pauseMs: 2 * 60_000,
  teardownMs: 5 * 60_000,
  imageMs: 30 * 60_000,
};

/**
 * A step ran past its deadline and was cut off; the run goes on without it. The message names the
 * step and the deadline, e.g. `provisioning kvm did not finish within 30m00s: cut off (a guest that
 * never boots, a tool that never exits or a daemon that stopped answering)`. Exit code 1.
 */
export class StepDeadlineError extends IsobenchError {
  /**
   * @param step What was cut off, e.g. `preparing random-io on kvm`.
   * @param timeoutMs The deadline that passed.
   */
  constructor(
    readonly step: string,
    readonly timeoutMs: number,
  ) {
    super(`${step} did not finish within ${formatDeadline(timeoutMs)}: cut off (something in it stopped answering)`);
  }
}

/** `30m00s`, or `250 ms` for the short deadlines tests use. */
function formatDeadline(ms: number): string {
  return ms < 1000 ? `${ms} ms` : formatDuration(ms);
}

/**
 * Waits for `work` no longer than `timeoutMs`. The work is not cancelled (a promise cannot be);
 * `abandoned` is called with its eventual value if it resolves after the cut-off, so an owner can
 * undo what it made late (tear down a target that came up after all). Its late rejection is ignored.
 * @throws StepDeadlineError when the deadline passes first; whatever `work` throws before it.
 */
export async function cutOff<T>(work: Promise<T>, timeoutMs: number, step: string, abandoned?: (value: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(new StepDeadlineError(step, timeoutMs));
    }, timeoutMs);
  });
  work.then(
    (value) => {
      if (late) abandoned?.(value);
    },
    () => {},
  );
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
