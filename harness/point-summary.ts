import { median, medianAbsoluteDeviation } from 'simple-statistics';
import { headlineSummary, type MetricSummary, type PointResult, type PointStatus } from '../results/schema.js';
import { summarize } from './statistics.js';

/** The modified z-score above which a repetition is an outlier (Iglewicz & Hoaglin 1993). */
export const OUTLIER_Z = 3.5;

/**
 * The indices of `values` whose modified z-score |0.6745·(x − median) / MAD| exceeds {@link OUTLIER_Z}
 * (B. Iglewicz and D. Hoaglin, *How to Detect and Handle Outliers*, ASQC 1993; 0.6745 makes the MAD
 * comparable to a standard deviation for normal data). A MAD of 0 (half the values or more are
 * equal) flags none: the rule has no scale to judge by then. Empty input flags none.
 */
export function modifiedZOutliers(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  const sample = [...values];
  const mad = medianAbsoluteDeviation(sample);
  if (!(mad > 0)) return [];
  const centre = median(sample);
  return sample.flatMap((value, index) => (Math.abs((0.6745 * (value - centre)) / mad) > OUTLIER_Z ? [index] : []));
}

/**
 * Recomputes a point's summaries and status from its raw trials (the only source of truth in the
 * file). The point's headline metric, declared by its suite (throughput, mean latency, IOPS), decides
 * through its coefficient of variation whether the point is `noisy`. Each summary lists its outlier
 * repetitions ({@link modifiedZOutliers}); they stay in the mean and interval. The reason notes the
 * headline's outliers, trials that ran on a busy host and trials flagged for steal time.
 */
export function summarizePoint(point: PointResult, cvThreshold: number): PointResult {
  const completed = point.trials.filter((trial) => trial.state === 'completed');
  const samplesByMetric = new Map<string, { unit: string; method: string | undefined; values: number[]; repetitions: number[] }>();
  for (const trial of completed) {
    for (const metric of trial.metrics) {
      const entry = samplesByMetric.get(metric.name) ?? { unit: metric.unit, method: metric.method, values: [], repetitions: [] };
      entry.values.push(metric.value);
      entry.repetitions.push(trial.repetition);
      samplesByMetric.set(metric.name, entry);
    }
  }
  const summaries: MetricSummary[] = [...samplesByMetric].map(([metric, { unit, method, values, repetitions }]) => {
    const summary = summarize(values);
    const outliers = modifiedZOutliers(values).map((index) => repetitions[index]!);
    return { metric, unit, ...(method ? { method } : {}), ...summary, status: summary.cv > cvThreshold ? 'noisy' : 'ok', outliers };
  });
  const { status, reason } = pointStatus(point, summaries, cvThreshold);
  return { ...point, summaries, status, ...(reason ? { reason } : { reason: undefined }) };
}

function pointStatus(point: PointResult, summaries: MetricSummary[], cvThreshold: number): { status: PointStatus; reason?: string } {
  const failed = point.trials.filter((trial) => trial.state === 'failed');
  const skipped = point.trials.filter((trial) => trial.state === 'skipped');
  const flagged = point.trials.filter((trial) => trial.quietHost?.flagged).length;
  const stolen = point.trials.flatMap((trial) => (trial.steal?.flagged ? [trial.steal.fraction] : []));
  // Lab mode: a trial is flagged once, however many of its hosts lost time; the note names the hosts.
  const hostStolen = point.trials.flatMap((trial) => {
    const hosts = (trial.hostSteal ?? []).filter((check) => check.flagged);
    return hosts.length > 0 ? [{ fraction: Math.max(...hosts.map((check) => check.fraction)), hosts: hosts.map((check) => check.host) }] : [];
  });
  if (point.trials.length === 0) return { status: 'pending' };
  const firstReason = (trials: typeof point.trials) => {
    const trial = trials[0];
    return trial && trial.state !== 'completed' ? trial.reason : '';
  };
  if (summaries.length === 0) {
    if (failed.length > 0) return { status: 'failed', reason: firstReason(failed) };
    return { status: 'skipped', reason: firstReason(skipped) };
  }
  const notes: string[] = [];
  const headline = headlineSummary({ headline: point.headline, summaries });
  if (!headline) {
    notes.push(`the headline metric ${point.headline?.metric ?? ''} was not measured`);
    return { status: 'failed', reason: notes.join('; ') };
  }
  if (headline.status === 'noisy') {
    notes.push(`${headline.metric} varies by ${(headline.cv * 100).toFixed(1)} % (threshold ${(cvThreshold * 100).toFixed(0)} %)`);
  }
  const outliers = headline.outliers ?? [];
  if (outliers.length > 0) {
    notes.push(`${headline.metric} has ${outliers.length === 1 ? 'an outlier at repetition' : 'outliers at repetitions'} ${outliers.join(', ')} (modified z-score above ${OUTLIER_Z}; kept)`);
  }
  if (failed.length > 0) notes.push(`${failed.length} of ${point.trials.length} trials failed: ${firstReason(failed)}`);
  if (flagged > 0) notes.push(`${flagged} trial(s) ran on a busy host`);
  if (hostStolen.length > 0) {
    const names = [...new Set(hostStolen.flatMap((trial) => trial.hosts))].join(', ');
    notes.push(`${hostStolen.length} trial(s) lost CPU time to the hypervisor above the steal limit on host ${names} (up to ${(Math.max(...hostStolen.map((trial) => trial.fraction)) * 100).toFixed(1)} % steal)`);
  }
  if (stolen.length > 0) notes.push(`${stolen.length} trial(s) lost CPU time to the hypervisor above the steal limit (up to ${(Math.max(...stolen) * 100).toFixed(1)} % steal)`);
  return { status: headline.status === 'noisy' ? 'noisy' : 'ok', ...(notes.length > 0 ? { reason: notes.join('; ') } : {}) };
}
