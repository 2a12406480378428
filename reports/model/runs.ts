import type { ResultsFile } from '../../results/schema.js';

/** One results file as the report sees it: the file plus the short label its figures use. */
export interface ReportRun {
  label: string;
  /** Short enough to print above a bar. */
  tag: string;
  file: ResultsFile;
}

/**
 * Labels must tell runs apart on a crowded figure: `#1`, `#2` in the order the files were named
 * (before, after), with the start time (minute precision) so the environment table can be matched.
 */
export function labelRuns(files: readonly ResultsFile[]): ReportRun[] {
  return files.map((file, index) => ({
    label: `#${index + 1} ${file.startedAt.slice(0, 16).replace('T', ' ')}`,
    tag: `#${index + 1}`,
    file,
  }));
}
