/**
 * Lab mode's hosts as the report's environment table sees them (issue 14): one row per fact, one
 * cell per inventory host, in the order the results file lists the hosts, so a fact of every host
 * reads across one row. A fact a host did not report is an `absent` cell saying why (`— not
 * probed`, `— not measured`, `— not reported …`), never a 0 or an empty string.
 */
import { accelProbeWords, type LabHost, type LabHostFacts } from '../../results/schema.js';

/** One host's value of one fact. */
export type HostCell =
  | { kind: 'value'; text: string }
  /** The host has no value for the fact; `text` starts with `—` and says why when the file says. */
  | { kind: 'absent'; text: string };

/** One fact across the hosts: `cells[i]` belongs to `hosts[i]`. */
export interface HostFactRow {
  /** The fact's name with its unit in parentheses when it has one, e.g. `memory (GiB)`. */
  fact: string;
  cells: HostCell[];
}

const GiB = 2 ** 30;
/** The `problem` row's name, which absent cells of a host with an `error` point to. */
export const PROBLEM_FACT = 'problem';

/** A host-level fact (not from its facts script): present for every host. */
type IdentityFact = [fact: string, cell: (host: LabHost) => HostCell];
/** A fact from the host's facts script: absent for every host whose facts are null. */
type ProbedFact = [fact: string, cell: (facts: LabHostFacts, host: LabHost) => HostCell];

const value = (text: string): HostCell => ({ kind: 'value', text });
const absent = (why: string): HostCell => ({ kind: 'absent', text: `— ${why}` });
const yesNo = (flag: boolean): HostCell => value(flag ? 'yes' : 'no');

/**
 * How the controller reached the host, as user@address[:port] for SSH. LabHost's `via` is
 * `local` or `ssh USER@ADDRESS[:PORT]` (hosts/host.ts) and never holds key material; only that
 * shape is shown, so a hand-edited file's extra words (an `-i` option, say) are not.
 */
export function sshAddress(via: string): HostCell {
  if (via === 'local') return value('local (this machine, no SSH)');
  const match = /^ssh (\S+@\S+)$/.exec(via);
  return match ? value(match[1]!) : absent('not recorded in the usual form (ssh USER@ADDRESS[:PORT])');
}

/** A signed offset with its bound, in ms, e.g. `+0.48 ms ± 0.91 ms` (the minus sign is U+2212). */
export function formatOffsetMs(offsetMs: number, uncertaintyMs: number): string {
  return `${offsetMs >= 0 ? '+' : '−'}${Math.abs(offsetMs).toFixed(2)} ms ± ${uncertaintyMs.toFixed(2)} ms`;
}

/** Why a fact of this host is missing when the file does not say more: its `error`, shown in the problem row. */
function missingBecause(host: LabHost, what: 'not probed' | 'not measured'): HostCell {
  return absent(host.error ? `${what} (see ${PROBLEM_FACT})` : what);
}

const IDENTITY: IdentityFact[] = [
  ['roles', (host) => value(host.roles.length > 0 ? host.roles.join(', ') : 'none')],
  ['SSH (user@address[:port])', (host) => sshAddress(host.via)],
  ['test address', (host) => value(host.testAddress)],
];

const PROBED: ProbedFact[] = [
  ['hostname', (facts) => value(facts.hostname)],
  ['CPU model', (facts) => value(facts.cpuModel)],
  ['cores (online)', (facts) => (facts.cores === null ? absent('not reported (getconf _NPROCESSORS_ONLN gave no count)') : value(String(facts.cores)))],
  ['CPU clock (MHz, /proc/cpuinfo)', (facts) => (facts.cpuMHz === null ? absent('not reported (no cpu MHz in /proc/cpuinfo)') : value(String(facts.cpuMHz)))],
  ['memory (GiB)', (facts) => (facts.memoryBytes === null ? absent('not reported (no MemTotal in /proc/meminfo)') : value((facts.memoryBytes / GiB).toFixed(1)))],
  ['kernel', (facts) => value(facts.kernel)],
  ['distribution', (facts) => value(facts.distro)],
  ['/dev/kvm', (facts) => yesNo(facts.kvmDevice)],
  ['KVM accel probe', (facts) => accelCell(facts)],
  ['vhost-net (/dev/vhost-net)', (facts) => yesNo(facts.vhostNet)],
  ['hardware perf counters', (facts) => yesNo(facts.perfCounters)],
  ['Docker', (facts) => (facts.docker ? value(`${facts.docker.version}, storage driver ${facts.docker.storageDriver}, cgroup v${facts.docker.cgroupVersion}`) : absent('not answering (or docker missing)'))],
  ['libvirt', (facts) => (facts.libvirt === null ? absent('libvirtd not answering (or virsh missing)') : value(facts.libvirt))],
];

/** `works`/`hangs`/`fails`/`not probed` with the probe's words (a `not probed` cell is shown as absent). */
function accelCell(facts: LabHostFacts): HostCell {
  const line = `${facts.accel}: ${accelProbeWords(facts)}`;
  return facts.accel === 'not probed' ? absent(line) : value(line);
}

/**
 * The rows of the hosts table: roles, SSH address, test address, `problem` (only when a host has
 * an error), the probed facts, one row per tool any host lists (in the order first listed), and
 * the clock offset against the controlling host with its round trip.
 */
export function labHostRows(hosts: readonly LabHost[]): HostFactRow[] {
  const rows: HostFactRow[] = IDENTITY.map(([fact, cell]) => ({ fact, cells: hosts.map(cell) }));
  if (hosts.some((host) => host.error !== undefined)) {
    rows.push({ fact: PROBLEM_FACT, cells: hosts.map((host) => (host.error === undefined ? value('none') : value(host.error))) });
  }
  for (const [fact, cell] of PROBED) {
    rows.push({ fact, cells: hosts.map((host) => (host.facts ? cell(host.facts, host) : missingBecause(host, 'not probed'))) });
  }
  const tools = [...new Set(hosts.flatMap((host) => host.facts?.tools.map((tool) => tool.tool) ?? []))];
  for (const tool of tools) {
    rows.push({
      fact: `${tool} version`,
      cells: hosts.map((host) => {
        if (!host.facts) return missingBecause(host, 'not probed');
        const found = host.facts.tools.find((candidate) => candidate.tool === tool);
        // null: the facts script found no such command, or it printed no version.
        if (!found) return absent('not probed');
        return found.version === null ? absent('not found (or printed no version)') : value(found.version);
      }),
    });
  }
  rows.push({
    fact: 'clock offset to controller (ms)',
    cells: hosts.map((host) => (host.clockOffset ? value(formatOffsetMs(host.clockOffset.offsetMs, host.clockOffset.uncertaintyMs)) : missingBecause(host, 'not measured'))),
  });
  rows.push({
    fact: 'clock sample round trip (ms)',
    cells: hosts.map((host) => (host.clockOffset ? value(`${host.clockOffset.roundTripMs.toFixed(2)} ms (shortest of ${host.clockOffset.samples} samples)`) : missingBecause(host, 'not measured'))),
  });
  return rows;
}
