import type { FreezeRecord } from '../../contracts/target.js';
import type { ProbeSelfTestRetry } from '../../results/migration.js';
import type { ProbeReport } from './client/reports.js';
import { judgeSelfTest, SELF_TEST_PAUSES_MS } from './probe-analysis.js';

/*
 * The probe's self-test with one retry. Run right after a guest boots, the self-test sometimes
 * misreads its pauses by far (in CI: 1,676 ms and 705 ms read for pauses of 100, 200 and 500 ms; 5 to
 * 37 ms otherwise): the fresh TCG guest is still busy and answers late. The suite then waits until
 * the echo stream is steady and runs the self-test once more; both attempts stay in the record.
 */

/** Whole seconds in a row with every echo answered and no long gap before the retry: a short run of luck is not steady. */
export const STEADY_SECONDS = 3;
/**
 * A gap this long or longer, ms, makes a second unsteady. Not the probe's 5 ms gap threshold: a TCG
 * guest's stream here has 5 ms gaps every second (waiting for seconds free of them, the first
 * integration run saw 0 steady seconds in 30 s) and misreads pauses by 5–37 ms in its normal state;
 * after a boot it stalls for 700–1,700 ms. 50 ms tells the two apart.
 */
export const STEADY_MAX_GAP_MS = 50;
/** The longest wait for a steady stream before the retry runs anyway, ms (a guest's boot work here ends within seconds). */
export const STEADY_TIMEOUT_MS = 30_000;
/** How often the stream is looked at while waiting, ms. */
export const STEADY_POLL_MS = 500;
/**
 * An echo of the last second counted is awaited this long after the second ends, ms; a later one
 * would be a gap anyway (5 ms on a 1 ms stream), so 200 ms misses none that counts.
 */
export const SECOND_SETTLE_MS = 200;

/**
 * How many whole seconds in a row, ending with the latest one whose echoes are in, the stream was
 * steady: every datagram sent in the second was answered, and no gap of `maxGapMs` or more overlaps
 * it. 0 while such a gap is open (no echo for `maxGapMs` or longer at `endedAtMs`).
 */
export function steadySeconds(report: ProbeReport, maxGapMs: number = STEADY_MAX_GAP_MS): number {
  const now = report.endedAtMs;
  if (report.lastEchoAtMs === null || now - report.lastEchoAtMs >= maxGapMs) return 0;
  let second = Math.floor((now - SECOND_SETTLE_MS - report.startedAtMs) / 1000) - 1;
  let steady = 0;
  for (; second >= 0; second--) {
    const counts = report.perSecond[second];
    if (!counts || counts[0] === 0 || counts[1] < counts[0]) break;
    const from = report.startedAtMs + second * 1000;
    const to = from + 1000;
    if (report.gaps.some(([gapFrom, gapTo]) => gapTo - gapFrom >= maxGapMs && gapTo > from && gapFrom < to)) break;
    steady++;
  }
  return steady;
}

/** What runSelfTest needs: the pauses (QMP stop/cont or a cgroup freeze), the running probe, and time. */
export interface SelfTestDependencies {
  /** Pauses the guest for about `ms` and says when it stopped and resumed (epoch ms). */
  freeze(ms: number): Promise<FreezeRecord>;
  /** The probe's report so far (ReportingClientProgram.snapshot). */
  snapshot(): Promise<ProbeReport>;
  sleep(ms: number): Promise<void>;
  /** A monotonic clock, ms (performance.now). */
  now(): number;
}

/** Timing of runSelfTest; defaults are the constants above and the suite's spacing. */
export interface SelfTestOptions {
  /** ms of running after each pause, so each pause's gap stands alone (SELF_TEST_SPACING_MS). */
  spacingMs: number;
  steadySeconds?: number;
  steadyTimeoutMs?: number;
  pollMs?: number;
}

/** The self-test that counts, and the failed first attempt when there was one. */
export interface SelfTestRun {
  /** The pauses of the attempt that counts; the trial judges them on its final probe report. */
  freezes: FreezeRecord[];
  /** Present when the first attempt failed and the self-test was run again. */
  retry?: ProbeSelfTestRetry;
}

/**
 * Pauses the guest for each of SELF_TEST_PAUSES_MS and judges the probe on the report right after.
 * When that fails, waits until the stream has been steady for `steadySeconds` (at most
 * `steadyTimeoutMs`; then it retries all the same, and says so) and runs the pauses once more. A
 * second failure stands: the trial records it, as before.
 * @throws what `freeze` or `snapshot` throws (a probe that stopped answering fails the trial).
 */
export async function runSelfTest(deps: SelfTestDependencies, options: SelfTestOptions): Promise<SelfTestRun> {
  const wanted = options.steadySeconds ?? STEADY_SECONDS;
  const timeoutMs = options.steadyTimeoutMs ?? STEADY_TIMEOUT_MS;
  const pollMs = options.pollMs ?? STEADY_POLL_MS;
  const pauses = async () => {
    const freezes: FreezeRecord[] = [];
    for (const ms of SELF_TEST_PAUSES_MS) {
      freezes.push(await deps.freeze(ms));
      await deps.sleep(options.spacingMs);
    }
    return freezes;
  };

  const firstFreezes = await pauses();
  const first = judgeSelfTest(firstFreezes, await deps.snapshot());
  if (first.passed) return { freezes: firstFreezes };

  const begin = deps.now();
  let reached = steadySeconds(await deps.snapshot());
  while (reached < wanted && deps.now() - begin < timeoutMs) {
    await deps.sleep(pollMs);
    reached = steadySeconds(await deps.snapshot());
  }
  const waitedMs = Math.round(deps.now() - begin);
  const waited = `${(waitedMs / 1000).toFixed(1)} s`;
  const found = reached >= wanted
    ? `the echo stream was steady for ${wanted} s (every echo answered, no gap of ${STEADY_MAX_GAP_MS} ms or more) after ${waited}`
    : `the echo stream was not steady for ${wanted} s within ${waited} (${reached} s at the end); retried all the same`;
  const reason = `the first self-test failed (${first.reason ?? 'no reason given'}); run again once: ${found}`;
  return { freezes: await pauses(), retry: { first, reason, steadySecondsWanted: wanted, steadySecondsReached: reached, waitedMs } };
}
