import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../../harness/duration.js';

test('durations: seconds, minutes, hours and their combinations, in seconds', () => {
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration('10m'), 600);
  assert.equal(parseDuration('1h'), 3600);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('2m30s'), 150);
  assert.equal(parseDuration('1h0m5s'), 3605);
});

test('durations: a bare number, fractions, words, a wrong order, zero and nothing are refused with what to write', () => {
  for (const text of ['90', '1.5h', '10 minutes', '30s1m', '1d', '-5m', 'm', '']) {
    assert.throws(() => parseDuration(text), /is not a duration: write it like 90s, 10m, 1h or 1h30m/, text);
  }
  assert.throws(() => parseDuration('0s'), /is no time at all/);
  assert.throws(() => parseDuration('0h0m'), /is no time at all/);
});
