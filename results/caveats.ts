/**
 * What qualifies a point's figures, from what its trials stored: trials that ran on a host still busy
 * when the quiet-host wait gave up, and the random-io request-size caveat. `npm run results` prints
 * each under the target's line and the report carries them on the figure's row, so a figure measured
 * on a busy host never reads as a plain "ok" (a newcomer's first look on a busy host showed a kvm
 * tcp-bulk of 8.4 Mbit/s, 224× below its quiet-host figure, with nothing said).
 */
import { hostRequestCaveat } from './io-request-caveat.js';
import type { PointResult } from './schema.js';

/**
 * The point's caveats, each one sentence; empty when nothing qualifies its figures.
 * Busy trials: `2 of 3 trials ran on a busy host (up to 79 % busy when the wait gave up): their
 * figures may be off` (`on busy lab host sut` where the trials name the host sampled), from each
 * trial's `quietHost` (harness/quiet-host.ts).
 */
export function pointCaveats(point: Pick<PointResult, 'trials' | 'params' | 'summaries' | 'suite'>): string[] {
  const caveats: string[] = [];
  const busy = point.trials.filter((trial) => trial.quietHost?.flagged === true);
  if (busy.length > 0) {
    const worst = Math.max(...busy.map((trial) => trial.quietHost!.busyFraction));
    // Lab mode samples the server host over SSH: name it, so a reader knows which machine was busy.
    const hosts = [...new Set(busy.flatMap((trial) => (trial.quietHost!.host === undefined ? [] : [trial.quietHost!.host])))];
    const where = hosts.length === 0 ? 'a busy host' : `busy lab host ${hosts.join(', ')}`;
    caveats.push(`${busy.length} of ${point.trials.length} trial(s) ran on ${where} (up to ${(worst * 100).toFixed(0)} % busy when the wait gave up): their figures may be off`);
  }
  const io = hostRequestCaveat(point);
  if (io !== null) caveats.push(io);
  return caveats;
}
