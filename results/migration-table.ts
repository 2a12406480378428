import type { MigrationTrialDetail } from './migration.js';
import type { ResultsFile } from './schema.js';

/**
 * `npm run results -- FILE --format migration`: one line per migration trial, the table the issue's
 * evidence asks for — total time, rounds, the downtimes (QEMU's, from QEMU's STOP/RESUME stamps, the
 * client probe's gap, web blackout and brownout), the outcome and the probe's measured resolution.
 * A figure the trial did not measure is `–`, never 0.
 */

/** One trial's line of the table, every figure as measured or null. */
export interface MigrationTrialRow {
  target: string;
  pointId: string;
  repetition: number;
  outcome: string;
  totalS: number | null;
  rounds: number | null;
  transferredMiB: number | null;
  qemuDowntimeMs: number | null;
  eventDowntimeMs: number | null;
  probeGapMs: number | null;
  blackoutMs: number | null;
  brownoutMs: number | null;
  resolutionMs: number | null;
  probePassed: boolean | null;
  dirtyMiBs: number | null;
}

/** `converged`, `forced (auto-converge)`, `not converged (time)`, `failed: …`, `guest unhealthy: …`. */
export function outcomeText(outcome: MigrationTrialDetail['outcome']): string {
  switch (outcome.kind) {
    case 'converged':
      return 'converged';
    case 'forced':
      return `forced (${outcome.by})`;
    case 'not-converged':
      return `not converged (${outcome.limit})`;
    case 'failed':
      return `failed: ${outcome.error}`;
    case 'guest-unhealthy':
      return `guest unhealthy: ${outcome.reason}`;
  }
}

/** Every migration trial of the file, in the file's point order, with its figures. */
export function migrationRows(results: ResultsFile): MigrationTrialRow[] {
  return results.points.flatMap((point) =>
    point.trials.flatMap((trial) => {
      const detail = trial.detail;
      if (detail?.kind !== 'migration') return [];
      const qemu = detail.qemu;
      return [{
        target: point.target,
        pointId: point.pointId,
        repetition: trial.repetition,
        outcome: outcomeText(detail.outcome),
        totalS: qemu.totalTimeMs === null ? null : qemu.totalTimeMs / 1000,
        rounds: qemu.syncCount,
        transferredMiB: qemu.transferredBytes === null ? null : qemu.transferredBytes / 1_048_576,
        qemuDowntimeMs: qemu.downtimeMs,
        eventDowntimeMs: qemu.eventDowntimeMs,
        probeGapMs: detail.probe?.coversSwitchover ? detail.probe.migrationGapMs : null,
        blackoutMs: detail.web?.blackoutMs ?? null,
        brownoutMs: detail.web?.brownoutMs ?? null,
        resolutionMs: detail.selfTest?.resolutionMs ?? null,
        probePassed: detail.selfTest?.passed ?? null,
        dirtyMiBs: detail.dirty?.achievedMiBs ?? null,
      }];
    }),
  );
}

const cell = (value: number | null, digits = 0) => (value === null ? '–' : value.toFixed(digits));

/** The rows as a fixed-width text table with a header line; the outcome last, so it may run long. */
export function toMigrationTable(rows: readonly MigrationTrialRow[]): string {
  const header = ['point', 'rep', 'total s', 'rounds', 'MiB', 'QEMU ms', 'events ms', 'probe ms', 'blackout', 'brownout', 'resol. ms', 'dirty MiB/s', 'outcome'];
  const lines = rows.map((row) => [
    `${row.target}/${row.pointId}`,
    String(row.repetition + 1),
    cell(row.totalS, 1),
    cell(row.rounds),
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
  const note = rows.some((row) => row.probePassed === false) ? '\n! the probe\'s self-test missed ±10 ms in that trial: its gap is coarser than the table suggests\n' : '\n';
  return `${[format(header), ...lines.map(format)].join('\n')}${note}`;
}
