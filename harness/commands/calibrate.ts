import { mkdtemp } from 'node:fs/promises';
import { probeHost } from '../../provisioning/host-probe.js';
import { RunImage } from '../../provisioning/image/index.js';
import { nativeDriver } from '../../provisioning/targets/native.js';
import { DEFAULT_GUARD_RANGE, DEFAULT_TEST_SUBNET, Topology } from '../../provisioning/topology.js';
import type { ProvisionedTarget } from '../../contracts/target.js';
import type { MetricSample } from '../../results/schema.js';
import { dataFile, fioCommand, ioMetrics, randomIoSuite } from '../../suites/random-io/index.js';
import { parseFio } from '../../suites/random-io/fio.js';
import { IPERF3_PORT, tcpBulkSuite, WARMUP_SECONDS } from '../../suites/tcp-bulk/index.js';
import { waitForListening } from '../../provisioning/service-readiness.js';
import { parseIperf3 } from '../../suites/tcp-bulk/iperf3.js';
import type { SuiteConfig, SuiteContext, TrialOutcome } from '../../contracts/suite.js';
import { RANDOM_IO_METRICS, TCP_BULK_METRICS } from '../../results/metrics.js';
import { CpuMeter } from '../../core/cpu-meter.js';
import { runChecked, runCommand, startBackground } from '../../core/exec.js';
import { acquireRunLock, refuseHeldRunLock } from '../../core/lock.js';
import { refuseCrashedRun } from '../crashed-run.js';
import { seededRandom } from '../random.js';
import { waitForQuietHost } from '../quiet-host.js';
import { ResourceRegistry, runDirectoryPrefix } from '../../core/ledger.js';
import { summarize } from '../statistics.js';
import { ensureTools } from '../../core/tools.js';
import { newRunId } from '../runner.js';
import { parseFlags } from '../../core/flags.js';
import { UsageError } from '../../core/errors.js';

/**
 * Direct/isobench pairs per job when `--pairs` is not given (the flag accepts 2 to 100). Also the
 * seed of the order shuffle, so a calibration with the same count runs in the same order.
 */
export const DEFAULT_PAIRS = 5;

interface Measurement {
  name: string;
  metric: string;
  unit: string;
  /** The job through isobench's own code path: the suite's trial. */
  isobench(context: SuiteContext): Promise<TrialOutcome>;
  /** The same job, launched straight from the command line the suite would run. */
  direct(context: SuiteContext): Promise<number>;
}

interface PairResult {
  direct: number;
  isobench: number;
  /** CPU seconds isobench's own process used during its trial, and that trial's length. */
  harnessSeconds: number;
  elapsedSeconds: number;
}

function metricValue(metrics: MetricSample[], name: string): number {
  const metric = metrics.find((candidate) => candidate.name === name);
  if (!metric) throw new Error(`the trial reported no ${name}`);
  return metric.value;
}

function measurements(config: Omit<SuiteConfig, 'options'>, target: ProvisionedTarget): Measurement[] {
  const fioPoint = randomIoSuite.points({ ...config, options: {} }).find((point) => point.id === 'randread')!;
  const bulkPoint = tcpBulkSuite.points({ ...config, options: { streams: 1 } }).find((point) => point.id === 'client-to-server')!;
  return [
    {
      name: 'fio randread',
      metric: RANDOM_IO_METRICS.iops.name,
      unit: RANDOM_IO_METRICS.iops.unit,
      isobench: (context) => randomIoSuite.runTrial(fioPoint, { ...context, config: { ...context.config, options: {} }, state: undefined }),
      async direct() {
        const outcome = await runChecked(fioCommand(fioPoint, dataFile(target.dataDirectory)), { timeoutMs: 300_000 });
        return metricValue(ioMetrics(parseFio(outcome.stdout), false), RANDOM_IO_METRICS.iops.name);
      },
    },
    {
      name: 'iperf3 client-to-server',
      metric: TCP_BULK_METRICS.throughput.name,
      unit: TCP_BULK_METRICS.throughput.unit,
      isobench: (context) => tcpBulkSuite.runTrial(bulkPoint, { ...context, config: { ...context.config, options: { streams: 1 } }, state: undefined }),
      async direct(trial) {
        const address = trial.target.serverAddress;
        const server = startBackground(['iperf3', '--server', '--bind', address, '--port', String(IPERF3_PORT), '--one-off'], { timeoutMs: 120_000 });
        try {
          // The same readiness wait the suite's server gets, so neither side races the other.
          let alive = true;
          void server.exited.then(() => (alive = false));
          await waitForListening(runCommand, ['tcp'], address, IPERF3_PORT, () => alive);
          const outcome = await trial.client.exec(
            ['iperf3', '--client', address, '--port', String(IPERF3_PORT), '--time', String(bulkPoint.params.seconds), '--omit', String(WARMUP_SECONDS), '--parallel', '1', '--json'],
            { timeoutMs: 120_000 },
          );
          if (!outcome.ok) throw new Error(outcome.stderr || outcome.stdout);
          return parseIperf3(outcome.stdout).receivedBitsPerSecond / 1e9;
        } finally {
          await server.stop();
        }
      },
    },
  ];
}

/**
 * Runs each job directly and through isobench, alternating which goes first, and reports the
 * ratio isobench/direct with its CI: the harness must not change what it measures.
 */
export async function calibrateCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags({ args: argv, options: { pairs: { type: 'string' }, help: { type: 'boolean' } }, strict: true }, 'npm run calibrate -- --help');
  if (values.help) {
    console.log('usage: npm run calibrate -- [--pairs N]');
    return 0;
  }
  // Plain decimal only: Number() reads "1e1" as 10 and "0x4" as 4.
  const pairs = values.pairs === undefined ? DEFAULT_PAIRS : /^\d+$/.test(values.pairs) ? Number(values.pairs) : Number.NaN;
  if (!Number.isInteger(pairs) || pairs < 2 || pairs > 100) throw new UsageError(`--pairs takes a whole number from 2 to 100, not "${values.pairs}"`);
  // Before the installs print anything: a run in progress (or a crashed one's leftovers) is the one line.
  await refuseCrashedRun();
  await refuseHeldRunLock();
  await ensureTools([...nativeDriver.hostTools, ...tcpBulkSuite.hostTools, ...randomIoSuite.hostTools], (line) => console.error(line));
  const releaseLock = await acquireRunLock();
  const resources = new ResourceRegistry(newRunId());
  try {
    const host = await probeHost();
    const runDirectory = await mkdtemp(runDirectoryPrefix());
    await resources.register(`run directory ${runDirectory}`, { kind: 'path', path: runDirectory });
    const topology = await Topology.create({ subnet: DEFAULT_TEST_SUBNET, guardRange: DEFAULT_GUARD_RANGE }, resources);
    const options = { storage: 'volume', accel: 'auto', disk: 'raw', vcpus: 1, memoryMiB: 1024, vmManager: 'qemu', quick: true } as const;
    const ports = [...tcpBulkSuite.ports, ...randomIoSuite.ports];
    const target = await nativeDriver.provision({ configuration: 'native', servicePorts: ports, topology, resources, options, host, runDirectory, image: new RunImage(), log: (line) => console.error(line) });
    const config = { quick: true, cores: host.cores };
    const client = { exec: topology.clientExec.bind(topology), wrap: topology.wrapClient.bind(topology) };
    const trialContext: SuiteContext = { client, config: { ...config, options: {} }, host, target, cpu: new CpuMeter(), verifyDestination: (address) => topology.verifyDestination(address) };
    await randomIoSuite.prepare!({ ...trialContext, config: { ...config, options: {} } });
    const random = seededRandom(pairs);
    console.log(`calibration: ${pairs} interleaved pairs per job on ${host.cpuModel} (${host.cores} cores)`);
    for (const measurement of measurements(config, target)) {
      const results: PairResult[] = [];
      for (let pair = 0; pair < pairs; pair++) {
        const runIsobench = async () => {
          const cpu0 = process.cpuUsage();
          const wall0 = performance.now();
          const outcome = await measurement.isobench(trialContext);
          const cpu = process.cpuUsage(cpu0);
          if (outcome.state !== 'completed') throw new Error(`the isobench trial ${outcome.state}: ${outcome.reason}`);
          return { value: metricValue(outcome.metrics, measurement.metric), harnessSeconds: (cpu.user + cpu.system) / 1e6, elapsedSeconds: (performance.now() - wall0) / 1000 };
        };
        // Both sides get the same quiet-host wait the runner gives every trial, and take turns going first.
        const runDirect = async () => {
          await waitForQuietHost();
          return measurement.direct(trialContext);
        };
        const runMeasured = async () => {
          await waitForQuietHost();
          return runIsobench();
        };
        let direct: number;
        let isobench: Awaited<ReturnType<typeof runIsobench>>;
        if (random() < 0.5) {
          direct = await runDirect();
          isobench = await runMeasured();
        } else {
          isobench = await runMeasured();
          direct = await runDirect();
        }
        results.push({ direct, isobench: isobench.value, harnessSeconds: isobench.harnessSeconds, elapsedSeconds: isobench.elapsedSeconds });
        console.error(`  ${measurement.name} pair ${pair + 1}: direct ${direct.toFixed(2)}, isobench ${isobench.value.toFixed(2)} ${measurement.unit}`);
      }
      printCalibration(measurement, results);
    }
    return 0;
  } finally {
    await resources.undoAll();
    await releaseLock();
  }
}

function printCalibration(measurement: Measurement, results: PairResult[]): void {
  const ratio = summarize(results.map((result) => result.isobench / result.direct));
  const direct = summarize(results.map((result) => result.direct));
  const isobench = summarize(results.map((result) => result.isobench));
  const harnessShare = summarize(results.map((result) => result.harnessSeconds / result.elapsedSeconds));
  const fmt = (value: number) => value.toFixed(3);
  console.log(`${measurement.name} (${measurement.unit}): direct ${direct.mean.toFixed(2)} ± ${(direct.ci95High - direct.mean).toFixed(2)}, ` +
    `isobench ${isobench.mean.toFixed(2)} ± ${(isobench.ci95High - isobench.mean).toFixed(2)}`);
  console.log(`  ratio isobench/direct ${fmt(ratio.mean)} (95% CI ${fmt(ratio.ci95Low)}..${fmt(ratio.ci95High)}); ` +
    `isobench's own CPU during its trials ${(harnessShare.mean * 100).toFixed(2)} % of a core (max ${(harnessShare.max * 100).toFixed(2)} %)`);
}
