import { errorMessage } from '../core/errors.js';
import { SshHost, type Host } from '../hosts/host.js';
import type { InventoryHost } from '../hosts/inventory.js';
import { artifactDamage, computeRecipeHash, hostImageDirectory, probeHostImage, type HostImageState } from '../provisioning/image/index.js';
import { describeLabHost } from '../provisioning/lab-host-facts.js';
import { sshLibvirtdStatus } from '../provisioning/kvm/libvirt.js';
import { accelProbeWords, type LabHost } from '../results/schema.js';
import { openLab } from './lab.js';

const GiB = 1024 ** 3;

/** A signed offset in ms with its bound, e.g. `+0.12 ms ± 0.85 ms`. */
export function formatOffset(offsetMs: number, uncertaintyMs: number): string {
  return `${offsetMs >= 0 ? '+' : '−'}${Math.abs(offsetMs).toFixed(2)} ms ± ${uncertaintyMs.toFixed(2)} ms`;
}

/** Rows doctor computes beside a host's recorded facts. */
export interface LabHostExtras {
  /** hostImageLine's words. */
  image?: string;
  /** libvirtOverSshLine's words. */
  libvirtOverSsh?: string;
}

/**
 * Doctor's lines for one lab host: reachability, CPU, memory, kernel, KVM (the accel probe), vhost,
 * perf counters, the Docker daemon and client, libvirt (on the host, and from here over qemu+ssh://
 * when given), tool versions, clock offset, and the image row when given.
 */
export function labHostLines(host: LabHost, reachMs: number | null, extras: LabHostExtras = {}): string[] {
  const { image, libvirtOverSsh } = extras;
  const head = `host ${host.name} (${host.via}; roles ${host.roles.join(', ') || 'none'}; test address ${host.testAddress})`;
  const rows: Array<[string, string]> = [];
  rows.push(['reachable', reachMs === null ? `no: ${host.error ?? 'unknown'}` : `yes (first command ${reachMs.toFixed(0)} ms, connection set-up included)`]);
  const facts = host.facts;
  if (facts) {
    rows.push(['cpu', `${facts.cpuModel} (${facts.cores ?? '?'} cores${facts.cpuMHz ? `, ${facts.cpuMHz} MHz` : ''})`]);
    rows.push(['memory', facts.memoryBytes === null ? 'unknown' : `${(facts.memoryBytes / GiB).toFixed(1)} GiB`]);
    rows.push(['kernel / distro', `${facts.kernel} / ${facts.distro} (hostname ${facts.hostname})`]);
    rows.push(['KVM', `${facts.accel}${facts.kvmDevice ? '' : ' (no /dev/kvm)'}: ${accelProbeWords(facts)}`]);
    rows.push(['/dev/vhost-net', facts.vhostNet ? 'present' : 'absent: guests use userspace virtio-net']);
    rows.push(['hardware perf counters', facts.perfCounters ? 'yes' : 'no: CPU cost from CPU time']);
    // The daemon's and the client's versions on rows of their own, each named (the client's stood
    // unnamed among the tools, beside an unnamed daemon version).
    const client = facts.tools.find((tool) => tool.tool === 'docker');
    rows.push(['docker daemon (server)', facts.docker ? `${facts.docker.version} (${facts.docker.storageDriver}, cgroup v${facts.docker.cgroupVersion})` : 'not answering (or docker missing)']);
    if (client) rows.push(['docker client', client.version ?? 'missing']);
    rows.push(['libvirtd', facts.libvirt ?? 'not answering (or virsh missing)']);
    if (libvirtOverSsh !== undefined) rows.push(['libvirt from here', libvirtOverSsh]);
    const missing = facts.tools.filter((tool) => tool.version === null).map((tool) => tool.tool);
    rows.push(['tools', facts.tools.filter((tool) => tool.version !== null && tool !== client).map((tool) => tool.version).join('; ') || 'none']);
    if (missing.length > 0) rows.push(['missing tools', missing.join(', ')]);
  } else if (libvirtOverSsh !== undefined) {
    rows.push(['libvirt from here', libvirtOverSsh]);
  }
  rows.push([
    'clock offset',
    host.clockOffset
      ? `${formatOffset(host.clockOffset.offsetMs, host.clockOffset.uncertaintyMs)} against this host (best of ${host.clockOffset.samples} round trips: ${host.clockOffset.roundTripMs.toFixed(2)} ms)`
      : 'not measured',
  ]);
  if (image !== undefined) rows.push(['image', image]);
  if (host.error && reachMs !== null) rows.push(['problem', host.error]);
  const width = Math.max(...rows.map(([check]) => check.length));
  return [head, ...rows.map(([check, value]) => `  ${check.padEnd(width)}  ${value}`)];
}

/**
 * Doctor's `image` row for a host: whether `<data-dir>/image` holds the image at this host's recipe
 * hash (its manifest says so), and whether the host has the rsync a copy needs. Doctor copies nothing.
 * @param look The host's image state, or why it could not be read; null without a data-dir.
 */
export function hostImageLine(entry: Pick<InventoryHost, 'name' | 'dataDir'>, look: HostImageState | { error: string } | null, localHash: string): string {
  if (entry.dataDir === undefined || look === null) return 'not checked: no data-dir in the inventory (the image is copied to DATA-DIR/image)';
  if ('error' in look) return `could not look: ${look.error}`;
  const directory = hostImageDirectory(entry.dataDir);
  const later = 'the first lab run that needs it copies it';
  const { manifest } = look;
  // Only a copy at this host's recipe is worth checking: a stale one is copied again anyway.
  const damage =
    manifest.kind === 'present' && manifest.manifest.recipeHash === localHash
      ? manifest.manifest.artifacts.map((name) => artifactDamage(name, manifest.manifest.contents[name], look.found.get(name))).filter((why) => why !== null)
      : [];
  const state =
    damage.length > 0
      ? `changed since it was copied to ${directory} (this host's recipe ${localHash}): ${damage.join('; ')}; ${later} again`
      : manifest.kind === 'absent'
      ? `absent (no manifest in ${directory}); ${later}`
      : manifest.kind === 'unreadable'
        ? `unreadable manifest in ${directory} (${manifest.reason}); ${later}`
        : manifest.manifest.recipeHash === localHash
          ? `present at this host's recipe ${localHash} (${manifest.manifest.artifacts.join(', ')}; copied ${manifest.manifest.copiedAt} from ${manifest.manifest.from})`
          : `stale: recipe ${manifest.manifest.recipeHash} in ${directory}, this host's is ${localHash}; ${later}`;
  return look.rsync ? state : `${state}; rsync missing there (copies need it): apt-get install rsync on ${entry.name}`;
}

/**
 * Doctor's `libvirt from here` row: the host's system libvirtd reached from this machine the way a
 * libvirt migration between lab hosts reaches it, `virsh -c qemu+ssh://…/system version` through the
 * host's own ssh options (hosts/libvirt-ssh.ts).
 */
export async function libvirtOverSshLine(host: SshHost): Promise<string> {
  const status = await sshLibvirtdStatus(host);
  return status.version !== null ? `${status.version} through ${status.shown}` : `no: ${status.problem}`;
}

/** The image row of one reachable host (see hostImageLine). */
async function imageRowOf(entry: InventoryHost, host: Host, localHash: string): Promise<string> {
  if (entry.dataDir === undefined) return hostImageLine(entry, null, localHash);
  const look = await probeHostImage(host, entry.dataDir).catch((error: unknown) => ({ error: errorMessage(error) }));
  return hostImageLine(entry, look, localHash);
}

/**
 * Offsets between every pair of hosts, from their offsets against this host: the difference, with
 * the two bounds added (each is a hard bound, so their sum is one too).
 */
export function pairwiseOffsetLines(hosts: readonly LabHost[]): string[] {
  const measured = hosts.filter((host) => host.clockOffset !== null);
  const lines: string[] = [];
  for (let a = 0; a < measured.length; a += 1) {
    for (let b = a + 1; b < measured.length; b += 1) {
      const first = measured[a]!;
      const second = measured[b]!;
      lines.push(`  ${second.name} − ${first.name}: ${formatOffset(second.clockOffset!.offsetMs - first.clockOffset!.offsetMs, second.clockOffset!.uncertaintyMs + first.clockOffset!.uncertaintyMs)}`);
    }
  }
  return lines;
}

/**
 * `npm run doctor -- --hosts FILE`: every inventory host, in parallel (one shared SSH connection
 * each), then the clock offsets between them. A host that fails is reported with its name and the
 * others still are.
 * @returns 0 when every host answered and was described, else 1.
 * @throws UsageError for a bad inventory.
 */
export async function doctorLab(path: string, guardRange: string): Promise<number> {
  const { inventory, hosts } = await openLab(path, guardRange);
  // The recipe's hash from its data and files: nothing needs to be built to know it.
  const localHash = await computeRecipeHash();
  try {
    const described = await Promise.all(
      inventory.hosts.map(async (entry) => {
        const host = hosts.get(entry.name);
        const started = performance.now();
        const reach = await host.run(['true'], { timeoutMs: 30_000 }).then(
          (outcome) => (outcome.ok ? null : `\`true\` exited with code ${outcome.exitCode ?? outcome.signal}`),
          (error: unknown) => errorMessage(error),
        );
        const reachMs = reach === null ? performance.now() - started : null;
        if (reach !== null) return { host: { name: entry.name, via: host.via, roles: [...entry.roles], testAddress: entry.testAddress, facts: null, clockOffset: null, error: reach } satisfies LabHost, reachMs };
        const [facts, image, libvirtOverSsh] = await Promise.all([
          describeLabHost(entry, host),
          imageRowOf(entry, host, localHash),
          host instanceof SshHost ? libvirtOverSshLine(host).catch((error: unknown) => `not checked: ${errorMessage(error)}`) : undefined,
        ]);
        return { host: facts, reachMs, extras: { image, ...(libvirtOverSsh !== undefined ? { libvirtOverSsh } : {}) } };
      }),
    );
    for (const { host, reachMs, extras } of described) console.log(labHostLines(host, reachMs, extras).join('\n'));
    const pairs = pairwiseOffsetLines(described.map(({ host }) => host));
    if (pairs.length > 0) console.log(['clock offsets between hosts (migration timelines need them):', ...pairs].join('\n'));
    const failed = described.filter(({ host }) => host.error !== undefined);
    // HostError's messages already start `host NAME:`; other errors get the name put in front.
    const named = (host: LabHost) => (host.error!.startsWith(`host ${host.name}:`) ? host.error! : `host ${host.name}: ${host.error!}`);
    if (failed.length > 0) console.error(`isobench: ${failed.map(({ host }) => named(host)).join('; ')}`);
    return failed.length === 0 ? 0 : 1;
  } finally {
    await hosts.close();
  }
}
