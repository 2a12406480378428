import { errorMessage } from '../../core/errors.js';
import type { DirtyRateMeter, DirtyRateReading, DirtyRateRequest } from '../../contracts/target.js';
import { DIRTY_RATE_MODES, type DirtyRateMeasurement, type WwsTrace } from '../../results/migration.js';

/*
 * `--wws-trace S`: Clark et al.'s "tracking the writable working set", from QEMU's own dirty-rate
 * measurement (QMP calc-dirty-rate) on the running guest, the workload on, before the migration
 * starts: S back-to-back 1 s measurements (pages changed per second over time), then the intervals of
 * WWS_CURVE_INTERVALS_S (distinct pages changed against the interval's length: the WWS curve; a page
 * written twice in an interval counts once, so the curve flattens at the working set).
 */

/** The series' interval, s: QEMU 7.2's shortest `calc-time` (whole seconds only). */
export const WWS_SERIES_CALC_S = 1;
/** The longer intervals of the WWS curve, s (the series gives its 1 s point). */
export const WWS_CURVE_INTERVALS_S = [2, 4] as const;
/**
 * `sample-pages` per GiB in page-sampling mode: QEMU 7.2's largest (MAX_SAMPLE_PAGE_COUNT 16384 in
 * migration/dirtyrate.h; its default, 512, samples 256 pages of a 512 MiB guest: one per 2 MiB).
 */
export const WWS_SAMPLE_PAGES_PER_GIB = 16_384;
/** 4 KiB pages per MiB: QEMU reports MiB/s, the figures count x86 pages. */
const PAGES_PER_MIB = 256;

type Mode = DirtyRateRequest['mode'];

/** One mode's probe before the trace (results/migration.ts, WwsTrace.probes). */
export interface WwsProbe {
  mode: Mode;
  outcome: 'measured' | 'refused' | 'not-tried';
  /** QEMU's MiB/s over the 1 s probe, when measured. */
  dirtyRateMiBs: number | null;
  /** QEMU's error, or why the mode was not tried. */
  detail: string | null;
}

/**
 * Why a mode is not asked for under TCG: QEMU 7.2 (Debian 12's 1:7.2+dfsg-7+deb12u18) dies of SIGSEGV
 * on `calc-dirty-rate` in dirty-bitmap or dirty-ring mode under TCG — seen first as both trials of a
 * `--wws-trace` run losing their guest, then reproduced with a bare `-machine q35 -accel tcg` QEMU
 * (exit by signal 11 in both modes; page sampling answers). Both modes count writes through KVM
 * (its dirty log, its dirty ring). Under KVM every mode is tried.
 */
export const NOT_UNDER_TCG: Partial<Record<Mode, string>> = {
  'dirty-bitmap': 'not asked under TCG: QEMU 7.2 dies of SIGSEGV on it here (it counts KVM\'s dirty log)',
  'dirty-ring': 'not asked under TCG: QEMU 7.2 dies of SIGSEGV on it here (it needs KVM\'s dirty ring)',
};

/**
 * Which mode to trace with, and why: dirty-bitmap when the guest runs under KVM and QEMU measured with
 * it (it sees every write); page sampling otherwise. Null when page sampling was refused too.
 */
export function chooseMode(usesKvm: boolean, probes: readonly WwsProbe[]): { mode: Mode; reason: string } | null {
  const said = probes.map((probe) => `${probe.mode}: ${probe.outcome === 'measured' ? `${probe.dirtyRateMiBs} MiB/s` : `${probe.outcome} (${probe.detail})`}`).join('; ');
  const measured = (mode: Mode) => probes.some((probe) => probe.mode === mode && probe.outcome === 'measured');
  if (usesKvm && measured('dirty-bitmap')) return { mode: 'dirty-bitmap', reason: `KVM: dirty-bitmap sees every write (${said})` };
  if (!measured('page-sampling')) return null;
  return {
    mode: 'page-sampling',
    reason: `${usesKvm ? 'KVM, but dirty-bitmap did not measure' : 'TCG (query-kvm: not enabled)'}: page sampling, which hashes ${WWS_SAMPLE_PAGES_PER_GIB} pages per GiB at each interval's start and end and scales the share that changed to the RAM block (${said})`,
  };
}

/** Probes every mode the accelerator allows, 1 s each; never throws (a refusal is recorded). */
export async function probeModes(meter: DirtyRateMeter, usesKvm: boolean): Promise<WwsProbe[]> {
  const probes: WwsProbe[] = [];
  for (const mode of DIRTY_RATE_MODES) {
    const skip = usesKvm ? undefined : NOT_UNDER_TCG[mode];
    if (skip !== undefined) {
      probes.push({ mode, outcome: 'not-tried', dirtyRateMiBs: null, detail: skip });
      continue;
    }
    probes.push(
      await meter.measure(request(mode, 1)).then(
        (reading): WwsProbe => ({ mode, outcome: 'measured', dirtyRateMiBs: reading.dirtyRateMiBs, detail: null }),
        (error: unknown): WwsProbe => ({ mode, outcome: 'refused', dirtyRateMiBs: null, detail: errorMessage(error) }),
      ),
    );
  }
  return probes;
}

function request(mode: Mode, calcTimeS: number): DirtyRateRequest {
  return { calcTimeS, mode, ...(mode === 'page-sampling' ? { samplePagesPerGiB: WWS_SAMPLE_PAGES_PER_GIB } : {}) };
}

/** A reading as a stored measurement, its start relative to the trace's first measurement. */
export function toMeasurement(reading: DirtyRateReading, traceStartedAtMs: number): DirtyRateMeasurement {
  return {
    startMs: Math.max(0, Math.round(reading.startedAtMs - traceStartedAtMs)),
    calcTimeS: reading.calcTimeS,
    dirtyRateMiBs: reading.dirtyRateMiBs,
    pages: reading.dirtyRateMiBs * reading.calcTimeS * PAGES_PER_MIB,
  };
}

/**
 * Takes the trace (see the module comment) with `seriesSeconds` 1 s measurements. Never throws: a
 * trace that cannot be taken is `kind: 'failed'` with the reason, and the migration runs anyway.
 */
export async function traceWws(meter: DirtyRateMeter, seriesSeconds: number): Promise<WwsTrace> {
  try {
    const usesKvm = await meter.usesKvm();
    const probes = await probeModes(meter, usesKvm);
    const chosen = chooseMode(usesKvm, probes);
    if (chosen === null) return { kind: 'failed', reason: `no calc-dirty-rate mode measured: ${probes.map((probe) => `${probe.mode}: ${probe.outcome} (${probe.detail})`).join('; ')}` };
    const seriesReadings: DirtyRateReading[] = [];
    for (let index = 0; index < seriesSeconds; index++) seriesReadings.push(await meter.measure(request(chosen.mode, WWS_SERIES_CALC_S)));
    const curveReadings: DirtyRateReading[] = [];
    for (const seconds of WWS_CURVE_INTERVALS_S) curveReadings.push(await meter.measure(request(chosen.mode, seconds)));
    // Times from the first measurement's calc-dirty-rate, as the meter stamped it.
    const startedAtMs = seriesReadings[0]?.startedAtMs ?? curveReadings[0]!.startedAtMs;
    const series = seriesReadings.map((reading) => toMeasurement(reading, startedAtMs));
    const curve = curveReadings.map((reading) => toMeasurement(reading, startedAtMs));
    return {
      kind: 'traced',
      method: `QMP calc-dirty-rate/query-dirty-rate, ${chosen.mode}${chosen.mode === 'page-sampling' ? `, ${WWS_SAMPLE_PAGES_PER_GIB} sample pages per GiB` : ''}, ${seriesSeconds} × ${WWS_SERIES_CALC_S} s then ${WWS_CURVE_INTERVALS_S.join(' s, ')} s`,
      mode: chosen.mode,
      samplePagesPerGiB: chosen.mode === 'page-sampling' ? WWS_SAMPLE_PAGES_PER_GIB : null,
      modeReason: chosen.reason,
      probes,
      series,
      curve,
    };
  } catch (error) {
    return { kind: 'failed', reason: `calc-dirty-rate failed: ${errorMessage(error)}` };
  }
}
