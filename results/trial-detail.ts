import { z } from 'zod';
import { ContainerMigrationTrialDetail } from './container-migration.js';
import { CyclesNotMeasuredDetail } from './cycles-detail.js';
import { MigrationTrialDetail } from './migration.js';

/** What a trial may carry beyond its metrics, by suite: a union on `kind` (a VM migration, a container migration, tcp-bulk's unmeasured cycles). */
export const TrialDetail = z.discriminatedUnion('kind', [MigrationTrialDetail, ContainerMigrationTrialDetail, CyclesNotMeasuredDetail]);
/** A parsed TrialDetail. */
export type TrialDetail = z.infer<typeof TrialDetail>;
