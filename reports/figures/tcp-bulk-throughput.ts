import { FELTER_TCP_BULK } from '../reference/papers.js';
import { barFigure } from './bar-figure.js';

/** iperf3 single-stream throughput in Gbit/s, both directions, beside Felter 2014's nuttcp numbers. */
export const tcpBulkThroughput = barFigure({
  id: 'tcp-bulk-throughput',
  title: 'TCP bulk throughput',
  mirrors: 'Felter et al. 2014, TCP bulk transfer throughput (nuttcp)',
  suite: 'tcp-bulk',
  metric: 'throughput_gbps',
  points: { 'client-to-server': 'client → server', 'server-to-client': 'server → client' },
  valueTitle: (unit) => `throughput (${unit})`,
  defaultUnit: 'Gbit/s',
  notes: [
    'iperf3 from the client network namespace to the target; direction as seen by the server.',
    `Paper: ${FELTER_TCP_BULK.tool}; ${FELTER_TCP_BULK.note ?? ''}.`,
  ],
  reference: FELTER_TCP_BULK,
});
