/** The report module's public face: the CLI command and the function `bench` calls after a run. */
export { runReportCommand, REPORT_USAGE } from './command.js';
export { UsageError } from '../core/errors.js';
export { writeReport, buildFigures, DEFAULT_BASELINE, type ReportOptions, type ReportFormat } from './write-report.js';
export { FIGURES } from './figures/index.js';
export { loadResultsSource, type ReportSource } from './model/source.js';
export type { Figure, FigureFamily, FigureModule, FigureContext } from './figures/figure.js';
export { figuresOf } from './figures/figure.js';
