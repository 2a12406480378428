/**
 * Lab mode's host facts (issue 14): what a results file records of every inventory host, collected
 * by one shell script run on the host (over SSH, or here for `localhost`), and each host's clock
 * offset against the controlling host. The parsers are host-probe.ts's, so a lab host and the
 * single host are described alike.
 */
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
 * The accel probe run on the host. /dev/kvm existing, QEMU creating a KVM machine, or even the
 * firmware running is not enough: on the development machines SeaBIOS and a kernel's real-mode
 * setup run under KVM, then the vCPU hangs ("Probing EDD", provisioning/kvm/README.md). So a kernel
 * must get through its whole init to mounting a root file system within ACCEL_PROBE_TIMEOUT_S:
 * isobench's own image's kernel on that host when built there, else the host's own
 * `/boot/vmlinuz-$(uname -r)`. No initrd: the kernel then panics at `VFS: Unable to mount root fs`
 * and QEMU exits (`-no-reboot`), a point past CPU, timer, interrupt and device set-up. The single
 * host's probe (provisioning/kvm/accel-probe.ts) boots the image's initrd to its first process;
 * this one needs no initrd because a lab host may not have the image. `--accel auto` in lab mode
 * runs the guest under KVM only where this says `works` (provisioning/kvm/lab/lab-accel.ts).
 */
const ACCEL_PROBE = `kernel=$(ls /var/cache/isobench/rootfs-*/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$kernel" ] || kernel=/boot/vmlinuz-$(uname -r)
if [ ! -e /dev/kvm ]; then echo 'not probed: no /dev/kvm'
elif ! command -v qemu-system-x86_64 >/dev/null 2>&1; then echo 'not probed: qemu-system-x86_64 is missing'
elif [ ! -r "$kernel" ]; then echo 'not probed: no kernel to boot (neither isobench'"'"'s image nor /boot/vmlinuz-'"$(uname -r)"')'
else log=$(mktemp); err=$(mktemp)
  qemu-system-x86_64 -machine q35,accel=kvm -m 256 -nodefaults -no-user-config -display none -no-reboot -kernel "$kernel" -append 'console=ttyS0 panic=-1' -serial file:"$log" >"$err" 2>&1 & pid=$!
  reached() { grep -Eq 'VFS: Unable to mount root|Run /init as init process' "$log" 2>/dev/null; }
  i=0; state="hangs: $kernel"
  while [ $i -lt ${ACCEL_PROBE_TIMEOUT_S * 5} ]; do
    if reached; then state="works: $kernel"; break; fi
    if ! kill -0 $pid 2>/dev/null; then
      # QEMU may have printed the expected panic and exited between the two looks.
      if reached; then state="works: $kernel"; break; fi
      panic=$(grep -m 1 'Kernel panic' "$log" 2>/dev/null)
      state="fails: \${panic:-$(tail -n 2 "$err" | tr '\\n' ' ')}"; break
    fi
    sleep 0.2; i=$((i + 1))
  done
  if [ "\${state%%:*}" = hangs ]; then
    if grep -q 'Linux version' "$log" 2>/dev/null; then state="$state (stopped after the kernel's 64-bit start)"
    elif grep -Eq 'Probing EDD|Decompressing' "$log" 2>/dev/null; then state="$state (stopped after the kernel's real-mode setup)"; fi
  fi
  kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log" "$err"; echo "$state"
fi`;

/** The shell line that starts the section NAME of the script's output. */
function section(name: string): string {
  return `printf '\\n${MARK}%s@@\\n' ${quoteCommand([name])}`;
}

/** The sections that say which machine a host is: hostname, CPU, cores, kernel. */
function identityLines(): string[] {
  return [
    `${section('hostname')}; hostname`,
    `${section('cpuinfo')}; sed -n '1,/^$/p' /proc/cpuinfo`,
    `${section('cores')}; getconf _NPROCESSORS_ONLN`,
    `${section('kernel')}; uname -r`,
  ];
}

/** The one script that prints every fact, each section after a `@@isobench:NAME@@` line. */
export function factsScript(): string {
  const tools = VERSIONED_TOOLS.map(
    ({ tool, args }) => `${section(`tool:${tool}`)}; if command -v ${quoteCommand([tool])} >/dev/null 2>&1; then out=$(timeout 10 ${quoteCommand([tool, ...args])} 2>&1) && printf '%s\\n' "$out" | sed -n '/[^[:space:]]/{p;q}'; fi`,
  );
  return [
    ...identityLines(),
    `${section('memtotal')}; grep '^MemTotal:' /proc/meminfo`,
    `${section('os-release')}; cat /etc/os-release`,
    `${section('kvm-device')}; if [ -e /dev/kvm ]; then echo yes; else echo no; fi`,
    `${section('vhost-net')}; if [ -e /dev/vhost-net ]; then echo yes; else echo no; fi`,
    `${section('perf')}; if command -v perf >/dev/null 2>&1; then timeout 10 ${quoteCommand([...PERF_PROBE_COMMAND])} 2>&1; fi`,
    `${section('docker')}; if command -v docker >/dev/null 2>&1; then timeout 10 docker info --format ${quoteCommand([DOCKER_INFO_FORMAT])} 2>/dev/null; fi`,
    `${section('libvirt')}; if command -v virsh >/dev/null 2>&1; then timeout 10 virsh -c qemu:///system version --daemon 2>/dev/null | sed -n 's/^Running against daemon: *//p'; fi`,
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
  const accel = accelText.startsWith('works') ? 'works' : accelText.startsWith('hangs') ? 'hangs' : accelText.startsWith('fails') ? 'fails' : 'not probed';
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
    accelDetail:
      accel === 'works'
        ? `a kernel booted under KVM as far as mounting its root file system (${accelText.slice('works: '.length)})`
        : accel === 'hangs'
          ? `a kernel under KVM did not reach its root file system within ${ACCEL_PROBE_TIMEOUT_S} s (${accelText.slice('hangs: '.length)}): guests must run emulated (TCG)`
          : accelText,
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

/** What makes a host the same machine for `--resume`: the fields the single-host check compares too. */
export type LabHostIdentity = Pick<LabHostFacts, 'hostname' | 'cpuModel' | 'cores' | 'kernel'>;

/** Seconds allowed for the identity script (no probe in it: a few reads of /proc). */
export const IDENTITY_TIMEOUT_MS = 30_000;

/** The identity sections of the facts script alone, so a resume need not run the 15 s accel probe. */
export function identityScript(): string {
  return [...identityLines(), section('end')].join('\n');
}

/**
 * A host's identity from {@link identityScript}'s output.
 * @throws Error when the output lacks the `end` section (the script was cut off).
 */
export function parseIdentity(stdout: string): LabHostIdentity {
  const sections = splitSections(stdout);
  if (!sections.has('end')) throw new Error('the identity script did not finish (its output has no end mark)');
  const cores = Number(sections.get('cores'));
  return {
    hostname: sections.get('hostname') || 'unknown',
    cpuModel: parseCpuInfo(sections.get('cpuinfo') ?? '').model,
    cores: Number.isInteger(cores) && cores > 0 ? cores : null,
    kernel: sections.get('kernel') || 'unknown',
  };
}

/**
 * Reads a host's identity over its connection.
 * @throws HostError when the host cannot be reached; Error when the script fails or is cut off.
 */
export async function readHostIdentity(host: Host): Promise<LabHostIdentity> {
  const outcome = await host.run(['sh', '-c', identityScript()], { timeoutMs: IDENTITY_TIMEOUT_MS });
  if (outcome.timedOut) throw new Error(`host ${host.name}: reading its identity timed out after ${IDENTITY_TIMEOUT_MS / 1000} s`);
  return parseIdentity(outcome.stdout);
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

/** A session on a host that answers each line it reads with one reading of its clock. */
const CLOCK_SESSION = ['sh', '-c', 'while read -r _; do date +%s.%N; done'];
/** ms one clock reading may take before the session counts as broken. */
const CLOCK_SAMPLE_TIMEOUT_MS = 5_000;

/**
 * The host's clock offset against this one. One session stays open on the host (CLOCK_SESSION,
 * over the shared SSH connection), so a sample's round trip is one line there and back plus a
 * `date`, not an ssh start-up: CLOCK_SAMPLES samples after one discarded warm-up.
 * @throws HostError when the host cannot be reached; Error when a reading does not come back
 *   within 5 s or `date` prints no nanoseconds (busybox's cannot), naming the host.
 */
export async function measureClockOffset(host: Host, samples = CLOCK_SAMPLES): Promise<ClockOffset> {
  const lines: string[] = [];
  let buffered = '';
  let waiting: (() => void) | undefined;
  let stderr = '';
  const session = host.start(CLOCK_SESSION, {
    timeoutMs: 60_000,
    onOutput: (stream, text) => {
      if (stream === 'stderr') {
        stderr += text;
        return;
      }
      buffered += text;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
      if (parts.length > 0) waiting?.();
    },
  });
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`host ${host.name}: no clock reading within ${CLOCK_SAMPLE_TIMEOUT_MS} ms${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`)), CLOCK_SAMPLE_TIMEOUT_MS);
      const take = () => {
        if (lines.length === 0) return;
        clearTimeout(timer);
        waiting = undefined;
        resolve(lines.shift()!);
      };
      waiting = take;
      take();
    });
  try {
    const taken: ClockSample[] = [];
    for (let index = 0; index <= samples; index += 1) {
      const t0 = controllerNowMs();
      session.write('\n');
      const line = await nextLine();
      const t3 = controllerNowMs();
      const hostMs = parseDateNanos(line);
      if (!Number.isFinite(hostMs)) throw new Error(`host ${host.name}: \`date +%s.%N\` gave no time: ${line.trim()}`);
      // The first sample may wait for the connection to be set up: not a measurement.
      if (index > 0) taken.push({ t0, hostMs, t3 });
    }
    return offsetFromSamples(taken);
  } finally {
    await session.stop(500);
  }
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
