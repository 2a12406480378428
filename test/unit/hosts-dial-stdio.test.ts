import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIAL_STDIO_COMMAND, DialStdioAgent, dialStdioCommand, type DialEnd } from '../../hosts/dial-stdio.js';
import { SshHost } from '../../hosts/host.js';
import { createDialedDockerClient } from '../../provisioning/docker/client.js';

/**
 * Stands in for `ssh HOST docker system dial-stdio`: reads one HTTP request from stdin and answers
 * it as the Engine's `GET /version` does (body captured from Docker 20.10.24's, shortened).
 */
const FAKE_DAEMON = `
let seen = '';
process.stdin.on('data', (chunk) => {
  seen += chunk;
  if (!seen.includes('\\r\\n\\r\\n')) return;
  const path = seen.split(' ')[1];
  const body = JSON.stringify({ Version: '20.10.24+dfsg1', ApiVersion: '1.41', Os: 'linux', Path: path });
  process.stdout.write('HTTP/1.1 200 OK\\r\\nApi-Version: 1.41\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + Buffer.byteLength(body) + '\\r\\nConnection: close\\r\\n\\r\\n' + body);
  process.stdout.end();
});
`;

const dockerWith = (agent: DialStdioAgent) => createDialedDockerClient(agent);

test('dockerode speaks the Engine API through the agent; the connection child is gone afterwards', async () => {
  const agent = new DialStdioAgent({ command: [process.execPath, '-e', FAKE_DAEMON] });
  try {
    const docker = dockerWith(agent);
    const first = (await docker.version()) as unknown as { Version: string; Path: string };
    assert.equal(first.Version, '20.10.24+dfsg1');
    assert.equal(first.Path, '/version');
    // A second request opens a second child (not keep-alive).
    const second = (await docker.version()) as unknown as { Version: string };
    assert.equal(second.Version, '20.10.24+dfsg1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(agent.openConnections, 0);
  } finally {
    await agent.close();
  }
});

test("a connection that fails (ssh's exit 255) fails the request with ssh's last line, and is reported", async () => {
  const ends: DialEnd[] = [];
  const agent = new DialStdioAgent({
    command: ['sh', '-c', 'echo "ssh: connect to host 198.19.214.9 port 22: Connection refused" >&2; exit 255'],
    onFailure: (end) => ends.push(end),
  });
  try {
    await assert.rejects(dockerWith(agent).version(), /Connection refused|socket hang up/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(ends.length, 1);
    assert.equal(ends[0]!.exitCode, 255);
    assert.match(ends[0]!.stderr, /Connection refused/);
  } finally {
    await agent.close();
  }
});

test('close() kills a connection that hangs, and fails its request; no child is left', async () => {
  const agent = new DialStdioAgent({ command: ['sleep', '30'] });
  const pending = dockerWith(agent).version().then(() => null, (error: unknown) => error);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(agent.openConnections, 1);
  await agent.close();
  assert.equal(agent.openConnections, 0);
  assert.ok((await pending) instanceof Error);
  // A closed agent opens nothing more.
  await assert.rejects(dockerWith(agent).version(), /closed|hang up/);
  assert.equal(agent.openConnections, 0);
});

test('a connection past its lifetime is killed and its request fails saying so', async () => {
  const agent = new DialStdioAgent({ command: ['sleep', '30'], maxLifetimeMs: 300 });
  try {
    await assert.rejects(dockerWith(agent).version(), /lifetime passed|hang up/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(agent.openConnections, 0);
  } finally {
    await agent.close();
  }
});

test("a host's dial command is its own ssh options, destination and `docker system dial-stdio`", () => {
  const host = new SshHost('sut', { user: 'root', address: '198.19.214.2', port: 2222 }, { controlDirectory: '/tmp/c', configFile: '/tmp/ssh_config' });
  const command = dialStdioCommand(host.sshPrefix());
  assert.deepEqual(command.slice(-3), ['--', 'root@198.19.214.2', DIAL_STDIO_COMMAND]);
  assert.ok(command.includes('ControlPath=/tmp/c/sut'));
  assert.deepEqual(command.slice(0, 3), ['ssh', '-F', '/tmp/ssh_config']);
  assert.ok(command.includes('2222'));
});
