import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCgroupMounts, parseCpuacctUsage, parseCpuStat, parseProcCgroup, resolveCpuAccounting } from '../../provisioning/docker/cgroup.js';
import { dockerErrorMessage, dockerSocketPath } from '../../provisioning/docker/client.js';
import { userlandProxyFromArgs, userlandProxyFromConfig } from '../../provisioning/docker/daemon.js';
import { imageTag, importChanges, parseImportProgress, tarCommand } from '../../provisioning/docker/image.js';
import { connectProbeCommand, parseDnatRules, parseDockerProxyArgs } from '../../provisioning/docker/nat.js';
import { cpuSecondsOf, parseProcessStat } from '../../core/proc.js';

// Captured on the development machine (Docker 20.10.24 from Debian's docker.io, hybrid cgroups).
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'docker');
const fixture = (name: string) => readFile(join(FIXTURES, name), 'utf8');

test('a container process\'s /proc/PID/cgroup lists every v1 hierarchy and the v2 line', async () => {
  const lines = parseProcCgroup(await fixture('proc-cgroup-hybrid.txt'));
  assert.equal(lines.length, 10);
  const cpuacct = lines.find((line) => line.controllers.includes('cpuacct'));
  assert.match(cpuacct?.path ?? '', /^\/docker\/[0-9a-f]{64}$/);
  const unified = lines.find((line) => line.hierarchy === 0);
  assert.deepEqual(unified?.controllers, []);
  assert.equal(unified?.path, cpuacct?.path);
  assert.throws(() => parseProcCgroup('garbage'), /unexpected line/);
});

test('cgroup mounts come from mountinfo, v1 controllers and the v2 hierarchy alike', async () => {
  const mounts = parseCgroupMounts(await fixture('mountinfo-cgroup-hybrid.txt'));
  assert.equal(mounts.length, 10, 'nine v1 hierarchies and one cgroup2; tmpfs, proc, sysfs are not cgroups');
  assert.deepEqual(mounts.find((mount) => mount.superOptions.includes('cpuacct')), {
    root: '/', mountPoint: '/sys/fs/cgroup/cpuacct', fsType: 'cgroup', superOptions: ['rw', 'cpuacct'],
  });
  assert.equal(mounts.find((mount) => mount.fsType === 'cgroup2')?.mountPoint, '/sys/fs/cgroup/unified');
});

test('the container\'s CPU accounting follows Docker\'s cgroup version on a hybrid host', async () => {
  const procCgroup = await fixture('proc-cgroup-hybrid.txt');
  const mountinfo = await fixture('mountinfo-cgroup-hybrid.txt');
  const id = /cpuacct:\/docker\/([0-9a-f]{64})/.exec(procCgroup)![1]!;
  assert.deepEqual(resolveCpuAccounting(procCgroup, mountinfo, '1'), {
    version: 1, file: `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, method: 'cgroup v1 cpuacct.usage',
  });
  assert.deepEqual(resolveCpuAccounting(procCgroup, mountinfo, '2'), {
    version: 2, file: `/sys/fs/cgroup/unified/docker/${id}/cpu.stat`, method: 'cgroup v2 cpu.stat usage_usec',
  });
  // A pure v2 host: one line, cgroup2 mounted at /sys/fs/cgroup.
  const v2only = resolveCpuAccounting('0::/system.slice/docker-abc.scope\n', '30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n', '1');
  assert.equal(v2only?.file, '/sys/fs/cgroup/system.slice/docker-abc.scope/cpu.stat');
  // A hierarchy mounted from a sub-directory: paths are relative to its root.
  const nested = resolveCpuAccounting('2:cpu,cpuacct:/outer/docker/x\n', '40 23 0:30 /outer /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n', '1');
  assert.equal(nested?.file, '/sys/fs/cgroup/cpu,cpuacct/docker/x/cpuacct.usage');
  assert.equal(resolveCpuAccounting('1:cpu:/x\n', '', '1'), null);
});

test('cpuacct.usage is nanoseconds and cpu.stat is microseconds', async () => {
  assert.equal(parseCpuacctUsage(await fixture('cpuacct.usage.txt')), 26065742 / 1e9);
  assert.equal(parseCpuStat(await fixture('cpu.stat.txt')), 26065 / 1e6);
  assert.throws(() => parseCpuacctUsage('max\n'), /not a number/);
  assert.throws(() => parseCpuStat('user_usec 3\n'), /usage_usec/);
});

test('docker-proxy\'s command line names the published address and the container behind it', async () => {
  const args = (await fixture('docker-proxy-cmdline.bin')).split('\0').filter(Boolean);
  assert.deepEqual(parseDockerProxyArgs(args), { proto: 'udp', hostIp: '127.0.0.1', hostPort: 11111, containerIp: '172.17.0.2', containerPort: 11111 });
  assert.equal(parseDockerProxyArgs(['/usr/sbin/dockerd', '-proto', 'tcp']), null);
  assert.equal(parseDockerProxyArgs(['/usr/sbin/docker-proxy', '-proto', 'tcp']), null);
});

test('CPU seconds and the parent of a process come from /proc/PID/stat', async () => {
  const seconds = async (name: string) => cpuSecondsOf(parseProcessStat(await fixture(name)));
  assert.equal(await seconds('docker-proxy-stat.txt'), 0, 'an idle docker-proxy');
  assert.equal(await seconds('dockerd-stat.txt'), (1119 + 531) / 100);
  assert.equal(parseProcessStat(await fixture('docker-proxy-stat.txt')).ppid, 30520);
  assert.equal(cpuSecondsOf(parseProcessStat('7 (a) b) S 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1')), 0.11, 'a name with ") " in it');
  assert.equal(parseProcessStat('7 (a) b) S 42 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1').ppid, 42);
});

test('Docker\'s DNAT rules and their counters are read from iptables -S -v', async () => {
  const rules = parseDnatRules(await fixture('iptables-nat-docker-v.txt'));
  assert.deepEqual(rules, [
    { destination: '127.0.0.1', protocol: 'udp', port: 11111, to: '172.17.0.2:11111', packets: 0, bytes: 0 },
    { destination: '127.0.0.1', protocol: 'tcp', port: 15201, to: '172.17.0.2:5201', packets: 0, bytes: 0 },
  ]);
  const published = parseDnatRules(await fixture('iptables-nat-docker-v-198.txt'));
  const iperf = published.find((rule) => rule.port === 5201);
  assert.equal(iperf?.destination, '198.18.0.10');
  assert.ok((iperf?.packets ?? 0) >= 1, 'the provisioning probe passed the rule');
  assert.deepEqual(parseDnatRules('-N DOCKER\n-A DOCKER -i docker0 -j RETURN\n'), []);
});

test('the image import answer carries the new image id, or the daemon\'s error', async () => {
  assert.deepEqual(parseImportProgress(await fixture('import-progress-ok.jsonl')), {
    imageId: 'sha256:c95b5de429486dc95e654df0955979f74b6dcb97a298991df45c6ba8b980f957',
    error: null,
  });
  const failed = parseImportProgress(await fixture('import-progress-error.jsonl'));
  assert.equal(failed.imageId, null);
  assert.match(failed.error ?? '', /invalid tar header/);
  assert.equal(parseImportProgress('{"errorDetail":{"message":"no space left"},"error":"no space left"}\n').error, 'no space left');
  assert.match(parseImportProgress('not json').error ?? '', /unexpected answer/);
});

test('the image tag, its labels and the tar command', () => {
  assert.equal(imageTag('0878030b6dc97435'), 'isobench/rootfs:0878030b6dc97435');
  assert.throws(() => imageTag('../evil'), /cannot be a Docker tag/);
  assert.deepEqual(importChanges('abc'), ['LABEL isobench=1', 'LABEL isobench.recipe=abc', 'CMD ["sleep", "infinity"]']);
  const tar = tarCommand('/var/cache/isobench/rootfs-abc');
  assert.equal(tar[0], 'tar');
  assert.ok(tar.includes('--directory=/var/cache/isobench/rootfs-abc') && tar.includes('--numeric-owner') && tar.at(-1) === '.');
});

test('the userland proxy setting is read from dockerd\'s flags, then daemon.json', () => {
  assert.equal(userlandProxyFromArgs(['/usr/sbin/dockerd']), null);
  assert.equal(userlandProxyFromArgs(['/usr/sbin/dockerd', '--userland-proxy=false']), false);
  assert.equal(userlandProxyFromArgs(['/usr/sbin/dockerd', '--userland-proxy', 'false']), false);
  assert.equal(userlandProxyFromArgs(['/usr/sbin/dockerd', '--userland-proxy']), true);
  assert.equal(userlandProxyFromConfig('{"userland-proxy": false, "iptables": true}'), false);
  assert.equal(userlandProxyFromConfig('{}'), null);
  assert.equal(userlandProxyFromConfig('{not json'), null);
});

test('the socket comes from DOCKER_HOST only when it is a unix socket', () => {
  assert.equal(dockerSocketPath({}), '/var/run/docker.sock');
  assert.equal(dockerSocketPath({ DOCKER_HOST: 'unix:///run/user/docker.sock' }), '/run/user/docker.sock');
  assert.throws(() => dockerSocketPath({ DOCKER_HOST: 'tcp://10.0.0.1:2375' }), /not a unix socket/);
});

test('Engine API errors are reported in the daemon\'s own words', () => {
  assert.equal(dockerErrorMessage({ statusCode: 404, json: { message: 'No such container: x' }, message: '(HTTP code 404) no such container - ...' }), 'No such container: x');
  assert.equal(dockerErrorMessage({ code: 'ENOENT', message: 'connect ENOENT /var/run/docker.sock' }), 'ENOENT: connect ENOENT /var/run/docker.sock');
  assert.equal(dockerErrorMessage('plain'), 'plain');
});

test('the NAT probe is an argument vector, never a shell line', () => {
  const command = connectProbeCommand('/usr/bin/node', '198.18.0.10', 5201);
  assert.deepEqual([command[0], command[1], ...command.slice(-3)], ['/usr/bin/node', '-e', '--', '198.18.0.10', '5201']);
});
