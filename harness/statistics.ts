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
 * Mean, sample sd, t-based 95 % CI and CV of one point's trials. With one sample the CI collapses to
 * the mean: there is no spread to estimate, not a claim of zero uncertainty.
 * @throws {Error} when `samples` is empty.
 */
export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  if (n === 0) throw new Error('cannot summarize zero samples');
  const mean = samples.reduce((sum, value) => sum + value, 0) / n;
  const sd = n > 1 ? Math.sqrt(samples.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1)) : 0;
  const halfWidth = n > 1 ? studentTQuantile(0.975, n - 1) * (sd / Math.sqrt(n)) : 0;
  return {
    n,
    mean,
    sd,
    ci95Low: mean - halfWidth,
    ci95High: mean + halfWidth,
    cv: mean !== 0 ? sd / Math.abs(mean) : 0,
    min: Math.min(...samples),
    max: Math.max(...samples),
  };
}

/** Quantile of Student's t distribution, by bisection on its CDF. */
export function studentTQuantile(probability: number, degreesOfFreedom: number): number {
  if (!(probability > 0 && probability < 1)) throw new Error('probability must lie in (0, 1)');
  if (!(degreesOfFreedom > 0)) throw new Error('degrees of freedom must be positive');
  if (probability < 0.5) return -studentTQuantile(1 - probability, degreesOfFreedom);
  let low = 0;
  let high = 1;
  while (studentTCdf(high, degreesOfFreedom) < probability) high *= 2;
  for (let iteration = 0; iteration < 200 && high - low > 1e-12; iteration++) {
    const middle = (low + high) / 2;
    if (studentTCdf(middle, degreesOfFreedom) < probability) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/**
 * CDF of Student's t distribution, P(T <= t), through the regularized incomplete beta function
 * (Numerical Recipes, 6.4): the tail is I_x(df/2, 1/2) / 2 with x = df / (df + t^2).
 */
export function studentTCdf(t: number, degreesOfFreedom: number): number {
  const x = degreesOfFreedom / (degreesOfFreedom + t * t);
  const tail = 0.5 * regularizedIncompleteBeta(x, degreesOfFreedom / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** I_x(a, b) by Lentz's continued fraction (Numerical Recipes, 6.4). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let term = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + term * d;
    c = 1 + term / c;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = Math.abs(c) < tiny ? tiny : c;
    result *= d * c;
    term = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + term * d;
    c = 1 + term / c;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = Math.abs(c) < tiny ? tiny : c;
    const delta = d * c;
    result *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return result;
}

/** Lanczos approximation (g = 7, n = 9). */
export function logGamma(z: number): number {
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - logGamma(1 - z);
  const shifted = z - 1;
  let sum = coefficients[0]!;
  for (let index = 1; index < coefficients.length; index++) sum += coefficients[index]! / (shifted + index);
  const t = shifted + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(sum);
}
