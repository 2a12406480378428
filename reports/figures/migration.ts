import type { TopLevelSpec } from 'vega-lite';
import type { MigrationTrialDetail } from '../../results/migration.js';
import { MIGRATION_METRICS } from '../../results/metrics.js';
import { countedRounds } from '../../results/migration-predictions.js';
import { collectRows } from '../model/rows.js';
import type { ReportRun } from '../model/runs.js';
import { barFigure } from './bar-figure.js';
import { BASE_CONFIG } from './encoding.js';
import type { Figure, FigureContext, FigureModule } from './figure.js';

/*
 * Clark et al. 2005's migration figures from the trials' own records (results/migration.ts): the
 * bytes sent per pre-copy round, and the web server's requests per 100 ms through a migration with
 * its start, switch-over and end marked. Both draw every trial (a row per point, one panel per
 * trial): a migration's rounds are a story, not a mean.
 */

const MIB = 1_048_576;
/** The rounds figure's phases in legend order, each with its colour. */
const PHASE_COLOURS: readonly (readonly [string, string])[] = [['pre-copy', '#e45756'], ['stop-and-copy', '#4c78a8'], ['post-copy', '#54a24b']];

/** One trial's migration record with where it came from. */
interface MigrationTrial {
  panel: string;
  run: ReportRun;
  target: string;
  pointId: string;
  repetition: number;
  detail: MigrationTrialDetail;
}

function migrationTrials(runs: readonly ReportRun[], multiRun: boolean): MigrationTrial[] {
  return runs.flatMap((run) =>
    run.file.points
      .filter((point) => point.suite === 'migration')
      .flatMap((point) =>
        point.trials.flatMap((trial) =>
          trial.detail?.kind === 'migration'
            ? [{
                panel: `${multiRun ? `${run.tag} ` : ''}${point.target} ${point.pointId} #${trial.repetition + 1}: ${outcomeWords(trial.detail)}`,
                run,
                target: point.target,
                pointId: point.pointId,
                repetition: trial.repetition,
                detail: trial.detail,
              }]
            : [],
        ),
      ),
  );
}

/** `converged`, `forced (auto-converge)`, `not converged (time)`, `failed`, `guest unhealthy`. */
export function outcomeWords(detail: MigrationTrialDetail): string {
  const outcome = detail.outcome;
  switch (outcome.kind) {
    case 'converged':
      return 'converged';
    case 'forced':
      return `forced (${outcome.by})`;
    case 'not-converged':
      return `not converged (${outcome.limit} limit)`;
    case 'failed':
      return 'failed';
    case 'guest-unhealthy':
      return 'guest unhealthy';
  }
}

function rowsFor(context: FigureContext, metric: string) {
  return collectRows(context.runs, { suite: 'migration', metric }, { baseline: context.baseline, multiRun: context.multiRun, styles: context.styles });
}

/** Clark's rounds figure: MiB sent in each pre-copy round, a panel per trial; the last round holds the stop-and-copy. */
export const migrationRounds: FigureModule = {
  id: 'migration-rounds',
  build(context): Figure | null {
    const trials = migrationTrials(context.runs, context.multiRun).filter((trial) => trial.detail.rounds.length > 0);
    if (trials.length === 0) return null;
    // The rounds the tables count (pre-copy rounds = dirty-sync-count less setup and completion syncs), not every sync.
    const data = trials.flatMap((trial) =>
      countedRounds(trial.detail).map((round) => ({
        panel: trial.panel,
        round: round.round,
        label: round.phase === 'stop-and-copy' ? 'stop-and-copy' : String(round.round),
        mib: round.sentBytes / MIB,
        seconds: (round.endMs - round.startMs) / 1000,
        remainingMiB: round.remainingAtStartBytes === null ? null : round.remainingAtStartBytes / MIB,
        phase: round.phase,
      })),
    );
    const phases = PHASE_COLOURS.filter(([phase]) => data.some((datum) => datum.phase === phase));
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Migration: data sent per pre-copy round',
        subtitle: ['mirrors Clark et al. 2005, the rounds of iterative pre-copy (per trial)', 'bars: MiB sent in each pre-copy round (dirty-sync-count), boundaries to the 50 ms polling, then the stop-and-copy'],
      },
      config: BASE_CONFIG,
      data: { values: data },
      facet: { field: 'panel', type: 'nominal', title: null, sort: trials.map((trial) => trial.panel), header: { labelFontSize: 10, labelLimit: 0 } },
      columns: 2,
      resolve: { scale: { x: 'independent', y: 'independent' } },
      spec: {
        width: 300,
        height: 120,
        layer: [
          {
            name: 'round',
            mark: { type: 'bar', stroke: '#333', strokeWidth: 0.4 },
            encoding: {
              // The legend names only the phases drawn (a pre-copy run has no post-copy bar); each phase keeps its colour.
              // Above the panels: to their right it took the figure 2 px past the page.
              color: { field: 'phase', type: 'nominal', title: 'phase', scale: { domain: phases.map(([phase]) => phase), range: phases.map(([, colour]) => colour) }, legend: { orient: 'top' } },
              x: { field: 'label', type: 'ordinal', title: 'round (dirty-sync-count), then stop-and-copy', sort: { field: 'round', op: 'min' }, axis: { labelAngle: 0, labelOverlap: 'parity' } },
              y: { field: 'mib', type: 'quantitative', title: 'MiB sent' },
              tooltip: [
                { field: 'label', title: 'round' },
                { field: 'mib', title: 'MiB sent', format: '.1f' },
                { field: 'seconds', title: 'seconds', format: '.2f' },
                { field: 'remainingMiB', title: 'dirty at start (MiB)', format: '.1f' },
                { field: 'phase', title: 'phase' },
              ],
            },
          },
        ],
      },
    } as unknown as TopLevelSpec;
    return {
      id: 'migration-rounds',
      title: 'Migration: data sent per pre-copy round',
      mirrors: 'Clark et al. 2005, iterative pre-copy rounds',
      spec,
      rows: rowsFor(context, MIGRATION_METRICS.rounds.name),
      reference: [],
      notes: [
        'A round is a value of QEMU\'s dirty-sync-count; its bytes are the growth of ram.transferred between the polls that saw it begin and the next begin (query-migrate every 50 ms).',
        'The pre-copy rounds are those the tables count: QEMU\'s final dirty-sync-count less its setup sync and the completion\'s. The sync after the last pre-copy round, where QEMU decides to stop the guest, sends no pages; the bytes the 50 ms polls put between it and the completion\'s sync are counted in the last pre-copy round.',
        'The stop-and-copy bar is QEMU\'s downtime-bytes, sent with the guest stopped. A not-converged trial ends where isobench cancelled it (its time or round limit).',
      ],
      marks: { round: data.length },
    };
  },
};

/** Clark's web figure: requests completed per 100 ms through the migration, start (0 s), switch-over and end marked. */
export const migrationWeb: FigureModule = {
  id: 'migration-web',
  build(context): Figure | null {
    const trials = migrationTrials(context.runs, context.multiRun).filter((trial) => trial.detail.web !== undefined);
    if (trials.length === 0) return null;
    const series = trials.flatMap((trial) => {
      const web = trial.detail.web!;
      // The last bucket was cut short when the client stopped: not drawn, so it does not read as a fall.
      return web.completed.slice(0, -1).map((value, index) => ({ panel: trial.panel, seconds: (web.firstBucketMs + index * web.bucketMs) / 1000, requests: value }));
    });
    const marks = trials.flatMap((trial) => {
      const detail = trial.detail;
      const end = detail.samples.at(-1)?.tMs ?? null;
      const stop = detail.events.find((event) => event.side === 'source' && event.event === 'STOP' && event.tMs >= 0);
      return [
        { panel: trial.panel, seconds: 0, what: 'migration starts' },
        ...(stop ? [{ panel: trial.panel, seconds: stop.tMs / 1000, what: 'switch-over (source stops)' }] : []),
        ...(end !== null ? [{ panel: trial.panel, seconds: end / 1000, what: 'migration ends' }] : []),
      ];
    });
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: 'Migration: web requests per 100 ms',
        subtitle: ['mirrors Clark et al. 2005, the web server\'s throughput during migration (per trial)', 'rules: the migration\'s start, the switch-over, its end'],
      },
      config: BASE_CONFIG,
      facet: { field: 'panel', type: 'nominal', title: null, sort: trials.map((trial) => trial.panel), header: { labelFontSize: 10, labelLimit: 0 } },
      columns: 1,
      data: { values: [...series.map((row) => ({ ...row, kind: 'requests' })), ...marks.map((row) => ({ ...row, kind: 'event' }))] },
      spec: {
        width: 620,
        height: 130,
        layer: [
          {
            name: 'requests',
            transform: [{ filter: "datum.kind === 'requests'" }],
            mark: { type: 'line', interpolate: 'step-after', color: '#e45756', strokeWidth: 1.2 },
            encoding: {
              x: { field: 'seconds', type: 'quantitative', title: 's since the migration started' },
              y: { field: 'requests', type: 'quantitative', title: 'requests / 100 ms' },
            },
          },
          {
            name: 'event',
            transform: [{ filter: "datum.kind === 'event'" }],
            mark: { type: 'rule', strokeDash: [4, 3] },
            encoding: {
              x: { field: 'seconds', type: 'quantitative' },
              color: { field: 'what', type: 'nominal', title: null, scale: { domain: ['migration starts', 'switch-over (source stops)', 'migration ends'], range: ['#4c78a8', '#b00020', '#54a24b'] } },
              tooltip: [{ field: 'what' }, { field: 'seconds', format: '.2f' }],
            },
          },
        ],
      },
    } as unknown as TopLevelSpec;
    return {
      id: 'migration-web',
      title: 'Migration: web requests per 100 ms',
      mirrors: 'Clark et al. 2005, web server throughput during migration',
      spec,
      rows: [...rowsFor(context, MIGRATION_METRICS.blackout.name), ...rowsFor(context, MIGRATION_METRICS.brownout.name)],
      reference: [],
      notes: [
        'nginx in the guest, 4 keep-alive connections in a closed loop from the client namespace; a request counts in the 100 ms bucket it completed in.',
        'Blackout: the longest run of buckets with no completion after the start; brownout: all buckets under half the pre-migration rate.',
      ],
      marks: { requests: trials.length, event: marks.length },
    };
  },
};

/** Clark's headline: the client-observed downtime per point (the probe's gap covering the switch-over). */
export const migrationDowntime = barFigure({
  id: 'migration-downtime',
  title: 'Migration: downtime a client sees (lower is better)',
  mirrors: 'Clark et al. 2005, downtime (Quake 3 server 60 ms, SPECweb99 210 ms on their 2005 hardware)',
  suite: 'migration',
  metric: MIGRATION_METRICS.downtimeProbe.name,
  points: {},
  valueTitle: (unit) => `longest echo gap at the switch-over (${unit})`,
  defaultUnit: 'ms',
  notes: [
    'The longest gap in a 1 ms UDP echo stream a client saw: on one host, from the client namespace, the gap that covers the switch-over, the probe checked against QMP stop/cont pauses of 100, 200 and 500 ms in every trial (probe_resolution_ms); in lab mode, from the watch host across the lab link, the longest gap in the migration\'s window, with no pause check.',
    'Points whose trials did not switch over (not converged, failed) have no downtime and show as gaps.',
  ],
});
