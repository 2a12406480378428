/**
 * harness/quiet-host.ts with a scripted CPU-times reader: no real sampling, windows of a few ms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostCpuTimes } from '../../core/cpu-meter.js';
import { waitForQuietHost } from '../../harness/quiet-host.js';

/**
 * A reader for a host whose windows are busy by the given fractions, in order (the last repeats).
 * waitForQuietHost reads twice per window, before and after; the counters advance by one
 * CPU-second per window. Counts the windows it was read for.
 */
function scriptedHost(fractions: number[]) {
  let busySeconds = 1_000;
  let totalSeconds = 5_000;
  let reads = 0;
  const host = {
    windows: 0,
    read: async (): Promise<HostCpuTimes> => {
      if (reads++ % 2 === 1) {
        const fraction = fractions[Math.min(host.windows, fractions.length - 1)]!;
        busySeconds += fraction;
        totalSeconds += 1;
        host.windows++;
      }
      return { busySeconds, totalSeconds };
    },
  };
  return host;
}

test('a quiet host is not flagged and not waited for', async () => {
  const host = scriptedHost([0.1]);
  const check = await waitForQuietHost({ sampleMs: 5, maxWaitMs: 10_000 }, host.read);
  assert.equal(check.flagged, false);
  assert.ok(Math.abs(check.busyFraction - 0.1) < 1e-9);
  assert.equal(host.windows, 1);
  assert.ok(check.waitedMs < 1_000, `waited ${check.waitedMs} ms`);
});

test('a busy host is waited for up to maxWaitMs, then the trial is flagged with the last figure', async () => {
  const host = scriptedHost([0.9, 0.95]);
  const started = performance.now();
  const check = await waitForQuietHost({ sampleMs: 10, maxWaitMs: 60 }, host.read);
  const elapsed = performance.now() - started;
  assert.equal(check.flagged, true);
  assert.ok(host.windows >= 2, `sampled ${host.windows} window(s) before giving up`);
  assert.ok(Math.abs(check.busyFraction - 0.95) < 1e-9, `busyFraction ${check.busyFraction}`);
  assert.ok(elapsed >= 60, `gave up after ${elapsed} ms, before maxWaitMs`);
  assert.ok(elapsed < 3_000, `gave up after ${elapsed} ms`);
  assert.ok(check.waitedMs >= 60 - 10 - 1, `waitedMs ${check.waitedMs}`);
});

test('a host that calms down while waited for is not flagged', async () => {
  const host = scriptedHost([0.9, 0.9, 0.05]);
  const check = await waitForQuietHost({ sampleMs: 5, maxWaitMs: 10_000 }, host.read);
  assert.equal(check.flagged, false);
  assert.equal(host.windows, 3);
  assert.ok(Math.abs(check.busyFraction - 0.05) < 1e-9);
  assert.ok(check.waitedMs >= 5, `waitedMs ${check.waitedMs}`);
});

test('busyThreshold decides: exactly at the threshold is quiet, above it busy', async () => {
  assert.equal((await waitForQuietHost({ sampleMs: 1, maxWaitMs: 0, busyThreshold: 0.5 }, scriptedHost([0.5]).read)).flagged, false);
  assert.equal((await waitForQuietHost({ sampleMs: 1, maxWaitMs: 0, busyThreshold: 0.5 }, scriptedHost([0.51]).read)).flagged, true);
});

test('maxWaitMs 0 samples one window and never waits', async () => {
  const host = scriptedHost([1]);
  const check = await waitForQuietHost({ sampleMs: 5, maxWaitMs: 0 }, host.read);
  assert.equal(check.flagged, true);
  assert.equal(host.windows, 1);
});

test('a window in which no CPU time passed reads as quiet', async () => {
  const check = await waitForQuietHost({ sampleMs: 1, maxWaitMs: 0 }, async () => ({ busySeconds: 10, totalSeconds: 20 }));
  assert.deepEqual({ flagged: check.flagged, busyFraction: check.busyFraction }, { flagged: false, busyFraction: 0 });
});
