import { FELTER_RR_LATENCY } from '../reference/papers.js';
import { barFigure } from './bar-figure.js';
import { TCP_RR_METRICS } from '../../results/metrics.js';

/** Mean TCP and UDP round-trip latency in µs (sockperf ping-pong), beside Felter 2014's netperf numbers. */
export const rrLatency = barFigure({
  id: 'rr-latency',
  title: 'Network round-trip latency (lower is better)',
  mirrors: 'Felter et al. 2014, network round-trip latency (netperf TCP_RR / UDP_RR)',
  suite: 'tcp-rr',
  metric: TCP_RR_METRICS.latencyMean.name,
  points: { tcp: 'TCP_RR', udp: 'UDP_RR' },
  valueTitle: (unit) => `mean round-trip latency (${unit})`,
  defaultUnit: 'µs',
  notes: [
    'One request/response at a time from the client namespace; mean round trip. Percentiles (p50 … p99.9) are in the CSV export.',
    `Paper: ${FELTER_RR_LATENCY.tool}; ${FELTER_RR_LATENCY.note ?? ''}.`,
  ],
  reference: FELTER_RR_LATENCY,
});
