import { measured } from '../model/rows.js';
import { barFigure, type BarFigureDefinition } from './bar-figure.js';
import type { Figure, FigureModule } from './figure.js';
import { TCP_BULK_METRICS } from '../../results/metrics.js';

const common = {
  id: 'tcp-bulk-efficiency',
  mirrors: 'Felter et al. 2014, TCP bulk transfer efficiency (CPU cycles/byte)',
  suite: 'tcp-bulk',
  points: { 'client-to-server': 'client → server', 'server-to-client': 'server → client' },
} satisfies Partial<BarFigureDefinition>;

const paperNote =
  'The paper publishes this figure as a chart only (no numbers in its result sheets): it found NAT lengthens the transmit path and vhost-net is costly on receive. Compare the ratios between rows.';

/**
 * The paper counted cycles with perf. Hosts without perf counters get an estimate, and the figure
 * says which one it drew, since the two are not comparable.
 */
const variants: FigureModule[] = [
  barFigure({
    ...common,
    title: 'TCP bulk transfer efficiency (lower is better): measured CPU cycles per byte',
    metric: TCP_BULK_METRICS.cyclesPerByte.name,
    valueTitle: (unit) => `CPU cycles per byte (${unit})`,
    defaultUnit: 'cycles/byte',
    notes: ['Cycles counted with perf across host, container and guest, divided by bytes moved.', paperNote],
  }),
  barFigure({
    ...common,
    title: 'TCP bulk transfer efficiency (lower is better): ESTIMATED cycles per byte',
    metric: TCP_BULK_METRICS.estimatedCyclesPerByte.name,
    valueTitle: (unit) => `estimated CPU cycles per byte (${unit})`,
    defaultUnit: 'cycles/byte',
    notes: [
      'No perf counters on this host: whole-host CPU time from /proc/stat x nominal clock, divided by bytes moved. An estimate, not a cycle count.',
      paperNote,
    ],
  }),
  barFigure({
    ...common,
    title: 'TCP bulk transfer cost (lower is better): CPU time per byte',
    metric: TCP_BULK_METRICS.cpuNsPerByte.name,
    valueTitle: (unit) => `CPU time per byte (${unit})`,
    defaultUnit: 'ns/byte',
    notes: ['Whole-host CPU time from /proc/stat divided by bytes moved.', paperNote],
  }),
];

/** CPU cost per byte of TCP bulk transfer: whichever of the variants above covers the most rows. */
export const tcpBulkEfficiency: FigureModule = {
  id: common.id,
  build(context) {
    // The metric that covers the most rows wins; on a tie the earlier (more exact) one. A figure
    // of failed points only is still drawn, so the gap is visible.
    let best: Figure | null = null;
    for (const variant of variants) {
      const figure = variant.build(context);
      if (figure && (!best || measured(figure.rows).length > measured(best.rows).length)) best = figure;
    }
    return best;
  },
};
