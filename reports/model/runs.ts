import type { ResultsFile } from '../../results/schema.js';
import type { ReportSource } from './source.js';

/** One results file as the report sees it: the file plus the short label its figures use. */
export interface ReportRun {
  label: string;
  /** Short enough to print above a bar. */
  tag: string;
  file: ResultsFile;
  /** The file's name, sha256 and written version, when the caller read the file (see loadResultsSource); else null. */
  source: ReportSource | null;
}

/**
 * Labels must tell runs apart on a crowded figure: `#1`, `#2` in the order the files were named
 * (before, after), with the start time (minute precision) so the environment table can be matched.
 * @param sources Per file, in the same order, where it was read from; missing entries are null.
 */
export function labelRuns(files: readonly ResultsFile[], sources: readonly (ReportSource | null | undefined)[] = []): ReportRun[] {
  return files.map((file, index) => ({
    label: `#${index + 1} ${file.startedAt.slice(0, 16).replace('T', ' ')}`,
    tag: `#${index + 1}`,
    file,
    source: sources[index] ?? null,
  }));
}
