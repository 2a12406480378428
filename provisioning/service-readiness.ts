import type { CommandOptions, CommandOutcome } from '../core/exec.js';
import { pollUntil } from '../core/poll.js';

/** How long a just-started server may take to listen, in ms, unless the caller says otherwise. */
export const SERVICE_READY_TIMEOUT_MS = 15_000;
const POLL_MS = 50;

type Exec = (command: readonly string[], options?: CommandOptions) => Promise<CommandOutcome>;

/**
 * Waits until sockets listen on `address:port` for every protocol, asking `ss` inside the target.
 * Probing by connecting would itself be a client to the server (iperf3 --one-off would then exit).
 *
 * @param exec Runs a command where the server runs (the host, a container, a guest); `ss` must be there.
 * @param isAlive Whether the server process still runs, so a server that died is reported at once.
 * @param timeoutMs Default SERVICE_READY_TIMEOUT_MS; `ss` is asked every 50 ms.
 * @throws DeadlineError (`nothing listened on ADDRESS:PORT (tcp) within N ms`) when time runs out;
 *   Error when the server exits before it listens.
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
