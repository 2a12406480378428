import type { CommandOptions, CommandOutcome } from '../../core/exec.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { runChecked } from '../../core/exec.js';
import { processStartTicks } from '../../core/proc.js';
import type { TargetFacts } from '../../results/schema.js';
import { waitForListening } from '../service-readiness.js';
import { BRIDGE } from '../topology.js';
import type { CpuCounter } from '../../core/cpu-meter.js';
import type { ToolRequirement } from '../../core/tools.js';
import type { ProvisionedTarget, ServicePort, ServiceSpec, TargetService } from '../../contracts/target.js';
import type { ProvisionContext, TargetDisplay, TargetDriver } from '../types.js';
import { dockerLeftovers } from './leftovers.js';
import { cpuAccountingOf, readCpuSeconds, type CpuAccounting } from './cgroup.js';
import { dockerErrorMessage, DockerStepError, dockerStatusCode, dockerStep, LABEL, RUN_LABEL, TARGET_LABEL, type DockerClient } from './client.js';
import { dockerAvailability, ensureDockerDaemon, type DaemonInfo } from './daemon.js';
import { runContainerExec, startContainerExec, type ExecRequest } from './exec.js';
import { ensureDockerImage, type DockerImage } from './image.js';
import { connectProbeCommand, findDockerProxies, processesCpuSeconds, readDnatRules, type DockerProxy } from './nat.js';
import { nextInstanceSuffix } from '../instance-suffix.js';

/** Where the workload's data lives inside the container, whatever the storage variant. */
export const DATA_DIRECTORY = '/data';

/**
 * The TCP port docker-nat's path check connects to before any measurement (nothing listens there;
 * the container's kernel must refuse it). Published even when no chosen suite declares a TCP port.
 */
export const NAT_PROBE_PORT: ServicePort = { port: 5201, protocols: ['tcp'], why: 'the NAT path check' };

/**
 * Ports docker-nat publishes, fixed when the container is created (Docker cannot add a published port
 * to a running container): the probe port and every port the chosen suites declare, merged by port.
 */
export function natPublishedPorts(servicePorts: readonly ServicePort[]): ServicePort[] {
  const merged = new Map<number, ServicePort>();
  for (const entry of [NAT_PROBE_PORT, ...servicePorts]) {
    const known = merged.get(entry.port);
    merged.set(entry.port, known
      ? { port: entry.port, protocols: [...new Set([...known.protocols, ...entry.protocols])], why: `${known.why}, ${entry.why}` }
      : entry);
  }
  return [...merged.values()].sort((a, b) => a.port - b.port);
}

/**
 * Deadline, in ms, for `POST /containers/{id}/start`; past it provisioning fails. The start time
 * actually taken is recorded as `containerStartMs`.
 */
export const CONTAINER_START_TIMEOUT_MS = 60_000;
const SERVICE_STOP_GRACE_MS = 2_000;

/**
 * Pauses or unpauses a container, judged by the state Docker reports rather than by the call alone:
 * once in a CI run here, `unpause` answered 409 "is not paused" for a container isobench had paused
 * a trial earlier. Reaching the wanted state is what counts; any other failure is thrown.
 */
export async function toContainerState(container: Pick<ReturnType<DockerClient['getContainer']>, 'inspect'>, wantPaused: boolean, change: () => Promise<unknown>): Promise<void> {
  try {
    await change();
  } catch (error) {
    const state = (await container.inspect().catch(() => null)) as { State?: { Paused?: boolean; Running?: boolean } } | null;
    if (dockerStatusCode(error) !== 409 || state?.State?.Paused !== wantPaused) throw error;
  }
}

/** What startExecService needs: the container, where its servers bind, and how its ledger entry is made. */
export interface ExecServiceRequest {
  client: DockerClient;
  containerId: string;
  containerName: string;
  /** `nat`: the service's port must be among `published` (the container's published ports). */
  network: ContainerNetwork;
  published: readonly ServicePort[];
  bindAddress: string;
  exec: (command: readonly string[], options?: CommandOptions) => Promise<CommandOutcome>;
  resources: ResourceRegistry;
  /** Registers the server once it has a pid (a local process, or a `kill` over SSH on a lab host); returns the ledger id. */
  register: (pid: number) => Promise<number>;
  /** See ExecRequest.stopProgram (a lab host's daemon: the pid is the host's, signalled there). */
  stopProgram?: ExecRequest['stopProgram'];
  /** Put before an error's message, e.g. `host sut: `. */
  where?: string;
}

/**
 * Starts a suite's server with `docker exec` in a container and returns once it listens on its port;
 * the one way both Docker drivers (this one and provisioning/lab-docker.ts) start services. It is
 * stopped at its spec's timeout at the latest, and its ledger entry is forgotten when it stops.
 * @throws Error for a NAT port the suite did not declare, or when it never listens (its last output quoted).
 */
export async function startExecService(request: ExecServiceRequest, service: ServiceSpec): Promise<TargetService> {
  if (request.network === 'nat') {
    const entry = request.published.find((candidate) => candidate.port === service.port);
    const missing = service.protocols.filter((protocol) => !entry?.protocols.includes(protocol));
    if (missing.length > 0) {
      throw new Error(`docker-nat does not publish ${service.port}/${missing.join('+')}: the suite must declare it in its \`ports\``);
    }
  }
  const command = service.command({ address: request.bindAddress, port: service.port });
  const running = await startContainerExec({ client: request.client, containerId: request.containerId, containerName: request.containerName, command, ...(request.stopProgram ? { stopProgram: request.stopProgram } : {}) });
  let alive = true;
  void running.finished.then(() => (alive = false));
  const resourceId = running.pid === null ? null : await request.register(running.pid);
  const lifetime = setTimeout(() => void running.stop(0).catch(() => {}), service.timeoutMs);
  const stop = async () => {
    clearTimeout(lifetime);
    await running.stop(SERVICE_STOP_GRACE_MS).catch(() => {});
    await running.finished;
    if (resourceId !== null) await request.resources.forget(resourceId);
  };
  try {
    await waitForListening(request.exec, service.protocols, request.bindAddress, service.port, () => alive);
  } catch (error) {
    await stop();
    const outcome = await running.finished;
    const output = (outcome.stderr || outcome.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${request.where ?? ''}${(error as Error).message}${output ? `: ${output}` : ''}`, { cause: error });
  }
  return { spec: service, command: running.displayCommand, stop };
}

/**
 * `host`: `NetworkMode: host`, the host's network stack (docker-host). `nat`: Docker's default bridge,
 * reached through published ports and iptables DNAT (docker-nat).
 */
export type ContainerNetwork = 'host' | 'nat';

/** What distinguishes the two Docker drivers: their network mode and how reports draw them. */
export interface ContainerTargetSpec {
  name: 'docker-host' | 'docker-nat';
  network: ContainerNetwork;
  description: string;
  display: TargetDisplay;
}

/**
 * Host programs the Docker targets need beside the Engine API (which is spoken through dockerode):
 * the daemon itself, the undo commands the ledger and `cleanup` run, the image import, the NAT checks.
 */
export const DOCKER_HOST_TOOLS: readonly ToolRequirement[] = [
  { command: 'dockerd', debianPackage: 'docker.io', why: 'to run the Docker targets (isobench starts the daemon when none answers)' },
  { command: 'docker', debianPackage: 'docker.io', why: 'to remove containers and volumes after a crash (`npm run cleanup`)' },
  { command: 'start-stop-daemon', debianPackage: 'dpkg', why: 'to start dockerd in the background' },
  { command: 'tar', debianPackage: 'tar', why: 'to stream the image tree into `docker import`' },
  { command: 'iptables', debianPackage: 'iptables', why: "to read Docker's NAT rules and let isobench's bridge through DOCKER-USER" },
  { command: 'ip', debianPackage: 'iproute2', why: 'to give the bridge the address docker-nat publishes on' },
];

/** Container names and labels: `isobench-docker-nat-<runId>`, labels isobench=1 and isobench.run=<runId>. */
export function containerName(target: string, runId: string): string {
  return `isobench-${target}-${runId}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** The labels of every container and volume a run creates: `isobench=1`, `isobench.run=<runId>`, `isobench.target=<target>`. */
export function objectLabels(target: string, runId: string): Record<string, string> {
  return { [LABEL]: '1', [RUN_LABEL]: runId, [TARGET_LABEL]: target };
}

/** Docker's port bindings for docker-nat: every published port bound to one test address, never 0.0.0.0. */
export function natPortBindings(hostIp: string, published: readonly ServicePort[]): {
  exposed: Record<string, Record<string, never>>;
  bindings: Record<string, Array<{ HostIp: string; HostPort: string }>>;
} {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const { port, protocols } of published) {
    for (const protocol of protocols) {
      exposed[`${port}/${protocol}`] = {};
      bindings[`${port}/${protocol}`] = [{ HostIp: hostIp, HostPort: String(port) }];
    }
  }
  return { exposed, bindings };
}

/**
 * Checks the container's `NetworkSettings.Ports` as inspected.
 * @throws Error unless every published port of the container is bound to `hostIp` (and to nothing else).
 */
export function checkPublishedPorts(
  ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | undefined,
  hostIp: string,
  published: readonly ServicePort[],
): void {
  const expected = Object.keys(natPortBindings(hostIp, published).bindings);
  for (const key of expected) {
    const bound = ports?.[key];
    if (!bound || bound.length === 0) throw new Error(`port ${key} is not published`);
    for (const binding of bound) {
      if (binding.HostIp !== hostIp) throw new Error(`port ${key} is published on ${binding.HostIp || '0.0.0.0'}, not on ${hostIp}`);
    }
  }
}

interface ContainerInspect {
  Id: string;
  State: { Running: boolean; Paused: boolean; Pid: number; ExitCode: number; Error?: string; Status: string };
  NetworkSettings: {
    Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
    Networks?: Record<string, { IPAddress?: string }>;
  };
  HostConfig: { SecurityOpt?: string[] | null; NetworkMode?: string };
  AppArmorProfile?: string;
  Mounts?: Array<{ Type: string; Name?: string; Source: string; Destination: string }>;
}

/**
 * The two Docker drivers differ only in their network; everything else is here. Provisioning starts
 * dockerd when none answers, builds or reuses the image, creates one container for the whole run and
 * registers everything it creates in the run's ledger; a failure removes what was created and throws
 * a DockerStepError.
 */
export function containerDriver(spec: ContainerTargetSpec): TargetDriver {
  return {
    name: spec.name,
    description: spec.description,
    display: spec.display,
    configurable: { storage: ['volume', 'overlay'] },
    leftovers: dockerLeftovers,
    hostTools: DOCKER_HOST_TOOLS,
    defaultAvailability: async () => dockerAvailability(),
    provision: (context) => provisionContainer(spec, context),
  };
}

async function provisionContainer(spec: ContainerTargetSpec, context: ProvisionContext): Promise<ProvisionedTarget> {
  const { topology, resources, options, log } = context;
  const published = natPublishedPorts(context.servicePorts);
  const runId = resources.runId;
  const name = `${containerName(spec.name, runId)}${nextInstanceSuffix(runId, spec.name)}`;
  const labels = objectLabels(spec.name, runId);
  const created: number[] = [];
  const register = async (description: string, command: string[], ignoreFailure: string) => {
    const id = await resources.register(description, { kind: 'command', command, ignoreFailure });
    created.push(id);
    return id;
  };

  try {
    const daemon = await ensureDockerDaemon({ log });
    const client = daemon.client;
    // A daemon that just started has set FORWARD to DROP: let isobench's bridge through again.
    await dockerStep('allowing the test bridge through DOCKER-USER', () => topology.allowBridgeForwarding());

    const rootfs = await dockerStep('building the image tree (debootstrap)', () => context.image.rootfs(log), 30 * 60_000);
    const image = await ensureDockerImage(client, rootfs, { log });

    let volumeName: string | null = null;
    if (options.storage === 'volume') {
      volumeName = `${name}-data`;
      await dockerStep(`creating volume ${volumeName}`, () => client.createVolume({ Name: volumeName!, Labels: labels }));
      await register(`Docker volume ${volumeName}`, ['docker', 'volume', 'rm', '--force', volumeName], 'no such volume|No such volume');
    }

    let publishAddress: string | null = null;
    if (spec.network === 'nat') {
      // Its own address on the bridge: native and docker-host servers listen on the bridge's host
      // address and the same ports, and Docker's DNAT would steal their traffic if it matched it too.
      publishAddress = topology.allocateAddress(`${spec.name} published ports`);
      const cidr = `${publishAddress}/32`;
      await dockerStep(`adding ${cidr} to ${BRIDGE}`, () => runChecked(['ip', 'addr', 'add', cidr, 'dev', BRIDGE], { timeoutMs: 10_000 }));
      await register(`address ${cidr} on ${BRIDGE}`, ['ip', 'addr', 'del', cidr, 'dev', BRIDGE], 'Cannot find device|Cannot assign requested address|does not exist');
    }

    const ports = publishAddress ? natPortBindings(publishAddress, published) : null;
    const container = await dockerStep(`creating container ${name}`, () =>
      client.createContainer({
        name,
        Image: image.tag,
        Cmd: ['sleep', 'infinity'],
        Hostname: spec.name,
        Labels: labels,
        ...(ports ? { ExposedPorts: ports.exposed } : {}),
        HostConfig: {
          NetworkMode: spec.network === 'host' ? 'host' : 'bridge',
          ...(ports ? { PortBindings: ports.bindings } : {}),
          ...(volumeName ? { Mounts: [{ Type: 'volume', Source: volumeName, Target: DATA_DIRECTORY }] } : {}),
        },
      }),
    );
    await register(`Docker container ${name}`, ['docker', 'rm', '--force', '--volumes', container.id], 'No such container');

    const startBegin = performance.now();
    await dockerStep(`starting container ${name}`, () => container.start(), CONTAINER_START_TIMEOUT_MS);
    const startMs = performance.now() - startBegin;
    const inspect = await inspectRunning(client, container.id, name);

    let serverAddress: string;
    let bindAddress: string;
    let networkPath: string;
    if (spec.network === 'nat') {
      bindAddress = inspect.NetworkSettings.Networks?.bridge?.IPAddress ?? '';
      if (!bindAddress) throw new DockerStepError(`reading ${name}'s address`, 'the container has no address on the default bridge');
      await dockerStep(`checking ${name}'s published ports`, async () => checkPublishedPorts(inspect.NetworkSettings.Ports, publishAddress!, published));
      serverAddress = publishAddress!;
      networkPath = `client netns -> veth -> ${BRIDGE} -> iptables DNAT ${publishAddress} -> docker0 -> container veth (${bindAddress})`;
    } else {
      bindAddress = topology.hostAddress;
      serverAddress = topology.hostAddress;
      networkPath = `client netns -> veth -> ${BRIDGE} -> host stack (container in the host network namespace)`;
    }

    const exec = (command: readonly string[], execOptions?: CommandOptions): Promise<CommandOutcome> =>
      runContainerExec({ client, containerId: container.id, containerName: name, command, options: execOptions, timeoutMs: execOptions?.timeoutMs });

    const prepared = await exec(['mkdir', '-p', DATA_DIRECTORY], { timeoutMs: 30_000 });
    if (!prepared.ok) throw new DockerStepError(`creating ${DATA_DIRECTORY} in ${name}`, (prepared.stderr || prepared.stdout).trim());
    // findmnt names the mount's own type (ext4); `stat -f` only the superblock magic ext2, 3 and 4 share ("ext2/ext3").
    const mounted = await exec(['findmnt', '--noheadings', '--output', 'FSTYPE', '--target', DATA_DIRECTORY], { timeoutMs: 30_000 });
    const fsType = (mounted.ok ? mounted.stdout.trim() : '') || (await exec(['stat', '--file-system', '--format=%T', DATA_DIRECTORY], { timeoutMs: 30_000 })).stdout.trim() || 'unknown';

    const accounting = await dockerStep(`finding ${name}'s cgroup`, () => cpuAccountingOf(inspect.State.Pid, daemon.info.cgroupVersion));
    const proxies = publishAddress ? await findDockerProxies((proxy) => proxy.hostIp === publishAddress) : [];
    const natCheck = publishAddress ? await checkNatPath(context, publishAddress, bindAddress, proxies) : null;

    const facts = targetFacts({
      spec, context, daemon: daemon.info, image, inspect, volumeName, fsType, accounting, proxies, natCheck,
      serverAddress, networkPath, startMs, daemonStarted: daemon.started,
    });
    log(`${context.configuration}: container ${name} (${container.id.slice(0, 12)}) up in ${Math.round(startMs)} ms; ${facts.storage}`);

    return buildTarget({ spec, context, client, containerId: container.id, name, exec, bindAddress, serverAddress, accounting, proxies, facts, created });
  } catch (error) {
    // Remove what this provisioning created now, rather than leave an idle container for the whole run.
    for (const id of created.reverse()) await resources.undo(id).catch(() => {});
    if (error instanceof DockerStepError) throw error;
    throw new DockerStepError(`provisioning ${spec.name}`, dockerErrorMessage(error), { cause: error });
  }
}

/**
 * Inspects a container that should be running.
 * @throws DockerStepError when it exited early, with its status, exit code and last output (up to 500 characters of the last 20 log lines).
 */
export async function inspectRunning(client: DockerClient, id: string, name: string): Promise<ContainerInspect> {
  const inspect = (await dockerStep(`inspecting container ${name}`, () => client.getContainer(id).inspect())) as unknown as ContainerInspect;
  if (!inspect.State.Running) {
    const logs = await client
      .getContainer(id)
      .logs({ stdout: true, stderr: true, tail: 20 })
      .then((buffer) => String(buffer).trim())
      .catch(() => '');
    throw new DockerStepError(
      `starting container ${name}`,
      `it exited early (status ${inspect.State.Status}, exit code ${inspect.State.ExitCode}${inspect.State.Error ? `, ${inspect.State.Error}` : ''})${logs ? `: ${logs.slice(-500)}` : ''}`,
    );
  }
  return inspect;
}

interface NatCheck {
  dnatPackets: number;
  probe: string;
  dockerProxyCarried: boolean;
}

/**
 * Proves the path before any measurement: one connection from the client namespace to a published
 * port (nothing listens behind it yet). Docker's DNAT rule must count it, and the container's kernel
 * must refuse it; a userland proxy would have accepted it.
 */
async function checkNatPath(context: ProvisionContext, publishAddress: string, containerAddress: string, proxies: DockerProxy[]): Promise<NatCheck> {
  const port = NAT_PROBE_PORT.port;
  return dockerStep(`checking the NAT path to ${publishAddress}:${port}`, async () => {
    const matches = (rules: Awaited<ReturnType<typeof readDnatRules>>) =>
      rules.find((rule) => rule.destination === publishAddress && rule.protocol === 'tcp' && rule.port === port && rule.to === `${containerAddress}:${port}`);
    const before = matches(await readDnatRules());
    if (!before) throw new Error(`Docker made no DNAT rule ${publishAddress}:${port} -> ${containerAddress}:${port}`);
    const proxyCpuBefore = await processesCpuSeconds(proxies.map((proxy) => proxy.pid));
    await context.topology.verifyDestination(publishAddress);
    const outcome = await context.topology.clientExec(connectProbeCommand(process.execPath, publishAddress, port), { timeoutMs: 15_000 });
    const probe = outcome.stdout.trim() || `error: ${outcome.stderr.trim().slice(0, 200)}`;
    const after = matches(await readDnatRules());
    const dnatPackets = (after?.packets ?? 0) - before.packets;
    const proxyCpuAfter = await processesCpuSeconds(proxies.map((proxy) => proxy.pid));
    if (dnatPackets < 1) throw new Error(`the probe connection (${probe}) did not pass Docker's DNAT rule`);
    if (probe !== 'refused') throw new Error(`the probe connection was ${probe}, expected the container to refuse it`);
    return { dnatPackets, probe, dockerProxyCarried: proxyCpuAfter > proxyCpuBefore };
  });
}

function targetFacts(input: {
  spec: ContainerTargetSpec;
  context: ProvisionContext;
  daemon: DaemonInfo;
  image: DockerImage;
  inspect: ContainerInspect;
  volumeName: string | null;
  fsType: string;
  accounting: CpuAccounting;
  proxies: DockerProxy[];
  natCheck: NatCheck | null;
  serverAddress: string;
  networkPath: string;
  startMs: number;
  daemonStarted: boolean;
}): TargetFacts {
  const { spec, context, daemon, image, inspect, volumeName, fsType, accounting, proxies, natCheck } = input;
  const volumeMount = inspect.Mounts?.find((mount) => mount.Destination === DATA_DIRECTORY);
  const storage =
    context.options.storage === 'volume'
      ? `Docker volume ${volumeName} at ${DATA_DIRECTORY} (${volumeMount?.Source ?? 'host file system'}, ${fsType})`
      : `container's own layered file system (${daemon.storageDriver}) at ${DATA_DIRECTORY} (${fsType})`;
  const securityOptions = [...daemon.securityOptions, ...(inspect.HostConfig.SecurityOpt ?? [])];
  if (inspect.AppArmorProfile) securityOptions.push(`apparmor=${inspect.AppArmorProfile}`);
  return {
    target: context.configuration,
    state: 'ready',
    serverAddress: input.serverAddress,
    networkPath: input.networkPath,
    storage,
    labels: {
      isolation: 'container',
      storage: context.options.storage,
      network: spec.network,
      dockerVersion: daemon.version,
      dockerApiVersion: daemon.apiVersion,
      storageDriver: daemon.storageDriver,
      cgroupVersion: daemon.cgroupVersion,
      cgroupDriver: daemon.cgroupDriver,
      securityOptions: securityOptions.join('; ') || 'none',
      userlandProxy: daemon.userlandProxy,
      dataFilesystem: fsType,
      image: image.tag,
      imageId: image.id.replace(/^sha256:/, '').slice(0, 12),
      imageReused: image.reused,
      imageSeconds: Number(image.seconds.toFixed(2)),
      containerId: inspect.Id.slice(0, 12),
      containerStartMs: Math.round(input.startMs),
      cpuAccounting: accounting.method,
      daemonStartedByIsobench: input.daemonStarted,
      ...(natCheck
        ? {
            natPath: 'iptables DNAT',
            natProbe: `client connection counted by the DNAT rule (${natCheck.dnatPackets} packet(s)) and ${natCheck.probe} by the container`,
            dockerProxyProcesses: proxies.length,
            dockerProxyCarriedTraffic: natCheck.dockerProxyCarried,
          }
        : {}),
    },
    degraded: [],
  };
}

function buildTarget(input: {
  spec: ContainerTargetSpec;
  context: ProvisionContext;
  client: DockerClient;
  containerId: string;
  name: string;
  exec: (command: readonly string[], options?: CommandOptions) => Promise<CommandOutcome>;
  bindAddress: string;
  serverAddress: string;
  accounting: CpuAccounting;
  proxies: DockerProxy[];
  facts: TargetFacts;
  created: number[];
}): ProvisionedTarget {
  const { spec, context, client, containerId, name, exec, bindAddress, accounting, proxies } = input;
  const { resources } = context;
  const container = client.getContainer(containerId);
  let paused = false;
  let tornDown = false;

  const startService = (service: ServiceSpec) =>
    startExecService(
      {
        client, containerId, containerName: name, network: spec.network, published: natPublishedPorts(context.servicePorts), bindAddress, exec, resources,
        register: async (pid) => resources.register(`${service.name} server in ${name} (pid ${pid})`, { kind: 'process', pid, startTicks: await processStartTicks(pid) }),
      },
      service,
    );

  async function cpuCounters(): Promise<CpuCounter[]> {
    const counters: CpuCounter[] = [{ source: 'container', seconds: await readCpuSeconds(accounting) }];
    if (proxies.length > 0) counters.push({ source: 'docker-proxy', seconds: await processesCpuSeconds(proxies.map((proxy) => proxy.pid)) });
    return counters;
  }

  return {
    name: context.configuration,
    facts: input.facts,
    serverAddress: input.serverAddress,
    dataDirectory: DATA_DIRECTORY,
    exec,
    startService,
    cpuCounters,
    async pause() {
      if (paused || tornDown) return;
      await dockerStep(`pausing ${name}`, () => toContainerState(container, true, () => container.pause()));
      paused = true;
    },
    async resume() {
      if (!paused || tornDown) return;
      await dockerStep(`resuming ${name}`, () => toContainerState(container, false, () => container.unpause()));
      paused = false;
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      // The registry's undo commands remove the container (paused or not), its volume and address.
      for (const id of [...input.created].reverse()) {
        await resources.undo(id).catch((error: unknown) => context.log(`${context.configuration}: teardown: ${(error as Error).message}`));
      }
      context.topology.releaseAddress(input.serverAddress);
    },
  };
}

