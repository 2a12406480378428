import { z } from 'zod';
import { ContainerMigrationTrialDetail } from './container-migration.js';
import { MigrationTrialDetail } from './migration.js';

/** What a trial may carry beyond its metrics, by suite: a union on `kind` (a VM migration, a container migration). */
export const TrialDetail = z.discriminatedUnion('kind', [MigrationTrialDetail, ContainerMigrationTrialDetail]);
/** A parsed TrialDetail. */
export type TrialDetail = z.infer<typeof TrialDetail>;
