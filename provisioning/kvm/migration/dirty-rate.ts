import { z } from 'zod';
import { epochMs } from '../../../core/clock.js';
import { pollUntil, sleep } from '../../../core/poll.js';
import type { DirtyRateMeter, DirtyRateReading, DirtyRateRequest } from '../../../contracts/target.js';
import { EmptyResult, parseResult, type QmpClient } from '../qmp-client.js';

/**
 * QEMU's own dirty-rate measurement of a running guest: QMP `calc-dirty-rate`, then
 * `query-dirty-rate` until it says `measured` (qapi/migration.json, QEMU 5.2+; the shapes below are
 * QEMU 7.2's, as its `query-qmp-schema` lists them here: `calc-time` in whole seconds, no
 * `calc-time-unit`). QEMU 7.2 migration/dirtyrate.c computes `dirty-rate` as whole MiB/s.
 */

/** `query-dirty-rate`'s return (DirtyRateInfo); fields QEMU adds later are ignored. */
export const QueryDirtyRateResult = z.object({
  /** MiB/s; present once `measured`. */
  'dirty-rate': z.number().int().optional(),
  status: z.enum(['unstarted', 'measuring', 'measured']),
  /** QEMU's clock, seconds. */
  'start-time': z.number().int(),
  /** seconds. */
  'calc-time': z.number().int(),
  'sample-pages': z.number().int().nonnegative().optional(),
  mode: z.enum(['page-sampling', 'dirty-bitmap', 'dirty-ring']).optional(),
  'vcpu-dirty-rate': z.array(z.object({ id: z.number().int(), 'dirty-rate': z.number().int() })).optional(),
});
/** A parsed QueryDirtyRateResult. */
export type QueryDirtyRateResult = z.infer<typeof QueryDirtyRateResult>;

/** How often `query-dirty-rate` is asked once the measuring time has passed, ms. */
const QUERY_INTERVAL_MS = 100;
/** How long past its calc-time a measurement may take (hashing sampled pages under TCG), ms. */
const MEASURE_GRACE_MS = 15_000;

/**
 * The `calc-dirty-rate` arguments of a request: `sample-pages` only in page-sampling mode (QEMU
 * refuses it in the other modes: "sample-pages is used only in page-sampling mode").
 */
export function calcDirtyRateArguments(request: DirtyRateRequest): Record<string, unknown> {
  return {
    'calc-time': request.calcTimeS,
    mode: request.mode,
    ...(request.mode === 'page-sampling' && request.samplePagesPerGiB !== undefined ? { 'sample-pages': request.samplePagesPerGiB } : {}),
  };
}

/**
 * A finished `query-dirty-rate` answer as a reading; null while QEMU is still measuring.
 * @throws QmpProtocolError when the answer does not match QueryDirtyRateResult; Error when a `measured` answer has no rate.
 */
export function toDirtyRateReading(value: unknown, request: DirtyRateRequest, startedAtMs: number): DirtyRateReading | null {
  const info = parseResult('query-dirty-rate', QueryDirtyRateResult, value);
  if (info.status !== 'measured') return null;
  if (info['dirty-rate'] === undefined) throw new Error(`query-dirty-rate said measured without a dirty-rate: ${JSON.stringify(value)}`);
  const mode = info.mode ?? request.mode;
  return {
    startedAtMs,
    calcTimeS: info['calc-time'],
    mode,
    samplePagesPerGiB: mode === 'page-sampling' ? (info['sample-pages'] ?? null) : null,
    dirtyRateMiBs: info['dirty-rate'],
  };
}

/** The kvm target's dirty-rate meter on the guest's QMP session (`qmp()`: the QEMU that runs the guest now). */
export function qmpDirtyRateMeter(qmp: () => QmpClient): DirtyRateMeter {
  return {
    async usesKvm() {
      return (await qmp().queryKvm()).enabled;
    },
    async measure(request) {
      const session = qmp();
      const startedAtMs = epochMs();
      await session.execute('calc-dirty-rate', calcDirtyRateArguments(request), EmptyResult);
      await sleep(request.calcTimeS * 1000);
      return pollUntil(async () => toDirtyRateReading(await session.execute('query-dirty-rate', undefined, z.unknown()), request, startedAtMs), {
        timeoutMs: MEASURE_GRACE_MS,
        intervalMs: QUERY_INTERVAL_MS,
        what: `query-dirty-rate saying measured after a ${request.calcTimeS} s ${request.mode} calc-dirty-rate`,
      });
    },
  };
}
