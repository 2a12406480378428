/**
 * Lab mode's host facts (issue 14): what a results file records of every inventory host, collected
 * by one shell script run on the host (over SSH, or here for `localhost`), and each host's clock
 * offset against the controlling host. The parsers are host-probe.ts's, so a lab host and the
 * single host are described alike.
 */
import type { CommandOutcome } from '../core/exec.js';
import { errorMessage } from '../core/errors.js';
import type { Host } from '../hosts/host.js';
import type { InventoryHost } from '../hosts/inventory.js';
import { quoteCommand } from '../hosts/shell-quote.js';
import type { ClockOffset, LabHost, LabHostFacts } from '../results/schema.js';
import { distroName, parseCpuInfo, PERF_PROBE_COMMAND, perfCountsCycles, VERSIONED_TOOLS } from './host-probe.js';

/** Seconds the accel probe's QEMU may take before it counts as hanging (as /dev/kvm does on the development machines). */
export const ACCEL_PROBE_TIMEOUT_S = 15;
/** The whole facts script's deadline: the accel probe plus 10 s per other probe at most, generously. */
export const FACTS_TIMEOUT_MS = 90_000;
/** Clock samples per host; the one with the shortest round trip is kept. */
export const CLOCK_SAMPLES = 8;

const MARK = '@@isobench:';
/** `docker info`'s fields a results file records, as one JSON object (the whole of `{{json .}}` is kilobytes). */
const DOCKER_INFO_FORMAT = '{"ServerVersion":{{json .ServerVersion}},"Driver":{{json .Driver}},"CgroupVersion":{{json .CgroupVersion}}}';

/**
 * The accel probe run on the host: QEMU creates a KVM machine with no devices (`-machine none`) and
 * quits at once through its monitor. Cheaper than the single host's probe, which boots a guest
 * (provisioning/kvm/accel-probe.ts), because a lab host may not have isobench's guest image yet;
 * so `works` means KVM accepted a VM, not that a guest ran.
 */
const ACCEL_PROBE = `if [ ! -e /dev/kvm ]; then echo 'not probed: no /dev/kvm'
elif ! command -v qemu-system-x86_64 >/dev/null 2>&1; then echo 'not probed: qemu-system-x86_64 is missing'
else out=$(echo quit | timeout -k 2 ${ACCEL_PROBE_TIMEOUT_S} qemu-system-x86_64 -machine none,accel=kvm -nodefaults -no-user-config -display none -monitor stdio 2>&1); code=$?
  if [ $code -eq 124 ] || [ $code -eq 137 ]; then echo 'hangs'; elif [ $code -eq 0 ]; then echo 'works'; else echo "fails: $(printf '%s' "$out" | grep -v '^QEMU\\|^(qemu)' | tail -n 2 | tr '\\n' ' ')"; fi
fi`;

/** The one script that prints every fact, each section after a `@@isobench:NAME@@` line. */
export function factsScript(): string {
  const section = (name: string) => `printf '\\n${MARK}%s@@\\n' ${quoteCommand([name])}`;
  const tools = VERSIONED_TOOLS.map(
    ({ tool, args }) => `${section(`tool:${tool}`)}; if command -v ${quoteCommand([tool])} >/dev/null 2>&1; then out=$(timeout 10 ${quoteCommand([tool, ...args])} 2>&1) && printf '%s\\n' "$out" | sed -n '/[^[:space:]]/{p;q}'; fi`,
  );
  return [
    `${section('hostname')}; hostname`,
    `${section('cpuinfo')}; sed -n '1,/^$/p' /proc/cpuinfo`,
    `${section('cores')}; getconf _NPROCESSORS_ONLN`,
    `${section('memtotal')}; grep '^MemTotal:' /proc/meminfo`,
    `${section('kernel')}; uname -r`,
    `${section('os-release')}; cat /etc/os-release`,
    `${section('kvm-device')}; if [ -e /dev/kvm ]; then echo yes; else echo no; fi`,
    `${section('vhost-net')}; if [ -e /dev/vhost-net ]; then echo yes; else echo no; fi`,
    `${section('perf')}; if command -v perf >/dev/null 2>&1; then timeout 10 ${quoteCommand([...PERF_PROBE_COMMAND])} 2>&1; fi`,
    `${section('docker')}; if command -v docker >/dev/null 2>&1; then timeout 10 docker info --format ${quoteCommand([DOCKER_INFO_FORMAT])} 2>/dev/null; fi`,
    `${section('libvirt')}; if command -v virsh >/dev/null 2>&1; then timeout 10 virsh -c qemu:///system version 2>/dev/null | sed -n 's/^Running against daemon: *//p'; fi`,
    `${section('accel')}; ${ACCEL_PROBE}`,
    ...tools,
    section('end'),
  ].join('\n');
}

/** The script's output split into sections by name, each trimmed. */
export function splitSections(stdout: string): Map<string, string> {
  const sections = new Map<string, string>();
  const pattern = /^@@isobench:(.+?)@@$/gm;
  const marks = [...stdout.matchAll(pattern)];
  marks.forEach((mark, index) => {
    const start = mark.index + mark[0].length;
    const end = index + 1 < marks.length ? marks[index + 1]!.index : stdout.length;
    sections.set(mark[1]!, stdout.slice(start, end).trim());
  });
  return sections;
}

/**
 * Facts from the script's output.
 * @throws Error when the output lacks the `end` section (the script was cut off).
 */
export function parseFacts(stdout: string): LabHostFacts {
  const sections = splitSections(stdout);
  if (!sections.has('end')) throw new Error('the facts script did not finish (its output has no end mark)');
  const text = (name: string) => sections.get(name) ?? '';
  const cpu = parseCpuInfo(text('cpuinfo'));
  const cores = Number(text('cores'));
  const memoryKiB = Number(/^MemTotal:\s+(\d+)\s+kB/m.exec(text('memtotal'))?.[1]);
  const accelText = text('accel');
  const accel = accelText === 'works' ? 'works' : accelText === 'hangs' ? 'hangs' : accelText.startsWith('fails') ? 'fails' : 'not probed';
  return {
    hostname: text('hostname') || 'unknown',
    cpuModel: cpu.model,
    cores: Number.isInteger(cores) && cores > 0 ? cores : null,
    cpuMHz: cpu.mhz,
    memoryBytes: Number.isFinite(memoryKiB) && memoryKiB > 0 ? memoryKiB * 1024 : null,
    kernel: text('kernel') || 'unknown',
    distro: distroName(text('os-release')),
    tools: VERSIONED_TOOLS.map(({ tool }) => ({ tool, version: text(`tool:${tool}`) || null })),
    perfCounters: perfCountsCycles(text('perf')),
    kvmDevice: text('kvm-device') === 'yes',
    accel,
    accelDetail: accel === 'works' ? `QEMU created a KVM machine (-machine none) within ${ACCEL_PROBE_TIMEOUT_S} s` : accel === 'hangs' ? `QEMU with -accel kvm did not quit within ${ACCEL_PROBE_TIMEOUT_S} s: guests run emulated (TCG)` : accelText,
    vhostNet: text('vhost-net') === 'yes',
    docker: parseDockerInfo(text('docker')),
    libvirt: text('libvirt') || null,
  };
}

/** The fields of `docker info` (DOCKER_INFO_FORMAT) a results file records; null when it is not that. */
export function parseDockerInfo(text: string): LabHostFacts['docker'] {
  try {
    const info = JSON.parse(text) as { ServerVersion?: string; Driver?: string; CgroupVersion?: string };
    if (!info.ServerVersion) return null;
    return { version: info.ServerVersion, storageDriver: info.Driver ?? 'unknown', cgroupVersion: info.CgroupVersion ?? 'unknown' };
  } catch {
    return null;
  }
}

/**
 * Runs the facts script on a host.
 * @throws HostError when the host cannot be reached; Error when the script fails or is cut off.
 */
export async function collectHostFacts(host: Host): Promise<LabHostFacts> {
  const outcome = await host.run(['sh', '-c', factsScript()], { timeoutMs: FACTS_TIMEOUT_MS });
  if (outcome.timedOut) throw new Error(`host ${host.name}: the facts script timed out after ${FACTS_TIMEOUT_MS / 1000} s`);
  return parseFacts(outcome.stdout);
}

/** One clock sample: controller stamps around the host's reading, all in ms since the Unix epoch. */
export interface ClockSample {
  t0: number;
  hostMs: number;
  t3: number;
}

/** The controller's clock in ms since the epoch, with performance.now()'s sub-millisecond resolution. */
export function controllerNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The offset from samples: the one with the shortest round trip, offset = host − (t0 + t3) / 2,
 * uncertainty = (t3 − t0) / 2.
 * @throws Error for no samples.
 */
export function offsetFromSamples(samples: readonly ClockSample[]): ClockOffset {
  if (samples.length === 0) throw new Error('no clock samples');
  const best = [...samples].sort((a, b) => a.t3 - a.t0 - (b.t3 - b.t0))[0]!;
  const roundTripMs = best.t3 - best.t0;
  return { offsetMs: best.hostMs - (best.t0 + best.t3) / 2, uncertaintyMs: roundTripMs / 2, roundTripMs, samples: samples.length };
}

/** `date +%s.%N` output to ms since the epoch; NaN for anything else. */
export function parseDateNanos(stdout: string): number {
  const match = /^(\d+)\.(\d{9})$/.exec(stdout.trim());
  return match ? Number(match[1]) * 1000 + Number(match[2]) / 1e6 : Number.NaN;
}

/**
 * The host's clock offset against this one: CLOCK_SAMPLES readings of `date +%s.%N` over the
 * host's shared connection (the first, which may set the connection up, is discarded).
 * @throws HostError when the host cannot be reached; Error when `date` fails or prints no nanoseconds.
 */
export async function measureClockOffset(host: Host, samples = CLOCK_SAMPLES, run: (command: readonly string[]) => Promise<CommandOutcome> = (command) => host.run(command, { timeoutMs: 20_000 })): Promise<ClockOffset> {
  const taken: ClockSample[] = [];
  for (let index = 0; index <= samples; index += 1) {
    const t0 = controllerNowMs();
    const outcome = await run(['date', '+%s.%N']);
    const t3 = controllerNowMs();
    const hostMs = parseDateNanos(outcome.stdout);
    if (!outcome.ok || !Number.isFinite(hostMs)) throw new Error(`host ${host.name}: \`date +%s.%N\` gave no time: ${outcome.stderr.trim() || outcome.stdout.trim()}`);
    if (index > 0) taken.push({ t0, hostMs, t3 });
  }
  return offsetFromSamples(taken);
}

/**
 * Everything a results file records of one inventory host; a host that fails records why
 * (`error`) with null facts or clock, so one bad host never hides the others.
 */
export async function describeLabHost(entry: InventoryHost, host: Host): Promise<LabHost> {
  const base = { name: entry.name, via: host.via, roles: [...entry.roles], testAddress: entry.testAddress };
  const errors: string[] = [];
  const facts = await collectHostFacts(host).catch((error: unknown) => {
    errors.push(errorMessage(error));
    return null;
  });
  const clockOffset = facts === null ? null : await measureClockOffset(host).catch((error: unknown) => {
    errors.push(errorMessage(error));
    return null;
  });
  return errors.length === 0 ? { ...base, facts, clockOffset } : { ...base, facts, clockOffset, error: errors.join('; ') };
}
