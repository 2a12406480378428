/**
 * The migration suite's web client, run in the client namespace:
 *
 *   node --import tsx http-load.ts --address A --port P --connections N --bucket-ms 100 --timeout-ms 5000 --max-seconds S --ready-file F
 *
 * N keep-alive connections, each asking `GET /` again as soon as the last answer is read (a closed
 * loop: the server's rate, not the client's, sets the pace). Every completed and every failed
 * request is counted in the bucket of the moment it ended. A request that takes longer than
 * `timeout-ms` is aborted and counted as failed. It creates the file F when the first request
 * completes. On SIGTERM (or stdin's end, or `max-seconds`) it
 * prints a LoadReport (reports.ts) as one JSON line and exits 0.
 */
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { epochMs } from '../../../core/clock.js';
import { onEnd, requiredFlags } from './args.js';
import type { LoadReport } from './reports.js';

/** Distinct failure messages kept for the report. */
const MAX_ERRORS = 5;
/** After a failure a connection waits this long, ms, so a refused server is not hammered. */
const RETRY_PAUSE_MS = 20;

const flags = requiredFlags(process.argv.slice(2), ['address', 'port', 'connections', 'bucket-ms', 'timeout-ms', 'max-seconds', 'ready-file'] as const, [
  'port', 'connections', 'bucket-ms', 'timeout-ms', 'max-seconds',
]);
const bucketMs = Number(flags['bucket-ms']);
const connections = Math.floor(Number(flags.connections));
const timeoutMs = Number(flags['timeout-ms']);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const completed: number[] = [];
const failed: number[] = [];
const errors: string[] = [];
const startedAtMs = epochMs();
let stopping = false;
let ready = false;

function count(buckets: number[]): void {
  const index = Math.floor((epochMs() - startedAtMs) / bucketMs);
  while (buckets.length <= index) buckets.push(0);
  buckets[index] = (buckets[index] ?? 0) + 1;
}

function fail(error: Error): void {
  count(failed);
  if (errors.length < MAX_ERRORS && !errors.includes(error.message)) errors.push(error.message);
  if (!stopping) setTimeout(ask, RETRY_PAUSE_MS);
}

function ask(): void {
  if (stopping) return;
  const call = request({ host: flags.address, port: Number(flags.port), path: '/', agent, timeout: timeoutMs }, (response) => {
    response.resume();
    response.on('end', () => {
      if (response.statusCode === 200) {
        count(completed);
        if (!ready) {
          ready = true;
          writeFileSync(flags['ready-file'], `${epochMs()}\n`);
        }
      } else count(failed);
      ask();
    });
    response.on('error', fail);
  });
  call.on('timeout', () => call.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  call.on('error', fail);
  call.end();
}

for (let index = 0; index < connections; index++) ask();

onEnd(Number(flags['max-seconds']), () => {
  stopping = true;
  const length = Math.max(completed.length, failed.length);
  const pad = (buckets: number[]) => Array.from({ length }, (_, index) => buckets[index] ?? 0);
  const report: LoadReport = { startedAtMs, endedAtMs: epochMs(), bucketMs, connections, completed: pad(completed), failed: pad(failed), errors };
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
});
