import { UsageError } from '../../core/errors.js';
import { dockerAvailability } from '../../provisioning/docker/daemon.js';
import { DEFAULT_GUARD_RANGE } from '../../provisioning/topology.js';
import { doctorLab } from '../lab-doctor.js';
import { freeDiskBytes, probeDocker, probeHost, type DockerFacts } from '../../provisioning/host-probe.js';
import { kvmDoctorCheck, libvirtDoctorCheck } from '../../provisioning/kvm/doctor.js';
import { DRIVERS } from '../../provisioning/targets/index.js';
import { qemuVersionLine } from '../../provisioning/targets/kvm.js';
import { SUITES } from '../../suites/index.js';
import { missingTools } from '../../core/tools.js';
import { parseFlags } from '../../core/flags.js';

/** One line of doctor's table: what is checked, what was found, what to do or know about it. */
export interface Row {
  check: string;
  value: string;
  note: string;
}

/**
 * Doctor's Docker rows, each naming whose version it shows: the daemon's (`docker info`'s server
 * version) and the client's (`docker --version`). Both were bare version numbers, one row called
 * `docker`, and the two differ when only one of them was upgraded.
 * @param daemon The daemon's facts, or null when it does not answer.
 * @param client The `docker --version` line, or null when the docker command is missing.
 * @param silentNote The note when the daemon does not answer (why, or that the targets start it).
 * @returns Two rows, `docker daemon (server)` then `docker client`.
 */
export function dockerRows(daemon: DockerFacts | null, client: string | null, silentNote: string): Row[] {
  const proxy = daemon === null || daemon.userlandProxy === null ? 'unknown' : daemon.userlandProxy ? 'on' : 'off';
  return [
    {
      check: 'docker daemon (server)',
      value: daemon ? `${daemon.version} (${daemon.storageDriver}, cgroup v${daemon.cgroupVersion}, userland proxy ${proxy})` : 'not answering',
      note: daemon ? '' : silentNote,
    },
    { check: 'docker client', value: client ?? 'missing', note: client === null ? 'apt-get install docker.io' : '' },
  ];
}

const GiB = 1024 ** 3;

/** `npm run doctor -- --help`. */
export const DOCTOR_USAGE = 'usage: npm run doctor [-- --hosts FILE [--guard-range CIDR]]';

/**
 * What this host can do and what is missing, with the fix for each gap; with `--hosts FILE`, the
 * same for every inventory host over SSH, and the clock offsets between them (doctorLab).
 * @returns 0; with `--hosts`, 1 when a host could not be reached or described.
 * @throws UsageError for an unknown flag or a bad inventory (one line, exit 2).
 */
export async function doctorCommand(argv: string[] = []): Promise<number> {
  const { values } = parseFlags(
    { args: argv, options: { hosts: { type: 'string' }, 'guard-range': { type: 'string' }, help: { type: 'boolean' } }, strict: true, allowPositionals: false },
    'npm run doctor -- --help',
  );
  if (values.help) {
    console.log(DOCTOR_USAGE);
    return 0;
  }
  if (values.hosts !== undefined) return doctorLab(values.hosts, values['guard-range'] ?? DEFAULT_GUARD_RANGE);
  if (values['guard-range'] !== undefined) throw new UsageError(`--guard-range only checks an inventory's test addresses: give --hosts FILE too; ${DOCTOR_USAGE}`);
  const host = await probeHost();
  const rows: Row[] = [
    { check: 'cpu', value: `${host.cpuModel} (${host.cores} cores${host.cpuMHz ? `, ${host.cpuMHz} MHz` : ''})`, note: '' },
    { check: 'memory', value: `${(host.memoryBytes / GiB).toFixed(1)} GiB`, note: '' },
    { check: 'kernel / distro', value: `${host.kernel} / ${host.distro}`, note: '' },
  ];
  const free = await freeDiskBytes('/var/tmp');
  rows.push({ check: 'free disk (/var/tmp)', value: free === null ? 'unknown' : `${(free / GiB).toFixed(1)} GiB`, note: 'the fio file and images live here' });
  rows.push({
    check: 'hardware perf counters',
    value: host.perfCounters ? 'yes' : 'no',
    note: host.perfCounters ? 'CPU cost also in cycles' : 'CPU cost from /proc/stat CPU time (cycles estimated from the nominal clock)',
  });
  rows.push({ check: '/dev/kvm', value: host.kvmDevice ? 'present' : 'absent', note: '' });
  rows.push({ check: 'KVM guest really runs', ...(await kvmDoctorCheck(() => qemuVersionLine())) });
  rows.push({ check: 'libvirtd', ...(await libvirtDoctorCheck()) });
  rows.push({ check: '/dev/vhost-net', value: host.vhostNet ? 'present' : 'absent', note: host.vhostNet ? '' : 'guests use userspace virtio-net (recorded in results)' });
  const docker = await probeDocker();
  const client = host.tools.find((tool) => tool.tool === 'docker')?.version ?? null;
  rows.push(...dockerRows(docker, client, docker ? '' : ((await dockerAvailability()) ?? 'the Docker targets start dockerd when they run')));
  for (const tool of host.tools) if (tool.tool !== 'docker') rows.push({ check: tool.tool, value: tool.version ?? 'missing', note: '' });
  for (const driver of DRIVERS) {
    const name = driver.name;
    const missing = await missingTools(driver.hostTools);
    const reason = await driver.defaultAvailability(host);
    rows.push({
      check: `target ${name}`,
      value: missing.length > 0 ? 'missing tools' : reason === null ? 'ready' : 'unavailable',
      note: missing.length > 0 ? `apt-get install ${[...new Set(missing.map((tool) => tool.debianPackage))].join(' ')}` : reason ?? '',
    });
  }
  for (const suite of SUITES) {
    const missing = await missingTools(suite.hostTools);
    rows.push({
      check: `suite ${suite.name}`,
      value: missing.length === 0 ? 'ready' : 'missing tools',
      note: missing.length === 0 ? '' : `apt-get install ${missing.map((tool) => tool.debianPackage).join(' ')}`,
    });
  }
  const width = Math.max(...rows.map((row) => row.check.length));
  const valueWidth = Math.min(60, Math.max(...rows.map((row) => row.value.length)));
  for (const row of rows) console.log(`${row.check.padEnd(width)}  ${row.value.padEnd(valueWidth)}  ${row.note}`.trimEnd());
  return 0;
}
