import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseProcStat } from '../../core/cpu-meter.js';
import {
  decodeBase64,
  GuestAgent,
  GuestExecResult,
  GuestExecStatus,
  GuestInfoResult,
  guestCommandLine,
  outcomeFromStatus,
  parseQgaReply,
  parseQgaResult,
  QgaCommandError,
  QgaProtocolError,
  timedOutByGuest,
} from '../../provisioning/kvm/guest-agent.js';

/** Every line sent to and received from qemu-ga 7.2 in a TCG guest (test/fixtures/kvm/capture.ts). */
interface Line {
  direction: 'sent' | 'received';
  line: string;
}
const transcript: Line[] = readFileSync(new URL('../fixtures/kvm/qga-transcript.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((text) => JSON.parse(text) as Line);

/** Request line → the replies the real agent gave to it, in order. */
function exchanges(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let request: string | undefined;
  for (const entry of transcript) {
    if (entry.direction === 'sent') request = entry.line;
    else if (request !== undefined) map.set(request, [...(map.get(request) ?? []), entry.line]);
  }
  return map;
}

/** Final guest-exec-status of the program started with this argv. */
function finalStatus(argvPart: string): GuestExecStatus {
  const map = exchanges();
  const start = [...map.entries()].find(([request]) => request.includes('"guest-exec"') && request.includes(argvPart));
  assert.ok(start, `the transcript ran ${argvPart}`);
  const { pid } = parseQgaResult('guest-exec', GuestExecResult, (parseQgaReply(start[1][0]!) as { value: unknown }).value);
  const replies = map.get(JSON.stringify({ execute: 'guest-exec-status', arguments: { pid } })) ?? [];
  const reply = parseQgaReply(replies.at(-1)!);
  assert.equal(reply.kind, 'return');
  return parseQgaResult('guest-exec-status', GuestExecStatus, (reply as { value: unknown }).value);
}

test('guest agent: every reply the real qemu-ga sent is a return or an error of a known shape', () => {
  const replies = transcript.filter((entry) => entry.direction === 'received').map((entry) => parseQgaReply(entry.line));
  assert.ok(replies.length > 20);
  assert.ok(replies.some((reply) => reply.kind === 'error'));
  const info = replies.find((reply) => reply.kind === 'return' && typeof reply.value === 'object' && reply.value !== null && 'supported_commands' in reply.value);
  const parsed = parseQgaResult('guest-info', GuestInfoResult, (info as { value: unknown }).value);
  assert.equal(parsed.version, '7.2.22');
  for (const needed of ['guest-exec', 'guest-exec-status', 'guest-sync']) {
    assert.ok(parsed.supported_commands.some((command) => command.name === needed && command.enabled), `${needed} is enabled`);
  }
});

test('guest agent: stdout, stderr and the exit code of a failing program', () => {
  const status = finalStatus('echo out; echo err >&2; exit 3');
  const outcome = outcomeFromStatus(['sh', '-c', '…'], status, 12, false);
  assert.deepEqual([outcome.ok, outcome.exitCode, outcome.signal, outcome.stdout, outcome.stderr], [false, 3, null, 'out\n', 'err\n']);
});

test('guest agent: a program killed by a signal reports the signal and no exit code', () => {
  const outcome = outcomeFromStatus(['sh'], finalStatus('kill -KILL $$'), 5, false);
  assert.deepEqual([outcome.ok, outcome.exitCode, outcome.signal], [false, null, 'SIGKILL']);
});

test('guest agent: a missing program fails through `timeout` with 127 and its message', () => {
  const outcome = outcomeFromStatus(['no-such-program'], finalStatus('"no-such-program"'), 5, false);
  assert.equal(outcome.exitCode, 127);
  assert.match(outcome.stderr, /failed to run command 'no-such-program'/);
});

test('guest agent: the guest-side timeout (exit 124) counts as timed out only once the time is up', () => {
  const status = finalStatus('"sleep","5"');
  assert.equal(status.exitcode, 124);
  assert.equal(timedOutByGuest(status, 1_010, 1_000), true);
  assert.equal(timedOutByGuest(status, 20, 1_000), false, 'a program that itself exits 124 early is not a timeout');
  const outcome = outcomeFromStatus(['sleep', '5'], status, 1_010, true);
  assert.deepEqual([outcome.ok, outcome.timedOut], [false, true]);
});

test('guest agent: input-data reaches stdin; /proc/stat of the guest parses', () => {
  assert.equal(decodeBase64(finalStatus('"cat"],"capture-output":true,"input-data"')['out-data']), 'fed through input-data\n');
  const stat = parseProcStat(decodeBase64(finalStatus('"/proc/stat"')['out-data']));
  assert.ok(stat.busySeconds > 0 && stat.totalSeconds > stat.busySeconds);
});

test('guest agent: a program that cannot start is a GenericError reply', () => {
  const line = transcript.find((entry) => entry.direction === 'received' && entry.line.includes('Failed to execute child process'))!.line;
  const reply = parseQgaReply(line);
  assert.deepEqual(reply.kind === 'error' ? reply.errorClass : null, 'GenericError');
});

test('guest agent: unknown shapes are rejected', () => {
  assert.throws(() => parseQgaReply('{"return": 1, "extra": 2}'), QgaProtocolError);
  assert.throws(() => parseQgaReply('{"event": "X"}'), QgaProtocolError);
  assert.throws(() => parseQgaReply('garbage'), QgaProtocolError);
  assert.throws(() => parseQgaResult('guest-exec-status', GuestExecStatus, { exited: 'yes' }), /unknown shape/);
  assert.throws(() => parseQgaResult('guest-exec', GuestExecResult, {}), /unknown shape/);
});

test('guest agent: the argv that runs in the guest is bounded by coreutils timeout', () => {
  assert.deepEqual(guestCommandLine(['fio', '--version'], 120_000), ['timeout', '-k', '2', '120', 'fio', '--version']);
  assert.deepEqual(guestCommandLine(['ls'], 1_500, '/var/lib/isobench-data'), ['timeout', '-k', '2', '2', 'env', '-C', '/var/lib/isobench-data', 'ls']);
});

/** Answers like the captured agent: guest-sync echoes its id, anything else gets the recorded replies in order. */
async function replayAgent(path: string, options: { junkFirst?: boolean } = {}): Promise<Server> {
  const map = exchanges();
  const served = new Map<string, number>();
  const server = createServer((socket) => {
    let buffer = '';
    if (options.junkFirst) socket.write('{"return": {"pid": 1}}\n{"retu');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        const request = JSON.parse(line) as { execute: string; arguments?: { id?: number } };
        if (request.execute === 'guest-sync') {
          socket.write(`${options.junkFirst ? 'rn": 5}\n' : ''}{"return": ${request.arguments?.id}}\n`);
          continue;
        }
        const replies = map.get(line);
        assert.ok(replies, `the transcript has no reply to ${line}`);
        const index = served.get(line) ?? 0;
        served.set(line, index + 1);
        socket.write(`${replies[Math.min(index, replies.length - 1)]}\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

test('guest agent client: syncs past stale bytes, runs a program and decodes its output', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-qga-'));
  const path = join(directory, 'qga.sock');
  const server = await replayAgent(path, { junkFirst: true });
  try {
    const agent = await GuestAgent.connect(path, { timeoutMs: 3_000 });
    const outcome = await agent.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([outcome.exitCode, outcome.stdout, outcome.stderr, outcome.timedOut], [3, 'out\n', 'err\n', false]);
    const fed = await agent.exec(['cat'], { input: 'fed through input-data\n' });
    assert.equal(fed.ok, true);
    assert.equal(fed.stdout, 'fed through input-data\n');
    await assert.rejects(agent.request('guest-exec', { path: '/no/such/program', 'capture-output': true }, GuestExecResult), QgaCommandError);
    agent.close();
  } finally {
    server.close();
    await rm(directory, { recursive: true, force: true });
  }
});

test('guest agent client: an agent that never answers is a clear error within the timeout', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-qga-'));
  const path = join(directory, 'qga.sock');
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const started = performance.now();
    // Each guest-sync waits for what is left of the 600 ms (decimals): its error reads in whole ms.
    await assert.rejects(GuestAgent.connect(path, { timeoutMs: 600 }), /did not answer guest-sync within 600 ms: .*no reply within \d+ ms$/);
    assert.ok(performance.now() - started < 3_000);
  } finally {
    server.close();
    await rm(directory, { recursive: true, force: true });
  }
});
