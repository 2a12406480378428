import { barFigure } from './bar-figure.js';
import { STARTUP_METRICS } from '../../results/metrics.js';

/** The lecture's "faster deployment, faster restart", measured rather than claimed. */
export const startupTime = barFigure({
  id: 'startup-time',
  title: 'Time to a ready service (lower is better)',
  mirrors: "the lecture's claim of faster deployment and restart for containers (no published numbers)",
  suite: 'startup',
  metric: STARTUP_METRICS.readyMean.name,
  points: {},
  valueTitle: (unit) => `time to ready (${unit})`,
  defaultUnit: 'ms',
  notes: ['From the start command to the first answer of the service: process, container, VM.'],
});
