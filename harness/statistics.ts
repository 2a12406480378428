import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { max, mean, min, sampleStandardDeviation } from 'simple-statistics';

/** Above this coefficient of variation a point is `noisy`: its mean is kept, and flagged. */
export const DEFAULT_CV_THRESHOLD = 0.05;

/** Summary statistics of a set of trials, in the unit of the samples (cv excepted). */
export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 denominator); 0 when n = 1. */
  sd: number;
  /** Bounds of the 95 % confidence interval of the mean, Student's t with n - 1 degrees of freedom. */
  ci95Low: number;
  ci95High: number;
  /** Coefficient of variation sd / |mean|, a fraction; 0 when the mean is 0. */
  cv: number;
  min: number;
  max: number;
}

/**
 * Mean, sample sd, t-based 95 % CI and CV of one point's trials (simple-statistics for the moments,
 * @stdlib's Student-t quantile for the interval). With one sample the CI collapses to the mean:
 * there is no spread to estimate, not a claim of zero uncertainty.
 * @throws {Error} when `samples` is empty.
 */
export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  if (n === 0) throw new Error('cannot summarize zero samples');
  const values = [...samples];
  const average = mean(values);
  // simple-statistics refuses a sample variance of one value; the contract says 0.
  const sd = n > 1 ? sampleStandardDeviation(values) : 0;
  const halfWidth = n > 1 ? tQuantile(0.975, n - 1) * (sd / Math.sqrt(n)) : 0;
  return {
    n,
    mean: average,
    sd,
    ci95Low: average - halfWidth,
    ci95High: average + halfWidth,
    cv: average !== 0 ? sd / Math.abs(average) : 0,
    min: min(values),
    max: max(values),
  };
}
