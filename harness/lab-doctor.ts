import { errorMessage } from '../core/errors.js';
import { describeLabHost } from '../provisioning/lab-host-facts.js';
import type { LabHost } from '../results/schema.js';
import { openLab } from './lab.js';

const GiB = 1024 ** 3;

/** A signed offset in ms with its bound, e.g. `+0.12 ms ± 0.85 ms`. */
export function formatOffset(offsetMs: number, uncertaintyMs: number): string {
  return `${offsetMs >= 0 ? '+' : '−'}${Math.abs(offsetMs).toFixed(2)} ms ± ${uncertaintyMs.toFixed(2)} ms`;
}

/**
 * Doctor's lines for one lab host: reachability, CPU, memory, kernel, KVM (the accel probe), vhost,
 * perf counters, Docker, libvirt, tool versions, clock offset.
 */
export function labHostLines(host: LabHost, reachMs: number | null): string[] {
  const head = `host ${host.name} (${host.via}; roles ${host.roles.join(', ') || 'none'}; test address ${host.testAddress})`;
  const rows: Array<[string, string]> = [];
  rows.push(['reachable', reachMs === null ? `no: ${host.error ?? 'unknown'}` : `yes (first command ${reachMs.toFixed(0)} ms, connection set-up included)`]);
  const facts = host.facts;
  if (facts) {
    rows.push(['cpu', `${facts.cpuModel} (${facts.cores ?? '?'} cores${facts.cpuMHz ? `, ${facts.cpuMHz} MHz` : ''})`]);
    rows.push(['memory', facts.memoryBytes === null ? 'unknown' : `${(facts.memoryBytes / GiB).toFixed(1)} GiB`]);
    rows.push(['kernel / distro', `${facts.kernel} / ${facts.distro} (hostname ${facts.hostname})`]);
    rows.push(['KVM', `${facts.accel}${facts.kvmDevice ? '' : ' (no /dev/kvm)'}: ${facts.accelDetail}`]);
    rows.push(['/dev/vhost-net', facts.vhostNet ? 'present' : 'absent: guests use userspace virtio-net']);
    rows.push(['hardware perf counters', facts.perfCounters ? 'yes' : 'no: CPU cost from CPU time']);
    rows.push(['docker daemon', facts.docker ? `${facts.docker.version} (${facts.docker.storageDriver}, cgroup v${facts.docker.cgroupVersion})` : 'not answering (or docker missing)']);
    rows.push(['libvirtd', facts.libvirt ?? 'not answering (or virsh missing)']);
    const missing = facts.tools.filter((tool) => tool.version === null).map((tool) => tool.tool);
    rows.push(['tools', facts.tools.filter((tool) => tool.version !== null).map((tool) => tool.version).join('; ') || 'none']);
    if (missing.length > 0) rows.push(['missing tools', missing.join(', ')]);
  }
  rows.push([
    'clock offset',
    host.clockOffset
      ? `${formatOffset(host.clockOffset.offsetMs, host.clockOffset.uncertaintyMs)} against this host (best of ${host.clockOffset.samples} round trips: ${host.clockOffset.roundTripMs.toFixed(2)} ms)`
      : 'not measured',
  ]);
  if (host.error && reachMs !== null) rows.push(['problem', host.error]);
  const width = Math.max(...rows.map(([check]) => check.length));
  return [head, ...rows.map(([check, value]) => `  ${check.padEnd(width)}  ${value}`)];
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
        return { host: await describeLabHost(entry, host), reachMs };
      }),
    );
    for (const { host, reachMs } of described) console.log(labHostLines(host, reachMs).join('\n'));
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
