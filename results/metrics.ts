/**
 * The metrics isobench records: one definition per metric with its stable name (the key in results
 * files, CSV and figures), unit and direction. Suites build their samples from these, and figures and
 * verdicts look them up here, so a name is spelled in one place only. Renaming one breaks reading
 * older results files: add a new metric instead.
 */

/** Which way is better: `higher` (throughput, IOPS) or `lower` (latency, CPU per byte, start time). */
export type MetricDirection = 'higher' | 'lower';

/** A metric: its stable name, unit and which way is better. */
export interface MetricDefinition {
  /** Stable snake_case name with the unit as a suffix, e.g. `throughput_gbps`. */
  readonly name: string;
  /** The unit shown on axes and in tables, e.g. `Gbit/s`, `µs`. */
  readonly unit: string;
  readonly direction: MetricDirection;
}

function metric(name: string, unit: string, direction: MetricDirection): MetricDefinition {
  return { name, unit, direction };
}

/** tcp-bulk (iperf3, Felter et al. 2014, "TCP bulk transfer throughput" and "efficiency"). */
export const TCP_BULK_METRICS = {
  /** Receiver-side goodput, first second omitted. */
  throughput: metric('throughput_gbps', 'Gbit/s', 'higher'),
  /** Whole-host busy CPU time over bytes moved (/proc/stat). */
  cpuNsPerByte: metric('cpu_ns_per_byte', 'ns/byte', 'lower'),
  /** Hardware cycles (perf stat --all-cpus) over bytes moved. */
  cyclesPerByte: metric('cycles_per_byte', 'cycles/byte', 'lower'),
  /** CPU time × nominal clock over bytes moved, where no hardware counters exist: an estimate. */
  estimatedCyclesPerByte: metric('est_cycles_per_byte', 'cycles/byte', 'lower'),
  retransmits: metric('retransmits', 'segments', 'lower'),
} as const;

/** CPU ns per byte of one of the target's own accounting sources (cgroup, QEMU process). */
export function cpuNsPerByteOf(source: string): MetricDefinition {
  return metric(`cpu_ns_per_byte_${source}`, 'ns/byte', 'lower');
}

/**
 * The source name of a lab host's whole-host CPU time, `host NAME`: its metrics read
 * `cpu_ns_per_byte_host sut`, `cpu_us_per_tx_host sut`, beside the target's own sources (a lab run has
 * no one whole host: the two ends of the link are on two machines, each measured by name).
 */
export function hostCpuSource(host: string): string {
  return `host ${host}`;
}

/** tcp-rr (sockperf ping-pong, Felter et al. 2014, "Network round-trip latency"). */
export const TCP_RR_METRICS = {
  latencyMean: metric('latency_mean_us', 'µs', 'lower'),
  latencyP50: metric('latency_p50_us', 'µs', 'lower'),
  latencyP90: metric('latency_p90_us', 'µs', 'lower'),
  latencyP99: metric('latency_p99_us', 'µs', 'lower'),
  latencyP999: metric('latency_p999_us', 'µs', 'lower'),
  transactionsPerSecond: metric('transactions_per_s', 'tx/s', 'higher'),
} as const;

/** random-io (fio, Felter et al. 2014, "Random I/O throughput", "Sequential I/O", "Random read latency CDF"). */
export const RANDOM_IO_METRICS = {
  iops: metric('iops', 'IOPS', 'higher'),
  bandwidth: metric('bandwidth_mb_s', 'MB/s', 'higher'),
  readIops: metric('read_iops', 'IOPS', 'higher'),
  writeIops: metric('write_iops', 'IOPS', 'higher'),
  /** Mean completion latency (fio clat), of reads where the job reads. */
  clatMean: metric('clat_mean_us', 'µs', 'lower'),
  /**
   * Mean size of the requests the host's disks completed during the trial, in the job's direction
   * (suites/random-io/host-disks.ts): fio's block size after the target's stack merged or split it.
   * Descriptive, never a headline; `higher` only because a direction is required.
   */
  hostRequest: metric('host_disk_request_kib', 'KiB', 'higher'),
} as const;

const CLAT_PERCENTILE_NAME = /^clat_p(\d+(?:\.\d+)?)_us$/;

/** fio's completion latency at a percentile, e.g. 99.9 → `clat_p99.9_us` (µs). */
export function clatPercentileMetric(percentile: number): MetricDefinition {
  return metric(`clat_p${percentile}_us`, 'µs', 'lower');
}

/** The percentile of a `clat_pX_us` metric name, or null for any other name. */
export function clatPercentileOf(name: string): number | null {
  const match = CLAT_PERCENTILE_NAME.exec(name);
  return match ? Number(match[1]) : null;
}

/** startup (tinybench around provision → first answer). */
export const STARTUP_METRICS = {
  readyMean: metric('ready_ms', 'ms', 'lower'),
  readyP50: metric('ready_p50_ms', 'ms', 'lower'),
  readyMin: metric('ready_min_ms', 'ms', 'lower'),
  readyMax: metric('ready_max_ms', 'ms', 'lower'),
  /** How many fresh instances tinybench started in the budget: context, not a quality. */
  starts: metric('starts', 'count', 'higher'),
} as const;

/** mysql (sysbench OLTP, Felter et al. 2014, "MySQL throughput" and "latency vs throughput"). */
export const MYSQL_METRICS = {
  /** sysbench's transactions over its total time: the headline. */
  transactionsPerSecond: metric('transactions_per_s', 'tx/s', 'higher'),
  /** Every SQL statement sysbench ran (reads, writes, BEGIN/COMMIT) over its total time. */
  queriesPerSecond: metric('queries_per_s', 'queries/s', 'higher'),
  /** Mean time of one transaction as sysbench's threads saw it. */
  latencyMean: metric('latency_mean_ms', 'ms', 'lower'),
  /** 95th percentile of the transaction times (sysbench `--percentile=95`). */
  latencyP95: metric('latency_p95_ms', 'ms', 'lower'),
  /** Errors sysbench ignored and retried (deadlocks, lock wait timeouts: `--mysql-ignore-errors`), over the run. */
  errors: metric('errors', 'count', 'lower'),
  /** Times sysbench had to reconnect, over the run. */
  reconnects: metric('reconnects', 'count', 'lower'),
  /** Busy CPU time of the whole host (client, server, isolation layers) over transactions, /proc/stat. */
  cpuUsPerTransaction: metric('cpu_us_per_tx', 'µs/tx', 'lower'),
  /** Share of all the host's cores busy during the run (Felter drew throughput against CPU utilisation): context. */
  cpuBusyPercent: metric('cpu_busy_percent', '%', 'lower'),
} as const;

/** CPU µs per transaction of one of the target's own accounting sources (cgroup, QEMU process, guest). */
export function cpuUsPerTransactionOf(source: string): MetricDefinition {
  return metric(`cpu_us_per_tx_${source}`, 'µs/tx', 'lower');
}

/** The busy share of all cores of one named source (a lab host: `cpu_busy_percent_host sut`). */
export function cpuBusyPercentOf(source: string): MetricDefinition {
  return metric(`cpu_busy_percent_${source}`, '%', 'lower');
}

/**
 * migration (two QEMU processes, pre-copy, Clark et al. 2005 "Live Migration of Virtual Machines").
 * Times in ms. A figure a trial could not measure (no downtime without a switch-over, no probe
 * gap without echoes) is absent from that trial, never 0.
 */
export const MIGRATION_METRICS = {
  /** QEMU's `total-time` at the end; for a cancelled migration, until the cancel took effect. */
  totalTime: metric('migration_total_ms', 'ms', 'lower'),
  setupTime: metric('migration_setup_ms', 'ms', 'lower'),
  /** QEMU's own `downtime`: from stopping the source to the destination being ready to run. */
  downtimeQemu: metric('downtime_qemu_ms', 'ms', 'lower'),
  /** The longest gap a client saw in the 1 ms UDP echo stream during the migration. */
  downtimeProbe: metric('downtime_probe_ms', 'ms', 'lower'),
  /**
   * The final dirty-sync-count: QEMU's setup sync, one per pre-copy round and the completion's
   * (libvirt: its Iteration). Kept under this name for older files; it is not the round count.
   */
  rounds: metric('migration_rounds', 'rounds', 'lower'),
  /**
   * Pre-copy rounds sent while the guest ran: dirty-sync-count − 2 after a switch-over, the round a
   * cancelled migration was cut in otherwise (`measuredPrecopyRounds`, the prediction table's count).
   */
  precopyRounds: metric('migration_precopy_rounds', 'rounds', 'lower'),
  transferred: metric('migration_transferred_mib', 'MiB', 'lower'),
  /** The echo probe's measured resolution: the largest error reading QMP pauses of known length. */
  probeResolution: metric('probe_resolution_ms', 'ms', 'lower'),
  /** `--workload web`: the longest time no request completed. */
  blackout: metric('blackout_ms', 'ms', 'lower'),
  /** `--workload web`: the time under half the pre-migration request rate. */
  brownout: metric('brownout_ms', 'ms', 'lower'),
  /** `--workload web`: requests per second before the migration. */
  webBaseline: metric('web_baseline_rps', 'req/s', 'higher'),
  /** `--workload dirty`: the rate the dirtier reached, as it reported (MiB of pages written per second). */
  dirtyRate: metric('dirty_rate_mib_s', 'MiB/s', 'higher'),
} as const;
