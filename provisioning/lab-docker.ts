/**
 * Lab mode's Docker targets (issue 14): `docker-host` and `docker-nat` on an inventory host's own
 * Docker daemon, reached over SSH through `docker system dial-stdio` (hosts/dial-stdio.ts), with the
 * client on another host. The daemon is the user's: isobench neither installs nor starts it there.
 *
 * - docker-host: `NetworkMode: host`, the container shares the server host's network namespace;
 *   servers bind the host's test address.
 * - docker-nat: the default bridge; every port the suites declare is published on the host's test
 *   address only (never 0.0.0.0), so the client's traffic crosses the host's iptables DNAT. It runs
 *   alone in a lab run (harness/lab.ts refuses more): that DNAT would also take the traffic of any
 *   other target on the host's one test address and the same ports.
 *
 * Storage as the single-host driver's: `/data` on a labelled named volume of the host's daemon, or,
 * with `--storage overlay`, on the container's own layers; fio's file and MariaDB's data directory go
 * there, so their I/O reaches the host's disk under its daemon's data root. What the suites read
 * beside the container is the host's, never this machine's: random-io's disk requests through the
 * placement's `targetHost` (the host's /sys/block over SSH), mysql's buffer pool from /proc/meminfo
 * as the container sees it (the host's memory; no limit is set). The container's own CPU time is
 * not read (LAB_CONTAINER_CPU_NOT_MEASURED, in `degraded`).
 *
 * Everything created on the host (volume, container, every server started in it) is registered in
 * the run's ledger as a command that removes it over SSH (`docker rm --force`, `kill`), so `cleanup`
 * reaches a crashed run's leftovers on that host; teardown removes them on success and failure.
 */
import type { ServicePort, ProvisionedTarget, ServiceSpec, TargetService } from '../contracts/target.js';
import type { CommandOptions, CommandOutcome } from '../core/exec.js';
import { errorMessage } from '../core/errors.js';
import type { ResourceRegistry } from '../core/ledger.js';
import { withDeadline } from '../core/poll.js';
import { DialStdioAgent, dialStdioCommand } from '../hosts/dial-stdio.js';
import type { SshHost } from '../hosts/host.js';
import type { InventoryHost } from '../hosts/inventory.js';
import type { TargetFacts } from '../results/schema.js';
import { createDialedDockerClient, dockerErrorMessage, DockerStepError, dockerStep, type DockerClient } from './docker/client.js';
import { checkPublishedPorts, containerName, startExecService, toContainerState, DATA_DIRECTORY, inspectRunning, natPortBindings, natPublishedPorts, objectLabels, CONTAINER_START_TIMEOUT_MS, NAT_PROBE_PORT } from './docker/container-target.js';
import { readDaemonInfo, type DaemonInfo } from './docker/daemon.js';
import { runContainerExec } from './docker/exec.js';
import { ensureDockerImage, type RootfsTree } from './docker/image.js';
import { parseDnatRules } from './docker/nat.js';
import { nextInstanceSuffix } from './instance-suffix.js';
import { LAB_CYCLES_NOT_MEASURED } from './lab-native.js';

/** The Docker targets lab mode provisions: their driver names and network modes. */
export const LAB_DOCKER_NETWORKS = { 'docker-host': 'host', 'docker-nat': 'nat' } as const;
/** `docker-host` or `docker-nat`. */
export type LabDockerTargetName = keyof typeof LAB_DOCKER_NETWORKS;

/** ms the host's daemon has to answer `GET /_ping` over SSH (the ssh session and the docker CLI's start included). */
export const LAB_DOCKER_PING_TIMEOUT_MS = 30_000;

/**
 * Why the container's own CPU time is absent in lab mode (TargetFacts.degraded): the local driver
 * reads the container's cgroup from this machine's /sys/fs/cgroup, which describes no lab host.
 */
export const LAB_CONTAINER_CPU_NOT_MEASURED =
  "the container's own CPU time (its cgroup) is not read on lab hosts; whole-host CPU of each host is (cpu_ns_per_byte_host NAME, cpu_us_per_tx_host NAME)";

/** What the placement gives a Docker target beyond the hosts. */
export interface LabDockerContext {
  /** The configuration, e.g. `docker-nat:overlay`: the target's name and `facts.target`. */
  configuration: string;
  /** Which Docker target: fixes the network mode. */
  driver: LabDockerTargetName;
  /** `volume` (a Docker volume at /data) or `overlay` (the container's own layers). */
  storage: 'volume' | 'overlay';
  /** Ports the chosen suites' servers listen on (docker-nat publishes them at create). */
  servicePorts: readonly ServicePort[];
  /** The run's image tree on this machine (built or found once per run), imported when the host lacks it. */
  rootfs: (log: (line: string) => void) => Promise<RootfsTree>;
  resources: ResourceRegistry;
  log: (line: string) => void;
}

/** A host's daemon reached over SSH: the dockerode client on the dial-stdio agent, and how to end it. */
export interface LabDockerConnection {
  client: DockerClient;
  agent: DialStdioAgent;
}

/**
 * Connects to `host`'s Docker daemon over SSH and checks that it answers.
 * @throws Error `host NAME: docker does not answer over SSH: WHY` (WHY: ssh's or the docker CLI's
 *   last line, e.g. `docker: command not found`, `Cannot connect to the Docker daemon…`, or the
 *   deadline); the agent is closed then.
 */
export async function connectLabDocker(host: SshHost): Promise<LabDockerConnection> {
  let lastFailure = '';
  const agent = new DialStdioAgent({
    command: dialStdioCommand(host.sshPrefix()),
    onFailure: (end) => {
      lastFailure = end.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${end.exitCode ?? end.signal}`;
    },
  });
  const client = createDialedDockerClient(agent);
  try {
    await withDeadline(client.ping(), LAB_DOCKER_PING_TIMEOUT_MS, `GET /_ping within ${LAB_DOCKER_PING_TIMEOUT_MS / 1000} s`);
  } catch (error) {
    await agent.close();
    // The child's own words (ssh's, the docker CLI's) say more than the HTTP client's "socket hang up".
    throw new Error(`host ${host.name}: docker does not answer over SSH: ${lastFailure || dockerErrorMessage(error)} (${host.via})`, { cause: error });
  }
  return { client, agent };
}

/**
 * The command that stops a program the host's daemon reported by pid, and its children, on the
 * host: SIGTERM, up to `graceMs` for it to go, then SIGKILL. `pkill -P` (procps) reaches the
 * children where it exists. Exit 0 whether or not the program was still there.
 */
export function remoteStopCommand(pid: number, graceMs: number): string[] {
  const tenths = Math.max(0, Math.ceil(graceMs / 100));
  const script = [
    'p=$1; n=$2',
    'command -v pkill >/dev/null 2>&1 && pkill -TERM -P "$p"',
    'kill -TERM "$p" 2>/dev/null || exit 0',
    'i=0; while kill -0 "$p" 2>/dev/null && [ "$i" -lt "$n" ]; do sleep 0.1; i=$((i+1)); done',
    'command -v pkill >/dev/null 2>&1 && pkill -KILL -P "$p"',
    'kill -KILL "$p" 2>/dev/null; exit 0',
  ].join('\n');
  return ['sh', '-c', script, 'sh', String(pid), String(tenths)];
}

/**
 * Provisions a Docker target on the server host's daemon. A failure removes what this provisioning
 * created and throws a DockerStepError (or the connection's one line) naming the host.
 * @param server The server host (SSH: the daemon is reached through its ssh options).
 * @param entry Its inventory entry (the test address servers bind or ports are published on).
 * @param client The client host's inventory entry (for the recorded network path).
 */
export async function labDockerTarget(server: SshHost, entry: InventoryHost, client: InventoryHost, context: LabDockerContext): Promise<ProvisionedTarget> {
  const { resources, log } = context;
  const network = LAB_DOCKER_NETWORKS[context.driver];
  const published = natPublishedPorts(context.servicePorts);
  const runId = resources.runId;
  const name = `${containerName(context.driver, runId)}${nextInstanceSuffix(runId, context.driver)}`;
  const labels = objectLabels(context.driver, runId);
  const created: number[] = [];
  // Undo commands run on the host over ssh: `cleanup` after a crash reaches it the same way.
  const register = async (description: string, command: string[], ignoreFailure: string) => {
    const id = await resources.register(`${description} on host ${server.name}`, { kind: 'command', command: server.commandLine(command), ignoreFailure });
    created.push(id);
    return id;
  };
  const { client: docker, agent } = await connectLabDocker(server);
  try {
    const daemon = await readDaemonInfo(docker, async () => null);
    const rootfs = await dockerStep('building the image tree (debootstrap)', () => context.rootfs(log), 30 * 60_000);
    const image = await ensureDockerImage(docker, rootfs, { log: (line) => log(`host ${server.name}: ${line}`) });

    let volumeName: string | null = null;
    if (context.storage === 'volume') {
      volumeName = `${name}-data`;
      await dockerStep(`creating volume ${volumeName} on host ${server.name}`, () => docker.createVolume({ Name: volumeName!, Labels: labels }));
      await register(`Docker volume ${volumeName}`, ['docker', 'volume', 'rm', '--force', volumeName], 'no such volume|No such volume');
    }

    const ports = network === 'nat' ? natPortBindings(entry.testAddress, published) : null;
    const container = await dockerStep(`creating container ${name} on host ${server.name}`, () =>
      docker.createContainer({
        name,
        Image: image.tag,
        Cmd: ['sleep', 'infinity'],
        Hostname: context.driver,
        Labels: labels,
        ...(ports ? { ExposedPorts: ports.exposed } : {}),
        HostConfig: {
          NetworkMode: network === 'host' ? 'host' : 'bridge',
          ...(ports ? { PortBindings: ports.bindings } : {}),
          ...(volumeName ? { Mounts: [{ Type: 'volume', Source: volumeName, Target: DATA_DIRECTORY }] } : {}),
        },
      }),
    );
    await register(`Docker container ${name}`, ['docker', 'rm', '--force', '--volumes', container.id], 'No such container');

    const startBegin = performance.now();
    await dockerStep(`starting container ${name} on host ${server.name}`, () => container.start(), CONTAINER_START_TIMEOUT_MS);
    const startMs = performance.now() - startBegin;
    const inspect = await inspectRunning(docker, container.id, name);

    let bindAddress: string;
    let networkPath: string;
    const labLink = `${client.name} (${client.testAddress}) -> lab link -> ${server.name} (${entry.testAddress})`;
    let natRule: string | null = null;
    if (network === 'nat') {
      bindAddress = inspect.NetworkSettings.Networks?.bridge?.IPAddress ?? '';
      if (!bindAddress) throw new DockerStepError(`reading ${name}'s address`, 'the container has no address on the default bridge');
      await dockerStep(`checking ${name}'s published ports`, async () => checkPublishedPorts(inspect.NetworkSettings.Ports, entry.testAddress, published));
      natRule = await dnatRuleOnHost(server, entry.testAddress, bindAddress);
      networkPath = `${labLink} -> iptables DNAT -> docker0 -> container veth (${bindAddress})`;
    } else {
      bindAddress = entry.testAddress;
      networkPath = `${labLink} host stack (container in the host network namespace)`;
    }

    const stopProgram = async (pid: number, graceMs: number, onSignal: (signal: string) => void) => {
      onSignal(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      await server.run(remoteStopCommand(pid, graceMs), { timeoutMs: graceMs + 15_000 });
    };
    const exec = (command: readonly string[], execOptions?: CommandOptions): Promise<CommandOutcome> =>
      runContainerExec({ client: docker, containerId: container.id, containerName: name, command, options: execOptions, timeoutMs: execOptions?.timeoutMs, stopProgram });

    const prepared = await exec(['mkdir', '-p', DATA_DIRECTORY], { timeoutMs: 30_000 });
    if (!prepared.ok) throw new DockerStepError(`creating ${DATA_DIRECTORY} in ${name}`, (prepared.stderr || prepared.stdout).trim());
    const mounted = await exec(['findmnt', '--noheadings', '--output', 'FSTYPE', '--target', DATA_DIRECTORY], { timeoutMs: 30_000 });
    const fsType = (mounted.ok ? mounted.stdout.trim() : '') || 'unknown';

    // Where the volume's files are on the host (under its daemon's data root): the disk fio's and MariaDB's I/O reaches.
    const volumeSource = inspect.Mounts?.find((mount) => mount.Destination === DATA_DIRECTORY)?.Source ?? null;
    const storage = labDockerStorage({ storage: context.storage, host: server.name, volumeName, volumeSource, storageDriver: daemon.storageDriver, fsType });
    const facts = labDockerFacts({ context, server, entry, daemon, imageTag: image.tag, imageId: image.id, imageReused: image.reused, imageSeconds: image.seconds, containerId: inspect.Id, storage, fsType, startMs, networkPath, natRule });
    log(`${context.configuration}: container ${name} (${container.id.slice(0, 12)}) up on host ${server.name} in ${Math.round(startMs)} ms; ${facts.storage}`);

    const started = new Set<TargetService>();
    async function startService(spec: ServiceSpec): Promise<TargetService> {
      const service = await startExecService(
        {
          client: docker, containerId: container.id, containerName: name, network, published, bindAddress, exec, resources, stopProgram, where: `host ${server.name}: `,
          // The pid is the host's: the ledger's undo signals it there over SSH.
          register: (pid) => resources.register(`${spec.name} server in ${name} on host ${server.name} (pid ${pid} there)`, { kind: 'command', command: server.commandLine(remoteStopCommand(pid, 0)) }),
        },
        spec,
      );
      const tracked: TargetService = {
        ...service,
        async stop() {
          started.delete(tracked);
          await service.stop();
        },
      };
      started.add(tracked);
      return tracked;
    }

    const handle = docker.getContainer(container.id);
    let paused = false;
    let tornDown = false;
    return {
      name: context.configuration,
      facts,
      serverAddress: entry.testAddress,
      dataDirectory: DATA_DIRECTORY,
      exec,
      startService,
      // Absent, never this machine's cgroup: LAB_CONTAINER_CPU_NOT_MEASURED is in `degraded`.
      cpuCounters: async () => [],
      async pause() {
        if (paused || tornDown) return;
        await dockerStep(`pausing ${name} on host ${server.name}`, () => toContainerState(handle, true, () => handle.pause()));
        paused = true;
      },
      async resume() {
        if (!paused || tornDown) return;
        await dockerStep(`resuming ${name} on host ${server.name}`, () => toContainerState(handle, false, () => handle.unpause()));
        paused = false;
      },
      async teardown() {
        if (tornDown) return;
        tornDown = true;
        await Promise.all([...started].map((service) => service.stop()));
        for (const id of [...created].reverse()) {
          await resources.undo(id).catch((error: unknown) => log(`${context.configuration}: teardown on host ${server.name}: ${errorMessage(error)}`));
        }
        await agent.close();
      },
    };
  } catch (error) {
    for (const id of created.reverse()) await resources.undo(id).catch(() => {});
    await agent.close();
    if (error instanceof DockerStepError) throw new DockerStepError(`host ${server.name}: ${error.step}`, error.detail, { cause: error });
    throw new DockerStepError(`host ${server.name}: provisioning ${context.driver}`, dockerErrorMessage(error), { cause: error });
  }
}

/**
 * Docker's DNAT rule for the probe port on the host (`iptables -t nat -S DOCKER -v` over SSH), as
 * evidence that published ports are rewritten by the host's kernel toward the container.
 * @returns The rule as `ADDRESS:PORT -> CONTAINER:PORT`.
 * @throws DockerStepError when iptables cannot be read there or there is no such rule.
 */
async function dnatRuleOnHost(server: SshHost, publishAddress: string, containerAddress: string): Promise<string> {
  return dockerStep(`reading Docker's DNAT rules on host ${server.name}`, async () => {
    const outcome = await server.run(['iptables', '-w', '-t', 'nat', '-S', 'DOCKER', '-v'], { timeoutMs: 20_000 });
    if (!outcome.ok) throw new Error(`\`iptables -t nat -S DOCKER\` failed: ${(outcome.stderr || outcome.stdout).trim().split('\n').pop() ?? ''}`);
    const port = NAT_PROBE_PORT.port;
    const rule = parseDnatRules(outcome.stdout).find((candidate) => candidate.destination === publishAddress && candidate.protocol === 'tcp' && candidate.port === port && candidate.to === `${containerAddress}:${port}`);
    if (!rule) throw new Error(`Docker made no DNAT rule ${publishAddress}:${port} -> ${containerAddress}:${port}`);
    return `${publishAddress}:${port} -> ${rule.to}`;
  });
}

/** What labDockerStorage describes: the storage variant and where its files are on the host. */
export interface LabDockerStorageInput {
  /** `volume`: a named volume at DATA_DIRECTORY; `overlay`: the container's own layers. */
  storage: 'volume' | 'overlay';
  /** The inventory name of the host whose daemon runs the container. */
  host: string;
  /** The volume's name (`volume` only). */
  volumeName: string | null;
  /** The volume's directory on the host, as the daemon's inspect gives the mount's `Source`; null when it gave none. */
  volumeSource: string | null;
  /** The daemon's storage driver, e.g. `overlay2` (what `overlay` storage is). */
  storageDriver: string;
  /** The file system /data is on as `findmnt` in the container names it, e.g. `ext4`, `overlay`. */
  fsType: string;
}

/**
 * TargetFacts.storage of a lab Docker target, naming the host as the single-host driver's names
 * this machine's volume path: `Docker volume NAME at /data on host sut (/var/lib/docker/volumes/NAME/_data, ext4)`,
 * or `container's own layered file system (overlay2) at /data on host sut (overlay)`. The path is the
 * host's, read from its daemon, so random-io's figures are tied to the host's disk under it.
 */
export function labDockerStorage(input: LabDockerStorageInput): string {
  if (input.storage === 'overlay') return `container's own layered file system (${input.storageDriver}) at ${DATA_DIRECTORY} on host ${input.host} (${input.fsType})`;
  const where = input.volumeSource !== null ? `${input.volumeSource}, ` : '';
  return `Docker volume ${input.volumeName ?? 'unnamed'} at ${DATA_DIRECTORY} on host ${input.host} (${where}${input.fsType})`;
}

/** The facts a lab Docker target records: the local driver's labels where they apply, and the host. */
function labDockerFacts(input: {
  context: LabDockerContext;
  server: SshHost;
  entry: InventoryHost;
  daemon: DaemonInfo;
  imageTag: string;
  imageId: string;
  imageReused: boolean;
  imageSeconds: number;
  containerId: string;
  /** TargetFacts.storage, from labDockerStorage. */
  storage: string;
  fsType: string;
  startMs: number;
  networkPath: string;
  natRule: string | null;
}): TargetFacts {
  const { context, server, daemon } = input;
  const network = LAB_DOCKER_NETWORKS[context.driver];
  const storage = input.storage;
  return {
    target: context.configuration,
    state: 'ready',
    serverAddress: input.entry.testAddress,
    networkPath: input.networkPath,
    storage,
    labels: {
      host: server.name,
      via: server.via,
      dockerVia: `${server.via} docker system dial-stdio`,
      isolation: 'container',
      storage: context.storage,
      network,
      dockerVersion: daemon.version,
      dockerApiVersion: daemon.apiVersion,
      storageDriver: daemon.storageDriver,
      cgroupVersion: daemon.cgroupVersion,
      cgroupDriver: daemon.cgroupDriver,
      securityOptions: daemon.securityOptions.join('; ') || 'none',
      dockerRootDir: daemon.dockerRootDir,
      dataFilesystem: input.fsType,
      image: input.imageTag,
      imageId: input.imageId.replace(/^sha256:/, '').slice(0, 12),
      imageReused: input.imageReused,
      imageSeconds: Number(input.imageSeconds.toFixed(2)),
      containerId: input.containerId.slice(0, 12),
      containerStartMs: Math.round(input.startMs),
      cpuAccounting: 'none (lab host)',
      daemonStartedByIsobench: false,
      ...(input.natRule ? { natPath: 'iptables DNAT', natRule: input.natRule } : {}),
    },
    degraded: [LAB_CYCLES_NOT_MEASURED, LAB_CONTAINER_CPU_NOT_MEASURED],
  };
}
