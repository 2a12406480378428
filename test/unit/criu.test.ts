import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import { parseCriuVersion } from '../../provisioning/criu/build.js';
import { parseCriuCheck, parseDirtyTrackCheck } from '../../provisioning/criu/check.js';
import { freezerFromCgroupFile } from '../../provisioning/criu/freezer.js';
import { macForAddress } from '../../provisioning/criu/host.js';
import { parseRuncVersion } from '../../provisioning/criu/index.js';
import { containerNetworkCommands } from '../../provisioning/criu/netns.js';
import { ociConfig, workloadCommand } from '../../provisioning/criu/oci-config.js';
import { CRIU_RECIPE, criuRecipeHash } from '../../provisioning/criu/recipe.js';
import { criuLogErrors, parseRuncState } from '../../provisioning/criu/runc.js';

// Captured on this host (Debian 12, kernel 6.18): bookworm's criu 3.17.1, trixie's 4.1.1 and sid's 4.2.1.
const fixture = (name: string) => readFileSync(new URL(`../fixtures/criu/${name}`, import.meta.url), 'utf8');
const exited = (code: number, stderr: string, stdout = '') => ({ ok: code === 0, exitCode: code, stdout, stderr, timedOut: false });

test('criu check: bookworm\'s 3.17 fails on the vDSO and the reason is its first Error line; 4.1.1 and 4.2.1 look good', () => {
  const old = parseCriuCheck(exited(1, fixture('check-3.17-bookworm.txt')));
  assert.equal(old.kind, 'unsupported');
  assert.equal(old.kind === 'unsupported' && old.firstFailure, 'Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds');
  for (const name of ['check-4.1.1.txt', 'check-4.2.1.txt']) {
    const check = parseCriuCheck(exited(0, '', fixture(name)));
    assert.deepEqual(check.kind, 'supported', name);
  }
  // "Looks good" with a non-zero exit is not trusted; a timeout says so; silence says so.
  assert.equal(parseCriuCheck(exited(1, '', 'Looks good.\n')).kind, 'unsupported');
  const timedOut = parseCriuCheck({ ok: false, exitCode: null, stdout: '', stderr: '', timedOut: true });
  assert.match(timedOut.kind === 'unsupported' ? timedOut.firstFailure : '', /timed out/);
  const silent = parseCriuCheck(exited(3, ''));
  assert.equal(silent.kind === 'unsupported' && silent.firstFailure, 'criu check exited with code 3 and printed nothing');
});

test('criu check --feature mem_dirty_track: off on this kernel, with CRIU\'s line', () => {
  const tracking = parseDirtyTrackCheck(exited(1, fixture('dirty-track-4.2.1.txt')));
  assert.deepEqual(tracking, { available: false, detail: 'Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot will not work.' });
  assert.equal(parseDirtyTrackCheck(exited(0, '')).available, true);
});

test('versions: criu --version and runc --version', () => {
  assert.equal(parseCriuVersion(fixture('version-3.17.txt')), '3.17.1');
  assert.equal(parseCriuVersion(fixture('version-4.2.1.txt')), '4.2.1');
  assert.equal(parseCriuVersion('criu: unknown option'), null);
  assert.equal(parseRuncVersion('runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n'), '1.1.5+ds1');
});

test('a failed dump\'s reason: 4.1.1 cannot read SO_PASSCRED of an inet socket on this kernel; the rlimit line CRIU carries on past is left out', () => {
  const errors = criuLogErrors(fixture('dump-4.1.1-inet-socket.txt'));
  assert.equal(errors[0], 'Error (criu/sockets.c:628): sockets: Can\'t get 1:16 opt: Operation not supported');
  assert.ok(errors.every((line) => !line.includes('RLIMIT_NOFILE')));
  assert.equal(errors.at(-1), 'Error (criu/cr-dump.c:2111): Dumping FAILED.');
});

test('runc state: pid and status, and a clear error for anything else', () => {
  assert.deepEqual(parseRuncState('{"ociVersion":"1.0.2-dev","id":"ct1","pid":23551,"status":"running","bundle":"/tmp/b1"}'), { pid: 23551, status: 'running' });
  assert.throws(() => parseRuncState('{"id":"ct1"}'), /no pid and status/);
});

test('the freezer of a runc container: cgroup v1\'s freezer.state here; cgroup v2\'s cgroup.freeze on a unified host', () => {
  assert.deepEqual(freezerFromCgroupFile(fixture('proc-cgroup-runc-v1.txt')), { version: 1, state: '/sys/fs/cgroup/freezer/ct1/freezer.state' });
  assert.deepEqual(freezerFromCgroupFile('0::/isobench/ct1\n'), { version: 2, freeze: '/sys/fs/cgroup/isobench/ct1/cgroup.freeze', events: '/sys/fs/cgroup/isobench/ct1/cgroup.events' });
  assert.equal(freezerFromCgroupFile('1:cpu:/x\n'), null);
});

test('the recipe hash follows what is built, not the order of the package list', () => {
  const hash = criuRecipeHash();
  assert.match(hash, /^[0-9a-f]{16}$/);
  assert.equal(criuRecipeHash({ ...CRIU_RECIPE, buildPackages: [...CRIU_RECIPE.buildPackages].reverse() }), hash);
  assert.notEqual(criuRecipeHash({ ...CRIU_RECIPE, version: '4.1.1' }), hash);
  assert.notEqual(criuRecipeHash({ ...CRIU_RECIPE, recipeVersion: CRIU_RECIPE.recipeVersion + 1 }), hash);
});

test('the container network: a veth whose inside end is renamed eth0 in the namespace, with the address and a MAC derived from it', () => {
  const mac = macForAddress('198.18.0.10');
  assert.equal(mac, '02:00:c6:12:00:0a');
  const commands = containerNetworkCommands({ netns: 'isobench-criu-ab-1a', hostLink: 'ib-cr1a', bridge: 'ib-br0', address: '198.18.0.10', prefixLength: 24, mac });
  assert.deepEqual(commands[0], ['ip', 'link', 'add', 'ib-cr1a', 'type', 'veth', 'peer', 'name', 'ib-cr1ap']);
  assert.ok(commands.some((command) => command.join(' ') === 'ip -n isobench-criu-ab-1a addr add 198.18.0.10/24 dev eth0'));
  assert.ok(commands.some((command) => command.join(' ') === 'ip -n isobench-criu-ab-1a link set eth0 address 02:00:c6:12:00:0a'));
  assert.deepEqual(commands.at(-2), ['ip', 'link', 'set', 'ib-cr1a', 'master', 'ib-br0']);
});

test('config.json joins the namespace by path, with Docker\'s capabilities and tmpfs /run', () => {
  const config = ociConfig({ hostname: 'h', rootfs: '/r', netnsPath: '/var/run/netns/x', args: ['sh'] }) as {
    linux: { namespaces: Array<{ type: string; path?: string }> };
    process: { capabilities: { bounding: string[] }; terminal: boolean };
    mounts: Array<{ destination: string; type: string }>;
  };
  assert.deepEqual(config.linux.namespaces.find((ns) => ns.type === 'network'), { type: 'network', path: '/var/run/netns/x' });
  assert.ok(config.process.capabilities.bounding.includes('CAP_SETUID'), 'nginx\'s master can drop privileges');
  assert.equal(config.process.terminal, false);
  assert.ok(config.mounts.some((mount) => mount.destination === '/run' && mount.type === 'tmpfs'));
});

test('the workload script writes its files and starts every server as its child, arguments passed verbatim', async () => {
  // Run by the host's sh with /run swapped for a scratch directory and the stdio redirect dropped.
  const dir = (await runCommand(['mktemp', '-d'], { timeoutMs: 5_000 })).stdout.trim();
  const argv = workloadCommand([['sh', '-c', 'printf "%s|" "$@" > "$0.out"', `${dir}/a`, 'x y', '$HOME'], ['true']], [{ path: `${dir}/conf`, content: 'a "b" $c\n' }]);
  assert.equal(argv[0], 'sh');
  const script = argv[2]!.replace('exec </dev/null >/run/isobench-workload.log 2>&1', ':');
  const outcome = await runCommand(['sh', '-c', script, ...argv.slice(3)], { timeoutMs: 5_000 });
  assert.equal(outcome.ok, true, outcome.stderr);
  assert.equal(readFileSync(`${dir}/conf`, 'utf8'), 'a "b" $c\n');
  assert.equal(readFileSync(`${dir}/a.out`, 'utf8'), 'x y|$HOME|');
  await runCommand(['rm', '-rf', dir], { timeoutMs: 5_000 });
});
