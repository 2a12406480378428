/**
 * `--budget` durations: whole hours, minutes and seconds in that order, each at most once, with no
 * spaces: `90s`, `10m`, `1h`, `1h30m`, `2m30s`. A bare number is refused rather than guessed at
 * (seconds? minutes?). Written here rather than taken from `ms`, which reads a bare `90` as 90 ms,
 * accepts fractions and words (`1.5 hours`), ships no types in its 2.x line and is not a direct
 * dependency; what `--budget` needs is this one strict pattern.
 */
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * Parses a duration such as `90s`, `10m`, `1h30m` into seconds (> 0).
 * @throws RangeError saying what is accepted, for an empty, unit-less, zero or malformed duration.
 */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match || text.trim() === '') throw new RangeError(`"${text}" is not a duration: write it like 90s, 10m, 1h or 1h30m`);
  const [hours, minutes, seconds] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number];
  const total = hours * 3600 + minutes * 60 + seconds;
  if (total <= 0) throw new RangeError(`"${text}" is no time at all: give a duration above zero, like 90s or 10m`);
  return total;
}
