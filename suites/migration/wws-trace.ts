import { errorMessage } from '../../core/errors.js';
import { epochMs } from '../../core/clock.js';
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

/**
 * Which mode to trace with, and why, from the accelerator and what each mode answered in a 1 s probe:
 * dirty-bitmap when the guest runs under KVM and QEMU accepted it (it sees every write); page sampling
 * otherwise — under TCG QEMU 7.2 counts dirty-bitmap pages only from KVM's log
 * (`total_dirty_pages`, cpu_physical_memory_set_dirty_lebitmap), so it reads 0, and dirty-ring needs
 * KVM's dirty ring. Null when every mode was refused.
 */
export function chooseMode(usesKvm: boolean, probes: WwsProbe[]): { mode: Mode; reason: string } | null {
  const said = probes.map((probe) => `${probe.mode}: ${probe.error === null ? `${probe.dirtyRateMiBs} MiB/s` : `refused (${probe.error})`}`).join('; ');
  const accepted = (mode: Mode) => probes.some((probe) => probe.mode === mode && probe.error === null);
  if (usesKvm && accepted('dirty-bitmap')) return { mode: 'dirty-bitmap', reason: `KVM: dirty-bitmap sees every write (probes, 1 s each: ${said})` };
  if (accepted('page-sampling')) {
    return {
      mode: 'page-sampling',
      reason: `${usesKvm ? 'KVM, but dirty-bitmap was refused' : 'TCG: dirty-bitmap counts only KVM\'s dirty log (0 under TCG) and dirty-ring needs KVM'}; page sampling hashes ${WWS_SAMPLE_PAGES_PER_GIB} pages per GiB at the start and end of each interval and estimates the rest (probes, 1 s each: ${said})`,
    };
  }
  return null;
}

/** One mode's 1 s probe: QEMU's MiB/s or its refusal. */
export interface WwsProbe {
  mode: Mode;
  dirtyRateMiBs: number | null;
  error: string | null;
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
    const probes: WwsProbe[] = [];
    for (const mode of DIRTY_RATE_MODES) {
      const probe = await meter.measure(request(mode, 1)).then(
        (reading) => ({ mode, dirtyRateMiBs: reading.dirtyRateMiBs, error: null }),
        (error: unknown) => ({ mode, dirtyRateMiBs: null, error: errorMessage(error) }),
      );
      probes.push(probe);
    }
    const chosen = chooseMode(usesKvm, probes);
    if (chosen === null) return { kind: 'failed', reason: `QEMU refused every calc-dirty-rate mode: ${probes.map((probe) => `${probe.mode}: ${probe.error}`).join('; ')}` };
    const startedAtMs = epochMs();
    const series: DirtyRateMeasurement[] = [];
    for (let index = 0; index < seriesSeconds; index++) series.push(toMeasurement(await meter.measure(request(chosen.mode, WWS_SERIES_CALC_S)), startedAtMs));
    const curve: DirtyRateMeasurement[] = [];
    for (const seconds of WWS_CURVE_INTERVALS_S) curve.push(toMeasurement(await meter.measure(request(chosen.mode, seconds)), startedAtMs));
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
