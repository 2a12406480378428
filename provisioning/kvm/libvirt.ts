import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { runChecked, runCommand } from '../../core/exec.js';
import type { SshHost } from '../../hosts/host.js';
import { libvirtSshUri, type LibvirtSshUri } from '../../hosts/libvirt-ssh.js';
import { findExecutable } from '../../core/tools.js';
import type { ResourceRegistry } from '../../core/ledger.js';
import { processCpuSeconds, processStartTicks } from '../../core/proc.js';
import { GuestAgent, type AgentTransport } from './guest-agent.js';
import { BOOT_TIMEOUT_MS, GuestStepError, processUsesVhostNet, waitForReady, type RunningGuest } from './guest.js';
import { pollUntil } from '../../core/poll.js';
import { GUEST_AGENT_CHANNEL, QEMU_NAME_PREFIX, type DiskSpec, type NetSpec } from './qemu-command.js';

/**
 * `--vm-manager libvirt`: the same guest as a libvirt domain. isobench writes the domain XML,
 * defines and starts it through the Node bindings (@unraid/libvirt), pauses and resumes it with
 * libvirt, and runs programs through libvirt's own guest-agent connection (`virsh
 * qemu-agent-command`: the bindings have no agent call). libvirtd must be running; isobench does
 * not configure or start host daemons.
 */

/** The system libvirtd's QEMU driver; `$ISOBENCH_LIBVIRT_URI` overrides it (libvirtUri). */
export const DEFAULT_LIBVIRT_URI = 'qemu:///system';
/** Where a libvirt guest's files go: libvirt's QEMU user must reach them (the run directory is root's alone). */
export const LIBVIRT_FILES_PARENT = '/var/tmp';
/** A run's libvirt files live in `<LIBVIRT_FILES_PARENT>/isobench-libvirt-<run>` (0755); `cleanup` finds leftovers by this prefix. */
export const LIBVIRT_FILES_PREFIX = 'isobench-libvirt-';
const VIRSH_TIMEOUT_MS = 15_000;
/** libvirt writes the QEMU pid file right after it starts the domain; 50 looks 100 ms apart. */
const DOMAIN_PID_WAIT_MS = 5_000;
const DOMAIN_GONE = 'failed to get domain|[Dd]omain not found|no domain with matching name|domain is not running|not running';

/** `$ISOBENCH_LIBVIRT_URI` when set and not empty, else DEFAULT_LIBVIRT_URI. */
export function libvirtUri(): string {
  return process.env.ISOBENCH_LIBVIRT_URI || DEFAULT_LIBVIRT_URI;
}

/**
 * libvirt's version when libvirtd answers on `uri`, else null and why not.
 * @param shown The URI as the problem names it (default `uri`): a `qemu+ssh://` URI without its helper.
 */
export async function libvirtdStatus(uri = libvirtUri(), shown = uri): Promise<{ version: string | null; problem: string | null }> {
  if (!(await findExecutable('virsh'))) return { version: null, problem: 'virsh is missing (apt-get install libvirt-clients)' };
  const outcome = await runCommand(['virsh', '-c', uri, 'version'], { timeoutMs: VIRSH_TIMEOUT_MS }).catch((error: unknown) => ({
    ok: false,
    stdout: '',
    stderr: (error as Error).message,
  }));
  if (!outcome.ok) {
    const detail = outcome.stderr.trim().split('\n').filter(Boolean).at(-1) ?? 'no answer';
    return { version: null, problem: `libvirtd does not answer on ${shown} (${detail})` };
  }
  return { version: parseVirshVersion(outcome.stdout), problem: null };
}

/**
 * A lab host's system libvirtd as this machine reaches it, over libvirt's `qemu+ssh://` transport
 * with the host's ssh options (hosts/libvirt-ssh.ts): its URIs, and libvirtdStatus's answer, which
 * names the URI as shown (without the helper).
 * @throws the helper's write error.
 */
export async function sshLibvirtdStatus(host: SshHost): Promise<LibvirtSshUri & { version: string | null; problem: string | null }> {
  const uris = await libvirtSshUri(host);
  return { ...uris, ...(await libvirtdStatus(uris.uri, uris.shown)) };
}

/** `virsh version` → "libvirt 9.0.0, QEMU 7.2.22". */
export function parseVirshVersion(stdout: string): string {
  const hypervisor = /Running hypervisor:\s*(.+)/.exec(stdout)?.[1]?.trim();
  const library = /Using library:\s*libvirt\s*(\S+)/.exec(stdout)?.[1];
  return `libvirt ${library ?? 'unknown'}${hypervisor ? `, ${hypervisor}` : ''}`;
}

/**
 * The part of @unraid/libvirt isobench uses, declared here: the package is an optional dependency
 * (it builds against libvirt-dev), so the type check must not depend on it being installed.
 */
interface LibvirtDomainHandle {
  create(): Promise<void>;
  suspend(): Promise<void>;
  resume(): Promise<void>;
}
interface LibvirtHypervisorHandle {
  connectOpen(): Promise<void>;
  connectClose(): Promise<void>;
  domainDefineXML(xml: string): Promise<LibvirtDomainHandle>;
}
interface LibvirtModule {
  Hypervisor: new (options: { uri: string }) => LibvirtHypervisorHandle;
}
const BINDINGS_PACKAGE = '@unraid/libvirt';

/**
 * The Node bindings, loaded on demand: an optional dependency that needs libvirt-dev to build.
 * @throws Error saying to install libvirt-dev and run `npm install`, with the import error as `cause`.
 */
export async function loadLibvirtBindings(): Promise<LibvirtModule> {
  try {
    const module = (await import(BINDINGS_PACKAGE)) as Partial<LibvirtModule>;
    if (typeof module.Hypervisor !== 'function') throw new Error(`${BINDINGS_PACKAGE} has no Hypervisor class`);
    return module as LibvirtModule;
  } catch (error) {
    throw new Error(
      `the libvirt Node bindings (@unraid/libvirt, an optional dependency) are not installed or did not build: ` +
        `install libvirt-dev and run \`npm install\` (${(error as Error).message.split('\n')[0]})`,
      { cause: error },
    );
  }
}

/** The guest of QemuGuestSpec, in the terms of a libvirt domain; buildDomainXml turns it into XML. */
export interface LibvirtDomainSpec {
  /** Must start with QEMU_NAME_PREFIX. */
  name: string;
  /** 'kvm' for a KVM guest, 'qemu' for TCG: as the probe decided. */
  type: 'kvm' | 'qemu';
  /** `host` under kvm becomes host-passthrough, `max` under qemu becomes mode='maximum'; anything else a custom model. */
  cpuModel: string;
  vcpus: number;
  /** In MiB. */
  memoryMiB: number;
  /** Must be readable by libvirt's QEMU user (hence LIBVIRT_FILES_PARENT). */
  kernel: string;
  initrd: string;
  /** The kernel command line. */
  cmdline: string;
  disk: DiskSpec & {
    /** The cached image a qcow2 overlay is backed by: read only and never relabelled by libvirt. */
    backing?: { path: string; format: 'raw' | 'qcow2' };
  };
  /**
   * Omit for a guest without a network device. A NetSpec names a tap isobench made; a
   * LibvirtBridgeNet lets libvirt make the tap on a bridge (a lab host's, where each end of a
   * migration makes its own).
   */
  net?: NetSpec | LibvirtBridgeNet;
  /**
   * `root`: QEMU runs as root with no DAC relabelling (`<seclabel type='static' model='dac'
   * relabel='no'>` `+0:+0`), for a disk on storage two hosts share, which each libvirtd would
   * otherwise chown to its own QEMU user in turn. Absent: the daemon's default user.
   */
  dacUser?: 'root';
  /** The file libvirt's QEMU writes the serial console to. */
  serialLog: string;
  /** Absolute path of the QEMU binary (`<emulator>`). */
  emulator: string;
}

/** A NIC libvirt puts on `bridge` itself (`<interface type='bridge'>`), with its tap named by libvirt. */
export interface LibvirtBridgeNet {
  bridge: string;
  /** Lower-case `xx:xx:xx:xx:xx:xx`. */
  mac: string;
}

/** Text safe inside XML element content and single- or double-quoted attributes. */
export function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll("'", '&apos;').replaceAll('"', '&quot;');
}

function cpuXml(type: 'kvm' | 'qemu', model: string): string {
  if (type === 'qemu' && model === 'max') return "<cpu mode='maximum' check='none'/>";
  if (type === 'kvm' && model === 'host') return "<cpu mode='host-passthrough' check='none'/>";
  return `<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>${escapeXml(model)}</model></cpu>`;
}

function interfaceXml(net: NetSpec | LibvirtBridgeNet): string {
  if ('bridge' in net) {
    return `    <interface type='bridge'>
      <mac address='${net.mac}'/>
      <source bridge='${escapeXml(net.bridge)}'/>
      <model type='virtio'/>
      <driver name='qemu'/>
    </interface>
`;
  }
  return `    <interface type='ethernet'>
      <mac address='${net.mac}'/>
      <target dev='${escapeXml(net.tap)}' managed='no'/>
      <model type='virtio'/>
      <driver name='${net.vhost ? 'vhost' : 'qemu'}'/>
    </interface>
`;
}

/**
 * The domain XML of the guest QEMU would otherwise run directly (qemu-command.ts), device for device.
 * @throws Error for a name without QEMU_NAME_PREFIX, or `aio=native` without O_DIRECT.
 */
export function buildDomainXml(spec: LibvirtDomainSpec): string {
  if (!spec.name.startsWith(QEMU_NAME_PREFIX)) throw new Error(`a domain's name must start with ${QEMU_NAME_PREFIX}: ${spec.name}`);
  if (spec.disk.aio === 'native' && spec.disk.cache !== 'none' && spec.disk.cache !== 'directsync') {
    throw new Error(`aio=native needs O_DIRECT (cache=none or directsync), not cache=${spec.disk.cache}`);
  }
  const x = escapeXml;
  const backing = spec.disk.backing
    ? `
      <backingStore type='file'>
        <format type='${spec.disk.backing.format}'/>
        <source file='${x(spec.disk.backing.path)}'>
          <seclabel model='dac' relabel='no'/>
        </source>
        <backingStore/>
      </backingStore>`
    : '';
  return `<domain type='${spec.type}'>
  <name>${x(spec.name)}</name>
  <memory unit='MiB'>${spec.memoryMiB}</memory>
  <vcpu>${spec.vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${x(spec.kernel)}</kernel>
    <initrd>${x(spec.initrd)}</initrd>
    <cmdline>${x(spec.cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  ${cpuXml(spec.type, spec.cpuModel)}
  ${spec.dacUser === 'root' ? "<seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>\n  " : ''}<on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>${x(spec.emulator)}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='${spec.disk.format}' cache='${spec.disk.cache}' io='${spec.disk.aio}' discard='unmap'/>
      <source file='${x(spec.disk.path)}'/>${backing}
      <target dev='vda' bus='virtio'/>
    </disk>
${spec.net ? interfaceXml(spec.net) : ''}    <serial type='file'>
      <source path='${x(spec.serialLog)}'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='${GUEST_AGENT_CHANNEL}'/>
    </channel>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/**
 * What `virsh qemu-agent-command` printed, as the agent's own reply line. An error the agent itself
 * returned becomes a `GenericError` reply (virsh does not print its class).
 * @throws Error when virsh succeeded but printed no JSON, or could not reach the agent.
 */
export function virshAgentReply(outcome: { ok: boolean; stdout: string; stderr: string }): string {
  if (outcome.ok) {
    const line = outcome.stdout.trim().split('\n').find((candidate) => candidate.trim().startsWith('{'));
    if (!line) throw new Error(`virsh qemu-agent-command printed no reply: ${outcome.stdout.trim().slice(0, 200)}`);
    return line.trim();
  }
  const message = outcome.stderr.trim().replace(/^error:\s*/gm, '').split('\n').filter(Boolean).join(' ');
  // The agent ran the command and answered with an error: hand it on as the agent's error reply.
  const agentError = /unable to execute QEMU agent command '[^']+': (.*)$/.exec(message);
  if (agentError) return JSON.stringify({ error: { class: 'GenericError', desc: agentError[1] } });
  throw new Error(`libvirt could not reach the guest agent: ${message || 'virsh failed'}`);
}

/** Requests through libvirt's agent connection; libvirt does the guest-sync itself. */
export class VirshAgentTransport implements AgentTransport {
  constructor(
    private readonly uri: string,
    private readonly domain: string,
  ) {}

  /** `the guest agent of libvirt domain <name>`, for messages. */
  get description(): string {
    return `the guest agent of libvirt domain ${this.domain}`;
  }

  /**
   * One request through `virsh qemu-agent-command --timeout <s>` (the timeout rounded up to whole
   * seconds, virsh itself bounded 15 s later).
   * @throws Error when virsh cannot reach the agent (see virshAgentReply).
   */
  async call(request: { execute: string; arguments?: Record<string, unknown> }, timeoutMs: number): Promise<string> {
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const outcome = await runCommand(
      ['virsh', '-c', this.uri, 'qemu-agent-command', this.domain, JSON.stringify(request), '--timeout', String(seconds)],
      { timeoutMs: timeoutMs + VIRSH_TIMEOUT_MS },
    );
    return virshAgentReply(outcome);
  }

  /** Nothing to close: every call is its own virsh process. */
  close(): void {}
}

/** `-accel kvm|tcg` (or the older `-machine …,accel=…`) from a QEMU command line. */
export function accelFromArgv(argv: readonly string[]): string | null {
  const index = argv.indexOf('-accel');
  if (index >= 0) return argv[index + 1]?.split(',')[0] ?? null;
  const machine = argv[argv.indexOf('-machine') + 1] ?? '';
  return /(?:^|,)accel=([a-z]+)/.exec(machine)?.[1] ?? null;
}

async function readArgv(pid: number): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  return (text.endsWith('\0') ? text.slice(0, -1) : text).split('\0');
}

/** What LibvirtGuest.launch defines and starts, and how long it waits. */
export interface LibvirtLaunch {
  spec: LibvirtDomainSpec;
  /** libvirt connection URI, e.g. libvirtUri(). */
  uri: string;
  /** The run's ledger: the domain's undefine and destroy are registered the moment each is needed. */
  resources: ResourceRegistry;
  /** The address the init must have put on eth0 (`ADDRESS/PREFIX`), when the guest has a network. */
  expectedNetwork?: string;
  /** In ms; default BOOT_TIMEOUT_MS for the domain type (`qemu` counts as tcg). */
  bootTimeoutMs?: number;
  /** Progress lines; default: none. */
  log?: (line: string) => void;
}

type Hypervisor = LibvirtHypervisorHandle;
type Domain = LibvirtDomainHandle;

/** A guest run as a libvirt domain (`--vm-manager libvirt`); get one with LibvirtGuest.launch. */
export class LibvirtGuest implements RunningGuest {
  readonly manager = 'libvirt' as const;
  private paused = false;
  private stopped = false;
  /** Set once a migration moved the domain to another libvirtd (moveTo): pause and resume go through virsh then. */
  private moved = false;

  private constructor(
    readonly spec: LibvirtDomainSpec,
    readonly xml: string,
    private readonly hypervisor: Hypervisor,
    private readonly domain: Domain,
    private currentPid: number,
    private startTicks: string | null,
    private readonly resourceIds: number[],
    private readonly resources: ResourceRegistry,
    readonly agent: GuestAgent,
    readonly bootSeconds: number,
    private currentUri: string,
  ) {}

  /** The pid of the domain's QEMU now (a migration changes it). */
  get pid(): number {
    return this.currentPid;
  }

  /** The libvirtd that runs the domain now (a migration changes it). */
  get uri(): string {
    return this.currentUri;
  }

  /**
   * After a completed migration: the domain runs on `uri` as QEMU `pid`. The agent goes through that
   * libvirtd from now on; `resourceIds` (the ledger entries that undefine and destroy the domain
   * there) are undone by `stop` with the others, newest first.
   */
  async moveTo(uri: string, pid: number, resourceIds: readonly number[]): Promise<void> {
    this.currentUri = uri;
    this.currentPid = pid;
    this.startTicks = await processStartTicks(pid);
    this.moved = true;
    this.resourceIds.push(...resourceIds);
    this.agent.replaceTransport(new VirshAgentTransport(uri, this.spec.name));
  }

  /**
   * Loads the bindings, connects to libvirtd, defines and starts the domain, finds its QEMU's pid
   * (libvirt's pid file, 5 s), waits for the ready line and reaches the agent (60 s). On a failure
   * after the domain was defined, the domain is destroyed and undefined before the error is thrown.
   * @throws Error when the bindings are missing or the spec is invalid (see buildDomainXml).
   * @throws GuestStepError naming the failed step ("connecting to libvirtd", "defining the libvirt
   *   domain", "starting the libvirt domain", a boot step, "reaching the guest agent through libvirt").
   * @throws DeadlineError when libvirt's pid file for the domain does not appear.
   */
  static async launch(options: LibvirtLaunch): Promise<LibvirtGuest> {
    const { spec, uri, resources } = options;
    const log = options.log ?? (() => {});
    const bootTimeoutMs = options.bootTimeoutMs ?? BOOT_TIMEOUT_MS[spec.type === 'kvm' ? 'kvm' : 'tcg'];
    const fail = (step: string, detail: string): never => {
      throw new GuestStepError(step, detail, spec.serialLog, '');
    };
    const { Hypervisor } = await loadLibvirtBindings();
    const hypervisor = new Hypervisor({ uri });
    try {
      await hypervisor.connectOpen();
    } catch (error) {
      fail('connecting to libvirtd', `${uri}: ${(error as Error).message}`);
    }
    const xml = buildDomainXml(spec);
    const resourceIds: number[] = [];
    const virsh = (verb: string) => ['virsh', '-c', uri, verb, spec.name];
    try {
      let domain: Domain;
      try {
        domain = await hypervisor.domainDefineXML(xml);
      } catch (error) {
        return fail('defining the libvirt domain', (error as Error).message);
      }
      resourceIds.push(await resources.register(`libvirt domain ${spec.name} (definition)`, { kind: 'command', command: virsh('undefine'), ignoreFailure: DOMAIN_GONE }));
      const started = performance.now();
      try {
        await domain.create();
      } catch (error) {
        return fail('starting the libvirt domain', (error as Error).message);
      }
      resourceIds.push(await resources.register(`libvirt domain ${spec.name} (running)`, { kind: 'command', command: virsh('destroy'), ignoreFailure: DOMAIN_GONE }));
      const pid = await domainPid(spec.name);
      const startTicks = await processStartTicks(pid);
      const exited = () => !existsSync(`/proc/${pid}`);
      log(`libvirt domain ${spec.name} (QEMU pid ${pid}, type ${spec.type}) is up; waiting for the guest to boot (up to ${Math.round(bootTimeoutMs / 1000)} s)…`);
      const { bootSeconds } = await waitForReady({
        serialLog: spec.serialLog,
        started,
        bootTimeoutMs,
        exited,
        died: () => `QEMU (pid ${pid}) under libvirt exited (see /var/log/libvirt/qemu/${spec.name}.log)`,
        ...(options.expectedNetwork ? { expectedNetwork: options.expectedNetwork } : {}),
      });
      let agent: GuestAgent;
      try {
        agent = await GuestAgent.reach(new VirshAgentTransport(uri, spec.name), { timeoutMs: 60_000, alive: () => !exited() });
      } catch (error) {
        return fail('reaching the guest agent through libvirt', (error as Error).message);
      }
      log(`guest ${spec.name} booted in ${bootSeconds.toFixed(1)} s (libvirt)`);
      return new LibvirtGuest(spec, xml, hypervisor, domain, pid, startTicks, resourceIds, resources, agent, bootSeconds, uri);
    } catch (error) {
      for (const id of [...resourceIds].reverse()) await resources.undo(id).catch(() => {});
      await hypervisor.connectClose().catch(() => {});
      throw error;
    }
  }

  /** True once the domain's QEMU process is gone from /proc. */
  get exited(): boolean {
    return !existsSync(`/proc/${this.pid}`);
  }

  /** Why QEMU is gone (pointing at libvirt's log of the domain), or `QEMU is running`. */
  describeExit(): string {
    return this.exited ? `QEMU (pid ${this.pid}) under libvirt is gone (see /var/log/libvirt/qemu/${this.spec.name}.log)` : 'QEMU is running';
  }

  /**
   * Whether libvirt started this QEMU with KVM, read from its argv (`-accel kvm`, or `-machine …,accel=kvm`)
   * rather than assumed from the domain type.
   * @throws the read error when the process is gone.
   */
  async kvmEnabled(): Promise<boolean> {
    return accelFromArgv(await readArgv(this.pid)) === 'kvm';
  }

  /**
   * libvirt's suspend (virDomainSuspend: the vCPUs stop, memory stays); after a migration through
   * `virsh suspend` on the libvirtd that runs it now. Does nothing when already paused or stopped.
   * @throws the bindings' or virsh's error.
   */
  async pause(): Promise<void> {
    if (this.paused || this.stopped) return;
    if (this.moved) await runChecked(['virsh', '-c', this.currentUri, 'suspend', this.spec.name], { timeoutMs: VIRSH_TIMEOUT_MS });
    else await this.domain.suspend();
    this.paused = true;
  }

  /**
   * libvirt's resume after pause (`virsh resume` after a migration); does nothing otherwise.
   * @throws the bindings' or virsh's error.
   */
  async resume(): Promise<void> {
    if (!this.paused || this.stopped) return;
    if (this.moved) await runChecked(['virsh', '-c', this.currentUri, 'resume', this.spec.name], { timeoutMs: VIRSH_TIMEOUT_MS });
    else await this.domain.resume();
    this.paused = false;
  }

  /**
   * The domain's QEMU process's user plus system CPU time so far, in seconds, all its threads counted.
   * @throws Error when that process is gone (checked by its start time, so a reused pid is not read).
   */
  async qemuCpuSeconds(): Promise<number> {
    if ((await processStartTicks(this.currentPid)) !== this.startTicks) throw new Error('the domain\'s QEMU is gone');
    return processCpuSeconds(this.pid);
  }

  /** Whether the domain's QEMU holds /dev/vhost-net open (see processUsesVhostNet). */
  usesVhostNet(): Promise<boolean> {
    return processUsesVhostNet(this.pid);
  }

  /** Destroys and undefines the domain (through the ledger entries, so a failure stays for `cleanup`). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.agent.close();
    for (const id of [...this.resourceIds].reverse()) await this.resources.undo(id);
    await this.hypervisor.connectClose().catch(() => {});
  }
}

/** The QEMU process of a running domain, from libvirt's pid file. */
async function domainPid(name: string): Promise<number> {
  return pollUntil(
    async () => {
      for (const directory of ['/run/libvirt/qemu', '/var/run/libvirt/qemu']) {
        const text = await readFile(`${directory}/${name}.pid`, 'utf8').catch(() => '');
        const pid = Number(text.trim());
        if (Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`)) return pid;
      }
      return undefined;
    },
    { timeoutMs: DOMAIN_PID_WAIT_MS, intervalMs: 100, what: `libvirt started ${name} but its QEMU pid file did not appear` },
  );
}

/** isobench's domains (named isobench-*) libvirtd knows, running or not; [] when libvirtd does not answer. */
export async function isobenchDomains(uri = libvirtUri()): Promise<Array<{ name: string; running: boolean }>> {
  const all = await runCommand(['virsh', '-c', uri, 'list', '--all', '--name'], { timeoutMs: VIRSH_TIMEOUT_MS }).catch(() => null);
  if (!all?.ok) return [];
  const running = await runCommand(['virsh', '-c', uri, 'list', '--name'], { timeoutMs: VIRSH_TIMEOUT_MS }).catch(() => null);
  const runningNames = new Set((running?.stdout ?? '').split('\n').map((line) => line.trim()));
  return all.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.startsWith(QEMU_NAME_PREFIX))
    .map((name) => ({ name, running: runningNames.has(name) }));
}

/** What virsh says about a domain that is already gone or not running (a regex alternation): an undo that finds this has nothing to do. */
export const LIBVIRT_DOMAIN_GONE = DOMAIN_GONE;
