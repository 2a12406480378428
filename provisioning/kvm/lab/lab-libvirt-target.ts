/**
 * The kvm target's guest as a libvirt domain on a lab host, moved between two lab hosts by libvirt
 * itself (`--hosts FILE --suite migration --source A --dest B --vm-manager libvirt`, issue 14).
 *
 * Each end's system libvirtd is reached from this machine over libvirt's own `qemu+ssh://` transport
 * (hosts/libvirt-ssh.ts), so nothing of libvirt runs here but the client. The domain boots on A from
 * the image in the hosts' shared-dir (a qcow2 overlay, as the QEMU path's), its NIC on A's inventory
 * `bridge` (libvirt makes the tap; at a migration B's libvirtd makes its own on B's bridge), and
 * `virsh migrate --live --persistent` moves it, the stream between the hosts' test addresses
 * (`--migrateuri tcp://B --listen-address B`); the next trial moves it back. Its figures are the job
 * statistics `virsh domjobinfo --completed` prints on the source once the job ended (libvirt gives no
 * rounds or per-poll samples). The guest agent goes through the libvirtd that runs the domain.
 *
 * QEMU runs as root without DAC relabelling (the domain's `<seclabel>`): on storage both hosts share,
 * each libvirtd would chown the disk to its own QEMU user in turn. Every definition and run is in the
 * ledger as `virsh` run on that host over SSH, so a crashed run's `cleanup` needs no helper.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { LabMigrationEnds, LabMigrationFigures, LabMigrationOutcome, LabMigrationReport, LabMigrationRequest, TargetLabMigration } from '../../../contracts/lab-migration.js';
import type { MigrationSnapshot, ProvisionedTarget } from '../../../contracts/target.js';
import { errorMessage } from '../../../core/errors.js';
import { runCommand, startBackground, type CommandOptions, type CommandOutcome } from '../../../core/exec.js';
import { sleep } from '../../../core/poll.js';
import type { LibvirtSshUri } from '../../../hosts/libvirt-ssh.js';
import type { LibvirtJobInfo, LibvirtMigrationRecord } from '../../../results/libvirt-jobinfo.js';
import type { TargetFacts } from '../../../results/schema.js';
import { guestKernelCommandLine } from '../../image/guest-boot.js';
import { DIRTIER_PATH, UDP_ECHO_PATH } from '../../image/recipe.js';
import { GUEST_KERNEL_EXTRA } from '../../targets/kvm.js';
import { BOOT_TIMEOUT_MS, waitForReady } from '../guest.js';
import { GuestAgent } from '../guest-agent.js';
import { GUEST_DATA_DIRECTORY, GUEST_ROOT_DEVICE, prepareGuestDataDirectory } from '../guest-data-dir.js';
import { buildDomainXml, LIBVIRT_DOMAIN_GONE, sshLibvirtdStatus, VirshAgentTransport, type LibvirtDomainSpec } from '../libvirt.js';
import { parseDomjobinfo } from '../libvirt-jobinfo.js';
import { lastLine, notThisJob, virshKeepsCompleted } from '../migration/libvirt-migration.js';
import { serialProblem } from '../migration/qemu-migration.js';
import { macForAddress, QEMU_NAME_PREFIX } from '../qemu-command.js';
import { chooseLabAccel } from './lab-accel.js';
import { LAB_DISK, LAB_SERIAL_POLL_MS } from './lab-guest.js';
import { labEndFacts, labVhostDegraded, prepareLabGuestDisk, startAgentService, type LabEnd, type LabKvmPlan } from './lab-kvm-target.js';

/** virsh calls other than the migration itself, ms (each is an SSH round trip or two). */
const VIRSH_TIMEOUT_MS = 30_000;
/** After `virsh domjobabort`, how long `virsh migrate` may take to give up, ms. */
const ABORT_GRACE_MS = 30_000;
/** How long the guest agent may take to answer through the destination's libvirtd, ms. */
const AGENT_TIMEOUT_MS = 60_000;
const MIB = 1_048_576;

/** One end with its libvirt URIs. */
interface LibvirtEnd extends LabEnd {
  uris: LibvirtSshUri;
}

/**
 * libvirt's job statistics as the snapshot a lab migration outcome carries (`last`), taken when the
 * job ended: `atMs` is when `virsh migrate` returned; what domjobinfo does not print is null.
 */
export function snapshotFromJob(job: LibvirtJobInfo | null, status: MigrationSnapshot['status'], atMs: number, error: string | null = null): MigrationSnapshot {
  return {
    atMs,
    status,
    syncCount: job?.iterations ?? null,
    transferredBytes: job?.dataProcessedBytes ?? null,
    remainingBytes: job?.dataRemainingBytes ?? null,
    totalBytes: job?.memoryTotalBytes ?? null,
    downtimeBytes: null,
    dirtyPagesRate: job?.dirtyRatePagesPerSecond ?? null,
    mbps: job?.memoryBandwidthBytesPerSecond !== undefined ? (job.memoryBandwidthBytesPerSecond * 8) / 1e6 : null,
    expectedDowntimeMs: null,
    totalTimeMs: job?.timeElapsedMs ?? null,
    setupTimeMs: job?.setupTimeMs ?? null,
    downtimeMs: job?.downtimeMs ?? null,
    throttlePercent: job?.autoConvergeThrottlePercent ?? null,
    error,
  };
}

/** A completed job's figures in the lab outcome's terms (see FIGURE_NAMES in suites/migration/lab-trial.ts). */
export function figuresFromJob(job: LibvirtJobInfo | null): LabMigrationFigures {
  const snapshot = snapshotFromJob(job, 'completed', 0);
  return {
    totalTimeMs: snapshot.totalTimeMs,
    downtimeMs: snapshot.downtimeMs,
    setupTimeMs: snapshot.setupTimeMs,
    dirtySyncCount: snapshot.syncCount,
    transferredBytes: snapshot.transferredBytes,
    downtimeBytes: null,
    ramBytes: snapshot.totalBytes,
    mbps: snapshot.mbps,
  };
}

/**
 * The `virsh migrate` of one lab migration (exported for its unit test): live, the destination
 * keeps a definition (`--persistent`), the link rate in MiB/s, the destination's XML (its own serial
 * console file), and the stream to the destination's test address, where its QEMU listens.
 * `--unsafe`: libvirt takes a disk with cache=none for shared only on a file system type it knows as
 * shared (NFS, GlusterFS, Ceph, …) and refuses the rest ("Migration without shared storage is
 * unsafe"); isobench checked the shared-dir itself (a marker written on the source, read on the
 * destination: shared-dir.ts), whatever its type.
 */
export function labMigrateCommand(options: { sourceUri: string; domain: string; destinationUri: string; bandwidthMiBs: number; xmlFile: string; destinationAddress: string }): string[] {
  return [
    'virsh', '-c', options.sourceUri, 'migrate', '--live', '--persistent', '--unsafe', '--bandwidth', String(options.bandwidthMiBs), '--xml', options.xmlFile,
    options.domain, options.destinationUri, '--migrateuri', `tcp://${options.destinationAddress}`, '--listen-address', options.destinationAddress,
  ];
}

/**
 * Provisions the lab guest as a libvirt domain on the source (see the module comment); a migration
 * run's only (plan.destination set).
 * @throws Error naming the host when its libvirtd does not answer over qemu+ssh://, the shared-dir
 *   or image step fails, or the guest does not boot; what was made is in the ledger.
 */
export async function provisionLabLibvirt(plan: LabKvmPlan): Promise<ProvisionedTarget> {
  const { resources, log } = plan;
  if (!plan.destination) throw new Error('a libvirt guest on a lab host is provisioned for the migration suite only (--source and --dest)');
  let version = '';
  const reach = async (end: LabEnd): Promise<LibvirtEnd> => {
    const { uri, shown, version: answered, problem } = await sshLibvirtdStatus(end.host);
    if (answered === null) throw new Error(`host ${end.entry.name}: ${problem}`);
    version ||= answered;
    return { ...end, uris: { uri, shown } };
  };
  const source = await reach(plan.source);
  const destination = await reach(plan.destination);
  const { kernel, initrd, instance, runDirectory, disk, image } = await prepareLabGuestDisk(plan);
  const ends = labEndFacts(plan.hosts, [source, destination]);
  const choice = chooseLabAccel(plan.options.accel, ends);
  const emulator = (await source.host.run(['sh', '-c', 'command -v qemu-system-x86_64'], { timeoutMs: 20_000 })).stdout.trim() || '/usr/bin/qemu-system-x86_64';
  const localDirectory = await mkdtemp(join(tmpdir(), 'isobench-lab-libvirt-'));
  await resources.register(`libvirt domain XML ${localDirectory}`, { kind: 'path', path: localDirectory });

  const { address, prefix } = plan.guestAddress;
  const name = `${QEMU_NAME_PREFIX}lab-${instance}`;
  let serialCount = 0;
  const serialPath = () => posix.join(runDirectory, `serial-${serialCount}.log`);
  const spec: LibvirtDomainSpec = {
    name,
    type: choice.accel === 'kvm' ? 'kvm' : 'qemu',
    cpuModel: choice.cpuModel,
    vcpus: plan.options.vcpus,
    memoryMiB: plan.options.memoryMiB,
    kernel,
    initrd,
    cmdline: guestKernelCommandLine({ address: `${address}/${prefix}`, extra: GUEST_KERNEL_EXTRA }),
    disk: { path: disk, ...LAB_DISK },
    net: { bridge: source.entry.bridge!, mac: macForAddress(address) },
    serialLog: serialPath(),
    emulator,
    dacUser: 'root',
  };
  const virsh = (end: LibvirtEnd, ...words: string[]) => ['virsh', '-c', end.uris.uri, ...words];
  const run = (command: string[], timeoutMs = VIRSH_TIMEOUT_MS) => runCommand(command, { timeoutMs });
  /** The ledger's undo of the domain on a host: virsh there over SSH, so it works without this run's helper. */
  const registered = new Set<string>();
  const registerOn = async (end: LibvirtEnd) => {
    if (registered.has(end.entry.name)) return;
    registered.add(end.entry.name);
    const onHost = (verb: string) => end.host.commandLine(['virsh', '-c', 'qemu:///system', verb, name]);
    await resources.register(`libvirt domain ${name} on host ${end.entry.name} (definition)`, { kind: 'command', command: onHost('undefine'), ignoreFailure: LIBVIRT_DOMAIN_GONE });
    await resources.register(`libvirt domain ${name} on host ${end.entry.name} (running)`, { kind: 'command', command: onHost('destroy'), ignoreFailure: LIBVIRT_DOMAIN_GONE });
  };
  const state = async (end: LibvirtEnd) => {
    const outcome = await run(virsh(end, 'domstate', name));
    return outcome.ok ? outcome.stdout.trim() : `unknown (${lastLine(outcome.stderr)})`;
  };
  const readSerial = async (end: LibvirtEnd, path: string) => {
    const outcome = await end.host.run(['cat', '--', path], { timeoutMs: 20_000 });
    return outcome.ok ? outcome.stdout : '';
  };
  const reachAgent = async (end: LibvirtEnd): Promise<{ agent: GuestAgent | null; agentProblem: string | null }> => {
    try {
      return { agent: await GuestAgent.reach(new VirshAgentTransport(end.uris.uri, name), { timeoutMs: AGENT_TIMEOUT_MS }), agentProblem: null };
    } catch (error) {
      return { agent: null, agentProblem: errorMessage(error) };
    }
  };

  /** Starts the defined domain on `end` and waits for the guest's ready line and its agent. */
  const boot = async (end: LibvirtEnd) => {
    const started = performance.now();
    const start = await run(virsh(end, 'start', name), 120_000);
    if (!start.ok) throw new Error(`host ${end.entry.name}: virsh start ${name}: ${lastLine(start.stderr)}`);
    const bootTimeoutMs = BOOT_TIMEOUT_MS[choice.accel];
    log(`libvirt domain ${name} started on host ${end.entry.name}; waiting for the guest to boot (up to ${Math.round(bootTimeoutMs / 1000)} s)…`);
    let gone: string | null = null;
    const path = spec.serialLog;
    const { bootSeconds } = await waitForReady({
      serialLog: `${path} on host ${end.entry.name}`,
      readSerial: async () => {
        const now = await state(end);
        if (now !== 'running') gone = `the domain is ${now} on host ${end.entry.name}`;
        return readSerial(end, path);
      },
      intervalMs: LAB_SERIAL_POLL_MS,
      started,
      bootTimeoutMs,
      exited: () => gone !== null,
      died: () => gone ?? 'running',
      expectedNetwork: `${address}/${prefix}`,
    });
    const reached = await reachAgent(end);
    if (!reached.agent) throw new Error(`host ${end.entry.name}: the guest booted but its agent does not answer through libvirt: ${reached.agentProblem}`);
    log(`guest ${name} booted on host ${end.entry.name} in ${bootSeconds.toFixed(1)} s (libvirt)`);
    return { agent: reached.agent, bootSeconds };
  };

  const xmlFile = join(localDirectory, 'domain.xml');
  await writeFile(xmlFile, buildDomainXml(spec));
  await registerOn(source);
  const defined = await run(virsh(source, 'define', xmlFile));
  if (!defined.ok) throw new Error(`host ${source.entry.name}: virsh define: ${lastLine(defined.stderr)}`);
  const first = await boot(source);
  let current: { end: LibvirtEnd; agent: GuestAgent | null; agentProblem: string | null } = { end: source, agent: first.agent, agentProblem: null };
  const agent = first.agent;
  const dataMount = await prepareGuestDataDirectory((command, options) => agent.exec(command, options)).catch((error: unknown) => {
    throw new Error(`host ${source.entry.name}: the guest's data directory: ${errorMessage(error)}`, { cause: error });
  });
  const exec = async (command: readonly string[], options?: CommandOptions): Promise<CommandOutcome> => {
    if (!current.agent) throw new Error(`the lab guest's agent on host ${current.end.entry.name} does not answer: ${current.agentProblem}`);
    return current.agent.exec(command, options);
  };
  const other = (end: LibvirtEnd) => (end === source ? destination : source);
  const keep = await virshKeepsCompleted();
  let running: { virsh: ReturnType<typeof startBackground>; abort: string[] } | null = null;

  const labMigration: TargetLabMigration = {
    method: `${version}: virsh migrate --live (pre-copy) over TCP between lab hosts ${source.entry.name} and ${destination.entry.name} (their test addresses), each libvirtd reached over qemu+ssh://; shared qcow2 disk in ${plan.imageDirectory} (checked by isobench, hence --unsafe), cache=${LAB_DISK.cache}; QEMU as root (no DAC relabelling)`,
    programs: { udpEcho: UDP_ECHO_PATH, dirtier: DIRTIER_PATH },
    watch: plan.watch,
    where: () => current.end.entry.name,
    alive: async () => (await state(current.end)) === 'running',
    async recover() {
      const end = current.end;
      const problem = serialProblem(await readSerial(end, spec.serialLog));
      const reason = `the domain is ${await state(end)} on host ${end.entry.name}${problem ? `; its console: ${problem}` : ''}`;
      current.agent?.close();
      await run(virsh(end, 'destroy', name));
      log(`${plan.configuration}: ${reason}; starting it again there`);
      const again = await boot(end);
      current = { end, agent: again.agent, agentProblem: null };
      return { reason, bootSeconds: again.bootSeconds };
    },
    async migrate(request: LabMigrationRequest): Promise<LabMigrationReport> {
      const from = current.end;
      const to = other(from);
      const ends: LabMigrationEnds = { source: { host: from.entry.name, testAddress: from.entry.testAddress }, destination: { host: to.entry.name, testAddress: to.entry.testAddress }, uri: null };
      let stage = 'checking the destination address';
      const failed = (reason: string, last: MigrationSnapshot | null = null): LabMigrationReport => ({
        outcome: { ...ends, kind: 'failed', stage, reason, last }, figuresFrom: 'libvirt', switchOver: null, destinationSerialLog: null,
      });
      try {
        await plan.guard(to.entry.testAddress);
        ends.uri = `tcp://${to.entry.testAddress}`;
        stage = 'preparing the destination';
        serialCount += 1;
        const oldSerial = spec.serialLog;
        const newSerial = serialPath();
        const dumped = await run(virsh(from, 'dumpxml', '--migratable', name));
        if (!dumped.ok) return failed(`virsh dumpxml on host ${from.entry.name}: ${lastLine(dumped.stderr)}`);
        if (!dumped.stdout.includes(`'${oldSerial}'`)) return failed(`the domain XML on host ${from.entry.name} does not name its console file ${oldSerial}`);
        const migrationXml = join(localDirectory, `migration-${serialCount}.xml`);
        await writeFile(migrationXml, dumped.stdout.split(`'${oldSerial}'`).join(`'${newSerial}'`));
        await registerOn(to);
        // Statistics kept from an earlier job would be read as this one's after an abort (see libvirt-migration.ts).
        for (const words of [['domjobinfo', name, '--completed'], ['migrate-setmaxdowntime', name, String(request.downtimeLimitMs)]]) {
          const command = virsh(from, ...words);
          const outcome = await run(command);
          if (!outcome.ok) return failed(`virsh ${words[0]} on host ${from.entry.name}: ${lastLine(outcome.stderr)}`);
        }

        stage = 'migrating';
        const command = labMigrateCommand({ sourceUri: from.uris.uri, domain: name, destinationUri: to.uris.uri, bandwidthMiBs: Math.max(1, Math.round(request.maxBandwidthBytesPerSecond / MIB)), xmlFile: migrationXml, destinationAddress: to.entry.testAddress });
        const began = performance.now();
        const startedAtMs = Date.now();
        let aborted = false;
        let ran: CommandOutcome;
        try {
          const child = startBackground(command, { timeoutMs: request.timeLimitMs + ABORT_GRACE_MS + VIRSH_TIMEOUT_MS });
          running = { virsh: child, abort: virsh(from, 'domjobabort', name) };
          const first = await Promise.race([child.exited, sleep(request.timeLimitMs).then(() => 'limit' as const)]);
          if (first === 'limit') {
            aborted = true;
            await run(virsh(from, 'domjobabort', name));
          }
          ran = await child.exited;
        } finally {
          running = null;
        }
        const endedAtMs = Date.now();
        const wallMs = performance.now() - began;
        const end = ran.ok ? ({ kind: 'completed' } as const) : aborted ? ({ kind: 'aborted', detail: '' } as const) : ({ kind: 'failed', error: lastLine(ran.stderr || ran.stdout) } as const);

        stage = 'reading the job statistics';
        const jobCommand = virsh(from, 'domjobinfo', name, '--completed', ...(keep ? ['--keep-completed'] : []), ...(end.kind === 'completed' ? [] : ['--anystats']));
        let job: LibvirtJobInfo | null = null;
        let jobProblem: string | undefined;
        const read = await run(jobCommand);
        try {
          if (!read.ok) throw new Error(lastLine(read.stderr));
          const parsed = parseDomjobinfo(read.stdout, jobCommand);
          jobProblem = notThisJob(parsed, end);
          if (jobProblem === undefined) job = parsed;
        } catch (error) {
          jobProblem = errorMessage(error);
        }
        const shown = (words: string[]) => words.map((word) => (word === from.uris.uri ? from.uris.shown : word === to.uris.uri ? to.uris.shown : word));
        const libvirt: LibvirtMigrationRecord = { destinationUri: to.uris.shown, migrateCommand: shown(command), job, ...(jobProblem ? { jobProblem } : {}), keptCompleted: keep };
        stage = 'migrating';
        if (end.kind === 'failed') return { ...failed(`virsh migrate: ${end.error}`, snapshotFromJob(job, 'failed', endedAtMs, end.error)), libvirt };
        if (end.kind === 'aborted') {
          const last = snapshotFromJob(job, 'cancelled', endedAtMs);
          // libvirt keeps no statistics of a cancelled migration: its wall time is the total time then.
          last.totalTimeMs ??= Math.round(wallMs);
          const outcome: LabMigrationOutcome = { ...ends, kind: 'not-converged', timeLimitMs: request.timeLimitMs, last };
          return { outcome, figuresFrom: 'libvirt', libvirt, switchOver: null, destinationSerialLog: null };
        }

        stage = 'switching over';
        spec.serialLog = newSerial;
        current.agent?.close();
        const [runState, sourceState] = [await state(to), await state(from)];
        const reached = await reachAgent(to);
        current = { end: to, ...reached };
        const outcome: LabMigrationOutcome = {
          ...ends, kind: 'completed', figures: figuresFromJob(job), destinationRunState: runState, sourceGone: sourceState !== 'running' && sourceState !== 'paused', startedAtMs, wallMs, last: snapshotFromJob(job, 'completed', endedAtMs),
        };
        return {
          outcome,
          figuresFrom: 'libvirt',
          libvirt,
          switchOver: { runState, serialProblem: serialProblem(await readSerial(to, newSerial)), agentProblem: reached.agentProblem },
          destinationSerialLog: `${newSerial} on host ${to.entry.name}`,
        };
      } catch (error) {
        return failed(errorMessage(error));
      }
    },
  };

  const facts: TargetFacts = {
    target: plan.configuration,
    state: 'ready',
    serverAddress: address,
    networkPath: `lab host ${plan.watch?.name ?? '(no watch host)'} -> lab link -> ${source.entry.name}'s bridge ${source.entry.bridge} -> libvirt's tap -> virtio-net (userspace QEMU) -> guest; after a migration the same through ${destination.entry.name}'s bridge ${destination.entry.bridge}`,
    storage: `guest ${dataMount.fstype} on virtio-blk ${GUEST_ROOT_DEVICE} (qcow2 overlay in shared-dir ${plan.imageDirectory}, cache=${LAB_DISK.cache}, aio=${LAB_DISK.aio})`,
    labels: {
      isolation: 'hardware virtualization',
      accel: choice.accel,
      accelRequested: plan.options.accel,
      accelDecision: choice.decision,
      cpuModel: choice.cpuModel,
      vcpus: plan.options.vcpus,
      memoryMiB: plan.options.memoryMiB,
      machine: 'q35',
      disk: 'qcow2',
      cacheMode: LAB_DISK.cache,
      aio: LAB_DISK.aio,
      vhost: false,
      vmManager: 'libvirt',
      libvirt: version,
      libvirtUri: source.uris.shown,
      host: source.entry.name,
      labDestination: destination.entry.name,
      labWatch: plan.watch?.name ?? null,
      sharedDir: plan.imageDirectory,
      imageRecipe: image.recipeHash,
      bootSeconds: Number(first.bootSeconds.toFixed(1)),
      serialLog: `${posix.join(runDirectory, 'serial-0.log')} on host ${source.entry.name}`,
    },
    degraded: [...choice.degraded, labVhostDegraded(ends)],
  };
  log(`${plan.configuration} ready on lab host ${source.entry.name}: ${choice.accel.toUpperCase()} libvirt domain at ${address}, ${plan.options.vcpus} vCPU, ${plan.options.memoryMiB} MiB; migrates to ${destination.entry.name} and back`);

  let tornDown = false;
  return {
    name: plan.configuration,
    facts,
    serverAddress: address,
    dataDirectory: GUEST_DATA_DIRECTORY,
    exec,
    startService: (service) => startAgentService(exec, () => current.agent, address, service),
    // The migration suite records no CPU-cost metric (lab-migration.ts keepsMetric).
    cpuCounters: async () => [],
    pause: async () => {
      await run(virsh(current.end, 'suspend', name));
    },
    resume: async () => {
      await run(virsh(current.end, 'resume', name));
    },
    labMigration,
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      current.agent?.close();
      const migrating = running;
      if (migrating) {
        await run(migrating.abort).catch(() => {});
        await migrating.virsh.stop().catch(() => {});
      }
      // The definitions and runs on both hosts go with the ledger's undo (virsh there over SSH).
    },
  };
}
