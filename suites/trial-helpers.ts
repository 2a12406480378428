import { describeFailure, type CommandOutcome } from '../core/exec.js';
import type { TrialOutcome } from '../contracts/suite.js';
import type { MetricDefinition } from '../results/metrics.js';
import type { MetricSample } from '../results/schema.js';

/** One measured value of a defined metric; `method` says how it was obtained when more than one way exists. */
export function sample(metric: MetricDefinition, value: number, method?: string): MetricSample {
  return { name: metric.name, unit: metric.unit, value, ...(method !== undefined ? { method } : {}) };
}

/** Turns a finished tool run into a trial outcome: a failed command or a parse error is a `failed` trial. */
export function outcomeFromTool(
  outcome: CommandOutcome,
  commands: string[][],
  toMetrics: (stdout: string) => MetricSample[],
): TrialOutcome {
  if (!outcome.ok) return { state: 'failed', reason: describeFailure(outcome), commands };
  try {
    return { state: 'completed', metrics: toMetrics(outcome.stdout), commands };
  } catch (error) {
    return { state: 'failed', reason: (error as Error).message, commands };
  }
}

/** A `failed` trial whose reason is the error's message (anything thrown, not only Errors). */
export function failedTrial(error: unknown, commands: string[][]): TrialOutcome {
  return { state: 'failed', reason: error instanceof Error ? error.message : String(error), commands };
}
