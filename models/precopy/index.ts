/**
 * Pre-copy live-migration models: Clark et al.'s dynamic rate limiting (`predictClark`) and QEMU 7.2's
 * switch-over rule (`predictQemu`), the dirty traces they run on, and their shared shapes.
 */
export { CLARK_DEFAULTS, predictClark, XEN_MBIT_BYTES_PER_SECOND, type ClarkParameters, type ClarkRound } from './clark.js';
export { predictQemu, QEMU_DEFAULTS, type QemuParameters, type QemuRound } from './qemu.js';
export {
  constantDirtyTrace,
  dirtierTrace,
  sampledDirtyTrace,
  traceFromMeasuredRounds,
  wwsCurveTrace,
  type DirtyRateSample,
  type MeasuredRoundRecord,
  type WwsPoint,
} from './trace.js';
export { DEFAULT_PAGE_SIZE_BYTES, type DirtyTrace, type PrecopyPrediction, type PrecopyStopReason, type PredictedRound } from './types.js';
export {
  predictMigrationTrial,
  traceForTrial,
  type ObservedMigrationTrial,
  type StoredPrediction,
  type StoredPredictedRound,
  type StoredPredictionInputs,
  type StoredTraceSource,
  type TrialPredictions,
} from './trial.js';
