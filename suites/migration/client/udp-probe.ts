/**
 * The migration suite's echo probe, run in the client namespace:
 *
 *   node --import tsx udp-probe.ts --address A --port P --interval-ms 1 --gap-ms 5 --max-seconds N --ready-file F
 *
 * Sends a 16-byte datagram (magic, sequence number) every `interval-ms` to the guest's
 * isobench-udp-echo, and notes the arrival of every echo. Every pause of `gap-ms` or more between
 * two arrivals is a gap. It creates the file F when the first echo arrives (the suite waits for it before
 * it measures anything) and removes it when it ends. Each line `report` on stdin is answered with the ProbeReport so far, as one
 * JSON line on stdout (the suite judges its self-test and waits for a steady stream with it). On
 * SIGTERM (or stdin's end, or `max-seconds`) it prints the final ProbeReport (reports.ts) as one JSON
 * line and exits 0. Sends are scheduled on a fixed grid; when the process
 * itself falls behind it sends at most MAX_BURST due datagrams at once, then drops the backlog and
 * records how late it was (`maxSendLateMs`).
 */
import { createSocket } from 'node:dgram';
import { rmSync, writeFileSync } from 'node:fs';
import { epochMs } from '../../../core/clock.js';
import { onEnd, requiredFlags } from './args.js';
import type { ProbeReport } from './reports.js';

/** 'IBPR': marks isobench's datagrams, so anything else arriving on the socket is ignored. */
const MAGIC = 0x49425052;
const PACKET_BYTES = 16;
/** Due datagrams sent in one go when the timer fired late. */
const MAX_BURST = 5;
/** The gaps kept; past it the shortest are dropped (only long gaps matter to the suite). */
const MAX_GAPS = 5_000;

const flags = requiredFlags(process.argv.slice(2), ['address', 'port', 'interval-ms', 'gap-ms', 'max-seconds', 'ready-file'] as const, ['port', 'interval-ms', 'gap-ms', 'max-seconds']);
const intervalMs = Number(flags['interval-ms']);
const gapThresholdMs = Number(flags['gap-ms']);
const socket = createSocket('udp4');
const answered = new Set<number>();
const gaps: Array<[number, number]> = [];
let gapsDropped = 0;
let sent = 0;
let received = 0;
let duplicates = 0;
let sendErrors = 0;
let maxSendLateMs = 0;
let firstEchoAtMs: number | null = null;
let lastEchoAtMs: number | null = null;
const startedAtMs = epochMs();
/** `[sent, answered]` per whole second since startedAtMs. */
const perSecond: Array<[number, number]> = [];
/** The first sequence number sent in each second of perSecond (a second without sends repeats the next one's). */
const secondStarts: number[] = [];

/** The second a sequence number was sent in: the last second whose first sequence is at or below it. */
function secondOf(sequence: number): number {
  let low = 0;
  let high = secondStarts.length - 1;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (secondStarts[middle]! <= sequence) low = middle;
    else high = middle - 1;
  }
  return low;
}

socket.on('message', (message) => {
  const at = epochMs();
  if (message.length < 8 || message.readUInt32BE(0) !== MAGIC) return;
  const sequence = message.readUInt32BE(4);
  if (answered.has(sequence)) {
    duplicates++;
    return;
  }
  answered.add(sequence);
  received++;
  const second = perSecond[secondOf(sequence)];
  if (second) second[1]++;
  if (lastEchoAtMs !== null && at - lastEchoAtMs >= gapThresholdMs) {
    gaps.push([lastEchoAtMs, at]);
    if (gaps.length > MAX_GAPS) {
      gaps.sort((a, b) => b[1] - b[0] - (a[1] - a[0]));
      gaps.length = MAX_GAPS;
      gapsDropped++;
    }
  }
  if (firstEchoAtMs === null) {
    firstEchoAtMs = at;
    writeFileSync(flags['ready-file'], `${at}\n`);
  }
  lastEchoAtMs = at;
});
// An ICMP error on the connected socket (no route yet, port not open) is a lost echo, not an end.
socket.on('error', () => sendErrors++);

const packet = Buffer.alloc(PACKET_BYTES);
packet.writeUInt32BE(MAGIC, 0);
let origin = performance.now();
let timer: NodeJS.Timeout | undefined;

function tick(): void {
  const now = performance.now();
  let burst = 0;
  while (origin + sent * intervalMs <= now && burst < MAX_BURST) {
    maxSendLateMs = Math.max(maxSendLateMs, now - (origin + sent * intervalMs));
    const second = Math.floor((epochMs() - startedAtMs) / 1000);
    while (perSecond.length <= second) {
      perSecond.push([0, 0]);
      secondStarts.push(sent);
    }
    perSecond[second]![0]++;
    packet.writeUInt32BE(sent, 4);
    socket.send(packet, (error) => {
      if (error) sendErrors++;
    });
    sent++;
    burst++;
  }
  // Still behind: start the grid again from now rather than sending a burst the stall never saw.
  if (origin + sent * intervalMs <= now) origin = now - sent * intervalMs;
  timer = setTimeout(tick, Math.max(0, origin + sent * intervalMs - performance.now()));
}

socket.connect(Number(flags.port), flags.address, () => {
  origin = performance.now();
  tick();
});

/** The report so far; `endedAtMs` is now. */
function currentReport(): ProbeReport {
  return {
    startedAtMs,
    endedAtMs: epochMs(),
    intervalMs,
    gapThresholdMs,
    sent,
    received,
    duplicates,
    firstEchoAtMs,
    lastEchoAtMs,
    gaps: [...gaps].sort((a, b) => a[0] - b[0]),
    gapsDropped,
    maxSendLateMs,
    sendErrors,
    perSecond,
  };
}

// `report` lines on stdin ask for the report so far; stdin's end still ends the probe (onEnd).
let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop()!;
  for (const line of lines) if (line.trim() === 'report') process.stdout.write(`${JSON.stringify(currentReport())}\n`);
});

onEnd(Number(flags['max-seconds']), () => {
  clearTimeout(timer);
  // The file is the probe's own: on a lab watch host it lies outside any directory the run removes,
  // and a Ctrl-C'd run (its SSH session gone: stdin's end) never reaches the trial's own removal.
  rmSync(flags['ready-file'], { force: true });
  process.stdout.write(`${JSON.stringify(currentReport())}\n`, () => process.exit(0));
});
