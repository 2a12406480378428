/**
 * Seconds between two status lines when stderr is not a terminal (a script, CI, `| tee`): a run's
 * trials otherwise printed nothing for minutes (a newcomer's first look: 3m24s of silence).
 */
export const HEARTBEAT_SECONDS = 30;

/**
 * A one-line status on a terminal (target, suite, trial, time left). Not on a terminal, the status
 * is printed as a plain line at most every {@link HEARTBEAT_SECONDS}.
 */
export class Progress {
  private readonly enabled: boolean;
  private lastLength = 0;
  private lastHeartbeat = Number.NEGATIVE_INFINITY;

  /** @param now Test seam: a clock in ms (default performance.now). */
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.enabled = stream.isTTY === true && process.env.CI !== 'true';
  }

  /** Replaces the status line, cut to the terminal's width (120 columns if unknown) so it never wraps. */
  update(text: string): void {
    if (!this.enabled) {
      const at = this.now();
      if (at - this.lastHeartbeat < HEARTBEAT_SECONDS * 1000) return;
      this.lastHeartbeat = at;
      this.stream.write(`${text}\n`);
      return;
    }
    const line = text.slice(0, (this.stream.columns ?? 120) - 1);
    this.stream.write(`\r${line}${' '.repeat(Math.max(0, this.lastLength - line.length))}`);
    this.lastLength = line.length;
  }

  /** Prints a lasting line, keeping the status line below it. */
  log(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
  }

  /** Blanks the status line so that whatever is printed next starts on a clean line. */
  clear(): void {
    if (!this.enabled || this.lastLength === 0) return;
    this.stream.write(`\r${' '.repeat(this.lastLength)}\r`);
    this.lastLength = 0;
  }
}

/**
 * A duration in ms as the progress line's estimate shows it: `42s`, `3m05s`, `1h07m`. Rounded to
 * whole seconds (hours drop the seconds); negative inputs show as `0s`.
 */
export function formatDuration(milliseconds: number): string {
  const seconds = Math.max(0, Math.round(milliseconds / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
