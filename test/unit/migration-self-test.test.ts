/**
 * The probe self-test's one retry (suites/migration/self-test.ts), on a fake guest and probe: a
 * fresh guest still busy with its boot answers late, so its pauses read long (CI: 1,676 ms and 705 ms
 * for pauses of 100, 200 and 500 ms), and its stream loses echoes until the boot work ends.
 * Then the echo probe itself (client/udp-probe.ts) against an echo server on loopback: it answers
 * `report` on stdin while it runs, with its per-second counts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FreezeRecord } from '../../contracts/target.js';
import { ProbeSelfTestRetry } from '../../results/migration.js';
import { startEchoProbe, waitForFile } from '../../suites/migration/client-programs.js';
import type { ProbeReport } from '../../suites/migration/client/reports.js';
import { ECHO_PORT } from '../../suites/migration/guest-workloads.js';
import { judgeSelfTest } from '../../suites/migration/probe-analysis.js';
import { runSelfTest, steadySeconds } from '../../suites/migration/self-test.js';

const T0 = 1_764_500_000_000;

/**
 * A guest behind a 1 ms echo stream, on a fake clock. Until `busyUntilMs` it answers late (a pause
 * reads `lateMs` long) and loses 10 echoes a second; after it, a pause reads 3 ms long and every
 * echo comes back.
 */
class FakeGuest {
  t = T0;
  readonly gaps: Array<[number, number]> = [];
  readonly pauses: number[] = [];
  snapshots = 0;
  constructor(
    readonly busyUntilMs: number,
    readonly lateMs = 1_000,
  ) {}

  readonly now = () => this.t;
  readonly sleep = async (ms: number) => {
    this.t += ms;
  };
  readonly freeze = async (ms: number): Promise<FreezeRecord> => {
    this.pauses.push(ms);
    const stoppedAtMs = this.t + 0.5;
    const resumedAtMs = stoppedAtMs + ms + 1;
    const extra = resumedAtMs < this.busyUntilMs ? this.lateMs : 3;
    this.gaps.push([stoppedAtMs - 0.4, resumedAtMs + extra]);
    this.t = resumedAtMs + extra;
    return { requestedMs: ms, stoppedAtMs, resumedAtMs };
  };
  readonly snapshot = async (): Promise<ProbeReport> => {
    this.snapshots++;
    const seconds = Math.floor((this.t - T0) / 1000) + 1;
    const perSecond = Array.from({ length: seconds }, (_, second): [number, number] => [1000, T0 + (second + 1) * 1000 <= this.busyUntilMs ? 990 : 1000]);
    return {
      startedAtMs: T0, endedAtMs: this.t, intervalMs: 1, gapThresholdMs: 5, sent: seconds * 1000, received: seconds * 1000,
      duplicates: 0, firstEchoAtMs: T0 + 0.4, lastEchoAtMs: this.t - 0.5, gaps: [...this.gaps], gapsDropped: 0, maxSendLateMs: 0.2, sendErrors: 0, perSecond,
    };
  };
}

test('a self-test that passes runs once, with no retry in the record', async () => {
  const guest = new FakeGuest(T0);
  const run = await runSelfTest(guest, { spacingMs: 400 });
  assert.equal(run.retry, undefined);
  assert.deepEqual(guest.pauses, [100, 200, 500]);
  assert.equal(judgeSelfTest(run.freezes, await guest.snapshot()).passed, true);
});

test('a failed self-test right after boot is run again once the stream is steady, and the first attempt stays in the record', async () => {
  const guest = new FakeGuest(T0 + 5_000);
  const run = await runSelfTest(guest, { spacingMs: 400 });
  assert.deepEqual(guest.pauses, [100, 200, 500, 100, 200, 500]);
  const retry = ProbeSelfTestRetry.parse(run.retry);
  assert.equal(retry.first.passed, false);
  assert.deepEqual(retry.first.pauses.map((pause) => Math.round(pause.errorMs! * 10) / 10), [1_000.4, 1_000.4, 1_000.4], 'the first readings are kept as read');
  assert.match(retry.first.reason!, /cannot resolve 10 ms here: 101\.0 ms read as 1101\.4 ms/);
  assert.equal(retry.steadySecondsWanted, 3);
  assert.equal(retry.steadySecondsReached, 3);
  // The boot work ends at 5 s; seconds 5, 6 and 7 must be clean and in (200 ms settle): 8.2 s at the earliest.
  assert.ok(run.freezes[0]!.stoppedAtMs >= T0 + 8_200, `${run.freezes[0]!.stoppedAtMs - T0}`);
  assert.match(retry.reason, /^the first self-test failed \(the probe cannot resolve 10 ms here: .*\); run again once: the echo stream was steady for 3 s \(every echo answered, no gap of 50 ms or more\) after \d+\.\d s$/);
  // The attempt that counts is the second, judged (as the trial does) on the probe's later report.
  const second = judgeSelfTest(run.freezes, await guest.snapshot());
  assert.equal(second.passed, true, second.reason);
  assert.deepEqual(second.pauses.map((pause) => pause.requestedMs), [100, 200, 500]);
});

test('a stream that never steadies is waited for at most the timeout; the retry runs anyway and its failure stands', async () => {
  const guest = new FakeGuest(Number.POSITIVE_INFINITY);
  const run = await runSelfTest(guest, { spacingMs: 400, steadyTimeoutMs: 10_000, pollMs: 500 });
  const retry = run.retry!;
  assert.equal(retry.steadySecondsReached, 0);
  assert.ok(retry.waitedMs >= 10_000 && retry.waitedMs < 10_600, String(retry.waitedMs));
  assert.match(retry.reason, /the echo stream was not steady for 3 s within 10\.\d s \(0 s at the end\); retried all the same$/);
  assert.equal(guest.pauses.length, 6, 'one retry, not more');
  assert.equal(judgeSelfTest(run.freezes, await guest.snapshot()).passed, false);
});

test('steady seconds: only whole seconds whose echoes are in, every one answered, none overlapped by a gap of 50 ms or more; an open one is 0', () => {
  const report = (endedAtMs: number, perSecond: Array<[number, number]>, gaps: Array<[number, number]> = [], lastEchoAtMs = endedAtMs - 0.5): ProbeReport => ({
    startedAtMs: T0, endedAtMs, intervalMs: 1, gapThresholdMs: 5, sent: 0, received: 0, duplicates: 0, firstEchoAtMs: T0 + 1, lastEchoAtMs, gaps, gapsDropped: 0, maxSendLateMs: 0, sendErrors: 0, perSecond,
  });
  const clean: Array<[number, number]> = [[1000, 1000], [1000, 1000], [1000, 1000], [1000, 1000], [400, 380]];
  assert.equal(steadySeconds(report(T0 + 4_400, clean)), 4, 'the running fifth second does not count');
  assert.equal(steadySeconds(report(T0 + 4_100, clean)), 3, 'the fourth second\'s late echoes may still come');
  assert.equal(steadySeconds(report(T0 + 4_400, [[1000, 1000], [1000, 999], [1000, 1000], [1000, 1000], [400, 380]])), 2, 'one lost echo breaks the run');
  assert.equal(steadySeconds(report(T0 + 4_400, clean, [[T0 + 2_980, T0 + 3_040]])), 0, 'a 60 ms gap across the last counted second');
  assert.equal(steadySeconds(report(T0 + 4_400, clean, [[T0 + 1_500, T0 + 1_560]])), 2);
  assert.equal(steadySeconds(report(T0 + 4_400, clean, [[T0 + 1_500, T0 + 1_520], [T0 + 3_100, T0 + 3_106]])), 4, 'TCG\'s everyday 5-37 ms gaps do not count');
  assert.equal(steadySeconds(report(T0 + 4_400, clean, [], T0 + 4_340)), 0, 'no echo for 60 ms: a long gap is open');
  assert.equal(steadySeconds(report(T0 + 4_400, clean, [], T0 + 4_390)), 4, 'no echo for 10 ms is everyday jitter');
});

test('the echo probe answers `report` on stdin while it runs, with per-second counts, and still ends with its final report, taking its ready file with it', { timeout: 30_000 }, async () => {
  // An echo server on loopback stands in for the guest's isobench-udp-echo.
  const server = createSocket('udp4');
  server.on('message', (message, peer) => server.send(message, peer.port, peer.address));
  await new Promise<void>((resolve) => server.bind(ECHO_PORT, '127.0.0.1', resolve));
  const scratch = await mkdtemp(join(tmpdir(), 'isobench-probe-'));
  const client = { wrap: (command: readonly string[]) => [...command], exec: () => Promise.reject(new Error('not used')) };
  const probe = startEchoProbe(client, '127.0.0.1', 20, join(scratch, 'ready'));
  try {
    await waitForFile(join(scratch, 'ready'), 'no echo came back');
    await new Promise((resolve) => setTimeout(resolve, 2_400));
    const [first, second] = [await probe.snapshot(), await probe.snapshot()];
    assert.ok(second.endedAtMs >= first.endedAtMs && second.sent >= first.sent, 'the second answer is the later one');
    assert.ok(first.perSecond.length >= 2, JSON.stringify(first.perSecond));
    const [sent, answered] = first.perSecond[1]!;
    assert.ok(sent > 500, `a 1 ms stream sent ${sent} datagrams in its second second`);
    assert.ok(answered >= sent - 5, `loopback answers all but a few: ${answered} of ${sent}`);
    assert.equal(first.perSecond.reduce((sum, [count]) => sum + count, 0), first.sent, 'every datagram sent is in a second');
    const final = await probe.stop();
    assert.ok(final.sent >= second.sent);
    // On a lab watch host the file lies outside anything the run's ledger removes: the probe takes it with it.
    assert.equal(existsSync(join(scratch, 'ready')), false, 'the probe removed its ready file as it ended');
  } finally {
    await probe.stop().catch(() => {});
    server.close();
    await rm(scratch, { recursive: true, force: true });
  }
});
