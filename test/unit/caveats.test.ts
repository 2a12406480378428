/**
 * results/caveats.ts: a point measured on a busy host says so under its line in `npm run results`
 * and on its figure row, so its figures never read as a plain "ok".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { pointCaveats } from '../../results/caveats.js';
import { readResultsFile } from '../../results/store.js';
import { toVerdictTable } from '../../results/table.js';
import { REPO_ROOT } from '../helpers.js';

test('trials that ran on a busy host are a caveat of their point, in the table under the target\'s line', async () => {
  const file = await readResultsFile(join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json'));
  const point = file.points[0]!;
  assert.deepEqual(pointCaveats(point), [], 'a quiet host: nothing to say');
  // As the quiet-host wait records a host still busy after --quiet-wait (a real first look on a busy host: 0.99-1.0).
  point.trials[0]!.quietHost = { busyFraction: 0.9949, waitedMs: 19_139, flagged: true };
  const expected = `1 of ${point.trials.length} trial(s) ran on a busy host (up to 99 % busy when the wait gave up): their figures may be off`;
  assert.deepEqual(pointCaveats(point), [expected]);
  const table = toVerdictTable(file);
  assert.match(table, /\n {4}caveat: 1 of 1 trial\(s\) ran on a busy host \(up to 99 % busy when the wait gave up\): their\n {4}figures may be off\n/);
  // Lab mode samples the server host over SSH and records its name: the caveat names it.
  point.trials[0]!.quietHost = { busyFraction: 0.61, waitedMs: 5_000, flagged: true, host: 'sut' };
  assert.deepEqual(pointCaveats(point), [`1 of ${point.trials.length} trial(s) ran on busy lab host sut (up to 61 % busy when the wait gave up): their figures may be off`]);
});

test('the table says what a target fell back to, as the report\'s banner does (it showed a TCG guest as plain kvm)', async () => {
  const file = await readResultsFile(join(REPO_ROOT, 'test/fixtures/random-io/seq-io-native-kvm-1rep.json'));
  const table = toVerdictTable(file);
  assert.match(table, /\nkvm ran degraded: TCG emulation: not KVM; no vhost-net: userspace virtio-net\n/);
  assert.doesNotMatch(table, /native ran degraded/);
});
