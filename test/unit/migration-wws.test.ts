import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { DirtyRateMeter, DirtyRateReading, DirtyRateRequest } from '../../contracts/target.js';
import { calcDirtyRateArguments, toDirtyRateReading } from '../../provisioning/kvm/migration/dirty-rate.js';
import { WwsTrace } from '../../results/migration.js';
import { chooseMode, probeModes, traceWws, WWS_CURVE_INTERVALS_S, WWS_SAMPLE_PAGES_PER_GIB } from '../../suites/migration/wws-trace.js';

/**
 * A real `--wws-trace 8` here (QEMU 7.2, TCG, 512 MiB guest, the dirtier at 48 MiB/s in 64 MiB),
 * captured with ISOBENCH_QMP_TRANSCRIPT: the source's QMP lines from `query-kvm` to the last
 * `query-dirty-rate`.
 */
const session = readFileSync(new URL('../fixtures/kvm/dirty-rate-qmp.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((text) => JSON.parse(text) as { qemu: string; direction: 'sent' | 'received'; line: string; atMs: number });

interface Message {
  id?: string;
  execute?: string;
  arguments?: Record<string, unknown>;
  return?: unknown;
}

/** The session's calc-dirty-rate commands, each with its arguments, when it was sent, and every query-dirty-rate answer that followed it. */
function measurements() {
  const sent = new Map<string, Message>();
  const list: Array<{ arguments: Record<string, unknown>; atMs: number; answers: unknown[] }> = [];
  let kvm: unknown;
  for (const entry of session) {
    const message = JSON.parse(entry.line) as Message;
    if (entry.direction === 'sent') {
      if (message.id) sent.set(message.id, message);
      if (message.execute === 'calc-dirty-rate') list.push({ arguments: message.arguments ?? {}, atMs: entry.atMs, answers: [] });
      continue;
    }
    const command = message.id ? sent.get(message.id)?.execute : undefined;
    if (command === 'query-dirty-rate') list.at(-1)!.answers.push(message.return);
    if (command === 'query-kvm') kvm = message.return;
  }
  return { list, kvm: kvm as { enabled: boolean } };
}

test('query-dirty-rate answers as QEMU 7.2 gave them: measuring is not yet a reading, measured is whole MiB/s in page-sampling mode', () => {
  const { list } = measurements();
  assert.ok(list.length >= 1 + 8 + WWS_CURVE_INTERVALS_S.length, `${list.length} measurements`);
  const first = list[0]!;
  const request: DirtyRateRequest = { calcTimeS: 1, mode: 'page-sampling', samplePagesPerGiB: WWS_SAMPLE_PAGES_PER_GIB };
  assert.deepEqual(first.arguments, calcDirtyRateArguments(request), 'isobench asks what the session shows');
  const readings = first.answers.map((answer) => toDirtyRateReading(answer, request, first.atMs));
  assert.ok(readings.slice(0, -1).every((reading) => reading === null), 'measuring answers are not readings');
  const last = readings.at(-1)!;
  assert.ok(last);
  assert.deepEqual({ ...last, dirtyRateMiBs: 0 }, { startedAtMs: first.atMs, calcTimeS: 1, mode: 'page-sampling', samplePagesPerGiB: 16384, dirtyRateMiBs: 0 });
  assert.ok(Number.isInteger(last.dirtyRateMiBs) && last.dirtyRateMiBs > 0);
  assert.deepEqual(calcDirtyRateArguments({ calcTimeS: 2, mode: 'dirty-bitmap', samplePagesPerGiB: 512 }), { 'calc-time': 2, mode: 'dirty-bitmap' }, 'sample-pages only in page-sampling mode (QEMU refuses it otherwise)');
  assert.throws(() => toDirtyRateReading({ status: 'measured', 'start-time': 1, 'calc-time': 1 }, request, 0), /without a dirty-rate/);
});

/** A meter that replays the session: each measure() must ask what the session asked, and gets what QEMU answered. */
function replayMeter(): { meter: DirtyRateMeter; asked: DirtyRateRequest[] } {
  const { list, kvm } = measurements();
  const asked: DirtyRateRequest[] = [];
  let next = 0;
  return {
    asked,
    meter: {
      usesKvm: async () => kvm.enabled,
      async measure(request): Promise<DirtyRateReading> {
        asked.push(request);
        const recorded = list[next++];
        assert.ok(recorded, `measurement ${next} was not in the session`);
        assert.deepEqual(calcDirtyRateArguments(request), recorded.arguments, `measurement ${next} asks what the session asked`);
        return toDirtyRateReading(recorded.answers.at(-1), request, recorded.atMs)!;
      },
    },
  };
}

test('the trace from the real session: TCG, so page sampling only and dirty-bitmap not asked; 8 one-second samples then 2 s and 4 s; the schema\'s shape', async () => {
  const { meter, asked } = replayMeter();
  const trace = await traceWws(meter, 8);
  assert.deepEqual(WwsTrace.parse(trace), trace);
  assert.equal(trace.kind, 'traced');
  if (trace.kind !== 'traced') return;
  assert.ok(asked.every((request) => request.mode === 'page-sampling'), 'under TCG only page sampling is asked: QEMU 7.2 dies of SIGSEGV on the other two here');
  assert.deepEqual(trace.probes.map((probe) => [probe.mode, probe.outcome]), [['page-sampling', 'measured'], ['dirty-bitmap', 'not-tried'], ['dirty-ring', 'not-tried']]);
  assert.equal(trace.mode, 'page-sampling');
  assert.match(trace.modeReason, /^TCG \(query-kvm: not enabled\): page sampling/);
  assert.deepEqual(trace.series.map((sample) => sample.calcTimeS), [1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(trace.curve.map((sample) => sample.calcTimeS), [2, 4]);
  for (const sample of [...trace.series, ...trace.curve]) assert.equal(sample.pages, sample.dirtyRateMiBs * sample.calcTimeS * 256);
  assert.ok(trace.series.every((sample, index) => index === 0 || sample.startMs > trace.series[index - 1]!.startMs), 'samples in time order');
});

test('the mode: dirty-bitmap under KVM when it measured; page sampling otherwise; none when page sampling was refused too', async () => {
  const measured = (mode: DirtyRateRequest['mode'], rate: number) => ({ mode, outcome: 'measured' as const, dirtyRateMiBs: rate, detail: null });
  assert.equal(chooseMode(true, [measured('page-sampling', 40), measured('dirty-bitmap', 48)])?.mode, 'dirty-bitmap');
  assert.equal(chooseMode(false, [measured('page-sampling', 40)])?.mode, 'page-sampling');
  assert.equal(chooseMode(false, [{ mode: 'page-sampling', outcome: 'refused', dirtyRateMiBs: null, detail: 'GenericError' }]), null);
  // Under KVM every mode is asked; a refusal is recorded, not thrown.
  const refusing: DirtyRateMeter = {
    usesKvm: async () => true,
    measure: async (request) => {
      if (request.mode === 'dirty-ring') throw new Error('dirty ring is disabled, use sample-pages method or remeasure later.');
      return { startedAtMs: 0, calcTimeS: 1, mode: request.mode, samplePagesPerGiB: null, dirtyRateMiBs: 3 };
    },
  };
  const probes = await probeModes(refusing, true);
  assert.deepEqual(probes.map((probe) => probe.outcome), ['measured', 'measured', 'refused']);
  assert.match(probes[2]!.detail!, /dirty ring is disabled/);
  const failing: DirtyRateMeter = { usesKvm: async () => false, measure: async () => { throw new Error('the connection closed'); } };
  assert.deepEqual(await traceWws(failing, 8), { kind: 'failed', reason: 'no calc-dirty-rate mode measured: page-sampling: refused (the connection closed); dirty-bitmap: not-tried (not asked under TCG: QEMU 7.2 dies of SIGSEGV on it here (it counts KVM\'s dirty log)); dirty-ring: not-tried (not asked under TCG: QEMU 7.2 dies of SIGSEGV on it here (it needs KVM\'s dirty ring))' });
});
