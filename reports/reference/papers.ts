/**
 * The papers' published numbers, copied from shared/reference/papers.json (which cites the
 * authors' result sheets and the papers' text). Lab hardware of 2014/2005: figures draw these as
 * a separate, labelled panel so readers compare shapes and ratios, never absolute values.
 */

/** A paper as the report cites it under a reference panel. */
export interface PaperSource {
  citation: string;
  /** The hardware and software the numbers were measured on, so readers see why absolute values differ. */
  testbed: string;
  /** Where the numbers were read from (result sheets, paper text). */
  source: string;
}

/** Felter et al. 2014, the source of the native/Docker/KVM comparison figures. */
export const FELTER_2014: PaperSource = {
  citation:
    'Felter, Ferreira, Rajamony, Rubio: An Updated Performance Comparison of Virtual Machines and Linux Containers (IBM RC25482, 2014; ISPASS 2015)',
  testbed:
    '2x Xeon E5-2665 (16 cores), 256 GB RAM, 10 GbE, IBM FlashSystem 840; Ubuntu 13.10, kernel 3.11, Docker 1.0, QEMU 1.5, libvirt 1.1.1',
  source: "the authors' published result sheets (nuttcp, netperf, fio, mysql) and the paper text",
};

/** Clark et al. 2005, the source of the live-migration numbers in {@link CLARK_MIGRATION}. */
export const CLARK_2005: PaperSource = {
  citation:
    'Clark, Fraser, Hand, Hansen, Jul, Limpach, Pratt, Warfield: Live Migration of Virtual Machines (NSDI 2005)',
  testbed: 'Xen 2.0 era lab hosts, gigabit Ethernet',
  source: "the paper's abstract and introduction; Xen's pre-copy implementation of the time (xc_linux_save.c)",
};

/**
 * A published configuration: its own wording (the paper had no `docker-host` target, it had
 * "Docker, volume") and the isobench target whose colour it shares.
 */
export interface PaperRow {
  label: string;
  colourOf: string;
}

/** Every configuration the papers published, keyed by the name the value tables use. */
export const PAPER_ROWS = {
  native: { label: 'native', colourOf: 'native' },
  docker_nat: { label: 'Docker NAT', colourOf: 'docker-nat' },
  docker_volume: { label: 'Docker (volume)', colourOf: 'docker-host' },
  docker_host_volume: { label: 'Docker host net, volume', colourOf: 'docker-host' },
  docker_nat_volume: { label: 'Docker NAT, volume', colourOf: 'docker-nat' },
  docker_nat_overlay: { label: 'Docker NAT, AUFS', colourOf: 'docker-nat' },
  kvm: { label: 'KVM', colourOf: 'kvm' },
  kvm_qcow2: { label: 'KVM (qcow2)', colourOf: 'kvm' },
} satisfies Record<string, PaperRow>;

/** A key of {@link PAPER_ROWS}. */
export type PaperRowKey = keyof typeof PAPER_ROWS;

/** One published number: the category it belongs to on the figure's axis, and the row. */
export interface PaperValue {
  category: string;
  row: PaperRowKey;
  value: number;
}

/** One published figure: what and how it was measured, its unit, and the values a reference panel draws. */
export interface PaperFigureData {
  paper: PaperSource;
  what: string;
  tool: string;
  unit: string;
  values: PaperValue[];
  note?: string;
}

function values(category: string, byRow: Partial<Record<PaperRowKey, number>>): PaperValue[] {
  return Object.entries(byRow).map(([row, value]) => ({ category, row: row as PaperRowKey, value }));
}

/** Felter 2014 TCP bulk throughput (nuttcp), in Gbit/s converted from the published Mbit/s. */
export const FELTER_TCP_BULK: PaperFigureData = {
  paper: FELTER_2014,
  what: 'TCP bulk throughput',
  tool: 'nuttcp, single TCP stream, 1500 MTU',
  // Published in Mbit/s; converted here so the panel's unit matches the measured one.
  unit: 'Gbit/s',
  values: [
    ...values('client → server', { native: 9.348, docker_nat: 9.33, kvm: 9.294 }),
    ...values('server → client', { native: 9.34, docker_nat: 9.32, kvm: 9.265 }),
  ],
  note: 'all within 1% of the 9.41 Gbit/s line rate; the paper\'s point is CPU cycles per byte: NAT lengthens the transmit path, vhost-net is costly on receive',
};

/** Felter 2014 TCP_RR / UDP_RR round-trip latency (netperf), in µs. */
export const FELTER_RR_LATENCY: PaperFigureData = {
  paper: FELTER_2014,
  what: 'network round-trip latency',
  tool: 'netperf -t TCP_RR / UDP_RR, 100-byte request, 200-byte response, 60 s',
  unit: 'µs',
  values: [...values('TCP_RR', { native: 37.6, kvm: 67.9 }), ...values('UDP_RR', { native: 36.0, kvm: 64.0 })],
  note: 'Docker NAT roughly doubles latency per the paper text; no number published',
};

/** Felter 2014 random I/O (fio, 4 KiB), in IOPS. */
export const FELTER_RANDOM_IOPS: PaperFigureData = {
  paper: FELTER_2014,
  what: 'random I/O throughput',
  tool: 'fio, libaio, direct=1, 4 KiB, iodepth 16 x 8 jobs (mixed: iodepth 32 x 8, 70% reads), 16 GiB file',
  unit: 'IOPS',
  values: [
    ...values('random read', { native: 84044, docker_volume: 84092, kvm: 46173 }),
    ...values('random write', { native: 112034, docker_volume: 112048, kvm: 59321 }),
    ...values('random mixed 70/30', { native: 104553, docker_volume: 104518, kvm: 50737 }),
  ],
};

/** Felter 2014 sequential I/O (fio, 1 MiB blocks), in MB/s. */
export const FELTER_SEQUENTIAL_IO: PaperFigureData = {
  paper: FELTER_2014,
  what: 'sequential I/O throughput',
  tool: 'fio, libaio, direct=1, 1 MiB sequential, 16 GiB file',
  unit: 'MB/s',
  values: [
    ...values('sequential read', { native: 806.9, docker_volume: 806.7, kvm: 801.9 }),
    ...values('sequential write', { native: 751.0, docker_volume: 752.3, kvm: 740.2 }),
  ],
};

/** Categories are the percentile (as a number) so the panel can be drawn as a CDF. */
/** Felter 2014 random-read completion-latency percentiles (fio, 4 KiB), in µs. */
export const FELTER_RANDOM_READ_LATENCY: PaperFigureData = {
  paper: FELTER_2014,
  what: 'random read latency CDF',
  tool: 'fio random read, 4 KiB, iodepth 16, one job; completion latency percentiles',
  unit: 'µs',
  values: [
    ...values('50', { native: 258, docker_volume: 262, kvm: 620 }),
    ...values('90', { native: 306, docker_volume: 306, kvm: 804 }),
    ...values('99', { native: 358, docker_volume: 354, kvm: 1064 }),
  ],
};

/** Felter 2014 MySQL OLTP read-only throughput over the sysbench thread sweep, in transactions/s. */
export const FELTER_MYSQL_THROUGHPUT: PaperFigureData = {
  paper: FELTER_2014,
  what: 'MySQL throughput',
  tool: 'sysbench 0.4.12 OLTP read-only, 2M-row table, client on a second host, thread sweep 10..290, 10 runs per point',
  unit: 'transactions/s',
  values: [
    ...values('10 threads', {
      native: 3394,
      docker_host_volume: 3370,
      docker_nat_volume: 3384,
      docker_nat_overlay: 3178,
      kvm_qcow2: 2033,
    }),
    ...values('peak', {
      native: 13373,
      docker_host_volume: 13126,
      docker_nat_volume: 12959,
      docker_nat_overlay: 11438,
      kvm_qcow2: 5643,
    }),
  ],
  note: 'overlay = the container\'s own layered filesystem (AUFS in 2014); KVM was still rising at 290 threads',
};

/**
 * Clark 2005's pre-copy live-migration figures: measured downtimes (ms, and s for the paper's
 * "diabolical" workload), the bandwidth limits of the rate-limited copy (Mbit/s) and the conditions
 * that end the iterative copy (from the paper and Xen's xc_linux_save.c).
 */
export const CLARK_MIGRATION = {
  paper: CLARK_2005,
  downtimeMs: { quake3Server: 60, specweb99: 210 },
  diabolicalWorkloadDowntimeS: 3.5,
  rateLimitMbitS: { start: 100, max: 500, stepAboveDirtyRate: 50 },
  stopConditions: [
    'the dirty rate of the last round exceeds the maximum bandwidth',
    'fewer than 50 pages (the paper: 256 KB) remain dirty',
    '30 rounds done',
    "more than 3x the guest's memory sent in total",
  ],
} as const;
