import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { RUNC_LEFTOVERS, runcLeftovers } from '../../provisioning/criu/leftovers.js';
import { parseRuncList } from '../../provisioning/criu/runc.js';
import { LEFTOVER_SCANNERS } from '../../provisioning/leftovers.js';
import { runcCriuDriver } from '../../provisioning/targets/runc-criu.js';

// Captured here (runc 1.1.5+ds1, Debian 12): an empty root, and two containers made as the runc-criu
// target makes them (isobench's ociConfig, an overlay on the cached tree, a named namespace, under
// the heavy lock), one running, one exited, then the running one paused.
const fixture = (name: string) => readFileSync(new URL(`../fixtures/criu/${name}`, import.meta.url), 'utf8');

test('runc list --format json: null is no container; each container is a validated record', () => {
  assert.deepEqual(parseRuncList(fixture('runc-list-empty.json')), []);
  const containers = parseRuncList(fixture('runc-list-running-stopped.json'));
  assert.deepEqual(containers.map((entry) => [entry.id, entry.status, entry.pid > 0]), [
    ['isobench-criu-fixc-1a', 'running', true],
    ['isobench-criu-fixc-1b', 'stopped', false],
  ]);
  assert.match(containers[0]!.bundle, /\/criu\/trial-1\/bundle-a$/);
  assert.match(containers[0]!.rootfs, /\/criu\/overlay\/root$/);
  assert.equal(containers[0]!.owner, 'root');
  assert.deepEqual(parseRuncList(fixture('runc-list-paused.json')).map((entry) => entry.status), ['paused', 'stopped']);
});

test('runc list output that does not fit is an error quoting what did not match', () => {
  assert.throws(() => parseRuncList('runc: permission denied\n'), /^Error: unexpected runc list output: not JSON: runc: permission denied$/);
  assert.throws(() => parseRuncList('{"id":"x"}'), /not a list of containers: \{"id":"x"\}/);
  const odd = fixture('runc-list-running-stopped.json').replace('"stopped"', '"exploded"');
  assert.throws(() => parseRuncList(odd), /^Error: unexpected runc list output: 1\.status: .* \(found "exploded"\)$/);
  const withoutPid = (JSON.parse(fixture('runc-list-running-stopped.json')) as Array<Record<string, unknown>>).map((entry) => Object.fromEntries(Object.entries(entry).filter(([key]) => key !== 'pid')));
  const noPid = JSON.stringify(withoutPid);
  assert.throws(() => parseRuncList(noPid), /^Error: unexpected runc list output: 0\.pid: .* \(found nothing\)$/);
});

const RUN = '/var/tmp/isobench-run-Ab12Cd';
const ROOT = `${RUN}/criu/runc`;

test('the scanner finds a crashed run\'s containers in its run directory\'s runc root, then the overlay, then namespaces and veths, in that order', async () => {
  const roots: string[] = [];
  const scanner = runcLeftovers({
    runDirectories: async () => [RUN, '/var/tmp/isobench-run-NoCriu'],
    listContainers: async (root) => {
      roots.push(root);
      if (root !== ROOT) return [];
      // Someone else's container in that root (made by hand) is not isobench's to delete.
      return [...parseRuncList(fixture('runc-list-running-stopped.json')), { ...parseRuncList(fixture('runc-list-running-stopped.json'))[0]!, id: 'hand-made' }];
    },
    mountinfo: async () => [
      '22 1 8:1 / / rw - ext4 /dev/sda1 rw',
      `90 22 0:50 / ${RUN}/criu/overlay/root rw,relatime - overlay overlay rw,lowerdir=/var/cache/isobench/rootfs-x`,
      '91 22 0:51 / /var/tmp/isobench-run-Other/kvm rw - tmpfs tmpfs rw',
    ].join('\n'),
    namespaces: async () => ['isobench-client', 'isobench-criu-fixc-1a', 'islab-h1'],
    links: async () => ['lo', 'ib-br0', 'ib-crfx1a', 'ib-veth-h'],
  });
  const found = await scanner.find();
  assert.deepEqual(roots, [ROOT, '/var/tmp/isobench-run-NoCriu/criu/runc']);
  assert.deepEqual(found.map((leftover) => (leftover.undo.kind === 'command' ? leftover.undo.command.join(' ') : leftover.undo.kind)), [
    `runc --root ${ROOT} delete --force isobench-criu-fixc-1a`,
    `runc --root ${ROOT} delete --force isobench-criu-fixc-1b`,
    `umount ${RUN}/criu/overlay/root`,
    'ip netns del isobench-criu-fixc-1a',
    'ip link delete ib-crfx1a',
  ]);
  assert.match(found[0]!.description, /^runc container isobench-criu-fixc-1a \(running, pid \d+, root \/var\/tmp\/isobench-run-Ab12Cd\/criu\/runc\)$/);
  assert.equal(found[1]!.description, `runc container isobench-criu-fixc-1b (stopped, root ${ROOT})`);
  // Already gone is removed: a container the ledger deleted first, a namespace that went with it
  // (runc's and ip's words here; `runc delete --force` of a missing container even exits 0).
  const ignore = (index: number) => new RegExp(found[index]!.undo.kind === 'command' ? String(found[index]!.undo.ignoreFailure) : '^$');
  assert.match('time="2026-11-30T16:09:32Z" level=error msg="container does not exist"', ignore(0));
  assert.match('umount: /tmp/nosuch-wtscan: no mount point specified.', ignore(2));
  assert.match('Cannot remove namespace file "/run/netns/isobench-criu-nosuch": No such file or directory', ignore(3));
  assert.match('Cannot find device "ib-crnosuch"', ignore(4));
});

test('cleanup finds runc containers before the network scanner removes their namespaces, and before run directories go', () => {
  assert.equal(runcCriuDriver.leftovers, RUNC_LEFTOVERS);
  const names = LEFTOVER_SCANNERS.map((scanner) => scanner.name);
  assert.ok(names.indexOf('runc containers') >= 0, names.join(', '));
  assert.ok(names.indexOf('runc containers') < names.indexOf('network'), names.join(', '));
  assert.ok(names.indexOf('runc containers') < names.indexOf('run directories'), names.join(', '));
});
