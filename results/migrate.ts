import { ResultsFormatError, RESULTS_SCHEMA_ID, RESULTS_SCHEMA_VERSION, parseResultsFile, type ResultsFile } from './schema.js';
import { DEFAULT_BASELINE, DEFAULT_MARGIN_PERCENT, withVerdicts } from './verdict.js';

/*
 * Results files written by earlier versions of isobench are upgraded on read, so every reader (the
 * results table, the CSV, the report) sees one shape. Each step takes the raw JSON of version N to
 * version N + 1; nothing is written back: the file on disk stays as its run left it.
 */

/** The schema versions this isobench reads: every earlier one is upgraded to {@link RESULTS_SCHEMA_VERSION}. */
export const READABLE_VERSIONS: readonly number[] = [1, RESULTS_SCHEMA_VERSION];

type Json = Record<string, unknown>;

/**
 * Version 1 → 2: the run's plan gains the fields version 2 records (mode `compare`, baseline
 * `native`, margin 5 %, no noise floor, fixed repetitions, pinning unknown, command unknown), the
 * trial order is unknown (an empty list), and every point's verdict is computed from its raw trials.
 * Version 1 trials carry neither steal time nor a round; summaries no outlier list.
 */
function fromVersion1(data: Json): Json {
  const plan = (data.plan ?? {}) as Json;
  const host = (data.host ?? {}) as Json;
  const cores = typeof host.cores === 'number' ? host.cores : 0;
  return {
    ...data,
    version: 2,
    plan: {
      ...plan,
      mode: 'compare',
      baseline: DEFAULT_BASELINE,
      marginPercent: DEFAULT_MARGIN_PERCENT,
      noiseFloorPercent: null,
      adaptive: null,
      pinning: { oversubscribed: cores < 4, cpuSets: null, reason: 'not recorded (a version 1 results file)' },
      command: [],
    },
    order: [],
  };
}

/**
 * Validates parsed JSON as a results file of any readable version and returns it as the current
 * version, verdicts recomputed from the raw trials when it was upgraded.
 * @param source Names the file in errors.
 * @throws ResultsFormatError (exit code 2) for JSON that is no results file (no or another `schema`
 *   field: the message says so, not "not a valid isobench results file"), a version this isobench does not know
 *   (a newer isobench wrote it: the message says to upgrade), or a value that does not match.
 */
export function upgradeResults(data: unknown, source: string): ResultsFile {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ResultsFormatError(source, 'is not a JSON object');
  const json = data as Json;
  if (json.schema !== RESULTS_SCHEMA_ID) {
    // Another program's JSON (package.json) was called a results file of an unsupported schema
    // version (its own `version`): it is no results file at all. One with a run's fields is a
    // damaged results file, and the schema says which field is wrong.
    const ours = ['runId', 'plan', 'points'].some((field) => field in json);
    if (json.schema !== undefined || !ours) {
      const details = json.schema === undefined ? `it has no "schema": "${RESULTS_SCHEMA_ID}" field, nor a run's runId, plan and points` : `its "schema" is ${JSON.stringify(json.schema)}, not "${RESULTS_SCHEMA_ID}"`;
      throw new ResultsFormatError(source, details, { message: `${source} is not an isobench results file (${details}): name a results file npm run bench wrote, e.g. runs/RUN-ID.json` });
    }
    return parseResultsFile(data, source);
  }
  const version = json.version;
  if (version === RESULTS_SCHEMA_VERSION) return parseResultsFile(data, source);
  if (version === 1) return withVerdicts(parseResultsFile(fromVersion1(json), source));
  const newer = typeof version === 'number' && version > RESULTS_SCHEMA_VERSION;
  throw new ResultsFormatError(
    source,
    newer
      ? `schema version ${version} was written by a newer isobench; this one reads versions ${READABLE_VERSIONS.join(' and ')}: upgrade isobench to read it`
      : `schema version ${String(version)} is not supported (this isobench reads versions ${READABLE_VERSIONS.join(' and ')})`,
  );
}
