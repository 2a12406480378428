/**
 * Wall-clock time with sub-millisecond precision, for lining up what different processes saw:
 * QEMU stamps QMP events with the host's real-time clock (µs), and isobench's own processes (the
 * runner, the client's echo probe) stamp what they see with this. `Date.now()` has whole
 * milliseconds only.
 */

/**
 * Epoch ms, µs precision: Node's `performance.timeOrigin` (the real-time clock when the process
 * started) plus the monotonic time since. It can drift from the real-time clock by what NTP slews
 * it while the process lives (at most 0.5 ms per second; a few ms per hour on a disciplined host),
 * which is why short-lived probes compare within themselves and against QEMU only to place events.
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
