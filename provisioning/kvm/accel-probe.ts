import { constants } from 'node:fs';
import { access, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { startBackground } from '../../core/exec.js';
import { writeJsonAtomic } from '../../core/json-file.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { processStartTicks } from '../../core/proc.js';
import { resolveImageCacheDir } from '../image/index.js';
import { buildQemuCommand, QEMU_NAME_PREFIX, type Accel } from './qemu-command.js';
import { UsageError } from '../../core/errors.js';

/**
 * Is KVM really usable here? `/dev/kvm` existing is not enough: on the development machines it is
 * a paravirtual KVM where guests hang right after the real-mode setup ("Probing EDD") and
 * `-cpu host` aborts on an MSR. So the probe boots a tiny guest — the image's own kernel and
 * initrd, no disk, busybox as the first process, which powers the machine off — under a timeout,
 * and reads its serial console. It passes only when the guest reached user space and powered off.
 */

/**
 * How long one probe boot may take, in ms, before it counts as a hang. On this machine `qemu64`
 * hangs until it (kvm/README.md, "Measured here"); the cached answer means that is paid once per host boot.
 */
export const PROBE_TIMEOUT_MS = 20_000;
/** The initrd (~130 MB unpacked) must fit in memory next to the kernel. */
export const PROBE_MEMORY_MIB = 512;
/** Tried in order: the host's own CPU first (what a KVM benchmark wants), then QEMU's portable model. */
export const KVM_CPU_CANDIDATES = ['host', 'qemu64'] as const;
/** Under TCG the guest gets QEMU's most capable emulated CPU. */
export const TCG_CPU_MODEL = 'max';
/** Everything after `--` is the first process's argv: `busybox poweroff -f`. */
export const PROBE_KERNEL_COMMAND_LINE = 'console=ttyS0 earlyprintk=ttyS0 panic=-1 rdinit=/usr/bin/busybox -- poweroff -f';
const REACHED_INIT = /Run \S+ as init process/;
const POWERED_OFF = /reboot: Power down/;
const TAIL_CHARS = 4_000;

/** One boot of the probe guest, as the results (`kvmProbe`) and the probe cache keep it. */
export const ProbeAttempt = z.object({
  accel: z.enum(['kvm', 'tcg']),
  /** The `-cpu` model tried. */
  cpuModel: z.string(),
  /** QEMU's argv as it ran. */
  command: z.array(z.string()),
  /** null when QEMU did not exit by itself (killed, or at the timeout). */
  exitCode: z.number().int().nullable(),
  /** The signal that ended QEMU; null when it exited, and when it was killed at the timeout (`timedOut` says so). */
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  /** From QEMU's start to its exit, in ms. */
  durationMs: z.number(),
  /** The end of the guest's serial console (last 4,000 characters). */
  serial: z.string(),
  /** The end of QEMU's own stderr (last 4,000 characters). */
  stderr: z.string(),
});
/** One boot of the probe guest (see the schema of the same name). */
export type ProbeAttempt = z.infer<typeof ProbeAttempt>;

/**
 * Why a probe boot failed: `hang`, no power-off before the timeout; `qemu-error`, QEMU exited non-zero
 * or by a signal (e.g. `-cpu host` failing to set an MSR); `no-userspace`, QEMU exited cleanly but the
 * guest never ran its first process (a kernel panic). `unavailable` (no usable /dev/kvm) is not produced
 * by evaluateProbeAttempt: probeKvm then records only the reason, without attempts.
 */
export type ProbeFailure = 'unavailable' | 'hang' | 'qemu-error' | 'no-userspace';
/** evaluateProbeAttempt's judgement of one boot; `reason` is one line for logs and results. */
export type ProbeVerdict = { works: true; reason: string } | { works: false; failure: ProbeFailure; reason: string };

function lastLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ?? ''
  );
}

function lastLines(text: string, count: number): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}

/** Judges one boot of the probe guest from what it left: its exit, its serial console, QEMU's stderr. */
export function evaluateProbeAttempt(attempt: ProbeAttempt): ProbeVerdict {
  const what = `${attempt.accel} with -cpu ${attempt.cpuModel}`;
  const seconds = (attempt.durationMs / 1000).toFixed(1);
  const reachedInit = REACHED_INIT.test(attempt.serial);
  const poweredOff = POWERED_OFF.test(attempt.serial);
  if (reachedInit && poweredOff && !attempt.timedOut) {
    return { works: true, reason: `${what}: the probe guest reached user space and powered off in ${seconds} s` };
  }
  if (attempt.timedOut) {
    const last = lastLine(attempt.serial);
    return {
      works: false,
      failure: 'hang',
      reason: `${what}: the probe guest hung — no power-off within ${seconds} s; its console's last line: ${last ? `"${last.slice(0, 160)}"` : '(nothing)'}`,
    };
  }
  if (attempt.exitCode !== 0 || attempt.signal !== null) {
    const status = attempt.signal ? `was killed by ${attempt.signal}` : `exited with code ${attempt.exitCode ?? 'unknown'}`;
    const detail = lastLines(attempt.stderr, 2);
    return { works: false, failure: 'qemu-error', reason: `${what}: QEMU ${status}${detail ? `: ${detail.slice(0, 300)}` : ''}` };
  }
  const panic = /Kernel panic - not syncing: [^\n]*/.exec(attempt.serial)?.[0];
  return {
    works: false,
    failure: 'no-userspace',
    reason: `${what}: the probe guest stopped without running its first process${panic ? ` (${panic.trim()})` : ''}`,
  };
}

/** The probe's answer, recorded in the results and cached in `kvm-probe.json`. */
export const KvmProbe = z.object({
  works: z.boolean(),
  /** The CPU model that booted, when one did. */
  cpuModel: z.string().nullable(),
  /** One line: why KVM does or does not work. */
  reason: z.string(),
  /** In the order they ran; empty when /dev/kvm is not usable. */
  attempts: z.array(ProbeAttempt),
  /** ISO 8601 time of the probe (of the original one, for a cached answer). */
  probedAt: z.string(),
  /** The attempts' durations added up, in seconds. */
  seconds: z.number(),
  /** True when this came from the cache of an earlier probe in the same host boot. */
  cached: z.boolean(),
});
/** The probe's answer (see the schema of the same name). */
export type KvmProbe = z.infer<typeof KvmProbe>;

/**
 * The probe's overall answer from its attempts, in the order they ran: it works when any attempt
 * did, with that attempt's CPU model; otherwise the reason joins every attempt's reason.
 * @param probedAt ISO 8601 time.
 * @param unavailable Why KVM could not even be tried (no /dev/kvm); when given, it is the reason.
 */
export function summarizeKvmProbe(attempts: readonly ProbeAttempt[], probedAt: string, unavailable?: string): KvmProbe {
  const seconds = attempts.reduce((sum, attempt) => sum + attempt.durationMs, 0) / 1000;
  const base = { attempts: [...attempts], probedAt, seconds, cached: false };
  if (unavailable) return { ...base, works: false, cpuModel: null, reason: unavailable };
  const verdicts = attempts.map((attempt) => ({ attempt, verdict: evaluateProbeAttempt(attempt) }));
  const passed = verdicts.find(({ verdict }) => verdict.works);
  if (passed) return { ...base, works: true, cpuModel: passed.attempt.cpuModel, reason: passed.verdict.reason };
  if (verdicts.length === 0) return { ...base, works: false, cpuModel: null, reason: 'KVM was not probed' };
  return { ...base, works: false, cpuModel: null, reason: verdicts.map(({ verdict }) => verdict.reason).join('; ') };
}

/** When one attempt failed in a way another CPU model cannot fix, later candidates are not tried. */
export function worthTryingNextModel(verdict: ProbeVerdict): boolean {
  // A QEMU that refuses a CPU model (an MSR it cannot set, a missing feature) may accept another;
  // a guest that hangs hangs in the hypervisor, whatever CPU it is shown.
  return !verdict.works && verdict.failure === 'qemu-error';
}

/** What a guest runs on, as decideAccel chose it. */
export interface AccelDecision {
  accel: Accel;
  /** `-cpu`: the model the probe booted under KVM, TCG_CPU_MODEL under TCG. */
  cpuModel: string;
  /** Entries for TargetFacts.degraded (a TCG guest is emulation, and every table must say so). */
  degraded: string[];
  /** One line for the results: what was asked, what the probe found, what runs. */
  explanation: string;
}

/** The `degraded` entry of every TCG guest's facts. */
export const TCG_DEGRADED = 'TCG emulation: not KVM';

/** `--accel kvm` where the probe found KVM not working: a UsageError (exit code 2), since `--accel auto` or `tcg` would run. */
export class KvmUnavailableError extends UsageError {
  constructor(readonly probe: KvmProbe) {
    super(`--accel kvm: KVM does not work on this host (${probe.reason}); use --accel auto or --accel tcg to run an emulated (TCG) guest instead`);
  }
}

/**
 * What a guest runs on, from what was asked and what the probe found. `probe` is null when none
 * ran (`--accel tcg` needs none).
 * @throws KvmUnavailableError for `--accel kvm` without a working KVM.
 * @throws Error when `auto` or `kvm` is asked for without a probe (a caller's mistake).
 */
export function decideAccel(requested: 'auto' | 'kvm' | 'tcg', probe: KvmProbe | null): AccelDecision {
  if (requested === 'tcg') {
    return { accel: 'tcg', cpuModel: TCG_CPU_MODEL, degraded: [TCG_DEGRADED], explanation: '--accel tcg: emulated CPU (TCG), KVM not probed' };
  }
  if (!probe) throw new Error(`--accel ${requested} needs the KVM probe's answer`);
  if (probe.works && probe.cpuModel) {
    return { accel: 'kvm', cpuModel: probe.cpuModel, degraded: [], explanation: `--accel ${requested}: KVM works, -cpu ${probe.cpuModel}` };
  }
  if (requested === 'kvm') throw new KvmUnavailableError(probe);
  return {
    accel: 'tcg',
    cpuModel: TCG_CPU_MODEL,
    degraded: [TCG_DEGRADED],
    explanation: '--accel auto: KVM does not work here (see the probe\'s reason), so the guest is EMULATED with TCG',
  };
}

/** What probeKvm boots and how. */
export interface ProbeOptions {
  /** The image's kernel (BootFiles.kernel); it is also part of the cache key. */
  kernel: string;
  /** The image's initrd; its busybox is the probe guest's first process. */
  initrd: string;
  /** Where the probe's serial log goes (a private directory). */
  workDirectory: string;
  /** Default QEMU_BINARY (`qemu-system-x86_64` on PATH). */
  qemuBinary?: string;
  /** Per attempt, in ms; default PROBE_TIMEOUT_MS (20 s). */
  timeoutMs?: number;
  /** Tried in order; default KVM_CPU_CANDIDATES. */
  cpuModels?: readonly string[];
  /** Registers the probe's QEMU so a crash mid-probe leaves a ledger entry. */
  resources?: ResourceRegistry;
  /** Where the answer is cached for this host boot; null: do not cache. */
  cacheFile?: string | null;
  /** One line per attempt and verdict; default: none. */
  log?: (line: string) => void;
}

/**
 * Boots the probe guest once (1 vCPU, PROBE_MEMORY_MIB, no disk) and records what happened; a QEMU
 * that fails or hangs is in the attempt, not thrown (evaluateProbeAttempt judges it).
 */
export async function runProbeAttempt(
  accel: Accel,
  cpuModel: string,
  options: Pick<ProbeOptions, 'kernel' | 'initrd' | 'workDirectory' | 'qemuBinary' | 'timeoutMs' | 'resources'>,
): Promise<ProbeAttempt> {
  await mkdir(options.workDirectory, { recursive: true });
  const serialLog = join(options.workDirectory, `accel-probe-${accel}-${cpuModel}.serial.log`);
  await rm(serialLog, { force: true });
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  const command = buildQemuCommand(
    {
      name: `${QEMU_NAME_PREFIX}accel-probe-${process.pid}`,
      accel,
      cpuModel,
      vcpus: 1,
      memoryMiB: PROBE_MEMORY_MIB,
      kernel: options.kernel,
      initrd: options.initrd,
      append: PROBE_KERNEL_COMMAND_LINE,
      serialLog,
    },
    options.qemuBinary,
  );
  const started = performance.now();
  const qemu = startBackground(command, { timeoutMs, cwd: options.workDirectory });
  let resourceId: number | undefined;
  if (qemu.pid !== undefined && options.resources) {
    resourceId = await options.resources.register(`accel probe QEMU (pid ${qemu.pid})`, {
      kind: 'process',
      pid: qemu.pid,
      startTicks: await processStartTicks(qemu.pid),
    });
  }
  const outcome = await qemu.exited;
  if (resourceId !== undefined) await options.resources?.forget(resourceId);
  const serial = await readFile(serialLog, 'utf8').catch(() => '');
  return {
    accel,
    cpuModel,
    command,
    exitCode: outcome.exitCode,
    signal: outcome.timedOut ? null : outcome.signal,
    timedOut: outcome.timedOut,
    durationMs: performance.now() - started,
    serial: serial.slice(-TAIL_CHARS),
    stderr: outcome.stderr.slice(-TAIL_CHARS),
  };
}

/** Whether this process may open /dev/kvm read-write; null when it can, else why not. */
export async function kvmDeviceProblem(device = '/dev/kvm'): Promise<string | null> {
  try {
    await access(device, constants.R_OK | constants.W_OK);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `there is no ${device}` : `${device} cannot be opened read-write (${code ?? 'error'})`;
  }
}

const ProbeCache = z.object({ key: z.string(), probe: KvmProbe });

/** What the cached answer depends on: this host boot, this QEMU, this kernel. */
export async function probeCacheKey(kernel: string, qemuVersion: string): Promise<string> {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
  const info = await stat(kernel).catch(() => null);
  return JSON.stringify({ bootId, qemuVersion, kernel, size: info?.size ?? null, mtimeMs: info?.mtimeMs ?? null });
}

/** Beside the image cache: a cache, not run state (`cleanup` and the ledgers never look there). */
export function defaultProbeCacheFile(): string {
  return join(resolveImageCacheDir(), 'kvm-probe.json');
}

/**
 * Probes KVM: each CPU model in turn until one boots, stopping at a hang (20 s each here). The
 * answer is cached per host boot, QEMU version and kernel, since a failing probe costs a timeout.
 */
export async function probeKvm(options: ProbeOptions & { qemuVersion: string }): Promise<KvmProbe> {
  const log = options.log ?? (() => {});
  const cacheFile = options.cacheFile === undefined ? defaultProbeCacheFile() : options.cacheFile;
  const key = await probeCacheKey(options.kernel, options.qemuVersion);
  if (cacheFile) {
    const cached = await readFile(cacheFile, 'utf8')
      .then((text) => ProbeCache.safeParse(JSON.parse(text)))
      .catch(() => null);
    if (cached?.success && cached.data.key === key) return { ...cached.data.probe, cached: true };
  }
  const probedAt = new Date().toISOString();
  const deviceProblem = await kvmDeviceProblem();
  let probe: KvmProbe;
  if (deviceProblem) {
    probe = summarizeKvmProbe([], probedAt, `KVM is unavailable: ${deviceProblem}`);
  } else {
    const attempts: ProbeAttempt[] = [];
    for (const cpuModel of options.cpuModels ?? KVM_CPU_CANDIDATES) {
      log(`probing KVM: booting a tiny guest with -cpu ${cpuModel} (up to ${Math.round((options.timeoutMs ?? PROBE_TIMEOUT_MS) / 1000)} s)…`);
      const attempt = await runProbeAttempt('kvm', cpuModel, options);
      attempts.push(attempt);
      const verdict = evaluateProbeAttempt(attempt);
      log(`KVM probe: ${verdict.reason}`);
      if (verdict.works || !worthTryingNextModel(verdict)) break;
    }
    probe = summarizeKvmProbe(attempts, probedAt);
  }
  if (cacheFile) await writeJsonAtomic(cacheFile, { key, probe } satisfies z.infer<typeof ProbeCache>).catch(() => {});
  return probe;
}

