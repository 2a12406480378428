import type { ResultsFile } from '../../results/schema.js';
import type { ReportRun } from '../model/runs.js';
import { html, type SafeHtml } from './escape.js';
import { labHostsTable } from './lab-hosts.js';

/**
 * Everything a reader needs to judge whether two runs are comparable, per run. A lab run (a file
 * with `hosts`) shows its inventory hosts side by side in one table, and of the controlling host
 * only what it is; a single-host run shows its host's facts in the run's table.
 */
export function environmentSection(runs: readonly ReportRun[]): SafeHtml {
  return html`<section id="environment"><h2>Environment</h2>${runs.map((run) => runEnvironment(run))}</section>`;
}

/**
 * Whether KVM worked here: the host probe's answer, else the kvm target's own probe (the host probe
 * leaves it null; the kvm driver boots a probe guest and stores `kvmUsable` in its labels), else
 * `not probed`. A newcomer read `KVM usable not probed` above a kvm row whose probe had said no.
 */
function kvmUsableText(file: ReportRun['file']): string {
  if (file.host.kvmUsable !== null) return yesNo(file.host.kvmUsable);
  const probed = file.targets.map((target) => target.labels.kvmUsable).find((value) => typeof value === 'boolean');
  return probed === undefined ? 'not probed' : `${yesNo(probed)} (the kvm target's probe)`;
}

/**
 * The Docker row: the daemon the host probe found; when none answered then, the one a Docker target
 * ran on (isobench starts dockerd after the probe: "not available" was wrong for a run that used it).
 */
function dockerText(file: ReportRun['file']): string {
  const host = file.host;
  if (host.docker) return `${host.docker.version}, storage driver ${host.docker.storageDriver}, cgroup ${host.docker.cgroupVersion}`;
  const used = file.targets.find((target) => target.state === 'ready' && typeof target.labels.dockerVersion === 'string' && target.labels.host === undefined);
  if (!used) return 'not available';
  const { dockerVersion, storageDriver, cgroupVersion, daemonStartedByIsobench } = used.labels;
  const when = daemonStartedByIsobench === true ? 'started by the run after the host probe' : 'not answering at the host probe';
  return `${String(dockerVersion)}, storage driver ${String(storageDriver)}, cgroup ${String(cgroupVersion)} (${when}; ${used.target} ran on it)`;
}

function runEnvironment(run: ReportRun): SafeHtml {
  const { file } = run;
  const host = file.host;
  const lab = file.hosts !== undefined && file.hosts.length > 0;
  const hostRows: [string, unknown][] = [
    ['host', host.hostname],
    ['CPU', `${host.cpuModel}, ${host.cores} cores${host.cpuMHz === null ? '' : ` @ ${host.cpuMHz} MHz`}`],
    ['memory', `${(host.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ['kernel / distro', `${host.kernel} / ${host.distro}`],
    ['Node.js', host.nodeVersion],
    ['tools', host.tools.map((tool) => `${tool.tool} ${tool.version ?? '(missing)'}`).join(', ')],
    ['accel', `/dev/kvm ${yesNo(host.kvmDevice)}; KVM usable ${kvmUsableText(file)}`],
    ['vhost-net', yesNo(host.vhostNet)],
    ['perf counters', yesNo(host.perfCounters)],
    ['Docker', dockerText(file)],
  ];
  const rows: [string, unknown][] = [
    ['run id', file.runId],
    ['started / finished', `${file.startedAt} / ${file.finishedAt ?? '(not finished)'}`],
    ['run status', file.reason ? `${file.status}: ${file.reason}` : file.status],
    ['isobench', file.isobenchVersion],
    // In lab mode the controller's own facts describe no measured machine: one line says what it is.
    ...(lab ? [controllerRow(file)] : hostRows),
    ['plan', planText(file)],
    ['verdicts', verdictText(file)],
    ['CPU pinning', file.plan.pinning.cpuSets ? `${Object.entries(file.plan.pinning.cpuSets).map(([role, cpus]) => `${role}: ${cpus}`).join(', ')}; ${file.plan.pinning.reason}` : `none (${file.plan.pinning.oversubscribed ? 'oversubscribed: ' : ''}${file.plan.pinning.reason})`],
  ];
  return html`<h3>Run ${run.label}</h3>
<table class="facts"><tbody>${rows.map(([name, value]) => html`<tr><th scope="row">${name}</th><td>${value}</td></tr>`)}</tbody></table>
${lab ? html`${labHostsTable(file.hosts ?? [])}\n` : ''}<table class="targets"><thead><tr><th>target</th><th>state</th><th>network path</th><th>storage</th><th>labels</th><th>degraded</th></tr></thead><tbody>${file.targets.map(
    (target) =>
      html`<tr class="${target.degraded.length ? 'degraded' : ''}"><td>${target.target}</td><td>${target.state}${target.reason ? html`: ${target.reason}` : ''}</td><td>${target.networkPath}</td><td>${target.storage}</td><td>${Object.entries(target.labels)
        .map(([key, value]) => `${key}=${String(value)}`)
        .join(', ')}</td><td>${target.degraded.join('; ')}</td></tr>`,
  )}</tbody></table>`;
}

/** The controlling host of a lab run: what ran isobench and is the clock reference. */
function controllerRow(file: ResultsFile): [string, string] {
  const host = file.host;
  return ['controlling host', `${host.hostname} (${host.cpuModel}, ${host.cores} cores; kernel ${host.kernel}; Node.js ${host.nodeVersion}): ran isobench; the hosts' clock offsets are against it`];
}

function planText(file: ResultsFile): string {
  const plan = file.plan;
  return `targets ${plan.targets.join(', ')}; suites ${plan.suites.join(', ')}; ${plan.quick ? 'quick' : 'full'}; ${plan.repetitions} repetitions, interleaved (seed ${plan.seed}); noisy above CV ${(plan.cvThreshold * 100).toFixed(0)}%`;
}

function verdictText(file: ResultsFile): string {
  const plan = file.plan;
  const mode = plan.mode === 'aa' ? 'A/A (the noise floor)' : 'compare';
  const floor = plan.noiseFloorPercent === null ? 'no noise floor given' : `noise floor ${plan.noiseFloorPercent} %`;
  const adaptive = plan.adaptive
    ? `adaptive up to ${plan.adaptive.maxRepetitions} repetitions${plan.adaptive.budgetSeconds === null ? '' : ` or ${plan.adaptive.budgetSeconds} s`}`
    : 'fixed repetitions';
  return `${mode} against ${plan.baseline}, margin ±${plan.marginPercent} %, ${floor}, ${adaptive}${file.stopReason ? `; stopped: ${file.stopReason}` : ''}`;
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}
