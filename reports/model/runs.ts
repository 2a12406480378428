import type { ResultsFile } from '../../results/schema.js';

/** One results file as the report sees it: the file plus the short label its figures use. */
export interface ReportRun {
  label: string;
  file: ResultsFile;
}

/**
 * Labels must tell runs apart in a legend; the run id is unique but long, so the label is the
 * start time (minute precision) and, when two runs share it, the run id.
 */
export function labelRuns(files: readonly ResultsFile[]): ReportRun[] {
  const byMinute = files.map((file) => file.startedAt.slice(0, 16).replace('T', ' '));
  return files.map((file, index) => {
    const minute = byMinute[index] ?? file.runId;
    const shared = byMinute.filter((other) => other === minute).length > 1;
    return { label: shared ? file.runId : minute, file };
  });
}
