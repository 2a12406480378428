import type { MigrationPredictions, MigrationRound, MigrationTrialDetail, ModelPrediction } from './migration.js';
import type { ResultsFile } from './schema.js';

/**
 * Measured against predicted, per migration trial (issue 12): pre-copy rounds, total time and
 * downtime as the trial measured them and as Clark's and QEMU's models predicted them from the
 * trial's own dirty trace and limits, with the relative error of each prediction. The predictions
 * are the trial's stored ones; for a file written before they were stored, a caller that may run the
 * models (the report: reports → models) passes `predict`, and the row says they were computed on read.
 */

/** One quantity: what was measured, what each model predicted, and each relative error. */
export interface ComparedQuantity {
  measured: number | null;
  clark: number | null;
  qemu: number | null;
  /** (clark − measured) / measured; null when either is null or the measured value is 0. */
  clarkError: number | null;
  /** (qemu − measured) / measured; null likewise. */
  qemuError: number | null;
}

/** One trial's comparison row. */
export interface PredictionRow {
  target: string;
  pointId: string;
  repetition: number;
  outcome: MigrationTrialDetail['outcome']['kind'];
  /** `stored` in the file, `computed` on read, or `none` (with `reason`). */
  predictions: 'stored' | 'computed' | 'none';
  reason: string | null;
  /** How the dirty trace was built, in words. */
  trace: string | null;
  /** Rounds sent while the guest ran. */
  rounds: ComparedQuantity;
  /** ms. */
  totalMs: ComparedQuantity;
  /** ms; measured and predicted null without a switch-over. */
  downtimeMs: ComparedQuantity;
  /** Why each model stopped pre-copy (models/precopy/types.ts), null without predictions. */
  clarkStop: string | null;
  qemuStop: string | null;
  /** The detail and its predictions, for figures. */
  detail: MigrationTrialDetail;
  prediction: Extract<MigrationPredictions, { kind: 'predicted' }> | null;
}

/** (predicted − measured) / measured, or null. */
export function relativeError(predicted: number | null, measured: number | null): number | null {
  if (predicted === null || measured === null || measured === 0) return null;
  return (predicted - measured) / measured;
}

function compared(measured: number | null, clark: number | null, qemu: number | null): ComparedQuantity {
  return { measured, clark, qemu, clarkError: relativeError(clark, measured), qemuError: relativeError(qemu, measured) };
}

/**
 * What "pre-copy rounds" means in every migration table (measured, per trial and against the
 * models), in words: the legend line of both tables of `results --format migration`.
 */
export const PRECOPY_ROUNDS_DEFINITION =
  'pre-copy rounds: rounds sent while the guest ran = QEMU\'s final dirty-sync-count less its setup and completion syncs (a cancelled migration: the round it was cut in)';

/**
 * Pre-copy rounds as measured: QEMU syncs its dirty bitmap once at setup, once after each pre-copy
 * round and once more inside the completion, so a migration that switched over sent
 * `dirty-sync-count − 2` rounds with the guest running; one that was cancelled was in round
 * `dirty-sync-count` (cut short). Null without a count.
 */
export function measuredPrecopyRounds(detail: MigrationTrialDetail): number | null {
  const syncs = detail.qemu.syncCount;
  if (syncs === null) return null;
  return switchedOver(detail) ? Math.max(0, syncs - 2) : syncs;
}

/**
 * Whether the trial reached its switch-over: a stop-and-copy among its rounds or, where no rounds
 * are recorded (libvirt's and lab mode's trials), an outcome that had one (converged, forced, or a
 * guest found unhealthy afterwards).
 */
function switchedOver(detail: MigrationTrialDetail): boolean {
  if (detail.rounds.some((round) => round.phase === 'stop-and-copy')) return true;
  return detail.rounds.length === 0 && ['converged', 'forced', 'guest-unhealthy'].includes(detail.outcome.kind);
}

/**
 * The trial's recorded rounds as {@link measuredPrecopyRounds} counts them, for figures that draw a
 * bar per pre-copy round: pre-copy rounds 1 … dirty-sync-count − 2 (numbered by their
 * dirty-sync-count), then the stop-and-copy. The sync after the last pre-copy round is where QEMU
 * decides to stop the guest; it sends no pages before the completion's sync, but the bytes
 * interpolated between 50 ms polls give that millisecond-long "round" a few hundred KiB (idle at
 * 128 MiB/s here: 246 240 bytes in 1 ms, drawn as a second pre-copy round where the table said one).
 * Those bytes were sent with the guest running, before the stop-and-copy (whose bytes are QEMU's
 * downtime-bytes), so they are added to the last pre-copy round, which ends at that sync: the
 * rounds still add up to the bytes transferred. Trials without a switch-over, or without a
 * dirty-sync-count, keep their rounds as recorded.
 */
export function countedRounds(detail: MigrationTrialDetail): MigrationRound[] {
  const precopy = measuredPrecopyRounds(detail);
  const switched = detail.rounds.some((round) => round.phase === 'stop-and-copy');
  if (!switched || precopy === null) return [...detail.rounds];
  const counted: MigrationRound[] = [];
  for (const round of detail.rounds) {
    const previous = counted.at(-1);
    if (round.phase === 'pre-copy' && round.round > precopy && previous?.phase === 'pre-copy') {
      counted[counted.length - 1] = { ...previous, endMs: round.endMs, sentBytes: previous.sentBytes + round.sentBytes };
    } else {
      counted.push(round);
    }
  }
  return counted;
}

/** QEMU's downtime of the trial, ms: `query-migrate`'s, else its STOP/RESUME stamps; null without a switch-over. */
export function measuredDowntimeMs(detail: MigrationTrialDetail): number | null {
  return detail.qemu.downtimeMs ?? detail.qemu.eventDowntimeMs;
}

const roundsOf = (prediction: ModelPrediction | undefined) => (prediction ? prediction.precopyRounds : null);

/** Why a libvirt trial has no model comparison. */
export const LIBVIRT_NOT_COMPARED = 'libvirt\'s domjobinfo times its whole job (the destination QEMU\'s start included) and gives no dirty-rate trace, so the models\' QEMU-side predictions have nothing like-for-like to meet';

/**
 * Every migration trial of the file with its comparison, in the file's point order.
 * @param predict Computes predictions for a trial that has none stored (e.g. models/precopy
 *   `predictMigrationTrial`); without it such trials get `predictions: 'none'`.
 */
export function predictionRows(results: ResultsFile, predict?: (detail: MigrationTrialDetail) => MigrationPredictions): PredictionRow[] {
  return results.points.flatMap((point) =>
    point.trials.flatMap((trial) => {
      const detail = trial.detail;
      if (detail?.kind !== 'migration') return [];
      const stored = detail.predictions;
      // libvirt's figures time its whole job, not QEMU's migration: a model error against them would mislead.
      if (detail.figuresSource === 'libvirt domjobinfo') {
        return [{
          target: point.target, pointId: point.pointId, repetition: trial.repetition, outcome: detail.outcome.kind, predictions: 'none', reason: LIBVIRT_NOT_COMPARED, trace: null,
          rounds: compared(null, null, null), totalMs: compared(null, null, null), downtimeMs: compared(null, null, null), clarkStop: null, qemuStop: null, detail, prediction: null,
        } satisfies PredictionRow];
      }
      const found = stored ?? predict?.(detail);
      const origin = stored ? 'stored' : found ? 'computed' : 'none';
      const prediction = found?.kind === 'predicted' ? found : null;
      const reason = found === undefined ? 'no predictions stored (a file from before they were) and none computed' : found.kind === 'not-predicted' ? found.reason : null;
      return [{
        target: point.target,
        pointId: point.pointId,
        repetition: trial.repetition,
        outcome: detail.outcome.kind,
        predictions: prediction ? origin : 'none',
        reason,
        trace: prediction?.trace.description ?? null,
        rounds: compared(measuredPrecopyRounds(detail), roundsOf(prediction?.clark), roundsOf(prediction?.qemu)),
        totalMs: compared(detail.qemu.totalTimeMs, prediction?.clark.totalTimeMs ?? null, prediction?.qemu.totalTimeMs ?? null),
        downtimeMs: compared(measuredDowntimeMs(detail), prediction?.clark.downtimeMs ?? null, prediction?.qemu.downtimeMs ?? null),
        clarkStop: prediction?.clark.stopReason ?? null,
        qemuStop: prediction?.qemu.stopReason ?? null,
        detail,
        prediction,
      } satisfies PredictionRow];
    }),
  );
}

/** A relative error as a signed percentage, `+12 %`, `−40 %`; `–` when there is none. */
export function errorText(error: number | null): string {
  if (error === null) return '–';
  const percent = Math.round(error * 100);
  return `${percent > 0 ? '+' : percent < 0 ? '−' : '±'}${Math.abs(percent)} %`;
}

const value = (number: number | null, digits: number) => (number === null ? '–' : number.toFixed(digits));

/**
 * The rows as a fixed-width text table: per trial, pre-copy rounds, total time (s) and downtime (ms) as
 * measured and as each model predicted, with each prediction's relative error; the models' stop
 * reasons last. A figure that does not exist (no switch-over, no prediction) is `–`.
 */
export function toPredictionTable(rows: readonly PredictionRow[]): string {
  // Every number's header names its unit (the errors' cells carry their %); the rounds are counts.
  const header = ['point', 'rep', 'pre-copy rounds', 'Clark', 'QEMU', 'total s', 'Clark s', 'err', 'QEMU s', 'err', 'down ms', 'Clark ms', 'err', 'QEMU ms', 'err', 'stops (Clark / QEMU)'];
  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  const lines = rows.map((row) => [
    `${row.target}/${row.pointId}`,
    String(row.repetition + 1),
    value(row.rounds.measured, 0),
    value(row.rounds.clark, 0),
    value(row.rounds.qemu, 0),
    value(seconds(row.totalMs.measured), 1),
    value(seconds(row.totalMs.clark), 1),
    errorText(row.totalMs.clarkError),
    value(seconds(row.totalMs.qemu), 1),
    errorText(row.totalMs.qemuError),
    value(row.downtimeMs.measured, 0),
    value(row.downtimeMs.clark, 0),
    errorText(row.downtimeMs.clarkError),
    value(row.downtimeMs.qemu, 0),
    errorText(row.downtimeMs.qemuError),
    row.predictions === 'none' ? `no predictions: ${row.reason}` : `${row.clarkStop} / ${row.qemuStop}${row.predictions === 'computed' ? ' (computed on read)' : ''}`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (line: string[]) => line.map((text, column) => (column === 0 || column === line.length - 1 ? text.padEnd(widths[column]!) : text.padStart(widths[column]!))).join('  ').trimEnd();
  const legend =
    `${PRECOPY_ROUNDS_DEFINITION}; Clark, QEMU after it: the rounds each model predicts.\n` +
    'total: QEMU total-time vs predicted; down: QEMU downtime vs predicted; err: (predicted − measured) / measured.\n' +
    'Clark: Xen 2005\'s dynamic rate limiting scaled to the link (start 1/5, step 1/10 of max-bandwidth); QEMU: QEMU 7.2\'s rule at max-bandwidth (models/README.md).\n';
  return `${[format(header), ...lines.map(format)].join('\n')}\n${legend}`;
}
