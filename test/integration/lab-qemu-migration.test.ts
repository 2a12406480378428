/**
 * A QEMU guest on a lab host and its live migration to another (issue 14), over real SSH: namespace
 * hosts with their own sshd (lab-hosts.ts), the real image copied by RunImage.onHost into a shared
 * directory both hosts see (namespaces share this machine's file system; the marker check runs all
 * the same), the guest booted on `sut` with QMP forwarded over SSH and its console read there, then
 * migrated to `peer` over the lab link between the test addresses; a third host, `watch`, runs the suite's UDP
 * probe against the guest's echo server over the lab link before, during and after (sut's and peer's lab link is on a bridge the taps join). One boot, one migration (about
 * 1-2 min on TCG; the first run also copies the 2.5 GB image into /var/tmp/isobench-lab-shared,
 * which stays as a data-dir for later runs). Root. Run under `flock /tmp/isobench-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, test } from 'node:test';
import { runCommand } from '../../core/exec.js';
import { ResourceRegistry } from '../../core/ledger.js';
import type { HostSet, SshHost } from '../../hosts/host.js';
import type { InventoryHost } from '../../hosts/inventory.js';
import { pickBootFileNames } from '../../provisioning/image/boot-files.js';
import { RunImage } from '../../provisioning/image/run-image.js';
import { hostAddress, parseCidr } from '../../provisioning/ipv4.js';
import { bootLabGuest, createOverlay, labGuestSpec, makeHostDirectory, type LabGuest } from '../../provisioning/kvm/lab/lab-guest.js';
import { migrateLabGuest } from '../../provisioning/kvm/lab/lab-migration.js';
import { checkSharedDir, sharedDirOf } from '../../provisioning/kvm/lab/shared-dir.js';
import { destinationSpec } from '../../provisioning/kvm/migration/destination.js';
import { QueryStatusResult } from '../../provisioning/kvm/qmp-client.js';
import { macForAddress } from '../../provisioning/kvm/qemu-command.js';
import { createTap } from '../../provisioning/kvm/tap.js';
import { labClientSide } from '../../provisioning/lab-native.js';
import { UDP_ECHO_PATH } from '../../provisioning/image/recipe.js';
import { pollUntil, sleep } from '../../core/poll.js';
import { clientProgramCommand, PROBE_GAP_MS, PROBE_INTERVAL_MS, PROBE_PRIORITY, startClientProgram, WATCH_AFTER_MS } from '../../suites/migration/client-programs.js';
import { ProbeReport } from '../../suites/migration/client/reports.js';
import { ECHO_PORT } from '../../suites/migration/guest-workloads.js';
import { judgeLabWatch } from '../../suites/migration/lab-watch.js';
import { createLab, LAB_GUEST_BRIDGE, LAB_SHARED_DIR, labQemuSkipReason, openLabHosts, sweepLabLeftovers, type Lab } from './lab-hosts.js';

const SHARED = LAB_SHARED_DIR;
const GUEST_BRIDGE = LAB_GUEST_BRIDGE;
const CACHE = process.env.ISOBENCH_CACHE_DIR ?? '/var/cache/isobench';
const skip = await labQemuSkipReason(CACHE);

let lab: Lab;
let hosts: HostSet;
let work: string;
let resources: ResourceRegistry;

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'isobench-labqemu-'));
  await mkdir(SHARED, { recursive: true });
  // sut and peer carry their lab link on a bridge, as a real lab's hosts would for their guests;
  // watch is the third host the guest is reached from.
  lab = await createLab([
    { name: 'sut', roles: ['migration-source'], dataDir: join(work, 'sut'), linkBridge: GUEST_BRIDGE },
    { name: 'peer', roles: ['migration-dest'], dataDir: join(work, 'peer'), linkBridge: GUEST_BRIDGE },
    { name: 'watch', roles: ['client'] },
  ]);
  hosts = await openLabHosts(lab);
  await mkdir(join(work, 'ledger'));
  resources = new ResourceRegistry(`labqemu-${process.pid}`, join(work, 'ledger'));
});

after(async () => {
  if (skip) return;
  await resources?.undoAll();
  await hosts?.close();
  await lab?.teardown();
  await rm(work, { recursive: true, force: true });
  assert.deepEqual(await sweepLabLeftovers(), [], 'the lab removed everything it created');
});

test('a guest boots on sut over SSH and migrates live to peer over the lab link; nothing is left after teardown', { skip, timeout: 15 * 60_000 }, async () => {
  const entry = (name: string): InventoryHost => {
    const host = lab.hosts.find((candidate) => candidate.name === name)!;
    return { name, ssh: { user: 'root', address: host.address }, testAddress: host.address, dataDir: join(work, name), sharedDir: SHARED, bridge: GUEST_BRIDGE, roles: [] };
  };
  const sutEntry = entry('sut');
  const peerEntry = entry('peer');
  const sut = hosts.get('sut') as SshHost;
  const peer = hosts.get('peer') as SshHost;
  const log = (line: string) => console.log(`# ${line}`);
  const shared = sharedDirOf(sutEntry, peerEntry);
  assert.ok('directory' in shared, JSON.stringify(shared));
  assert.deepEqual(await checkSharedDir(sut, peer, shared.directory, resources), { kind: 'shared', directory: SHARED });
  const notShared = await checkSharedDir(sut, peer, join(work, 'sut'), resources);
  assert.equal(notShared.kind, 'not-shared', 'a directory missing on the reader is not shared');

  const copyStarted = performance.now();
  const image = await new RunImage(CACHE).onHost(sut, SHARED, { diskGiB: 4 }, log);
  assert.equal(image.kind, 'ready', JSON.stringify(image));
  if (image.kind !== 'ready') return;
  log(`image on the shared dir: ${image.sync?.kind} in ${((performance.now() - copyStarted) / 1000).toFixed(1)} s`);
  const bootNames = (await sut.run(['ls', posix.join(image.tree, 'boot')])).stdout.split('\n').filter(Boolean);
  const boot = pickBootFileNames(bootNames);
  assert.ok(boot, bootNames.join(' '));

  const instance = `${Date.now().toString(36)}`;
  const runDirectory = posix.join(SHARED, `isobench-lab-${instance}`);
  await makeHostDirectory(sut, runDirectory, resources, 'guest disk directory');
  const disk = posix.join(runDirectory, 'disk.qcow2');
  await createOverlay(sut, image.disk!, disk);
  const localDirectory = await mkdtemp(join(tmpdir(), 'isobench-fwd-'));
  await resources.register(`forwarded sockets ${localDirectory}`, { kind: 'path', path: localDirectory });

  const guestDirectory = posix.join(sutEntry.dataDir!, `g-${instance}`);
  await makeHostDirectory(sut, guestDirectory, resources, 'guest files');
  const sutTap = await createTap(sutEntry.bridge!, resources, sut);
  const address = hostAddress(parseCidr(lab.subnet), 50);
  const spec = labGuestSpec({
    name: `isobench-lab-${instance}`,
    accel: 'tcg',
    cpuModel: 'max',
    vcpus: 1,
    memoryMiB: 256,
    kernel: posix.join(image.tree, 'boot', boot.kernel),
    initrd: posix.join(image.tree, 'boot', boot.initrd),
    disk,
    directory: guestDirectory,
    net: { tap: sutTap.name, mac: macForAddress(address), address: `${address}/24` },
  });
  // A QEMU that cannot start (its kernel is not there): one error naming the host with QEMU's own
  // words, and nothing of it left registered.
  const registered = resources.size;
  await assert.rejects(
    bootLabGuest({ host: sut, spec: { ...spec, name: `${spec.name}-bad`, kernel: posix.join(guestDirectory, 'no-such-vmlinuz') }, resources, localDirectory, log }),
    /^Error: host sut: the guest QEMU did not start or answer QMP: host sut: the guest QEMU exited with code 1: .*no-such-vmlinuz/,
  );
  assert.equal(resources.size, registered, 'the failed QEMU left nothing in the ledger');

  let guest: LabGuest | null = await bootLabGuest({ host: sut, spec, resources, localDirectory, expectedNetwork: `${address}/24`, log });
  try {
    assert.equal((await guest.qemu.qmp.execute('query-status', undefined, QueryStatusResult)).status, 'running');
    const sourcePid = guest.qemu.hostPid;

    // The third host's watcher: the guest's echo server (started through the agent, forwarded over
    // SSH like QMP) and the suite's own UDP probe run on watch, across the lab link.
    const agent = await guest.qemu.openAgent();
    await agent.spawn([UDP_ECHO_PATH, address, String(ECHO_PORT)], { timeoutMs: 300_000 });
    const probeFlags = { address, port: ECHO_PORT, 'interval-ms': PROBE_INTERVAL_MS, 'gap-ms': PROBE_GAP_MS, 'max-seconds': 180, 'ready-file': join(work, 'probe-ready') };
    const watch = hosts.get('watch');
    const probe = startClientProgram(labClientSide(watch), clientProgramCommand('udp-probe', probeFlags, PROBE_PRIORITY), ProbeReport, 180, watch);
    await pollUntil(async () => ((await probe.snapshot()).firstEchoAtMs !== null ? true : undefined), { timeoutMs: 30_000, intervalMs: 250, what: 'the first echo at watch' });
    await sleep(1_000);

    const peerDirectory = posix.join(peerEntry.dataDir!, `g-${instance}-m1`);
    await makeHostDirectory(peer, peerDirectory, resources, 'destination files');
    const peerTap = await createTap(peerEntry.bridge!, resources, peer);
    const incomingSpec = destinationSpec(spec, { name: `${spec.name}-m1`, tap: peerTap.name, directory: peerDirectory, serialLog: posix.join(peerDirectory, 'serial.log') });
    const result = await migrateLabGuest({
      guest,
      source: sutEntry,
      destination: { host: peer, entry: peerEntry },
      destinationSpec: incomingSpec,
      resources,
      localDirectory,
      timeLimitMs: 120_000,
      maxBandwidthBytesPerS: 256 * 1024 * 1024,
      guard: async (candidate) => {
        if (candidate !== peerEntry.testAddress) throw new Error(`not peer's test address: ${candidate}`);
      },
    });
    guest = result.guest;
    const outcome = result.outcome;
    await sleep(WATCH_AFTER_MS);
    const report = await probe.stop();
    agent.close();
    assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
    if (outcome.kind !== 'completed') return;
    assert.deepEqual([outcome.source.host, outcome.destination.host], ['sut', 'peer']);
    assert.equal(outcome.uri?.startsWith(`tcp:${peerEntry.testAddress}:`), true, outcome.uri ?? '');
    assert.equal(outcome.destinationRunState, 'running');
    assert.equal(outcome.sourceGone, true, 'the source QEMU is gone from sut');
    assert.equal((await runCommand(['ip', 'netns', 'exec', lab.hosts[0]!.netns, 'kill', '-0', String(sourcePid)], { timeoutMs: 5_000 })).ok, false);
    assert.ok(guest && guest.qemu.host.name === 'peer');
    assert.equal((await guest.qemu.qmp.execute('query-status', undefined, QueryStatusResult)).status, 'running', 'QMP on peer reports running');
    const { figures } = outcome;
    if (process.env.ISOBENCH_CAPTURE_LAB_PROBE) {
      await writeFile(process.env.ISOBENCH_CAPTURE_LAB_PROBE, `${JSON.stringify({ report, window: { startedAtMs: outcome.startedAtMs, completedAtMs: outcome.last.atMs, afterMs: WATCH_AFTER_MS }, downtimeMs: figures.downtimeMs })}\n`);
    }
    const watched = judgeLabWatch(report, { startedAtMs: outcome.startedAtMs, completedAtMs: outcome.last.atMs, afterMs: WATCH_AFTER_MS }, 'watch');
    assert.equal(watched.kind, 'observed', `watch saw the switch-over as a gap and the guest on peer after it: ${JSON.stringify(watched)}`);
    if (watched.kind !== 'observed') return;
    log(`watch: ${report.sent} sent, ${report.received} echoed; client-observed downtime ${watched.gapMs.toFixed(1)} ms (QEMU's downtime ${figures.downtimeMs} ms)`);
    assert.ok(figures.transferredBytes !== null && figures.transferredBytes > 1024 * 1024, JSON.stringify(figures));
    assert.ok(figures.dirtySyncCount !== null && figures.dirtySyncCount >= 2, JSON.stringify(figures));
    log(
      `boot on sut ${guest.bootSeconds.toFixed(1)} s; migration sut -> peer: total ${figures.totalTimeMs} ms, downtime ${figures.downtimeMs} ms, setup ${figures.setupTimeMs} ms, ` +
        `dirty-sync-count ${figures.dirtySyncCount}, ${((figures.transferredBytes ?? 0) / 1048576).toFixed(1)} MiB transferred, ${figures.mbps?.toFixed(0)} Mbit/s, wall ${outcome.wallMs.toFixed(0)} ms`,
    );
  } finally {
    // As Ctrl-C does (the harness's interrupt runs undoAll): the ledger alone ends what runs now, the
    // guest on peer (`kill` there over SSH), its forward, both taps and every directory on the hosts.
    const report = await resources.undoAll();
    assert.deepEqual(report.failed, [], 'every resource was removed');
    log(`undone from the ledger: ${report.removed.join('; ')}`);
    // Closes the QMP client; its ledger entries are gone already.
    await guest?.qemu.stop();
  }

  // Nothing left: no QEMU on either host, no tap, no forward socket, no file outside the data-dirs' image.
  assert.equal((await runCommand(['pgrep', '-f', `isobench-lab-${instance}`], { timeoutMs: 5_000 })).stdout.trim(), '', 'no QEMU is left');
  for (const host of lab.hosts) {
    const links = (await runCommand(['ip', '-n', host.netns, '-br', 'link'], { timeoutMs: 5_000 })).stdout;
    assert.doesNotMatch(links, /ib-tap/, `no tap left on ${host.name}`);
  }
  assert.equal(existsSync(localDirectory), false, 'the forwarded sockets are gone');
  assert.deepEqual((await readdir(SHARED)).filter((name) => name !== 'image' && name !== 'isobench-image.lock').sort(), [], 'only the image stays in the shared dir');
  for (const name of ['sut', 'peer']) assert.deepEqual(await readdir(join(work, name)).catch(() => []), [], `${name}'s data-dir is empty`);
  assert.deepEqual(await readdir(join(work, 'ledger')), [], 'the ledger is gone: nothing left for cleanup');
  const forwards = await runCommand([...sut.sshOptions(), '-O', 'check', '--', sut.destination], { timeoutMs: 5_000 });
  log(`sut's shared connection after teardown: ${forwards.stderr.trim()}`);
});
