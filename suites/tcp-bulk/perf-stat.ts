import { quoteOutput, ToolOutputError } from '../parse-error.js';

/**
 * Wraps a command so `perf stat` counts CPU cycles of the whole host (`--all-cpus`) for exactly the
 * command's lifetime. perf's CSV goes to stderr; the command's own stdout is untouched.
 */
export function withCycleCounter(command: readonly string[]): string[] {
  return ['perf', 'stat', '--all-cpus', '--field-separator', ',', '--event', 'cycles', '--', ...command];
}

/**
 * What `perf stat -x ,` said about the cycles event, one of:
 * - `counted`: `cycles` is the count (summed over the PMUs of a hybrid CPU, which perf prints as
 *   `cpu_core/cycles/` and `cpu_atom/cycles/` lines);
 * - `not-counted`: perf printed `<not counted>`: the counter exists but was never scheduled during
 *   the run (common in virtual machines, or when other users hold the counters);
 * - `not-supported`: perf printed `<not supported>`: this host has no such counter.
 *
 * `lines` are the cycles lines as perf printed them, for messages.
 */
export type PerfCycles =
  | { state: 'counted'; cycles: number; lines: string[] }
  | { state: 'not-counted' | 'not-supported'; lines: string[] };

/**
 * An event name that is the CPU cycles counter: `cycles`, `cpu-cycles`, with modifiers (`cycles:u`)
 * or a PMU (`cpu_core/cycles/`, `cpu_atom/cycles/u`).
 */
const CYCLES_EVENT = /^(?:[\w.-]+\/)?(?:cpu-)?cycles(?:\/[a-zA-Z]*)?(?::[a-zA-Z]+)?$/;

/**
 * Reads the cycles count from `perf stat -x ,` output. Each counter is one CSV line,
 * `VALUE,UNIT,EVENT,RUN-TIME,PERCENT-RUNNING,METRIC-VALUE,METRIC-UNIT` (perf-stat(1), "CSV FORMAT";
 * tools/perf/util/stat-display.c), where VALUE is a number, `<not counted>` or `<not supported>`.
 * Any other line (the measured command's own stderr) is ignored. When a cycles line is not a count,
 * the run's cycles are not measured: the result says which of the two perf printed.
 * @throws ToolOutputError quoting the last line of the output when no line counts cycles, or the
 *   cycles line whose value is neither a count nor one of perf's two markers.
 */
export function parsePerfCycles(stderr: string): PerfCycles {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => CYCLES_EVENT.test(line.split(',')[2] ?? ''));
  if (lines.length === 0) {
    const last = stderr.trim().split('\n').pop() ?? '';
    throw new ToolOutputError('perf stat', `no cycles line; the output ends: ${quoteOutput(last)}`);
  }
  const values = lines.map((line) => line.split(',')[0]!);
  if (values.includes('<not supported>')) return { state: 'not-supported', lines };
  if (values.includes('<not counted>')) return { state: 'not-counted', lines };
  let cycles = 0;
  for (const [index, value] of values.entries()) {
    const count = /^\d+(?:\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isFinite(count)) throw new ToolOutputError('perf stat', `cycles is not a count: ${quoteOutput(lines[index]!)}`);
    cycles += count;
  }
  return { state: 'counted', cycles, lines };
}
