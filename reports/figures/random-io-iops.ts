import { FELTER_RANDOM_IOPS } from '../reference/papers.js';
import { barFigure } from './bar-figure.js';
import { RANDOM_IO_METRICS } from '../../results/metrics.js';

/** fio random read, write and 70/30 mixed IOPS, beside Felter 2014's. */
export const randomIoIops = barFigure({
  id: 'random-io-iops',
  title: 'Random I/O throughput',
  mirrors: 'Felter et al. 2014, random I/O throughput (IOPS)',
  suite: 'random-io',
  metric: RANDOM_IO_METRICS.iops.name,
  points: { randread: 'random read', randwrite: 'random write', randrw70: 'random mixed 70/30' },
  valueTitle: (unit) => `throughput (${unit})`,
  defaultUnit: 'IOPS',
  notes: [
    'fio, libaio, direct=1, 4 KiB blocks; the mixed point is 70% reads.',
    `Paper: ${FELTER_RANDOM_IOPS.tool}.`,
  ],
  reference: FELTER_RANDOM_IOPS,
});
