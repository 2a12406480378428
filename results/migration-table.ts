import type { MigrationTrialDetail } from './migration.js';
import { measuredPrecopyRounds, PRECOPY_ROUNDS_DEFINITION } from './migration-predictions.js';
import type { ResultsFile } from './schema.js';

/**
 * `npm run results -- FILE --format migration`: one line per migration trial, the table the issue's
 * evidence asks for — total time, pre-copy rounds (as the prediction table counts them) and QEMU's
 * dirty-sync-count, the downtimes (QEMU's, from QEMU's STOP/RESUME stamps, the client probe's gap,
 * web blackout and brownout), the outcome and the probe's measured resolution. A figure the trial
 * did not measure is `–`, never 0. Every numeric header names its unit.
 */

/** One trial's line of the table, every figure as measured or null. */
export interface MigrationTrialRow {
  target: string;
  pointId: string;
  repetition: number;
  outcome: string;
  totalS: number | null;
  /** Rounds sent while the guest ran: `measuredPrecopyRounds`, the prediction table's count. */
  precopyRounds: number | null;
  /** QEMU's final `ram.dirty-sync-count` (libvirt: its memory iteration), as stored. */
  dirtySyncCount: number | null;
  transferredMiB: number | null;
  qemuDowntimeMs: number | null;
  eventDowntimeMs: number | null;
  probeGapMs: number | null;
  blackoutMs: number | null;
  brownoutMs: number | null;
  resolutionMs: number | null;
  probePassed: boolean | null;
  dirtyMiBs: number | null;
  /** Whose figures the row's total, downtime, syncs and bytes are: QEMU's query-migrate, or libvirt's domjobinfo (`figuresSource`). */
  figuresFrom: 'qemu' | 'libvirt';
}

/**
 * A number with decimals followed by `ms` or `s` in a sentence. The sentences are error messages
 * kept as written (a timeout computed from performance.now() printed 1972.3240060000098 ms).
 */
const DURATION_IN_TEXT = /(\d+\.\d+)( ?)(ms|s)\b/g;

/**
 * `text` with every duration in it rounded as the table's columns are: ms to whole ms, s to 0.1 s
 * (`within 1972.3240060000098 ms` reads `within 1972 ms`). The stored text is not changed.
 */
export function roundDurations(text: string): string {
  return text.replace(DURATION_IN_TEXT, (_match, number: string, space: string, unit: string) => `${Number(number).toFixed(unit === 'ms' ? 0 : 1)}${space}${unit}`);
}

/**
 * `converged`, `forced (auto-converge)`, `not converged (time)`, `failed: …`, `guest unhealthy: …`;
 * the durations in an error or reason rounded (roundDurations).
 */
export function outcomeText(outcome: MigrationTrialDetail['outcome']): string {
  switch (outcome.kind) {
    case 'converged':
      return 'converged';
    case 'forced':
      return `forced (${outcome.by})`;
    case 'not-converged':
      return `not converged (${outcome.limit})`;
    case 'failed':
      return `failed: ${roundDurations(outcome.error)}`;
    case 'guest-unhealthy':
      return `guest unhealthy: ${roundDurations(outcome.reason)}`;
  }
}

/**
 * Every migration trial of the file, in the file's point order, with its figures. A VM migration
 * trial that failed or was skipped before it kept a record (a dirtier that could not map its working
 * set) is a row too, its figures `–` and its reason as the outcome: hiding it read as "no migration
 * trials" to a newcomer.
 */
export function migrationRows(results: ResultsFile): MigrationTrialRow[] {
  return results.points.flatMap((point) =>
    point.trials.flatMap((trial) => {
      const detail = trial.detail;
      if (detail === undefined && point.suite === 'migration' && trial.state !== 'completed') {
        return [{ ...EMPTY_FIGURES, target: point.target, pointId: point.pointId, repetition: trial.repetition, outcome: `${trial.state}: ${roundDurations(trial.reason)}` }];
      }
      if (detail?.kind !== 'migration') return [];
      const qemu = detail.qemu;
      return [{
        target: point.target,
        pointId: point.pointId,
        repetition: trial.repetition,
        outcome: outcomeText(detail.outcome),
        totalS: qemu.totalTimeMs === null ? null : qemu.totalTimeMs / 1000,
        precopyRounds: measuredPrecopyRounds(detail),
        dirtySyncCount: qemu.syncCount,
        transferredMiB: qemu.transferredBytes === null ? null : qemu.transferredBytes / 1_048_576,
        qemuDowntimeMs: qemu.downtimeMs,
        eventDowntimeMs: qemu.eventDowntimeMs,
        probeGapMs: detail.probe?.coversSwitchover ? detail.probe.migrationGapMs : null,
        blackoutMs: detail.web?.blackoutMs ?? null,
        brownoutMs: detail.web?.brownoutMs ?? null,
        resolutionMs: detail.selfTest?.resolutionMs ?? null,
        probePassed: detail.selfTest?.passed ?? null,
        dirtyMiBs: detail.dirty?.achievedMiBs ?? null,
        figuresFrom: detail.figuresSource === 'libvirt domjobinfo' ? 'libvirt' : 'qemu',
      }];
    }),
  );
}

/**
 * Under a table with libvirt rows: what their columns are. libvirt's Time elapsed is its whole job
 * (the destination QEMU's start included) and its downtime runs to its resume on the destination,
 * both longer than QEMU's own (measured here: 2.9 s and 190 ms against 1.6 s and ~110 ms at the
 * same lab point), so they are compared with libvirt rows only.
 */
export const LIBVIRT_ROWS_NOTE =
  '‡ libvirt\'s figures (virsh domjobinfo --completed): total s is its Time elapsed (its whole job, the destination QEMU\'s start included), QEMU ms its Total downtime (to its resume on the destination), dirty-sync-count its Iteration, sent MiB its Data processed; compare with libvirt rows only.';

/** A row's figures when the trial measured none. */
const EMPTY_FIGURES = {
  totalS: null, precopyRounds: null, dirtySyncCount: null, transferredMiB: null, qemuDowntimeMs: null, eventDowntimeMs: null, probeGapMs: null,
  blackoutMs: null, brownoutMs: null, resolutionMs: null, probePassed: null, dirtyMiBs: null, figuresFrom: 'qemu',
} as const;

const cell = (value: number | null, digits = 0) => (value === null ? '–' : value.toFixed(digits));

/**
 * The rows as a fixed-width text table with a header line, each numeric header with its unit (the
 * rounds and syncs are counts); the outcome last, so it may run long. Under it, what the rounds
 * count, and a note when a probe missed ±10 ms.
 */
export function toMigrationTable(rows: readonly MigrationTrialRow[]): string {
  const header = ['point', 'rep', 'total s', 'pre-copy rounds', 'dirty-sync-count', 'sent MiB', 'QEMU ms', 'events ms', 'probe ms', 'blackout ms', 'brownout ms', 'resol. ms', 'dirty MiB/s', 'outcome'];
  const lines = rows.map((row) => [
    `${row.target}/${row.pointId}${row.figuresFrom === 'libvirt' ? ' ‡' : ''}`,
    String(row.repetition + 1),
    cell(row.totalS, 1),
    cell(row.precopyRounds),
    cell(row.dirtySyncCount),
    cell(row.transferredMiB),
    cell(row.qemuDowntimeMs),
    cell(row.eventDowntimeMs),
    cell(row.probeGapMs),
    cell(row.blackoutMs),
    cell(row.brownoutMs),
    row.resolutionMs === null ? '–' : `${row.resolutionMs.toFixed(1)}${row.probePassed ? '' : '!'}`,
    cell(row.dirtyMiBs),
    row.outcome,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (line: string[]) => line.map((text, column) => (column === 0 || column === line.length - 1 ? text.padEnd(widths[column]!) : text.padStart(widths[column]!))).join('  ').trimEnd();
  const legend = [
    `${PRECOPY_ROUNDS_DEFINITION}; dirty-sync-count: QEMU's own count (setup + one per round + completion).`,
  ];
  if (rows.some((row) => row.figuresFrom === 'libvirt')) legend.push(LIBVIRT_ROWS_NOTE);
  if (rows.some((row) => row.probePassed === false)) legend.push('! the probe\'s self-test missed ±10 ms in that trial: its gap is coarser than the table suggests');
  return `${[format(header), ...lines.map(format), ...legend].join('\n')}\n`;
}

/**
 * The one line `results --format migration` prints for a file without a migration trial, naming
 * the suites it does hold (`none` for a file without points), and its container migrations
 * (CRIU, a table of their own in the report) when it has any:
 * `no migration trials in runs/x.json (its suites: tcp-bulk, tcp-rr)`.
 * @param file The path as the user gave it.
 */
export function noMigrationTrialsLine(results: ResultsFile, file: string): string {
  const suites = [...new Set(results.points.map((point) => point.suite))];
  const containers = results.points.reduce((sum, point) => sum + point.trials.filter((trial) => trial.detail?.kind === 'container-migration').length, 0);
  const what = containers > 0 ? `no VM migration trials in ${file}` : `no migration trials in ${file}`;
  const also = containers > 0 ? `; ${containers} container migration trial${containers === 1 ? '' : 's'}, drawn by npm run report` : '';
  return `${what} (its suites: ${suites.join(', ') || 'none'}${also})`;
}
