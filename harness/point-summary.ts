import { headlineSummary, type MetricSummary, type PointResult, type PointStatus } from '../results/schema.js';
import { summarize } from './statistics.js';

/**
 * Recomputes a point's summaries and status from its raw trials (the only source of truth in the
 * file). The point's headline metric, declared by its suite (throughput, mean latency, IOPS), decides
 * through its coefficient of variation whether the point is `noisy`.
 */
export function summarizePoint(point: PointResult, cvThreshold: number): PointResult {
  const completed = point.trials.filter((trial) => trial.state === 'completed');
  const samplesByMetric = new Map<string, { unit: string; method: string | undefined; values: number[] }>();
  for (const trial of completed) {
    for (const metric of trial.metrics) {
      const entry = samplesByMetric.get(metric.name) ?? { unit: metric.unit, method: metric.method, values: [] };
      entry.values.push(metric.value);
      samplesByMetric.set(metric.name, entry);
    }
  }
  const summaries: MetricSummary[] = [...samplesByMetric].map(([metric, { unit, method, values }]) => {
    const summary = summarize(values);
    return { metric, unit, ...(method ? { method } : {}), ...summary, status: summary.cv > cvThreshold ? 'noisy' : 'ok' };
  });
  const { status, reason } = pointStatus(point, summaries, cvThreshold);
  return { ...point, summaries, status, ...(reason ? { reason } : { reason: undefined }) };
}

function pointStatus(point: PointResult, summaries: MetricSummary[], cvThreshold: number): { status: PointStatus; reason?: string } {
  const failed = point.trials.filter((trial) => trial.state === 'failed');
  const skipped = point.trials.filter((trial) => trial.state === 'skipped');
  const flagged = point.trials.filter((trial) => trial.quietHost?.flagged).length;
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
  if (failed.length > 0) notes.push(`${failed.length} of ${point.trials.length} trials failed: ${firstReason(failed)}`);
  if (flagged > 0) notes.push(`${flagged} trial(s) ran on a busy host`);
  return { status: headline.status === 'noisy' ? 'noisy' : 'ok', ...(notes.length > 0 ? { reason: notes.join('; ') } : {}) };
}
