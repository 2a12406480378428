import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../../core/exec.js';
import { findExecutable } from '../../core/tools.js';
import { SshHost } from '../../hosts/host.js';
import { hostImageLine } from '../../harness/lab-doctor.js';
import {
  decideImageSync,
  hostManifestPath,
  parseHostProbe,
  parseManifest,
  serializeManifest,
  type HostImageManifest,
} from '../../provisioning/image/host-manifest.js';
import { parseRsyncStats, rshCommand, rsyncArguments } from '../../provisioning/image/host-sync.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'image-sync');
const fixture = (name: string) => readFileSync(join(fixtures, name), 'utf8');

const HASH = '3f2a9c0d5e7b1a46';
const TREE = { entries: 3, bytes: 3145760 };
const DISK = { entries: 1, bytes: 4294967296 };
const manifest: HostImageManifest = {
  format: 2,
  recipeHash: HASH,
  artifacts: [`rootfs-${HASH}`, `disk-${HASH}-4g.qcow2`],
  contents: { [`rootfs-${HASH}`]: TREE, [`disk-${HASH}-4g.qcow2`]: DISK },
  copiedAt: '2026-11-30T19:40:12.345Z',
  from: 'controller',
};
/** What the host's folder holds when it matches `manifest`. */
const intact = new Map([[`disk-${HASH}-4g.qcow2`, DISK], [`rootfs-${HASH}`, TREE]]);

test('the probe output (captured from the real script) parses: rsync, what the folder holds, and the manifest present or absent', () => {
  assert.deepEqual(parseHostProbe(fixture('probe-absent.txt')), { rsync: true, manifest: { kind: 'absent' }, found: new Map() });
  assert.deepEqual(parseHostProbe(fixture('probe-present.txt')), { rsync: true, manifest: { kind: 'present', manifest }, found: intact });
  assert.deepEqual(parseHostProbe(fixture('probe-present-no-rsync.txt')).rsync, false);
  // A 3 MiB file removed from the tree on the host: one entry and its bytes fewer (the 4 GiB sparse disk is counted past 2^31).
  assert.deepEqual(parseHostProbe(fixture('probe-changed.txt')).found.get(`rootfs-${HASH}`), { entries: 2, bytes: 32 });
  assert.throws(() => parseHostProbe('rsync=yes\nartifact rootfs-x 3\nmanifest=absent\n'), /unexpected output from the image probe: .*artifact rootfs-x 3/);
  assert.throws(() => parseHostProbe('rsync=yes\n'), /unexpected output/);
  // A login shell that prints a banner first is not the script's output: refused, quoting the line.
  assert.throws(() => parseHostProbe(`Welcome to lab-sut\n${fixture('probe-absent.txt')}`), /unexpected output from the image probe: "Welcome to lab-sut"/);
  assert.throws(() => parseHostProbe(''), /unexpected output/);
});

test('a manifest is written and read back; anything isobench did not write is unreadable, never present', () => {
  assert.deepEqual(parseManifest(serializeManifest(manifest)), { kind: 'present', manifest });
  assert.equal(serializeManifest(manifest), fixture('probe-present.txt').split('\n').slice(4).join('\n'));
  const cases: Array<[string, RegExp]> = [
    ['', /not JSON/],
    ['{"format":1,"recipeHash":"3f2a', /not JSON/],
    // Format 1 (no `contents`) is read as unreadable, so the image is copied again and counted.
    [JSON.stringify({ ...manifest, format: 1 }), /^format: /],
    [JSON.stringify({ ...manifest, contents: { [`rootfs-${HASH}`]: { entries: -1, bytes: 0 } } }), /^contents\./],
    [JSON.stringify({ ...manifest, recipeHash: 'ABC' }), /^recipeHash: /],
    [JSON.stringify({ ...manifest, artifacts: [] }), /^artifacts: /],
    [JSON.stringify({ ...manifest, artifacts: ['../etc'] }), /^artifacts\.0: /],
    [JSON.stringify({ ...manifest, artifacts: ['rootfs-*'] }), /^artifacts\.0: /],
    [JSON.stringify({ ...manifest, extra: 1 }), /manifest: .*extra/],
  ];
  for (const [text, reason] of cases) {
    const state = parseManifest(text);
    assert.equal(state.kind, 'unreadable', text);
    assert.match((state as { reason: string }).reason, reason, text);
  }
  assert.throws(() => serializeManifest({ ...manifest, recipeHash: 'nothex' }));
});

test('copy decisions: nothing when the hash and the artifacts match, else why, with the artifacts the host will hold', () => {
  const wanted = { recipeHash: HASH, artifacts: [`rootfs-${HASH}`] };
  const present = { manifest: { kind: 'present' as const, manifest }, found: intact };
  assert.deepEqual(decideImageSync(wanted, present), { copy: false, artifacts: manifest.artifacts });
  assert.deepEqual(decideImageSync(wanted, { manifest: { kind: 'absent' }, found: new Map() }), { copy: true, artifacts: wanted.artifacts, reason: 'no manifest on the host (never copied, or a copy that did not finish)' });
  assert.match((decideImageSync(wanted, { manifest: { kind: 'unreadable', reason: 'not JSON (x)' }, found: new Map() }) as { reason: string }).reason, /unreadable \(not JSON/);
  // Changed on the host behind isobench's back (the captured probe: a file removed), or gone: copied again, saying what changed.
  assert.deepEqual(decideImageSync(wanted, parseHostProbe(fixture('probe-changed.txt'))), {
    copy: true,
    artifacts: manifest.artifacts,
    reason: `its copy changed since: rootfs-${HASH} holds 2 entries, 32 bytes; 3 entries, 3,145,760 bytes were copied`,
  });
  assert.equal((decideImageSync(wanted, { ...present, found: new Map() }) as { reason: string }).reason, `its copy changed since: rootfs-${HASH} is gone`);
  // Only the wanted artifacts are checked: a disk this run does not use may differ.
  assert.equal(decideImageSync(wanted, { ...present, found: new Map([[`rootfs-${HASH}`, TREE]]) }).copy, false);
  const other = decideImageSync({ recipeHash: '0000000000000000', artifacts: ['rootfs-0000000000000000'] }, present);
  assert.deepEqual(other, { copy: true, artifacts: ['rootfs-0000000000000000'], reason: `the host has recipe ${HASH}, this host's is 0000000000000000` });
  // Same hash, an artifact more: the copy keeps what the host has and adds the rest.
  const tree = { ...manifest, artifacts: [`rootfs-${HASH}`] };
  assert.deepEqual(decideImageSync({ recipeHash: HASH, artifacts: [`rootfs-${HASH}`, `disk-${HASH}-4g.qcow2`] }, { manifest: { kind: 'present', manifest: tree }, found: intact }), {
    copy: true,
    artifacts: [`rootfs-${HASH}`, `disk-${HASH}-4g.qcow2`],
    reason: `the host lacks disk-${HASH}-4g.qcow2`,
  });
});

test("rsync's statistics (captured, --stats --no-human-readable) parse; commas too; a missing line is named", () => {
  assert.deepEqual(parseRsyncStats(fixture('rsync-stats-first.txt')), { bytesSent: 8390937, bytesReceived: 79, transferredFileBytes: 8388611, filesTransferred: 2 });
  assert.deepEqual(parseRsyncStats(fixture('rsync-stats-second.txt')), { bytesSent: 139, bytesReceived: 40, transferredFileBytes: 0, filesTransferred: 0 });
  assert.equal(parseRsyncStats(fixture('rsync-stats-first.txt').replace('8390937', '8,390,937')).bytesSent, 8390937);
  assert.throws(() => parseRsyncStats('sent 139 bytes  received 40 bytes'), /lack "Total bytes sent"/);
});

test("rsync's -e string is the SshHost's own ssh options, quoted the way rsync splits them", () => {
  const host = new SshHost('sut', { user: 'root', address: '198.19.214.2', port: 2222 }, { controlDirectory: '/tmp/isobench-ssh-x', configFile: "/tmp/lab dir/it's_config" });
  const args = rsyncArguments(host, '/var/cache/isobench/', [`rootfs-${HASH}`], '/srv/isobench/image', 1800);
  const rsh = args[args.indexOf('--rsh') + 1]!;
  assert.ok(rsh.startsWith("ssh -F '/tmp/lab dir/it''s_config' -T -o BatchMode=yes -o ControlMaster=auto -o ControlPath=/tmp/isobench-ssh-x/sut "), rsh);
  assert.ok(rsh.endsWith(' -p 2222'), 'the port is an option; rsync appends the user and host itself');
  assert.ok(!rsh.includes('--'), 'no `--`: rsync puts `-l USER HOST` after the options');
  assert.deepEqual(args.slice(-6), [`--include=/rootfs-${HASH}`, `--include=/rootfs-${HASH}/**`, '--exclude=*', '--', '/var/cache/isobench/', 'root@198.19.214.2:/srv/isobench/image/']);
  assert.ok(args.includes('--rsync-path=timeout --kill-after=2 1802s rsync'));
  assert.ok(args.includes('--numeric-ids') && args.includes('--delete-excluded') && args.includes('--no-human-readable'));
  // IPv6: the address in brackets in rsync's remote path.
  const six = new SshHost('six', { user: 'root', address: 'fd00::2' }, { controlDirectory: '/d' });
  assert.equal(rsyncArguments(six, '/c', ['a'], '/srv/image', 10).at(-1), 'root@[fd00::2]:/srv/image/');
});

test("rsync's own splitting of -e keeps rshCommand's arguments whole (a real rsync, no network: -e runs a printer)", { skip: (await findExecutable('rsync')) ? false : 'rsync is not installed (npm test installs it)' }, async () => {
  const printed = await runCommand(['rsync', '--rsh', rshCommand(['sh', '-c', 'printf "[%s]" "$@" >&2', 'sh', 'a b', "it's", '"q"']), '--list-only', 'x@y:/z'], { timeoutMs: 10_000 });
  assert.match(printed.stderr, /^\[a b\]\[it's\]\["q"\]\[-l\]\[x\]\[y\]\[rsync\]/);
});

test("doctor's image row: present at the local hash, stale, absent, no data-dir, rsync missing", () => {
  const entry = { name: 'sut', dataDir: '/srv/isobench' };
  assert.equal(hostManifestPath('/srv/isobench'), '/srv/isobench/image/isobench-image.json');
  assert.equal(hostImageLine(entry, { rsync: true, manifest: { kind: 'present', manifest }, found: intact }, HASH), `present at this host's recipe ${HASH} (rootfs-${HASH}, disk-${HASH}-4g.qcow2; copied 2026-11-30T19:40:12.345Z from controller)`);
  assert.equal(
    hostImageLine(entry, parseHostProbe(fixture('probe-changed.txt')), HASH),
    `changed since it was copied to /srv/isobench/image (this host's recipe ${HASH}): rootfs-${HASH} holds 2 entries, 32 bytes; 3 entries, 3,145,760 bytes were copied; the first lab run that needs it copies it again`,
  );
  assert.equal(hostImageLine(entry, { rsync: true, manifest: { kind: 'present', manifest }, found: new Map() }, '0000000000000000'), `stale: recipe ${HASH} in /srv/isobench/image, this host's is 0000000000000000; the first lab run that needs it copies it`);
  assert.equal(hostImageLine(entry, { rsync: false, manifest: { kind: 'absent' }, found: new Map() }, HASH), 'absent (no manifest in /srv/isobench/image); the first lab run that needs it copies it; rsync missing there (copies need it): apt-get install rsync on sut');
  assert.match(hostImageLine({ name: 'peer' }, null, HASH), /^not checked: no data-dir/);
  assert.equal(hostImageLine(entry, { error: 'host sut: unreachable: x' }, HASH), 'could not look: host sut: unreachable: x');
});
