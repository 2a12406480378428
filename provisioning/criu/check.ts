import { runCommand, type CommandOutcome } from '../../core/exec.js';

/*
 * `criu check` and `criu check --feature mem_dirty_track`, read into a verdict: the container row
 * runs only where CRIU says the kernel is good enough, and otherwise says why in CRIU's own words.
 */

/** `criu check` answers in well under a second here; the kernel-feature probes fork and map a little. */
export const CRIU_CHECK_TIMEOUT_MS = 30_000;

/**
 * What `criu check` said. `supported`: it ended with "Looks good" (exit 0); `warnings` are its
 * `Warn` lines (missing features that may or may not matter). `unsupported`: `firstFailure` is its
 * first `Error` line (or, without one, its last line), the reason the row gives.
 */
export type CriuCheck =
  | { kind: 'supported'; warnings: string[]; output: string }
  | { kind: 'unsupported'; firstFailure: string; output: string };

/** Reads `criu check`'s exit and output (stdout and stderr: CRIU logs to stderr) into a CriuCheck. */
export function parseCriuCheck(outcome: Pick<CommandOutcome, 'ok' | 'exitCode' | 'stdout' | 'stderr' | 'timedOut'>): CriuCheck {
  const output = `${outcome.stdout}${outcome.stderr}`.trim();
  const lines = output.split('\n').map((line) => line.trim()).filter(Boolean);
  const warnings = lines.filter((line) => /^Warn\b/.test(line));
  if (outcome.ok && lines.some((line) => /^Looks good/.test(line))) return { kind: 'supported', warnings, output };
  const firstError = lines.find((line) => /^Error\b/.test(line));
  const why = outcome.timedOut ? `criu check timed out after ${CRIU_CHECK_TIMEOUT_MS} ms` : (firstError ?? lines.at(-1) ?? `criu check exited with code ${outcome.exitCode ?? 'unknown'} and printed nothing`);
  return { kind: 'unsupported', firstFailure: why, output };
}

/**
 * Whether the kernel tracks dirty pages for CRIU (soft-dirty bits), which iterative pre-copy
 * (`criu pre-dump`) needs: `criu check --feature mem_dirty_track` exits 0 only when it does. Without
 * it a container can only be migrated by stop-and-copy.
 */
export interface DirtyTracking {
  available: boolean;
  /** CRIU's line about it (its first Error or Warn line, or its last line). */
  detail: string;
}

/** Reads `criu check --feature mem_dirty_track`'s exit and output into DirtyTracking. */
export function parseDirtyTrackCheck(outcome: Pick<CommandOutcome, 'ok' | 'stdout' | 'stderr'>): DirtyTracking {
  const lines = `${outcome.stdout}${outcome.stderr}`.split('\n').map((line) => line.trim()).filter(Boolean);
  const said = lines.find((line) => /^(Error|Warn)\b/.test(line)) ?? lines.at(-1) ?? '';
  return { available: outcome.ok, detail: said || (outcome.ok ? 'mem_dirty_track is supported' : 'no output') };
}

/** Runs `criu check` with the given binary (as root: CRIU needs it). Never throws for a failed check. */
export async function runCriuCheck(criu: string): Promise<CriuCheck> {
  return parseCriuCheck(await runCommand([criu, 'check'], { timeoutMs: CRIU_CHECK_TIMEOUT_MS }));
}

/** Runs `criu check --feature mem_dirty_track`. Never throws for a failed check. */
export async function runDirtyTrackCheck(criu: string): Promise<DirtyTracking> {
  return parseDirtyTrackCheck(await runCommand([criu, 'check', '--feature', 'mem_dirty_track'], { timeoutMs: CRIU_CHECK_TIMEOUT_MS }));
}
