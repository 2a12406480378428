import { access, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { runCommand } from '../core/exec.js';
import type { HostFacts } from '../results/schema.js';
import { userlandProxySetting } from './docker/daemon.js';

const PROBE_TIMEOUT_MS = 10_000;

/** The tools whose versions every results file records, with the flag that prints the version. */
export const VERSIONED_TOOLS: ReadonlyArray<{ tool: string; args: string[] }> = [
  { tool: 'fio', args: ['--version'] },
  { tool: 'iperf3', args: ['--version'] },
  { tool: 'sockperf', args: ['--version'] },
  { tool: 'qemu-system-x86_64', args: ['--version'] },
  { tool: 'docker', args: ['--version'] },
  { tool: 'sysbench', args: ['--version'] },
  { tool: 'debootstrap', args: ['--version'] },
];

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first non-empty line a tool prints for its version flag (stdout, else stderr: some tools print
 * it there). Null when the tool is missing, exits non-zero or takes over 10 s: a probe never fails a run.
 */
export async function toolVersion(tool: string, args: string[]): Promise<string | null> {
  try {
    const outcome = await runCommand([tool, ...args], { timeoutMs: PROBE_TIMEOUT_MS });
    if (!outcome.ok) return null;
    const text = `${outcome.stdout}\n${outcome.stderr}`.trim();
    return text.split('\n')[0]?.trim() || null;
  } catch {
    return null;
  }
}

/**
 * The first CPU's `model name` and `cpu MHz` from /proc/cpuinfo text. The model is `unknown` and MHz
 * null when the field is absent (MHz is missing on some ARM and virtualized hosts).
 */
export function parseCpuInfo(text: string): { model: string; mhz: number | null } {
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'unknown';
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)$/m.exec(text)?.[1]);
  return { model, mhz: Number.isFinite(mhz) && mhz > 0 ? mhz : null };
}

/** The probe of hardware counters: `perf stat` in CSV form counting cycles of `true`. */
export const PERF_PROBE_COMMAND = ['perf', 'stat', '-x', ',', '-e', 'cycles', 'true'] as const;

/**
 * Whether PERF_PROBE_COMMAND's stderr counted cycles: a count, not `<not supported>` (where the host,
 * often itself a VM, exposes no counters).
 */
export function perfCountsCycles(stderr: string): boolean {
  const line = stderr.split('\n').find((candidate) => candidate.includes('cycles')) ?? '';
  return /^\d+,/.test(line.trim());
}

/** `perf stat` prints `<not supported>` where the host (often itself a VM) exposes no counters. */
export async function probePerfCounters(): Promise<boolean> {
  const outcome = await runCommand(PERF_PROBE_COMMAND, { timeoutMs: PROBE_TIMEOUT_MS }).catch(() => null);
  if (!outcome || !outcome.ok) return false;
  return perfCountsCycles(outcome.stderr);
}

/** The Docker daemon's facts a results file records, from `docker info`. */
export interface DockerFacts {
  /** ServerVersion, e.g. `26.1.5`. */
  version: string;
  /** Storage driver (`overlay2`, ...); `unknown` when not reported. */
  storageDriver: string;
  /** `1` or `2` as Docker reports it; `unknown` when not reported. */
  cgroupVersion: string;
  /** Whether published ports get a docker-proxy (dockerd's flags, then daemon.json); null if unknown. */
  userlandProxy: boolean | null;
}

/** Null when Docker is absent, the daemon does not answer within 10 s, or its answer is unreadable. */
export async function probeDocker(): Promise<DockerFacts | null> {
  const outcome = await runCommand(['docker', 'info', '--format', '{{json .}}'], { timeoutMs: PROBE_TIMEOUT_MS }).catch(() => null);
  if (!outcome?.ok) return null;
  try {
    const info = JSON.parse(outcome.stdout) as { ServerVersion?: string; Driver?: string; CgroupVersion?: string };
    if (!info.ServerVersion) return null;
    return {
      version: info.ServerVersion,
      storageDriver: info.Driver ?? 'unknown',
      cgroupVersion: info.CgroupVersion ?? 'unknown',
      userlandProxy: await userlandProxySetting(),
    };
  } catch {
    return null;
  }
}

/** PRETTY_NAME of /etc/os-release text; `unknown` without one. */
export function distroName(osRelease: string): string {
  return /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? 'unknown';
}

/** Bytes available to an unprivileged user on the filesystem holding `path` (statfs bavail x bsize); null if it cannot be read. */
export async function freeDiskBytes(path: string): Promise<number | null> {
  try {
    const stats = await statfs(path);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

/** What every results file records about the machine it ran on. */
export async function probeHost(): Promise<HostFacts> {
  const cpu = parseCpuInfo(await readFile('/proc/cpuinfo', 'utf8').catch(() => ''));
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const [tools, perfCounters, kvmDevice, vhostNet, docker] = await Promise.all([
    Promise.all(VERSIONED_TOOLS.map(async ({ tool, args }) => ({ tool, version: await toolVersion(tool, args) }))),
    probePerfCounters(),
    exists('/dev/kvm'),
    exists('/dev/vhost-net'),
    probeDocker(),
  ]);
  return {
    hostname: os.hostname(),
    cpuModel: cpu.model,
    cores: os.cpus().length,
    cpuMHz: cpu.mhz,
    memoryBytes: os.totalmem(),
    kernel: os.release(),
    distro: distroName(osRelease),
    nodeVersion: process.version,
    tools,
    perfCounters,
    kvmDevice,
    kvmUsable: null,
    vhostNet,
    docker,
  };
}
