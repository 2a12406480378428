import type { GuestHealth, MigrationOutcome, MigrationVariant } from '../../results/migration.js';

/** How the poll loop stopped (trial.ts), before the guest's health is known. */
export type LoopEnd =
  | { kind: 'completed' }
  | { kind: 'failed'; error: string }
  | { kind: 'limit'; limit: 'time' | 'rounds'; detail: string };

/** What decides the outcome class besides how the loop stopped. */
export interface OutcomeEvidence {
  variant: MigrationVariant;
  /** The highest `cpu-throttle-percentage` any poll saw; null when none reported one. */
  maxThrottlePercent: number | null;
  /** Whether isobench sent `migrate-start-postcopy`. */
  postcopyStarted: boolean;
  /** The guest after a completed migration; null when it was not judged (no switch-over). */
  health: GuestHealth | null;
}

/**
 * The outcome class (results/migration.ts, MigrationOutcome): a failure or a limit first; then a
 * completed migration whose guest is not well is `guest-unhealthy`; one the variant forced (the
 * vCPUs were throttled, post-copy took over) is `forced`; else `converged`.
 */
export function classifyOutcome(end: LoopEnd, evidence: OutcomeEvidence): MigrationOutcome {
  if (end.kind === 'failed') return { kind: 'failed', error: end.error };
  if (end.kind === 'limit') return { kind: 'not-converged', limit: end.limit, detail: end.detail };
  const problem = healthProblem(evidence.health);
  if (problem) return { kind: 'guest-unhealthy', reason: problem };
  if (evidence.postcopyStarted) return { kind: 'forced', by: 'postcopy', detail: 'post-copy took over after the first pre-copy pass' };
  if (evidence.variant === 'auto-converge' && (evidence.maxThrottlePercent ?? 0) > 0) {
    return { kind: 'forced', by: 'auto-converge', detail: `auto-converge throttled the vCPUs up to ${evidence.maxThrottlePercent} %` };
  }
  return { kind: 'converged' };
}

/** Why a guest is not well after a switch-over, or null when it is (running, a clean console, the workload answering). */
export function healthProblem(health: GuestHealth | null): string | null {
  if (!health) return 'the guest was not checked after the switch-over';
  if (health.runState !== 'running') return `the guest is ${health.runState}, not running`;
  if (health.serialProblem) return `its console says: ${health.serialProblem}`;
  if (!health.workloadAnswered) return `the workload stopped answering: ${health.detail}`;
  return null;
}
