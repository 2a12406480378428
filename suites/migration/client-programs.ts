import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { access } from 'node:fs/promises';
import { describeFailure, startBackground, type CommandOutcome } from '../../core/exec.js';
import { pollUntil, withDeadline } from '../../core/poll.js';
import type { ClientSide } from '../../contracts/suite.js';
import type { Host, HostProcess } from '../../hosts/host.js';
import { LoadReport, ProbeReport } from './client/reports.js';
import { ECHO_PORT, WEB_PORT } from './guest-workloads.js';

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

/** A client program that also reports while it runs (udp-probe.ts answers `report` lines on stdin). */
export interface ReportingClientProgram<R> extends ClientProgram<R> {
  /**
   * Asks for the report so far: writes `report` to the program's stdin and parses the next line it prints.
   * @throws Error when no valid report line comes within SNAPSHOT_TIMEOUT_MS, or the program has ended.
   */
  snapshot(): Promise<R>;
}

/** How long a running client program may take to answer `report`, ms (a line of JSON; the probe's answers take well under 100 ms). */
export const SNAPSHOT_TIMEOUT_MS = 5_000;

/**
 * Starts a client program in the client namespace; it is killed at the latest after `maxSeconds` plus 30 s.
 * @param host A lab host to run it on instead (issue 14: the third host watching a migration):
 *   Host.start, whose stop sends SIGTERM on the host, so the program still prints its final report.
 *   The program's files must be at the same path there (true of namespace hosts; a real lab host
 *   needs Node and this checkout at the same path).
 */
export function startClientProgram<R>(client: ClientSide, command: readonly string[], report: z.ZodType<R>, maxSeconds: number, host?: Host): ReportingClientProgram<R> {
  const wrapped = host ? host.commandLine(command) : client.wrap(command);
  // Lines on stdout while it runs answer `report` requests, in order; the final report is read from the outcome.
  let partial = '';
  const waiting: Array<(line: string) => void> = [];
  const onOutput = (stream: 'stdout' | 'stderr', text: string) => {
    if (stream !== 'stdout') return;
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) waiting.shift()?.(line);
  };
  const running = host ? host.start(command, { timeoutMs: (maxSeconds + 30) * 1000, onOutput }) : startBackground(wrapped, { timeoutMs: (maxSeconds + 30) * 1000, onOutput });
  const name = command.find((part) => part.endsWith('.ts'))?.split('/').at(-1) ?? 'the client program';
  return {
    command: wrapped,
    async snapshot() {
      // Answers come in the order asked: a request that timed out keeps its place, so its late
      // answer goes to it and not to the next request.
      const line = new Promise<string>((resolve) => waiting.push(resolve));
      if (!running.write('report\n')) {
        waiting.pop();
        throw new Error(`${name} cannot be asked for its report: its stdin is closed (it has ended) or full`);
      }
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not answer \`report\` within ${SNAPSHOT_TIMEOUT_MS} ms`)), SNAPSHOT_TIMEOUT_MS);
      });
      try {
        const answer = await Promise.race([line, deadline]);
        let parsed: z.ZodSafeParseResult<R> | null;
        try {
          parsed = report.safeParse(JSON.parse(answer));
        } catch {
          parsed = null;
        }
        if (!parsed?.success) throw new Error(`${name} answered \`report\` with no valid report: ${answer.slice(0, 200)}`);
        return parsed.data;
      } finally {
        clearTimeout(timer);
      }
    },
    async stop() {
      const outcome = host ? await stopOnHost(host, running as HostProcess) : await running.stop(5_000);
      const line = outcome.stdout.trim().split('\n').at(-1) ?? '';
      let parsed: z.ZodSafeParseResult<R> | null;
      try {
        parsed = report.safeParse(JSON.parse(line));
      } catch {
        parsed = null;
      }
      if (!parsed?.success) {
        throw new Error(`${name} gave no report: ${outcome.exitCode === 0 || outcome.signal === 'SIGTERM' ? outcome.stderr.trim() || line.slice(0, 200) || 'no output' : describeFailure(outcome)}`);
      }
      return parsed.data;
    },
  };
}

/**
 * Ends a client program on a lab host so that its final report still arrives: SIGTERM on the host
 * (the remote `timeout` passes it on), then up to 5 s for the session to end by itself; only then
 * is the local ssh client stopped (stopping it first would cut the report off).
 */
async function stopOnHost(host: Host, running: HostProcess): Promise<CommandOutcome> {
  const pid = running.hostPid();
  if (pid !== undefined) await host.run(['kill', '-TERM', String(pid)], { timeoutMs: 10_000 }).catch(() => {});
  const ended = await withDeadline(running.exited, 5_000, 'the client program ending').catch(() => null);
  return ended ?? (await running.stop(5_000));
}

// The client side and timeline every migration trial shares (QEMU's, libvirt's and the container
// row's), so their rows compare field for field.
/** The echo probe sends every 1 ms (issue 11). */
export const PROBE_INTERVAL_MS = 1;
/** A pause between two echoes this long or longer is listed as a gap by the probe, ms. */
export const PROBE_GAP_MS = 5;
/** How long the client programs may take to start and get a first answer (Node and tsx take about a second here), ms. */
export const CLIENT_READY_TIMEOUT_MS = 30_000;
/** ms of running after the first answers, before the self-test: the stream settles. */
export const SETTLE_MS = 500;
/** ms of running between the self-test's pauses, so each pause's gap stands alone. */
export const SELF_TEST_SPACING_MS = 400;
/** ms of the pre-migration window: the web workload's baseline rate is measured over it. */
export const BASELINE_MS = 2_000;
/** ms the client keeps watching after the migration ended: recovery (TCP retransmits, ARP) shows here. */
export const WATCH_AFTER_MS = 2_000;
/** Keep-alive connections of the web client: a closed loop each, so the guest sets the pace. */
export const WEB_CONNECTIONS = 4;
/** Clark's web figure counted requests per 100 ms (issue 11). */
export const WEB_BUCKET_MS = 100;
/** A web request unanswered this long is counted failed and retried, ms. */
export const WEB_REQUEST_TIMEOUT_MS = 5_000;

/**
 * Starts the 1 ms UDP echo probe against `address` at real-time priority (PROBE_PRIORITY); it writes
 * `readyFile` once its first echo came back.
 */
export function startEchoProbe(client: ClientSide, address: string, lifetimeS: number, readyFile: string): ReportingClientProgram<ProbeReport> {
  const flags = { address, port: ECHO_PORT, 'interval-ms': PROBE_INTERVAL_MS, 'gap-ms': PROBE_GAP_MS, 'max-seconds': lifetimeS, 'ready-file': readyFile };
  return startClientProgram(client, clientProgramCommand('udp-probe', flags, PROBE_PRIORITY), ProbeReport, lifetimeS);
}

/** Starts the web client's WEB_CONNECTIONS closed loops against nginx at `address`; it writes `readyFile` once a request completed. */
export function startWebLoad(client: ClientSide, address: string, lifetimeS: number, readyFile: string): ClientProgram<LoadReport> {
  const flags = {
    address, port: WEB_PORT, connections: WEB_CONNECTIONS, 'bucket-ms': WEB_BUCKET_MS, 'timeout-ms': WEB_REQUEST_TIMEOUT_MS, 'max-seconds': lifetimeS, 'ready-file': readyFile,
  };
  return startClientProgram(client, clientProgramCommand('http-load', flags), LoadReport, lifetimeS);
}

/**
 * Waits until a client program created its ready file (its first answer came back).
 * @throws DeadlineError "`what` within 30000 ms".
 */
export async function waitForFile(path: string, what: string): Promise<void> {
  await pollUntil(
    async () =>
      access(path).then(
        () => true,
        () => false,
      ),
    { timeoutMs: CLIENT_READY_TIMEOUT_MS, intervalMs: 50, what },
  );
}
