import { FELTER_TCP_BULK } from '../reference/papers.js';
import { barFigure } from './bar-figure.js';
import { TCP_BULK_METRICS } from '../../results/metrics.js';

/** iperf3 single-stream throughput in Gbit/s, both directions, beside Felter 2014's nuttcp numbers. */
export const tcpBulkThroughput = barFigure({
  id: 'tcp-bulk-throughput',
  title: 'TCP bulk throughput',
  mirrors: 'Felter et al. 2014, TCP bulk transfer throughput (nuttcp)',
  suite: 'tcp-bulk',
  metric: TCP_BULK_METRICS.throughput.name,
  points: { 'client-to-server': 'client → server', 'server-to-client': 'server → client' },
  valueTitle: (unit) => `throughput (${unit})`,
  defaultUnit: 'Gbit/s',
  notes: [
    'iperf3 from the client network namespace to the target; direction as seen by the server.',
    `Paper: ${FELTER_TCP_BULK.tool}; ${FELTER_TCP_BULK.note ?? ''}.`,
  ],
  reference: FELTER_TCP_BULK,
});
