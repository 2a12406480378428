import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { describeFailure, startBackground } from '../../core/exec.js';
import type { ClientSide } from '../../contracts/suite.js';

/**
 * The suite's own client programs (client/udp-probe.ts, client/http-load.ts) run in the client
 * namespace as separate processes: Node with tsx, like isobench itself. Each ends on SIGTERM and
 * prints its report as one JSON line; each also ends on its own when its stdin closes (isobench
 * died) or after its `--max-seconds`, so none outlives a trial.
 */

/**
 * The probe runs under `chrt --rr 1` (util-linux; the lowest real-time priority, round-robin): on two
 * shared cores an ordinary process waits behind QEMU's threads for milliseconds at a time, and that
 * wait would be read as the guest's. It sleeps between datagrams, and the kernel's real-time
 * throttling (95 % of each second) bounds it in any case. The web client runs as an ordinary process.
 */
export const PROBE_PRIORITY = ['chrt', '--rr', '1'] as const;

/**
 * The argv of one of the client programs: this Node, tsx's loader, the program's file, its flags;
 * behind `prefix` when one is given (PROBE_PRIORITY).
 */
export function clientProgramCommand(program: 'udp-probe' | 'http-load', flags: Record<string, string | number>, prefix: readonly string[] = []): string[] {
  const script = fileURLToPath(new URL(`./client/${program}.ts`, import.meta.url));
  // Resolved here, not by name, so the program runs from any working directory.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [...prefix, process.execPath, '--import', tsx, script, ...Object.entries(flags).flatMap(([name, value]) => [`--${name}`, String(value)])];
}

/** A client program under way. */
export interface ClientProgram<R> {
  /** The command line as it runs (with the namespace wrapper), for the results. */
  readonly command: string[];
  /**
   * Ends it (SIGTERM, 5 s grace) and parses its report.
   * @throws Error naming the program with its stderr when it failed or printed no valid report.
   */
  stop(): Promise<R>;
}

/** Starts a client program in the client namespace; it is killed at the latest after `maxSeconds` plus 30 s. */
export function startClientProgram<R>(client: ClientSide, command: readonly string[], report: z.ZodType<R>, maxSeconds: number): ClientProgram<R> {
  const wrapped = client.wrap(command);
  const running = startBackground(wrapped, { timeoutMs: (maxSeconds + 30) * 1000 });
  return {
    command: wrapped,
    async stop() {
      const outcome = await running.stop(5_000);
      const line = outcome.stdout.trim().split('\n').at(-1) ?? '';
      let parsed: z.ZodSafeParseResult<R> | null;
      try {
        parsed = report.safeParse(JSON.parse(line));
      } catch {
        parsed = null;
      }
      if (!parsed?.success) {
        const name = command.find((part) => part.endsWith('.ts'))?.split('/').at(-1) ?? 'the client program';
        throw new Error(`${name} gave no report: ${outcome.exitCode === 0 || outcome.signal === 'SIGTERM' ? outcome.stderr.trim() || line.slice(0, 200) || 'no output' : describeFailure(outcome)}`);
      }
      return parsed.data;
    },
  };
}
