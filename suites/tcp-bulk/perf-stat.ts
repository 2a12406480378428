import { ToolOutputError } from '../parse-error.js';

/**
 * Wraps a command so `perf stat` counts CPU cycles of the whole host (`--all-cpus`) for exactly the
 * command's lifetime. perf's CSV goes to stderr; the command's own stdout is untouched.
 */
export function withCycleCounter(command: readonly string[]): string[] {
  return ['perf', 'stat', '--all-cpus', '--field-separator', ',', '--event', 'cycles', '--', ...command];
}

/**
 * The cycle count from `perf stat -x ,` output, or null where the host has no counters
 * (`<not supported>`, as on virtual machines) or did not count them.
 * @throws ToolOutputError when there is no cycles line or its value is not a count.
 */
export function parsePerfCycles(stderr: string): number | null {
  const line = stderr.split('\n').find((candidate) => /^[^,]*,[^,]*,cycles(?::\w+)?,/.test(candidate.trim()));
  if (!line) throw new ToolOutputError('perf stat', 'no cycles line');
  const value = line.trim().split(',')[0]!;
  if (value.startsWith('<')) return null;
  const cycles = Number(value);
  if (!Number.isFinite(cycles) || cycles < 0) throw new ToolOutputError('perf stat', `cycles is not a count: ${value}`);
  return cycles;
}
