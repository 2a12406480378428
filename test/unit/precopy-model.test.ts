import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/random.js';
import {
  constantDirtyTrace,
  dirtierTrace,
  predictClark,
  predictQemu,
  sampledDirtyTrace,
  traceFromMeasuredRounds,
  wwsCurveTrace,
  XEN_MBIT_BYTES_PER_SECOND,
  type DirtyTrace,
  type MeasuredRoundRecord,
  type PrecopyPrediction,
} from '../../models/precopy/index.js';

// Units used in the hand-worked cases below. A page is 4096 bytes. Xen's "Mbit/s" is 131072 bytes/s
// (2^20 bits), i.e. 32 pages/s, so Clark's defaults are: minimum 100 Mbit/s = 3200 pages/s, maximum
// 500 Mbit/s = 16000 pages/s, increment 50 Mbit/s = 1600 pages/s. 64 MiB of guest memory = 16384 pages.
const MiB = 1024 * 1024;
const PAGE = 4096;
const GUEST = 64 * MiB; // 16384 pages

/** |actual − expected| within `relative` of expected (or 1e-9 absolute near 0). */
function near(actual: number | null, expected: number, relative = 1e-9, what = ''): void {
  assert.ok(actual !== null, `${what}: got null, expected ${expected}`);
  const tolerance = Math.max(Math.abs(expected) * relative, 1e-9);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected} (±${tolerance})`);
}

const pages = (bytes: number) => bytes / PAGE;
const durations = (prediction: PrecopyPrediction) => prediction.rounds.map((round) => round.durationMs);

// ---------------------------------------------------------------- Clark, hand-worked

test('Clark: a working set that converges in 3 rounds (few pages left), paper rules, no skipping', () => {
  // Dirty 400 pages/s, no working-set bound. Rate stays at the 3200 pages/s floor:
  // 400 pages/s dirtying + 1600 increment = 2000 < 3200 minimum.
  //   round 1: 16384 pages / 3200 = 5.12 s, dirtied 400 × 5.12 = 2048
  //   round 2:  2048 / 3200 = 0.64 s,       dirtied 256
  //   round 3:   256 / 3200 = 0.08 s,       dirtied 32 < 50 → few-pages
  //   stop-and-copy: 32 pages at 16000 pages/s (the maximum) = 2 ms
  // total 5120 + 640 + 80 + 2 = 5842 ms; bytes (16384 + 2048 + 256 + 32) × 4096 = 76 677 120.
  const prediction = predictClark({ memoryBytes: GUEST, skipRedirtied: false }, constantDirtyTrace({ pagesPerSecond: 400 }));
  assert.equal(prediction.stopReason, 'few-pages');
  assert.equal(prediction.precopyRounds, 3);
  assert.equal(prediction.switchedOver, true);
  assert.deepEqual(prediction.rounds.map((round) => round.kind), ['pre-copy', 'pre-copy', 'pre-copy', 'stop-and-copy']);
  [5120, 640, 80, 2].forEach((ms, index) => near(durations(prediction)[index]!, ms, 1e-9, `round ${index + 1} ms`));
  [16384, 2048, 256, 32].forEach((count, index) => near(pages(prediction.rounds[index]!.bytesSent), count, 1e-9, `round ${index + 1} pages`));
  [2048, 256, 32, 0].forEach((count, index) => near(prediction.rounds[index]!.pagesDirtiedDuring, count, 1e-9, `round ${index + 1} dirtied`));
  assert.deepEqual(prediction.rounds.map((round) => round.rateLimitBytesPerSecond / XEN_MBIT_BYTES_PER_SECOND), [100, 100, 100, 500]);
  near(prediction.rounds[1]!.startMs, 5120, 1e-9, 'round 2 start');
  near(prediction.totalTimeMs, 5842, 1e-9, 'total');
  near(prediction.downtimeMs, 2, 1e-9, 'downtime');
  assert.equal(prediction.totalBytesSent, 76_677_120);
});

test("Clark: the same workload under xc_linux_save's rules needs one more round and copies at the rate it had", () => {
  // Xen 2.0's stop test looks at the pages the round just handled (sent + skipped < 50), not at what
  // is left: 16384, 2048, 256, 32 → it stops after round 4 (10 ms, 32 / 3200; dirtied 400 × 0.01 = 4).
  // The rate never rises (400 pages/s is not above 3200), and the last 4 pages go at 3200 pages/s:
  // 4 / 3200 = 1.25 ms. Total 5120 + 640 + 80 + 10 + 1.25 = 5851.25 ms.
  const prediction = predictClark({ memoryBytes: GUEST, skipRedirtied: false, rules: 'xc_linux_save' }, constantDirtyTrace({ pagesPerSecond: 400 }));
  assert.equal(prediction.stopReason, 'few-pages');
  assert.equal(prediction.precopyRounds, 4);
  [5120, 640, 80, 10, 1.25].forEach((ms, index) => near(durations(prediction)[index]!, ms, 1e-9, `round ${index + 1} ms`));
  near(prediction.totalTimeMs, 5851.25, 1e-9, 'total');
  assert.equal(prediction.rounds.at(-1)!.rateLimitBytesPerSecond, 100 * XEN_MBIT_BYTES_PER_SECOND);
});

test('Clark: a workload dirtying above the cap never converges: rate-cap after round 2 (skipping re-dirtied pages)', () => {
  // Dirty 32000 pages/s (twice the 16000 maximum) inside a working set H = 4096 pages; memory M = 16384.
  // The hot set is fully dirtied after τ* = H / 32000 = 0.128 s.
  // Round 1, rate r = 3200, due pages all of memory; a due page is skipped if re-dirtied first, with
  // chance q(τ) = (H/M) × min(1, 32000 τ / H) = 0.25 × min(1, τ / 0.128). The sender works through due
  // pages at r / (1 − q), so by τ* it has been through r τ* × ln(1/0.75) / 0.25 = 409.6 × 1.150728 = 471.34
  // pages; after τ* at 3200 / 0.75 = 4266.67 pages/s, the other 15912.66 take 3.72953 s.
  //   T1 = 3.85753 s, sent 3200 × T1 = 12344.1 pages, skipped 4039.9; dirtied H = 4096;
  //   dirty rate 4096 / 3.85753 = 1061.8 pages/s → next rate max(3200, 1061.8 + 1600) = 3200.
  // Round 2, due 4096 (all hot): q(τ) = τ / 0.128, so τ(n) = τ* (1 − e^(−n / (r τ*))) over n due pages:
  //   T2 = 0.128 × (1 − e^(−4096/409.6)) = 0.128 × (1 − e^−10) = 0.1279942 s; sent 409.58 pages;
  //   dirtied 32000 × T2 = 4095.81 → dirty rate 32000 pages/s > 16000 → rate-cap.
  // Stop-and-copy: 4095.81 pages at 16000 pages/s = 255.988 ms. Total 3857.53 + 127.994 + 255.988 = 4241.51 ms.
  // (The scan is integrated numerically in 4096 steps: agreement to 1e-5 is asked.)
  const prediction = predictClark({ memoryBytes: GUEST }, constantDirtyTrace({ pagesPerSecond: 32000, workingSetPages: 4096 }));
  assert.equal(prediction.stopReason, 'rate-cap');
  assert.equal(prediction.precopyRounds, 2);
  const t1 = 0.128 + (16384 - 409.6 * 4 * Math.log(4 / 3)) / (3200 / 0.75);
  const t2 = 0.128 * (1 - Math.exp(-10));
  near(durations(prediction)[0]!, t1 * 1000, 1e-5, 'T1');
  near(durations(prediction)[1]!, t2 * 1000, 1e-5, 'T2');
  near(pages(prediction.rounds[0]!.bytesSent), 3200 * t1, 1e-5, 'round 1 sent');
  near(prediction.rounds[0]!.pagesDirtiedDuring, 4096, 1e-9, 'round 1 dirtied');
  near(prediction.rounds[1]!.pagesDirtiedDuring, 32000 * t2, 1e-5, 'round 2 dirtied');
  near(prediction.rounds[1]!.dirtyRateBytesPerSecond / PAGE, 32000, 1e-9, 'round 2 dirty rate');
  near(prediction.downtimeMs, ((32000 * t2) / 16000) * 1000, 1e-5, 'downtime');
  near(prediction.totalTimeMs, 4241.51, 1e-5, 'total');
});

test('Clark: without skipping, the same over-the-cap dirtier is never caught by the rate test: the round limit stops it', () => {
  // Dirty 32000 pages/s in H = 512 pages, no skipping. Every round re-sends the whole hot set, which is
  // dirtied again before the round ends, so the measured dirty rate is 512 / T = the round's own rate:
  // it climbs by 1600 a round and never goes above the 16000 maximum (paper: "dirty rate > max").
  //   round 1: 16384 / 3200 = 5.12 s, dirtied 512 → dirty rate 100 → next max(3200, 1700) = 3200
  //   rounds 2..9 at 3200, 4800, … 14400: 512 / rate = 160, 106.667, 80, 64, 53.333, 45.714, 40, 35.556 ms
  //   rounds 10..29 at 16000: 32 ms each (20 rounds = 640 ms)
  //   round 29 is the last pre-copy round (DEF_MAX_ITERS = 29) → round-limit; 512 pages at 16000 = 32 ms.
  // Sent 16384 + 28 × 512 = 30720 pages ≤ 3 × 16384, so the volume limit never bites.
  // Total 5120 + 585.2698 + 640 + 32 = 6377.2698 ms.
  const prediction = predictClark({ memoryBytes: GUEST, skipRedirtied: false }, constantDirtyTrace({ pagesPerSecond: 32000, workingSetPages: 512 }));
  assert.equal(prediction.stopReason, 'round-limit');
  assert.equal(prediction.precopyRounds, 29);
  assert.equal(prediction.rounds.length, 30);
  const ramp = [3200, 4800, 6400, 8000, 9600, 11200, 12800, 14400].reduce((sum, rate) => sum + (512 / rate) * 1000, 0);
  near(prediction.totalTimeMs, 5120 + ramp + 20 * 32 + 32, 1e-9, 'total');
  near(prediction.downtimeMs, 32, 1e-9, 'downtime');
  assert.equal(prediction.rounds[9]!.rateLimitBytesPerSecond, 500 * XEN_MBIT_BYTES_PER_SECOND);
  assert.equal(prediction.totalBytesSent, (16384 + 28 * 512 + 512) * PAGE);
  // A lower round limit stops it earlier: the limit is a parameter.
  assert.equal(predictClark({ memoryBytes: GUEST, skipRedirtied: false, maxPrecopyRounds: 5 }, constantDirtyTrace({ pagesPerSecond: 32000, workingSetPages: 512 })).precopyRounds, 5);
});

test('Clark: a large working set hits the volume limit (more than 3 × memory sent) after round 6', () => {
  // Dirty 32000 pages/s in H = 8192 pages (half of memory), no skipping. Each round resends 8192 pages:
  //   round 1: 5.12 s (16384 at 3200); rounds 2..6 at 3200, 4800, 6400, 8000, 9600 pages/s:
  //   2560, 1706.667, 1280, 1024, 853.333 ms. Pages sent after each round: 16384, 24576, 32768, 40960,
  //   49152 (= 3 × 16384, not more), 57344 > 49152 → volume-limit after round 6.
  //   Stop-and-copy: 8192 pages at 16000 = 512 ms. Total 5120 + 7424 + 512 = 13056 ms.
  const prediction = predictClark({ memoryBytes: GUEST, skipRedirtied: false }, constantDirtyTrace({ pagesPerSecond: 32000, workingSetPages: 8192 }));
  assert.equal(prediction.stopReason, 'volume-limit');
  assert.equal(prediction.precopyRounds, 6);
  [5120, 2560, 1706.6666666666667, 1280, 1024, 853.3333333333334, 512].forEach((ms, index) => near(durations(prediction)[index]!, ms, 1e-9, `round ${index + 1} ms`));
  near(prediction.totalTimeMs, 13056, 1e-9, 'total');
  // With a factor of 4 the same run goes on: the factor is a parameter.
  assert.notEqual(predictClark({ memoryBytes: GUEST, skipRedirtied: false, maxVolumeFactor: 4 }, constantDirtyTrace({ pagesPerSecond: 32000, workingSetPages: 8192 })).precopyRounds, 6);
});

test("Clark: against the paper's diabolical workload (512 MB VM, downtime about 3.5 s)", () => {
  // shared/reference: "In the third round, the transfer rate is scaled up to 500Mbit/s (max). Switch
  // to stop-and-copy, resulting in 3.5s downtime" (the lecture); papers.json marks 3.5 s as recalled,
  // approximate. The paper's dirty rate and working set are not in the reference, so this workload is
  // an assumption: 32000 pages/s (1000 Xen Mbit/s, above the link) in H = 56000 pages (218.75 MiB), the
  // set that 3.5 s at 500 Mbit/s would copy (3.5 × 16000 = 56000 pages). The downtime therefore agrees
  // by construction; what the model predicts on its own is the shape:
  //   round 1: cold pages sent, hot ones mostly skipped: 23.90 s, 76488 pages sent, dirty rate 2343 pages/s
  //            → next rate 3943 pages/s (123 Mbit/s);
  //   round 2: nearly all due pages re-dirtied and skipped: 1.75 s, dirty rate 32000 > 16000 → rate-cap;
  //   round 3: stop-and-copy of 55983 pages at 500 Mbit/s: 3.499 s.
  // That is the lecture's account (two pre-copy rounds, the third at 500 Mbit/s, then stop) within
  // 0.03 % on the downtime. Under xc_linux_save's rules the same run takes one more pre-copy round
  // (its rate stop needs the rate at the maximum first) and copies 48421 pages: 3.03 s.
  const trace = constantDirtyTrace({ pagesPerSecond: 32000, workingSetPages: 56000 });
  const paper = predictClark({ memoryBytes: 512 * MiB }, trace);
  assert.equal(paper.stopReason, 'rate-cap');
  assert.equal(paper.precopyRounds, 2);
  assert.equal(paper.rounds[2]!.rateLimitBytesPerSecond, 500 * XEN_MBIT_BYTES_PER_SECOND);
  near(paper.downtimeMs, 3500, 0.005, 'paper downtime vs 3.5 s');
  near(paper.totalTimeMs, 29151.0, 1e-4, 'paper total');
  const xc = predictClark({ memoryBytes: 512 * MiB, rules: 'xc_linux_save' }, trace);
  assert.equal(xc.stopReason, 'rate-cap');
  assert.equal(xc.precopyRounds, 3);
  near(xc.downtimeMs, 3026.28, 1e-4, 'xc downtime');
  // QEMU with its defaults at the same 500 Mbit/s never gets the 56000 hot pages under
  // 300 ms × 62.5 MiB/s = 18.75 MiB (4800 pages): it is cancelled at the harness's 30 syncs.
  const qemu = predictQemu({ memoryBytes: 512 * MiB, bandwidthBytesPerSecond: 500 * XEN_MBIT_BYTES_PER_SECOND }, trace);
  assert.equal(qemu.stopReason, 'round-limit');
  assert.equal(qemu.switchedOver, false);
  assert.equal(qemu.downtimeMs, null);
});

// ---------------------------------------------------------------- QEMU 7.2, hand-worked

// Bandwidth 32 MiB/s = 8192 pages/s = 819.2 pages per 100 ms window; downtime limit 250 ms →
// threshold 8192 × 0.25 = 2048 pages (checked at each window boundary, 0 before the first one closes).
const QEMU_CASE = { memoryBytes: GUEST, bandwidthBytesPerSecond: 32 * MiB, downtimeLimitMs: 250 };

test('QEMU: converges after 2 rounds when what is left after a sync fits the downtime limit', () => {
  // Dirty 1000 pages/s. Round 1 (dirty-sync-count 1): 18 windows send 14745.6 pages; at 1700 ms 2457.6
  // are left (not < 2048), at 1800 ms 1638.4 → sync: + 1000 × 1.8 = 1800 dirtied → 3438.4 ≥ 2048.
  // Round 2 (count 2): two windows send 1638.4 → 1800 left at 2000 ms → sync: + 200 → 2000 < 2048 →
  // switch over. QEMU's expected downtime then: 2000 pages / 8192 = 244.14 ms ≤ 250.
  // Completion syncs once more (count 4 in query-migrate) and copies the 2000 pages: 244.140625 ms.
  // Total 2000 + 244.140625 ms.
  const prediction = predictQemu(QEMU_CASE, constantDirtyTrace({ pagesPerSecond: 1000 }));
  assert.equal(prediction.stopReason, 'converged');
  assert.equal(prediction.switchedOver, true);
  assert.equal(prediction.precopyRounds, 2);
  assert.deepEqual(prediction.rounds.map((round) => round.dirtySyncCount), [1, 2, 4]);
  [1800, 200, 244.140625].forEach((ms, index) => near(durations(prediction)[index]!, ms, 1e-9, `round ${index + 1} ms`));
  [14745.6, 1638.4, 2000].forEach((count, index) => near(pages(prediction.rounds[index]!.bytesSent), count, 1e-9, `round ${index + 1} pages`));
  [1800, 200].forEach((count, index) => near(prediction.rounds[index]!.pagesDirtiedDuring, count, 1e-9, `round ${index + 1} dirtied`));
  near(prediction.rounds[1]!.expectedDowntimeMs, 244.140625, 1e-9, 'expected downtime at the switch-over');
  assert.ok(prediction.rounds[1]!.expectedDowntimeMs <= 250);
  near(prediction.downtimeMs, 244.140625, 1e-9, 'downtime');
  near(prediction.totalTimeMs, 2244.140625, 1e-9, 'total');
  // QEMU lifts its rate limit for the last copy: on a link 4 × faster the downtime is a quarter.
  near(predictQemu({ ...QEMU_CASE, switchoverBandwidthBytesPerSecond: 128 * MiB }, constantDirtyTrace({ pagesPerSecond: 1000 })).downtimeMs, 61.03515625, 1e-9, 'fast link');
});

test('QEMU: dirtying faster than the bandwidth never converges; the harness cancels it past its sync limit', () => {
  // Dirty 10000 pages/s > 8192. Each round sends 18 windows (14745.6 pages, 1800 ms) down to 1638.4
  // left; the sync adds 10000 × 1.8 = 18000 dirtied, capped at memory: 16384 pages again. With a limit
  // of 3 syncs, the sync at 5400 ms makes the count 4 > 3 → cancelled: no switch-over, no downtime.
  const prediction = predictQemu({ ...QEMU_CASE, maxDirtySyncCount: 3 }, constantDirtyTrace({ pagesPerSecond: 10000 }));
  assert.equal(prediction.stopReason, 'round-limit');
  assert.equal(prediction.switchedOver, false);
  assert.equal(prediction.downtimeMs, null);
  assert.equal(prediction.precopyRounds, 3);
  assert.deepEqual(durations(prediction).map((ms) => Math.round(ms * 1e6) / 1e6), [1800, 1800, 1800]);
  prediction.rounds.forEach((round) => near(round.remainingPagesAfter, 16384, 1e-9, `round ${round.round} left`));
  near(prediction.totalTimeMs, 5400, 1e-9, 'total');
  near(pages(prediction.totalBytesSent), 3 * 14745.6, 1e-9, 'pages sent');
});

test('QEMU: the harness time limit cancels mid-round', () => {
  // Same workload, a 4000 ms limit: rounds of 1800 and 1800 ms, then 400 ms (4 windows, 3276.8 pages) of round 3.
  const prediction = predictQemu({ ...QEMU_CASE, maxTimeMs: 4000 }, constantDirtyTrace({ pagesPerSecond: 10000 }));
  assert.equal(prediction.stopReason, 'time-limit');
  assert.equal(prediction.switchedOver, false);
  [1800, 1800, 400].forEach((ms, index) => near(durations(prediction)[index]!, ms, 1e-9, `round ${index + 1} ms`));
  near(pages(prediction.rounds[2]!.bytesSent), 3276.8, 1e-9, 'round 3 pages');
  near(prediction.totalTimeMs, 4000, 1e-9, 'total');
});

test('QEMU: zero pages make the first pass cheap on the wire, not in the threshold test', () => {
  // Half of memory is zero pages, the guest dirties nothing. A window's 819.2 × 4096 bytes carry
  // 1638.4 pages at 2048 bytes a page on average; after 9 windows (900 ms) 1638.4 pages are left,
  // under 2048 → sync, still under → switch over. The last copy is 1638.4 × 2048 bytes = 100 ms, while
  // QEMU's own estimate counts full pages: 1638.4 / 8192 = 200 ms. Total 1000 ms.
  const prediction = predictQemu({ ...QEMU_CASE, zeroPageFraction: 0.5 }, constantDirtyTrace({ pagesPerSecond: 0 }));
  assert.equal(prediction.stopReason, 'converged');
  assert.equal(prediction.precopyRounds, 1);
  near(durations(prediction)[0]!, 900, 1e-9, 'round 1 ms');
  near(prediction.rounds[0]!.expectedDowntimeMs, 200, 1e-9, "QEMU's estimate");
  near(prediction.downtimeMs, 100, 1e-9, 'downtime');
  near(prediction.totalTimeMs, 1000, 1e-9, 'total');
});

// ---------------------------------------------------------------- traces

test('traces: constant, dirtier, sampled steps, a working-set curve and measured QEMU rounds, hand-worked', () => {
  const constant = constantDirtyTrace({ pagesPerSecond: 400, workingSetPages: 1000 });
  assert.equal(constant.pagesDirtied(0, 500), 200); // 400 × 0.5
  assert.equal(constant.pagesDirtied(100, 10_000), 1000); // 3960 capped at the working set
  assert.equal(constant.pagesDirtied(7, 7), 0);
  const dirtier = dirtierTrace({ rateBytesPerSecond: 10 * MiB, workingSetBytes: 64 * MiB, pageSizeBytes: PAGE });
  assert.equal(dirtier.workingSetPages, 16384);
  assert.equal(dirtier.pagesDirtied(0, 1000), 2560); // 10 MiB / 4 KiB

  // Steps: 100 pages/s from 0 (and before), 300 from 1000 ms, 0 from 3000 ms.
  const steps = sampledDirtyTrace([
    { atMs: 0, pagesPerSecond: 100 },
    { atMs: 1000, pagesPerSecond: 300 },
    { atMs: 3000, pagesPerSecond: 0 },
  ]);
  assert.equal(steps.pagesDirtied(500, 2000), 350); // 100 × 0.5 + 300 × 1
  assert.equal(steps.pagesDirtied(2500, 9000), 150); // 300 × 0.5, then nothing
  assert.equal(sampledDirtyTrace([{ atMs: 0, pagesPerSecond: 100 }], { workingSetPages: 30 }).pagesDirtied(0, 1000), 30);

  // WWS curve: 100 pages in 1 s, 250 in 4 s, flat after.
  const curve = wwsCurveTrace([
    { intervalMs: 1000, pages: 100 },
    { intervalMs: 4000, pages: 250 },
  ]);
  assert.equal(curve.pagesDirtied(0, 500), 50);
  assert.equal(curve.pagesDirtied(2000, 4500), 175); // 2.5 s: 100 + 150 × 1.5 / 3
  assert.equal(curve.pagesDirtied(10_000, 30_000), 250);
  assert.equal(curve.workingSetPages, 250);

  // Measured polls: the rate is 0 (not computed yet) until QEMU's first 1 s period ends; 3000 pages/s is
  // first seen at 1200 ms and describes [0, 1200); 1000, first seen at 2500 ms, describes [1200, 2500) and after.
  const records: MeasuredRoundRecord[] = [
    { atMs: 0, dirtySyncCount: 1, dirtyPagesPerSecond: 0 },
    { atMs: 500, dirtySyncCount: 1, dirtyPagesPerSecond: 0 },
    { atMs: 1200, dirtySyncCount: 2, dirtyPagesPerSecond: 3000 },
    { atMs: 1700, dirtySyncCount: 2, dirtyPagesPerSecond: 3000 },
    { atMs: 2500, dirtySyncCount: 3, dirtyPagesPerSecond: 1000 },
    { atMs: 3000, dirtySyncCount: 3, dirtyPagesPerSecond: 1000 },
  ];
  const measured = traceFromMeasuredRounds(records);
  assert.equal(measured.pagesDirtied(0, 2000), 4400); // 3000 × 1.2 + 1000 × 0.8
  assert.equal(measured.pagesDirtied(1000, 1500), 900); // 3000 × 0.2 + 1000 × 0.3
  const shuffled = traceFromMeasuredRounds([records[4]!, records[0]!, records[5]!, records[2]!, records[1]!, records[3]!]);
  assert.equal(shuffled.pagesDirtied(0, 2000), 4400);
  assert.equal(traceFromMeasuredRounds([{ atMs: 0, dirtySyncCount: 1, dirtyPagesPerSecond: 0 }]).pagesDirtied(0, 5000), 0);
});

test('inputs out of range are refused with a RangeError that names the field', () => {
  const trace = constantDirtyTrace({ pagesPerSecond: 1 });
  assert.throws(() => predictClark({ memoryBytes: GUEST + 100 }, trace), { name: 'RangeError', message: /memoryBytes \(67108964\) must be a whole number of pages of 4096 bytes/ });
  assert.throws(() => predictClark({ memoryBytes: 0 }, trace), { name: 'RangeError', message: /memoryBytes must be a whole number of at least 1/ });
  assert.throws(() => predictClark({ memoryBytes: GUEST, maxRateBytesPerSecond: 1000, minRateBytesPerSecond: 2000 }, trace), /maxRateBytesPerSecond \(1000\) must not be below minRateBytesPerSecond \(2000\)/);
  assert.throws(() => predictClark({ memoryBytes: GUEST, maxPrecopyRounds: 2.5 }, trace), /maxPrecopyRounds must be a whole number of at least 1, got 2.5/);
  assert.throws(() => predictClark({ memoryBytes: GUEST, rateIncrementBytesPerSecond: Number.NaN }, trace), /rateIncrementBytesPerSecond must be a finite number, got NaN/);
  assert.throws(() => predictQemu({ memoryBytes: GUEST, zeroPageFraction: 1.5 }, trace), /zeroPageFraction must be between 0 and 1, got 1.5/);
  assert.throws(() => predictQemu({ memoryBytes: GUEST, bandwidthBytesPerSecond: 0 }, trace), /bandwidthBytesPerSecond must be above 0, got 0/);
  assert.throws(() => constantDirtyTrace({ pagesPerSecond: -1 }), /pagesPerSecond must be 0 or more, got -1/);
  assert.throws(() => trace.pagesDirtied(10, 5), /endMs \(5\) must not be before startMs \(10\)/);
  assert.throws(() => sampledDirtyTrace([]), /at least one sample/);
  assert.throws(() => sampledDirtyTrace([{ atMs: 5, pagesPerSecond: 1 }, { atMs: 2, pagesPerSecond: 1 }]), /samples\[1\]\.atMs \(2\) is before samples\[0\]\.atMs \(5\)/);
  assert.throws(() => wwsCurveTrace([{ intervalMs: 100, pages: 10 }, { intervalMs: 200, pages: 5 }]), /points\[1\]\.pages \(5\) is below points\[0\]\.pages \(10\)/);
  assert.throws(() => traceFromMeasuredRounds([{ atMs: 0, dirtySyncCount: 1, dirtyPagesPerSecond: Infinity }]), /records\[0\]\.dirtyPagesPerSecond must be a finite number/);
  const broken: DirtyTrace = { description: 'broken', pagesDirtied: () => Number.NaN };
  assert.throws(() => predictQemu({ memoryBytes: GUEST }, broken), /the dirty trace \(broken\) answered NaN pages/);
});

// ---------------------------------------------------------------- a recorded-looking trace

/**
 * A SYNTHETIC query-migrate transcript, shaped like issue 11's per-round records (a poll every 50 ms,
 * dirty-sync-count rising at each bitmap sync, dirty-pages-rate recomputed at a sync at most once a
 * second and 0 before that): a dirty workload of about 2560 pages/s (10 MiB/s) with ±10 % jitter from
 * core/random.ts's seeded generator, seed 12. Not a recording of a real migration: issue 11's trials
 * will supply those.
 */
function syntheticTranscript(): MeasuredRoundRecord[] {
  const random = seededRandom(12);
  const records: MeasuredRoundRecord[] = [];
  const syncTimesMs = [0, 1900, 2450, 2900, 4100, 4700, 6000, 6800, 8200];
  let rate = 0;
  let lastRateMs = 0;
  for (let atMs = 0; atMs <= 9000; atMs += 50) {
    const syncs = syncTimesMs.filter((time) => time <= atMs);
    const lastSync = syncs[syncs.length - 1]!;
    if (lastSync === atMs && atMs - lastRateMs > 1000) {
      rate = Math.round(2560 * (0.9 + 0.2 * random()));
      lastRateMs = atMs;
    }
    records.push({ atMs, dirtySyncCount: syncs.length, dirtyPagesPerSecond: rate });
  }
  return records;
}

test('predictions on a recorded-looking trace are stable: the same every time and whatever the record order; Clark continuous, QEMU to a window', () => {
  const records = syntheticTranscript();
  const parameters = { memoryBytes: 256 * MiB, bandwidthBytesPerSecond: 32 * MiB, downtimeLimitMs: 300 };
  const trace = traceFromMeasuredRounds(records);
  const clark = predictClark({ memoryBytes: 256 * MiB }, trace);
  const qemu = predictQemu(parameters, trace);

  // Deterministic: a second run, and a run on the records reversed, give identical predictions.
  assert.deepEqual(predictClark({ memoryBytes: 256 * MiB }, traceFromMeasuredRounds(records)), clark);
  assert.deepEqual(predictQemu(parameters, traceFromMeasuredRounds([...records].reverse())), qemu);

  for (const factor of [0.999, 1.001]) {
    const nudged = traceFromMeasuredRounds(records.map((record) => ({ ...record, dirtyPagesPerSecond: record.dirtyPagesPerSecond * factor })));
    // Clark is continuous: 0.1 % more or less dirtying keeps the rounds and moves total time and
    // downtime by less than 1 %.
    const clarkNudged = predictClark({ memoryBytes: 256 * MiB }, nudged);
    assert.equal(clarkNudged.precopyRounds, clark.precopyRounds, `clark rounds × ${factor}`);
    assert.equal(clarkNudged.stopReason, clark.stopReason);
    near(clarkNudged.totalTimeMs, clark.totalTimeMs, 0.01, `clark total × ${factor}`);
    near(clarkNudged.downtimeMs, clark.downtimeMs!, 0.01, `clark downtime × ${factor}`);
    // QEMU is not: it looks at what is left only at 100 ms window boundaries, so what is left at the
    // switch-over carries every page dirtied so far modulo a window's worth (×0.999 here takes one more
    // round, ×1.001 moves the downtime by 1.5 %). What holds is the rule itself: it still converges, within
    // one round and one window of the unnudged run, with a downtime under the limit.
    const qemuNudged = predictQemu(parameters, nudged);
    assert.equal(qemuNudged.stopReason, 'converged');
    assert.ok(Math.abs(qemuNudged.precopyRounds - qemu.precopyRounds) <= 1, `qemu rounds × ${factor}`);
    const switchOver = (prediction: PrecopyPrediction) => prediction.rounds.at(-1)!.startMs;
    assert.ok(Math.abs(switchOver(qemuNudged) - switchOver(qemu)) <= 100, `qemu switch-over × ${factor}`);
    assert.ok(qemuNudged.downtimeMs! <= 300, `qemu downtime × ${factor}`);
  }

  // Regression pins (this model's own output on the synthetic transcript, not measurements): a change
  // here is a change of the model and must be explained in its commit.
  assert.equal(clark.stopReason, 'few-pages');
  assert.equal(clark.precopyRounds, 15);
  near(clark.totalTimeMs, 32235.696, 1e-6, 'clark total');
  near(clark.downtimeMs, 2.7357, 1e-4, 'clark downtime');
  assert.equal(qemu.stopReason, 'converged');
  assert.equal(qemu.precopyRounds, 5);
  assert.deepEqual(qemu.rounds.map((round) => round.durationMs), [7800, 2400, 800, 300, 100, qemu.downtimeMs]);
  near(qemu.downtimeMs, 237.6587, 1e-6, 'qemu downtime');
});
