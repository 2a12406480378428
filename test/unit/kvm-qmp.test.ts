import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import {
  EmptyResult,
  eventTimeMs,
  parseQmpMessage,
  parseResult,
  QmpClient,
  QmpCommandError,
  QmpProtocolError,
  QueryKvmResult,
  QueryStatusResult,
  QueryVersionResult,
} from '../../provisioning/kvm/qmp-client.js';

/** Every line QEMU 7.2 sent and received while a TCG guest ran (captured by test/fixtures/kvm/capture.ts). */
interface Line {
  direction: 'sent' | 'received';
  line: string;
}
const transcript: Line[] = readFileSync(new URL('../fixtures/kvm/qmp-transcript.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((text) => JSON.parse(text) as Line);
const received = transcript.filter((entry) => entry.direction === 'received').map((entry) => entry.line);

test('QMP: every line the real QEMU sent parses as exactly one of greeting, return, error, event', () => {
  const kinds = received.map((line) => parseQmpMessage(line).kind);
  assert.equal(kinds[0], 'greeting');
  assert.ok(kinds.includes('return') && kinds.includes('error') && kinds.includes('event'));
  const greeting = parseQmpMessage(received[0]!);
  assert.ok(greeting.kind === 'greeting');
  assert.deepEqual(greeting.greeting.QMP.version.qemu, { major: 7, minor: 2, micro: 22 });
});

test('QMP: replies carry the id isobench sent; events are recognised with their names', () => {
  const events = received.map(parseQmpMessage).flatMap((message) => (message.kind === 'event' ? [message.event.event] : []));
  assert.deepEqual(events, ['STOP', 'RESUME', 'SHUTDOWN']);
  const error = received.map(parseQmpMessage).find((message) => message.kind === 'error');
  assert.ok(error?.kind === 'error');
  assert.equal(error.errorClass, 'CommandNotFound');
  assert.equal(error.id, 'ib-8');
});

test('QMP: query-status, query-version and query-kvm results of the real guest', () => {
  const values = received.map(parseQmpMessage).flatMap((message) => (message.kind === 'return' ? [message.value] : []));
  const statuses = values.filter((value) => QueryStatusResult.safeParse(value).success).map((value) => parseResult('query-status', QueryStatusResult, value));
  assert.deepEqual(
    statuses.map((status) => [status.status, status.running]),
    [
      ['running', true],
      ['paused', false],
    ],
  );
  const kvm = values.map((value) => QueryKvmResult.safeParse(value)).find((parsed) => parsed.success);
  assert.deepEqual(kvm?.data, { enabled: false, present: true }, 'a TCG guest on a host with /dev/kvm');
  const version = values.map((value) => QueryVersionResult.safeParse(value)).find((parsed) => parsed.success);
  assert.match(version?.data?.package ?? '', /Debian/);
});

test('QMP: unknown shapes are rejected, never half-trusted', () => {
  assert.throws(() => parseQmpMessage('not json'), QmpProtocolError);
  assert.throws(() => parseQmpMessage('[1,2]'), QmpProtocolError);
  assert.throws(() => parseQmpMessage('{"hello": 1}'), /unknown shape/);
  assert.throws(() => parseQmpMessage('{"return": {}, "error": {"class": "x", "desc": "y"}}'), /unknown shape/);
  assert.throws(() => parseQmpMessage('{"return": {}, "id": "ib-1", "surprise": true}'), /malformed QMP return/);
  assert.throws(() => parseQmpMessage('{"error": {"class": "GenericError"}}'), /malformed QMP error/);
  assert.throws(() => parseQmpMessage('{"event": "STOP"}'), /malformed QMP event/);
  assert.throws(() => parseResult('query-status', QueryStatusResult, { status: 'flying', running: true }), /unknown shape/);
  assert.throws(() => parseResult('stop', EmptyResult, { unexpected: 1 }), /unknown shape/);
});

/** A unix socket that answers each command with what the real QEMU answered to it, in order. */
async function replayServer(path: string): Promise<Server> {
  const exchanges: Array<{ sent: string; replies: string[] }> = [];
  const greeting: string[] = [];
  for (const entry of transcript) {
    if (entry.direction === 'sent') exchanges.push({ sent: entry.line, replies: [] });
    else (exchanges.at(-1)?.replies ?? greeting).push(entry.line);
  }
  const server = createServer((socket) => {
    let buffer = '';
    let next = 0;
    socket.write(greeting.map((line) => `${line}\r\n`).join(''));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        const exchange = exchanges[next++];
        assert.ok(exchange, `an unexpected command: ${line}`);
        assert.deepEqual(JSON.parse(line), JSON.parse(exchange.sent));
        socket.write(exchange.replies.map((reply) => `${reply}\r\n`).join(''));
        if (JSON.parse(line).execute === 'quit') socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

test('QMP client: negotiates, matches replies by id past events, surfaces errors, and quits', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-qmp-'));
  const path = join(directory, 'qmp.sock');
  const server = await replayServer(path);
  try {
    const client = await QmpClient.connect(path, { timeoutMs: 2_000 });
    assert.equal(client.qemuVersion, '7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)');
    assert.equal((await client.queryStatus()).status, 'running');
    await client.stop();
    assert.equal((await client.queryStatus()).status, 'paused');
    await client.cont();
    assert.equal((await client.queryVersion()).qemu.major, 7);
    assert.deepEqual(await client.queryKvm(), { enabled: false, present: true });
    await assert.rejects(client.execute('no-such-command', undefined, EmptyResult), (error: unknown) => {
      assert.ok(error instanceof QmpCommandError);
      assert.equal(error.errorClass, 'CommandNotFound');
      return true;
    });
    await client.quit();
    await client.finished;
    assert.deepEqual(
      client.events.map((event) => event.event),
      ['STOP', 'RESUME', 'SHUTDOWN'],
    );
    client.close();
  } finally {
    server.close();
    await rm(directory, { recursive: true, force: true });
  }
});

test('QMP client: a command without a reply times out instead of hanging', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-qmp-'));
  const path = join(directory, 'qmp.sock');
  const greeting = received[0]!;
  const server = createServer((socket) => {
    socket.write(`${greeting}\r\n`);
    socket.once('data', () => socket.write('{"return": {}, "id": "ib-1"}\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const client = await QmpClient.connect(path, { timeoutMs: 2_000 });
    // A deadline computed from performance.now() has decimals: the message rounds them, as DeadlineError does.
    await assert.rejects(client.execute('query-status', undefined, QueryStatusResult, 200.4), /no reply within 200 ms$/);
    client.close();
  } finally {
    server.close();
    await rm(directory, { recursive: true, force: true });
  }
});

/** A QMP server that writes `before` ahead of the greeting and `between` between each command and its reply. */
async function eventfulServer(path: string, before: string[], between: (command: { execute: string; id?: string }) => string[]): Promise<Server> {
  const greeting = received[0]!;
  const server = createServer((socket) => {
    let buffer = '';
    socket.write([...before, greeting].map((line) => `${line}\r\n`).join(''));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const command = JSON.parse(buffer.slice(0, newline)) as { execute: string; id?: string };
        buffer = buffer.slice(newline + 1);
        const reply = command.execute === 'query-status' ? '{"return": {"status": "running", "singlestep": false, "running": true}' : '{"return": {}';
        socket.write([...between(command), `${reply}, "id": "${command.id}"}`].map((line) => `${line}\r\n`).join(''));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

test('QMP client: events before the greeting and between a command and its reply are kept, in order, and replies still match by id', async () => {
  // The real events of the captured transcript, moved to where QEMU may also put them.
  const [stop, resume] = received.filter((line) => /"event": "(STOP|RESUME)"/.test(line));
  assert.ok(stop && resume);
  const directory = await mkdtemp(join(tmpdir(), 'isobench-qmp-'));
  const path = join(directory, 'qmp.sock');
  const server = await eventfulServer(path, [stop], (command) => (command.execute === 'query-status' ? [resume, stop] : []));
  try {
    const client = await QmpClient.connect(path, { timeoutMs: 2_000 });
    assert.deepEqual(client.events.map((event) => event.event), ['STOP'], 'the event before the greeting');
    const seen: string[] = [];
    client.onEvent((event) => seen.push(event.event));
    assert.equal((await client.queryStatus()).status, 'running');
    assert.deepEqual(client.events.map((event) => event.event), ['STOP', 'RESUME', 'STOP']);
    assert.deepEqual(seen, ['RESUME', 'STOP'], 'listeners hear events as they arrive');
    assert.equal(client.eventCount, 3);
    // waitForEvent finds a kept event from a position, and a later one as it arrives.
    assert.equal((await client.waitForEvent('RESUME', { since: 0, timeoutMs: 100 })).event, 'RESUME');
    await assert.rejects(client.waitForEvent('RESUME', { timeoutMs: 50 }), /no RESUME event within 50 ms/);
    const next = client.waitForEvent('STOP', { timeoutMs: 2_000 });
    await client.queryStatus();
    assert.equal((await next).event, 'STOP');
    assert.equal(eventTimeMs(client.events[0]!), JSON.parse(stop).timestamp.seconds * 1000 + JSON.parse(stop).timestamp.microseconds / 1000);
    client.close();
  } finally {
    server.close();
    await rm(directory, { recursive: true, force: true });
  }
});

test('QMP client: a reply whose id matches no pending command is kept as stray, not given to another command', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'isobench-qmp-'));
  const path = join(directory, 'qmp.sock');
  const server = await eventfulServer(path, [], (command) => (command.execute === 'query-status' ? ['{"return": {}, "id": "ib-999"}'] : []));
  try {
    const client = await QmpClient.connect(path, { timeoutMs: 2_000 });
    assert.equal((await client.queryStatus()).status, 'running');
    assert.deepEqual(client.strayReplies, ['{"return": {}, "id": "ib-999"}']);
    client.close();
  } finally {
    server.close();
    await rm(directory, { recursive: true, force: true });
  }
});

test('QMP client on a real migration source: every command of the captured session gets its own reply, and the events QEMU put between commands and replies are all kept', async () => {
  const lines = readFileSync(new URL('../fixtures/kvm/migration-idle-qmp.jsonl', import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .map((text) => JSON.parse(text) as { qemu: string; direction: 'sent' | 'received'; line: string });
  const source = lines.filter((entry) => entry.qemu === lines[0]!.qemu);
  const directory = await mkdtemp(join(tmpdir(), 'isobench-qmp-'));
  const path = join(directory, 'qmp.sock');
  const exchanges: Array<{ sent: string; replies: string[] }> = [];
  const greeting: string[] = [];
  for (const entry of source) {
    if (entry.direction === 'sent') exchanges.push({ sent: entry.line, replies: [] });
    else (exchanges.at(-1)?.replies ?? greeting).push(entry.line);
  }
  const server = createServer((socket) => {
    let buffer = '';
    let next = 0;
    socket.write(greeting.map((line) => `${line}\r\n`).join(''));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        buffer = buffer.slice(newline + 1);
        socket.write(exchanges[next++]!.replies.map((reply) => `${reply}\r\n`).join(''));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const client = await QmpClient.connect(path, { timeoutMs: 2_000 });
    const results: unknown[] = [];
    for (const exchange of exchanges.slice(1)) {
      const command = JSON.parse(exchange.sent) as { execute: string; arguments?: Record<string, unknown> };
      if (command.execute === 'quit') break;
      results.push(await client.execute(command.execute, command.arguments, z.unknown()));
    }
    const expected = source.filter((entry) => entry.direction === 'received' && /"event"/.test(entry.line)).map((entry) => JSON.parse(entry.line).event as string);
    const kept = client.events.map((event) => event.event);
    // The session's events up to `quit` (its SHUTDOWN comes with quit's reply, not replayed here).
    assert.deepEqual(kept, expected.slice(0, kept.length));
    assert.ok(kept.includes('MIGRATION_PASS') && kept.includes('STOP'), 'pass and stop events of the migration were kept');
    assert.ok(exchanges.some((exchange) => exchange.replies.length > 1 && /"event"/.test(exchange.replies[0]!)), 'the capture does have an event between a command and its reply');
    assert.equal(results.length, exchanges.length - 2, 'every command but quit got a reply');
    assert.deepEqual(client.strayReplies, []);
    client.close();
  } finally {
    server.close();
    await rm(directory, { recursive: true, force: true });
  }
});
