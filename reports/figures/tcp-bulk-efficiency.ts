import { measured } from '../model/rows.js';
import { barFigure, type BarFigureDefinition } from './bar-figure.js';
import type { Figure, FigureContext, FigureFamily, FigureModule } from './figure.js';
import { cpuNsPerByteOf, hostCpuSource, TCP_BULK_METRICS } from '../../results/metrics.js';
import type { ResultsFile } from '../../results/schema.js';

const common = {
  id: 'tcp-bulk-efficiency',
  mirrors: 'Felter et al. 2014, TCP bulk transfer efficiency (CPU cycles/byte)',
  suite: 'tcp-bulk',
  points: { 'client-to-server': 'client → server', 'server-to-client': 'server → client' },
} satisfies Partial<BarFigureDefinition>;

const paperNote =
  'The paper publishes this figure as a chart only (no numbers in its result sheets): it found NAT lengthens the transmit path and vhost-net is costly on receive. Compare the ratios between rows.';

/**
 * The paper counted cycles with perf. Hosts without perf counters get an estimate, and the figure
 * says which one it drew, since the two are not comparable.
 */
const variants: FigureModule[] = [
  barFigure({
    ...common,
    title: 'TCP bulk transfer efficiency (lower is better): measured CPU cycles per byte',
    metric: TCP_BULK_METRICS.cyclesPerByte.name,
    valueTitle: (unit) => `CPU cycles per byte (${unit})`,
    defaultUnit: 'cycles/byte',
    notes: ['Cycles counted with perf across host, container and guest, divided by bytes moved.', paperNote],
  }),
  barFigure({
    ...common,
    title: 'TCP bulk transfer efficiency (lower is better): ESTIMATED cycles per byte',
    metric: TCP_BULK_METRICS.estimatedCyclesPerByte.name,
    valueTitle: (unit) => `estimated CPU cycles per byte (${unit})`,
    defaultUnit: 'cycles/byte',
    notes: [
      'No perf counters on this host: whole-host CPU time from /proc/stat x nominal clock, divided by bytes moved. An estimate, not a cycle count.',
      paperNote,
    ],
  }),
  barFigure({
    ...common,
    title: 'TCP bulk transfer cost (lower is better): CPU time per byte',
    metric: TCP_BULK_METRICS.cpuNsPerByte.name,
    valueTitle: (unit) => `CPU time per byte (${unit})`,
    defaultUnit: 'ns/byte',
    notes: ['Whole-host CPU time from /proc/stat divided by bytes moved.', paperNote],
  }),
];

/**
 * CPU cost per byte of TCP bulk transfer on the one host of a single-host run: whichever of the
 * variants above covers the most rows. Lab runs (files with `hosts`) are left to
 * `tcpBulkEfficiencyByHost`: they store no single-host figure, and their failed points would
 * otherwise draw a figure of gaps here too.
 */
export const tcpBulkEfficiency: FigureModule = {
  id: common.id,
  build(context) {
    const single: FigureContext = { ...context, runs: context.runs.filter((run) => !run.file.hosts) };
    if (single.runs.length === 0) return null;
    // The metric that covers the most rows wins; on a tie the earlier (more exact) one. A figure
    // of failed points only is still drawn, so the gap is visible.
    let best: Figure | null = null;
    for (const variant of variants) {
      const figure = variant.build(single);
      if (figure && (!best || measured(figure.rows).length > measured(best.rows).length)) best = figure;
    }
    return best;
  },
};

/** `cpu_ns_per_byte_host ` : what a lab host's CPU-per-byte metric name starts with, before the host's name. */
const HOST_METRIC_PREFIX = cpuNsPerByteOf(hostCpuSource('')).name;

/**
 * The hosts whose CPU per byte the runs' tcp-bulk points stored, in the order the files list
 * their `hosts` (a name the metrics hold but `hosts` lacks comes after, in the points' order).
 */
export function measuredHosts(files: readonly ResultsFile[]): string[] {
  const listed = files.flatMap((file) => (file.hosts ?? []).map((host) => host.name));
  const stored = files.flatMap((file) =>
    file.points
      .filter((point) => point.suite === common.suite)
      .flatMap((point) => point.summaries.map((summary) => summary.metric))
      .filter((metric) => metric.startsWith(HOST_METRIC_PREFIX))
      .map((metric) => metric.slice(HOST_METRIC_PREFIX.length)),
  );
  const found = new Set(stored);
  return [...new Set([...listed, ...stored])].filter((name) => found.has(name));
}

/**
 * What a host was in the runs that measured it: `server` or `client` as the run's command named it
 * (`--server NAME`, `--client NAME`), else the server/client roles its `hosts` entry lists; `null`
 * when neither says. Several runs giving different roles: all of them, in order.
 */
export function hostRole(files: readonly ResultsFile[], name: string): string | null {
  const roles = files.flatMap((file) => {
    const command = file.plan.command;
    const named = (['server', 'client'] as const).filter((role) => command.some((word, index) => word === `--${role}` && command[index + 1] === name));
    if (named.length > 0) return named;
    const listed = file.hosts?.find((host) => host.name === name)?.roles ?? [];
    return listed.filter((role) => role === 'server' || role === 'client');
  });
  return roles.length > 0 ? [...new Set(roles)].join(', ') : null;
}

/** A host name as it may appear in a figure id (file names, HTML ids): anything else becomes `-`. */
const idSafe = (name: string) => name.replace(/[^a-z0-9-]/gi, '-');

/**
 * One figure per lab host whose CPU per byte a run stored (`cpu_ns_per_byte_host NAME`), titled
 * with the host's name and role. The two ends of a lab link are two machines, so there is no one
 * whole-host figure: each host's CPU time is its own, read from its /proc/stat over SSH.
 */
export const tcpBulkEfficiencyByHost: FigureFamily = {
  id: `${common.id}-host`,
  buildEach(context) {
    const lab: FigureContext = { ...context, runs: context.runs.filter((run) => run.file.hosts) };
    const files = lab.runs.map((run) => run.file);
    return measuredHosts(files).flatMap((name) => {
      const role = hostRole(files, name);
      const called = role ? `${name} (${role})` : name;
      const figure = barFigure({
        ...common,
        id: `${common.id}-host-${idSafe(name)}`,
        title: `TCP bulk transfer cost on host ${called} (lower is better): CPU time per byte`,
        metric: cpuNsPerByteOf(hostCpuSource(name)).name,
        valueTitle: (unit) => `${name}'s CPU time per byte (${unit})`,
        defaultUnit: 'ns/byte',
        measuredOn: `host ${called}`,
        notes: [
          `Lab run: whole-host CPU time of ${called}, from its own /proc/stat read over SSH right before and after the transfer, divided by bytes moved. The other end of the link is another host with its own figure; the SSH reads' own busy time (milliseconds) is included.`,
          paperNote,
        ],
      }).build(lab);
      return figure ? [figure] : [];
    });
  },
};
