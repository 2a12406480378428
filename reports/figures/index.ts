import { containerMigrationPhases } from './container-migration.js';
import type { FigureFamily, FigureModule } from './figure.js';
import { migrationDowntime, migrationRounds, migrationWeb } from './migration.js';
import { migrationBandwidthSweep, migrationPredictedRounds, migrationWws } from './migration-predictions.js';
import { mysqlLatencyThroughput } from './mysql-latency-throughput.js';
import { mysqlThroughput } from './mysql-throughput.js';
import { randomIoIops } from './random-io-iops.js';
import { randomReadLatencyCdf } from './random-read-latency-cdf.js';
import { rrLatency } from './rr-latency.js';
import { sequentialIo } from './sequential-io.js';
import { startupTime } from './startup.js';
import { tcpBulkEfficiency, tcpBulkEfficiencyByHost } from './tcp-bulk-efficiency.js';
import { tcpBulkThroughput } from './tcp-bulk-throughput.js';

/**
 * Every figure the report knows, in the papers' order. A new figure is one module added here; a
 * family draws one figure per thing the results hold several of (a lab run's hosts).
 */
export const FIGURES: readonly (FigureModule | FigureFamily)[] = [
  tcpBulkThroughput,
  tcpBulkEfficiency,
  tcpBulkEfficiencyByHost,
  rrLatency,
  randomIoIops,
  sequentialIo,
  randomReadLatencyCdf,
  mysqlThroughput,
  mysqlLatencyThroughput,
  startupTime,
  migrationDowntime,
  migrationRounds,
  migrationWeb,
  migrationPredictedRounds,
  migrationBandwidthSweep,
  migrationWws,
  containerMigrationPhases,
];
