import type { TopLevelSpec } from 'vega-lite';
import type { ContainerMigrationTrialDetail } from '../../results/container-migration.js';
import { MIGRATION_METRICS } from '../../results/metrics.js';
import { collectRows } from '../model/rows.js';
import { BASE_CONFIG } from './encoding.js';
import type { Figure, FigureModule } from './figure.js';

/*
 * The container row beside the VM migrations (issue 12): for every CRIU trial, its phases
 * (checkpoint, copy, network, restore) as one stacked bar on a ms axis from the checkpoint's start,
 * and the gap the client's 1 ms echo probe saw as a black rule over it. With no pre-copy (no
 * soft-dirty tracking here) the whole span is downtime: what the lecture contrasts with Clark's
 * live migration, whose client-seen gap is the stop-and-copy alone.
 */

const PHASES = ['checkpoint', 'copy', 'network', 'restore'] as const;

/** A CRIU trial's phases and the probe's gap, as drawn. */
export function containerMigrationMarks(label: string, detail: ContainerMigrationTrialDetail): { phases: Array<{ trial: string; phase: string; startMs: number; endMs: number }>; gap: { trial: string; startMs: number; endMs: number } | null } {
  const phases = PHASES.flatMap((name) => {
    const phase = detail[name];
    return phase ? [{ trial: label, phase: name, startMs: phase.startMs, endMs: phase.endMs }] : [];
  });
  const probe = detail.probe;
  const gap = probe && probe.migrationGapStartMs !== null && probe.migrationGapEndMs !== null ? { trial: label, startMs: probe.migrationGapStartMs, endMs: probe.migrationGapEndMs } : null;
  return { phases, gap };
}

/** One bar per container migration trial: its phases, and the probe's gap over them. */
export const containerMigrationPhases: FigureModule = {
  id: 'container-migration-phases',
  build(context): Figure | null {
    const trials = context.runs.flatMap((run) =>
      run.file.points
        .filter((point) => point.suite === 'migration')
        .flatMap((point) =>
          point.trials.flatMap((trial) =>
            trial.detail?.kind === 'container-migration'
              ? [containerMigrationMarks(`${context.multiRun ? `${run.tag} ` : ''}${point.target} ${trial.detail.workload} #${trial.repetition + 1}${trial.detail.outcome.kind === 'failed' ? ` (failed at ${trial.detail.outcome.step})` : ''}`, trial.detail)]
              : [],
          ),
        ),
    );
    if (trials.length === 0) return null;
    const phases = trials.flatMap((trial) => trial.phases);
    const gaps = trials.flatMap((trial) => (trial.gap ? [trial.gap] : []));
    const order = trials.map((trial) => trial.phases[0]?.trial ?? '');
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Container migration with CRIU: phases and the client-seen gap',
        subtitle: ['stop-and-copy per trial (no pre-copy: no soft-dirty tracking on this kernel)', 'bars: runc checkpoint, copy of the images, network namespace swap, runc restore; black rule: the longest gap in the 1 ms echo stream'],
      },
      config: BASE_CONFIG,
      width: 520,
      height: { step: 18 },
      layer: [
        {
          name: 'phase',
          data: { values: phases },
          mark: { type: 'bar', height: 12 },
          encoding: {
            y: { field: 'trial', type: 'nominal', sort: order, title: null, axis: { labelLimit: 0 } },
            x: { field: 'startMs', type: 'quantitative', title: 'ms since the checkpoint started' },
            x2: { field: 'endMs' },
            color: { field: 'phase', type: 'nominal', title: 'phase', scale: { domain: [...PHASES], range: ['#e45756', '#f58518', '#bab0ac', '#4c78a8'] } },
            tooltip: [{ field: 'phase' }, { field: 'startMs', title: 'from (ms)', format: '.0f' }, { field: 'endMs', title: 'to (ms)', format: '.0f' }],
          },
        },
        {
          name: 'gap',
          data: { values: gaps },
          mark: { type: 'rule', color: 'black', strokeWidth: 2, yOffset: 9 },
          encoding: {
            y: { field: 'trial', type: 'nominal', sort: order },
            x: { field: 'startMs', type: 'quantitative' },
            x2: { field: 'endMs' },
            tooltip: [{ field: 'startMs', title: 'gap from (ms)', format: '.1f' }, { field: 'endMs', title: 'gap to (ms)', format: '.1f' }],
          },
        },
      ],
    } as unknown as TopLevelSpec;
    return {
      id: 'container-migration-phases',
      title: 'Container migration with CRIU: phases and the client-seen gap',
      mirrors: 'the lecture\'s comparison of VM live migration (Clark et al. 2005) with container checkpoint/restore',
      spec,
      rows: collectRows(context.runs, { suite: 'migration', metric: MIGRATION_METRICS.downtimeProbe.name }, { baseline: context.baseline, multiRun: context.multiRun, styles: context.styles }),
      reference: [],
      notes: [
        'Source and destination on one host: the copy is a local `cp -a` of CRIU\'s images, not a link; compare the VM rows\' stop-and-copy, not their pre-copy rounds.',
        'The echo gap begins inside the checkpoint (CRIU freezes the tasks after its setup) and ends inside the restore (the tasks run before runc returns).',
      ],
      marks: { phase: phases.length, gap: gaps.length },
    };
  },
};
