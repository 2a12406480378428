import { FELTER_SEQUENTIAL_IO } from '../reference/papers.js';
import { barFigure } from './bar-figure.js';
import { RANDOM_IO_METRICS } from '../../results/metrics.js';

/** fio sequential read and write bandwidth in MB/s, beside Felter 2014's. */
export const sequentialIo = barFigure({
  id: 'sequential-io',
  title: 'Sequential I/O throughput',
  mirrors: 'Felter et al. 2014, sequential I/O throughput (MB/s)',
  suite: 'random-io',
  metric: RANDOM_IO_METRICS.bandwidth.name,
  points: { seqread: 'sequential read', seqwrite: 'sequential write' },
  valueTitle: (unit) => `throughput (${unit})`,
  defaultUnit: 'MB/s',
  notes: ['fio, libaio, direct=1, 1 MiB sequential blocks.', `Paper: ${FELTER_SEQUENTIAL_IO.tool}.`],
  reference: FELTER_SEQUENTIAL_IO,
});
