import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/random.js';
import { readResultsFile } from '../../results/store.js';
import { judgePoint, verdictsFor, type Verdict } from '../../results/verdict.js';
import { FIXTURES, standardNormal, withRepetitions, withScaledTarget } from '../fixtures/reports/derive.js';

// Statistical tests on simulated samples (issue 9): every draw comes from a fixed seed, so each
// count below is the same on every run.

/** n draws of a lognormal with the given mean and coefficient of variation. */
function lognormal(random: () => number, n: number, mean: number, cv: number): number[] {
  const sigma = Math.sqrt(Math.log(1 + cv * cv));
  return Array.from({ length: n }, () => mean * Math.exp(sigma * standardNormal(random) - (sigma * sigma) / 2));
}

/** n evenly spread samples with exactly this mean and sample CV: the same shape for every noise level. */
function exact(n: number, mean: number, cv: number): number[] {
  const shape = Array.from({ length: n }, (_, index) => index - (n - 1) / 2);
  const sd = Math.sqrt(shape.reduce((sum, value) => sum + value * value, 0) / (n - 1));
  return shape.map((value) => mean * (1 + (cv * value) / sd));
}

const claims = (verdict: Verdict) => verdict.verdict === 'slower' || verdict.verdict === 'faster';

function assertPositiveInterval(verdict: Verdict, label: string): void {
  assert.notEqual(verdict.ci95, null, label);
  const { ratio, ci95, ci90 } = verdict as Exclude<Verdict, { verdict: 'not-comparable' }>;
  for (const [low, high] of [ci95, ci90]) {
    assert.ok(low > 0 && Number.isFinite(high), `${label}: [${low}, ${high}]`);
    assert.ok(low <= ratio && ratio <= high, `${label}: ${ratio} outside [${low}, ${high}]`);
  }
  assert.ok(ci95[0] <= ci90[0] && ci90[1] <= ci95[1], `${label}: the 90 % interval lies inside the 95 % one`);
}

test('A/A: 1,000 comparisons of one lognormal (CV 5 %, n = 5 a side) claim a difference at most 5 % of the time', (t) => {
  const random = seededRandom(20140301);
  let claimed = 0;
  for (let index = 0; index < 1000; index++) {
    const verdict = judgePoint(lognormal(random, 5, 100, 0.05), lognormal(random, 5, 100, 0.05), {
      direction: index % 2 === 0 ? 'higher' : 'lower',
      seed: index,
      resamples: 2000,
    });
    assertPositiveInterval(verdict, `A/A ${index}`);
    if (claims(verdict)) claimed++;
  }
  t.diagnostic(`${claimed} of 1000 A/A comparisons claimed a difference`);
  assert.ok(claimed <= 50, `${claimed} of 1000 A/A comparisons claimed a difference`);
});

test('a true 10 % shift at CV 5 % with n = 10 is detected, with the sign the direction gives', (t) => {
  for (const direction of ['higher', 'lower'] as const) {
    for (const [shift, expected] of [[0.9, 'slower'], [1.1, 'faster']] as const) {
      // For a cost (lower is better) a 10 % higher candidate is the slower one.
      const want = direction === 'higher' ? expected : expected === 'slower' ? 'faster' : 'slower';
      const random = seededRandom(7);
      const counts = { right: 0, wrong: 0 };
      for (let index = 0; index < 100; index++) {
        const verdict = judgePoint(lognormal(random, 10, 100, 0.05), lognormal(random, 10, 100 * shift, 0.05), { direction, seed: index, resamples: 2000 });
        if (verdict.verdict === want) {
          counts.right++;
          assert.ok(Math.abs(verdict.effectPercent - 100 * Math.abs(verdict.ratio - 1)) < 1e-9);
        } else if (claims(verdict)) counts.wrong++;
      }
      t.diagnostic(`${direction} ×${shift}: ${want} in ${counts.right} of 100, the wrong sign in ${counts.wrong}`);
      assert.equal(counts.wrong, 0, `${direction} ×${shift}: a wrong sign`);
      assert.ok(counts.right >= 90, `${direction} ×${shift}: detected ${counts.right} of 100`);
    }
  }
});

test('a 10 % shift is detected about as often as planned at the n that repetitionsNeeded gives', (t) => {
  // Three trials a side cannot decide it; the estimate says how many would (power 80 %).
  const small = judgePoint(exact(3, 100, 0.05), exact(3, 90, 0.05), { direction: 'higher', seed: 1 });
  assert.equal(small.verdict, 'undecided');
  const n = small.verdict === 'undecided' ? small.repetitionsNeeded : null;
  assert.ok(n !== null && n > 3 && n <= 12, `repetitionsNeeded ${n}`);
  const random = seededRandom(11);
  let detected = 0;
  for (let index = 0; index < 200; index++) {
    const verdict = judgePoint(lognormal(random, n, 100, 0.05), lognormal(random, n, 90, 0.05), { direction: 'higher', seed: index, resamples: 2000 });
    if (verdict.verdict === 'slower') detected++;
  }
  t.diagnostic(`repetitionsNeeded ${n}; detected in ${detected} of 200 at that n`);
  assert.ok(detected >= 0.7 * 200, `detected ${detected} of 200 at n = ${n}`);
});

test('samples from one distribution with CV 1 % and n = 10 are equivalent', () => {
  const random = seededRandom(3);
  for (let index = 0; index < 50; index++) {
    const verdict = judgePoint(lognormal(random, 10, 50, 0.01), lognormal(random, 10, 50, 0.01), { direction: 'lower', seed: index, resamples: 2000 });
    assert.equal(verdict.verdict, 'equivalent', `comparison ${index}: ${JSON.stringify(verdict)}`);
    assert.ok(verdict.ci90[0] >= 1 / 1.05 && verdict.ci90[1] <= 1.05);
  }
  // The margin is the caller's: at ±1 % the same kind of samples cannot be called equivalent.
  const strict = judgePoint(exact(10, 50, 0.01), exact(10, 50.2, 0.01), { direction: 'lower', seed: 1, marginPercent: 1 });
  assert.notEqual(strict.verdict, 'equivalent');
});

test('a difference the interval is sure of but smaller than the margin is not called slower or faster', () => {
  // 4 % apart at CV 3 %, n = 10: the 95 % interval excludes 1, yet the effect is inside ±5 %.
  const verdict = judgePoint(exact(10, 100, 0.03), exact(10, 104, 0.03), { direction: 'higher', seed: 6 });
  assert.ok(verdict.ci95 !== null && verdict.ci95[0] > 1, JSON.stringify(verdict));
  assert.equal(verdict.verdict, 'undecided');
  // A 1 % margin makes the same 4 % a difference.
  assert.equal(judgePoint(exact(10, 100, 0.03), exact(10, 104, 0.03), { direction: 'higher', seed: 6, marginPercent: 1 }).verdict, 'faster');
});

test('the ratio interval never has a non-positive bound, even for skewed samples spanning decades', () => {
  const skewed = [0.001, 1000, 1, 5, 0.01];
  // A mean ± t·sd interval of these reaches far below zero; the ratio's interval stays positive.
  for (const [baseline, candidate] of [[skewed, [2, 3, 4, 5]], [[2, 3, 4, 5], skewed], [skewed, skewed.map((value) => value * 3)]]) {
    const verdict = judgePoint(baseline!, candidate!, { direction: 'higher', seed: 5 });
    assertPositiveInterval(verdict, JSON.stringify(verdict));
  }
  const random = seededRandom(99);
  for (let index = 0; index < 100; index++) {
    const verdict = judgePoint(lognormal(random, 3, 1, 1.5), lognormal(random, 4, 1, 1.5), { direction: 'lower', seed: index, resamples: 1000 });
    assertPositiveInterval(verdict, `CV 150 % comparison ${index}`);
  }
});

test('one sample a side, or a zero, negative or non-finite sample, is not comparable and says why', () => {
  const options = { direction: 'higher', seed: 1 } as const;
  const single = judgePoint([10], [9, 11], options);
  assert.equal(single.verdict, 'not-comparable');
  assert.match(single.verdict === 'not-comparable' ? single.reason : '', /at least 2 samples.*baseline 1, candidate 2/);
  assert.equal(single.ratio, 1);
  assert.equal(single.ci95, null);
  assert.equal(judgePoint([10, 11], [], options).ratio, null);
  for (const [baseline, candidate, side] of [[[10, 0, 11], [9, 10], 'baseline'], [[10, 11], [9, -1], 'candidate'], [[10, 11], [9, Number.NaN], 'candidate']] as const) {
    const verdict = judgePoint(baseline, candidate, options);
    assert.equal(verdict.verdict, 'not-comparable');
    assert.match(verdict.verdict === 'not-comparable' ? verdict.reason : '', new RegExp(`the ${side} has a sample of .*positive`));
    assert.equal(verdict.ratio, null);
  }
});

test('repetitionsNeeded grows with the noise, for equivalence and for a difference', (t) => {
  const options = { direction: 'higher', seed: 2 } as const;
  const needed = (ratio: number, cv: number) => {
    const verdict = judgePoint(exact(5, 100, cv), exact(5, 100 * ratio, cv), options);
    assert.equal(verdict.verdict, 'undecided', `ratio ${ratio} cv ${cv}: ${JSON.stringify(verdict)}`);
    return verdict.verdict === 'undecided' ? verdict.repetitionsNeeded! : Number.NaN;
  };
  // Ratio 1.01 is undecided on the way to equivalent, 1.07 on the way to a difference.
  for (const [ratio, cv] of [[1.01, 0.04], [1.07, 0.05]] as const) {
    const quiet = needed(ratio, cv);
    const noisy = needed(ratio, 2 * cv);
    assert.ok(quiet > 5 && noisy > quiet, `ratio ${ratio}: ${quiet} at CV ${cv}, ${noisy} at CV ${2 * cv}`);
    t.diagnostic(`ratio ${ratio}: ${quiet} a side at CV ${cv}, ${noisy} at CV ${2 * cv}`);
    // Twice the CV is four times the variance: about four times the repetitions.
    assert.ok(noisy >= 3 * quiet, `ratio ${ratio}: ${quiet} → ${noisy}`);
  }
});

test('the same samples and seed give the same verdict; bad options are refused', () => {
  const baseline = [10.1, 9.7, 10.4, 9.9];
  const candidate = [10.6, 10.2, 10.9, 10.3];
  assert.deepEqual(judgePoint(baseline, candidate, { direction: 'higher', seed: 4 }), judgePoint(baseline, candidate, { direction: 'higher', seed: 4 }));
  assert.throws(() => judgePoint(baseline, candidate, { direction: 'higher', seed: 4, marginPercent: 0 }), RangeError);
  assert.throws(() => judgePoint(baseline, candidate, { direction: 'higher', seed: 4.5 }), RangeError);
  assert.throws(() => judgePoint(baseline, candidate, { direction: 'higher', seed: 4, resamples: 10 }), RangeError);
});

test('verdictsFor judges each candidate point against the native point of the same suite and pointId', async () => {
  const real = await readResultsFile(FIXTURES.network);
  // The committed run has one trial a point and no declared headlines: nothing to judge.
  assert.deepEqual(verdictsFor(withScaledTarget(real, 'kvm', 0.8)), []);

  const repeated = withRepetitions(real, 5, 0.02, 9);
  const file = withScaledTarget(withScaledTarget(repeated, 'docker-host', 1), 'kvm', 0.8);
  // A candidate point the baseline never ran.
  const orphan = structuredClone(file.points.find((point) => point.target === 'kvm' && point.suite === 'tcp-rr')!);
  file.points.push({ ...orphan, key: 'kvm/tcp-rr/unix', pointId: 'unix' });

  const verdicts = verdictsFor(file, 'native', { seed: 1, resamples: 2000 });
  assert.deepEqual(
    verdicts.map(({ key, metric, verdict }) => [key, metric, verdict.verdict]),
    [
      ['docker-host/tcp-bulk/client-to-server', 'throughput_gbps', 'equivalent'],
      ['docker-host/tcp-bulk/server-to-client', 'throughput_gbps', 'equivalent'],
      ['docker-host/tcp-rr/tcp', 'latency_mean_us', 'equivalent'],
      ['docker-host/tcp-rr/udp', 'latency_mean_us', 'equivalent'],
      ['kvm/tcp-bulk/client-to-server', 'throughput_gbps', 'slower'],
      ['kvm/tcp-bulk/server-to-client', 'throughput_gbps', 'slower'],
      ['kvm/tcp-rr/tcp', 'latency_mean_us', 'slower'],
      ['kvm/tcp-rr/udp', 'latency_mean_us', 'slower'],
      ['kvm/tcp-rr/unix', 'latency_mean_us', 'not-comparable'],
    ],
  );
  const kvm = verdicts.filter((entry) => entry.target === 'kvm' && entry.verdict.verdict === 'slower');
  for (const { suite, verdict } of kvm) {
    // Throughput × 0.8 is 20 % slower; latency ÷ 0.8 is 25 % slower.
    const ratio = suite === 'tcp-bulk' ? 0.8 : 1.25;
    assert.ok(Math.abs(verdict.ratio! - ratio) < 1e-9, `${verdict.ratio}`);
    assert.ok(verdict.verdict === 'slower' && Math.abs(verdict.effectPercent - 100 * Math.abs(ratio - 1)) < 1e-9);
  }
  const orphanVerdict = verdicts.at(-1)!.verdict;
  assert.match(orphanVerdict.verdict === 'not-comparable' ? orphanVerdict.reason : '', /native has no point tcp-rr\/unix/);
  assert.deepEqual(verdictsFor(file, 'native', { seed: 1, resamples: 2000 }), verdicts, 'reproducible');

  // Another baseline: against kvm, native is the faster one.
  const againstKvm = verdictsFor(file, 'kvm', { resamples: 2000 }).filter((entry) => entry.target === 'native');
  assert.equal(againstKvm.length, 4);
  assert.ok(againstKvm.every((entry) => entry.verdict.verdict === 'faster'));
});
