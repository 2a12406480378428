import type { CommandOptions, CommandOutcome } from '../core/exec.js';
import { pollUntil } from '../core/poll.js';

export const SERVICE_READY_TIMEOUT_MS = 15_000;
const POLL_MS = 50;

type Exec = (command: readonly string[], options?: CommandOptions) => Promise<CommandOutcome>;

/**
 * Waits until sockets listen on `address:port` for every protocol, asking `ss` inside the target.
 * Probing by connecting would itself be a client to the server (iperf3 --one-off would then exit).
 */
export async function waitForListening(
  exec: Exec,
  protocols: ReadonlyArray<'tcp' | 'udp'>,
  address: string,
  port: number,
  isAlive: () => boolean,
  timeoutMs = SERVICE_READY_TIMEOUT_MS,
): Promise<void> {
  const wanted = `${address}:${port}`;
  await pollUntil(
    async () => {
      let ready = true;
      for (const protocol of protocols) {
        const outcome = await exec(['ss', '-H', '-l', '-n', protocol === 'tcp' ? '-t' : '-u'], { timeoutMs: 5_000 });
        const locals = outcome.stdout.split('\n').map((line) => line.trim().split(/\s+/)[3]);
        if (!locals.includes(wanted)) ready = false;
      }
      if (ready) return true;
      if (!isAlive()) throw new Error(`the server for ${wanted} exited before it listened`);
      return false;
    },
    { timeoutMs, intervalMs: POLL_MS, what: `nothing listened on ${wanted} (${protocols.join('+')})` },
  );
}
