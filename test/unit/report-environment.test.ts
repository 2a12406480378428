import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { environmentSection } from '../../reports/html/environment.js';
import { sshAddress } from '../../reports/model/lab-hosts.js';
import { labelRuns } from '../../reports/model/runs.js';
import type { LabHost, ResultsFile } from '../../results/schema.js';
import { readResultsFile } from '../../results/store.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const LAB = fixture('reports/environment/lab-tcp-bulk-2hosts.json');

/** The page's entities back to text (escape.ts's five). */
function unescape(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** The hosts table of an environment section as text: its header, then per row the fact and its cells (and their classes). */
function hostsTable(section: string): { header: string[]; rows: Map<string, { cells: string[]; classes: string[] }> } {
  const table = /<table class="facts hosts">([\s\S]*?)<\/table>/.exec(section);
  assert.ok(table, 'a hosts table');
  const cells = (row: string) => [...row.matchAll(/<t([hd])([^>]*)>([\s\S]*?)<\/t\1>/g)].map((match) => ({ text: unescape(match[3]!), classes: match[2]! }));
  const [head, ...body] = [...table[1]!.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((match) => cells(match[1]!));
  const rows = new Map<string, { cells: string[]; classes: string[] }>();
  for (const [fact, ...rest] of body) {
    assert.ok(fact && !rows.has(fact.text), `one row per fact: ${fact?.text}`);
    rows.set(fact.text, { cells: rest.map((cell) => cell.text), classes: rest.map((cell) => cell.classes) });
  }
  return { header: head!.map((cell) => cell.text), rows };
}

function sectionOf(file: ResultsFile): string {
  return environmentSection(labelRuns([file])).html;
}

describe('report environment: lab hosts', () => {
  it('a lab file gives one column per host, every fact in one aligned row', async () => {
    const file = await readResultsFile(LAB);
    const section = sectionOf(file);
    const { header, rows } = hostsTable(section);
    assert.deepEqual(header, ['fact', 'sut', 'peer']);
    for (const [fact, row] of rows) assert.equal(row.cells.length, 2, `${fact}: a cell per host`);
    const cellsOf = (fact: string) => rows.get(fact)?.cells;
    assert.deepEqual(cellsOf('roles'), ['server', 'client']);
    assert.deepEqual(cellsOf('SSH (user@address[:port])'), ['root@198.19.214.2', 'root@198.19.214.3']);
    assert.deepEqual(cellsOf('test address'), ['198.19.214.2', '198.19.214.3']);
    assert.deepEqual(cellsOf('CPU model'), ['AMD EPYC', 'AMD EPYC']);
    assert.deepEqual(cellsOf('cores (online)'), ['2', '2']);
    assert.deepEqual(cellsOf('CPU clock (MHz, /proc/cpuinfo)'), ['2596.154', '2596.154']);
    assert.deepEqual(cellsOf('memory (GiB)'), ['23.5', '23.5']);
    assert.deepEqual(cellsOf('kernel'), ['6.18.44-fc-v595', '6.18.44-fc-v595']);
    assert.deepEqual(cellsOf('distribution'), ['Debian GNU/Linux 12 (bookworm)', 'Debian GNU/Linux 12 (bookworm)']);
    assert.match(cellsOf('KVM accel probe')![0]!, /^hangs: no `Linux version` on the serial console within 15 s under KVM/);
    assert.deepEqual(cellsOf('vhost-net (/dev/vhost-net)'), ['no', 'no']);
    assert.deepEqual(cellsOf('hardware perf counters'), ['no', 'no']);
    assert.deepEqual(cellsOf('iperf3 version'), ['iperf 3.12 (cJSON 1.7.15)', 'iperf 3.12 (cJSON 1.7.15)']);
    assert.deepEqual(cellsOf('clock offset to controller (ms)'), ['+0.48 ms ± 0.91 ms', '+0.29 ms ± 0.48 ms']);
    assert.deepEqual(cellsOf('clock sample round trip (ms)'), ['1.82 ms (shortest of 8 samples)', '0.96 ms (shortest of 8 samples)']);
    // No problem row when no host has an error; libvirt absent on both, and says why.
    assert.equal(rows.has('problem'), false);
    assert.deepEqual(cellsOf('libvirt'), ['— libvirtd not answering (or virsh missing)', '— libvirtd not answering (or virsh missing)']);
    // The run's own table names the controller once instead of presenting its facts as a measured host's.
    assert.match(section, /<th scope="row">controlling host<\/th><td>vm \(AMD EPYC, 2 cores; kernel 6\.18\.44-fc-v669; Node\.js v20\.20\.2\)/);
    assert.doesNotMatch(section, /<th scope="row">host<\/th>/);
  });

  it('a host missing a fact shows a placeholder with the reason, never 0 or an empty cell', async () => {
    const file = await readResultsFile(LAB);
    const [sut, peer] = file.hosts!;
    const partial: LabHost = {
      ...sut!,
      facts: { ...sut!.facts!, cores: null, cpuMHz: null, memoryBytes: null, docker: null, tools: sut!.facts!.tools.map((tool) => (tool.tool === 'sysbench' ? { ...tool, version: null } : tool)) },
      clockOffset: null,
      error: 'host sut: `date +%s.%N` gave no time: 1764496992.N',
    };
    const unreachable: LabHost = { ...peer!, facts: null, clockOffset: null, error: 'host peer: unreachable: ssh: connect to host 198.19.214.3 port 22: No route to host (ssh root@198.19.214.3)' };
    const { header, rows } = hostsTable(sectionOf({ ...file, hosts: [partial, unreachable] }));
    assert.deepEqual(header, ['fact', 'sut', 'peer']);
    const cellsOf = (fact: string) => rows.get(fact)?.cells;
    assert.deepEqual(cellsOf('problem'), [partial.error, unreachable.error]);
    assert.deepEqual(cellsOf('cores (online)'), ['— not reported (getconf _NPROCESSORS_ONLN gave no count)', '— not probed (see problem)']);
    assert.deepEqual(cellsOf('CPU clock (MHz, /proc/cpuinfo)'), ['— not reported (no cpu MHz in /proc/cpuinfo)', '— not probed (see problem)']);
    assert.deepEqual(cellsOf('memory (GiB)'), ['— not reported (no MemTotal in /proc/meminfo)', '— not probed (see problem)']);
    assert.deepEqual(cellsOf('Docker'), ['— not answering (or docker missing)', '— not probed (see problem)']);
    assert.deepEqual(cellsOf('sysbench version'), ['— not found (or printed no version)', '— not probed (see problem)']);
    assert.deepEqual(cellsOf('CPU model'), ['AMD EPYC', '— not probed (see problem)']);
    assert.deepEqual(cellsOf('clock offset to controller (ms)'), ['— not measured (see problem)', '— not measured (see problem)']);
    // Identity facts come from the inventory, so an unreachable host still has them.
    assert.deepEqual(cellsOf('test address'), ['198.19.214.2', '198.19.214.3']);
    for (const [fact, row] of rows) {
      row.cells.forEach((cell, index) => {
        assert.notEqual(cell.trim(), '', `${fact}: no empty cell`);
        assert.notEqual(cell.trim(), '0', `${fact}: no 0 for an absent fact`);
        // An absent fact is greyed as such; a value is not.
        assert.equal(/class="absent"/.test(row.classes[index]!), cell.startsWith('—'), `${fact}: ${cell}`);
      });
    }
  });

  it('shows only user@address of how a host was reached, and escapes what the file holds', async () => {
    assert.deepEqual(sshAddress('ssh root@198.19.214.2:2222'), { kind: 'value', text: 'root@198.19.214.2:2222' });
    assert.deepEqual(sshAddress('local'), { kind: 'value', text: 'local (this machine, no SSH)' });
    // A hand-edited `via` with more than the schema's form is not echoed.
    assert.equal(sshAddress('ssh -i /root/.ssh/id_ed25519 root@lab').kind, 'absent');
    const file = await readResultsFile(LAB);
    const section = sectionOf({ ...file, hosts: [{ ...file.hosts![0]!, name: '<script>x</script>' }] });
    assert.doesNotMatch(section, /<script>/);
    assert.match(section, /&lt;script&gt;x&lt;\/script&gt;/);
  });
});

describe('report environment: single-host files', () => {
  // Captured from reports/html/environment.ts before lab hosts were added (commit 38f7b3a).
  const cases: Array<[golden: string, files: string[]]> = [
    ['single-network-1rep', ['results/native-network-1rep.json']],
    ['single-aa', ['results/aa-native-tcp-bulk-startup.json']],
    ['single-migration-sweep', ['results/migration-sweep-2reps.json']],
    ['before-after', ['reports/native-network-quick.json', 'reports/native-docker-3reps.json']],
  ];
  for (const [golden, files] of cases) {
    it(`renders ${golden} exactly as before lab mode`, async () => {
      const results = await Promise.all(files.map((name) => readResultsFile(fixture(name))));
      const expected = await readFile(fixture(`reports/environment/${golden}.html`), 'utf8');
      assert.equal(`${environmentSection(labelRuns(results)).html}\n`, expected);
    });
  }
});

describe('report environment: KVM usable', () => {
  it('says what the kvm target\'s probe found when the host probe left it open (it said "not probed" above a kvm row whose probe said no)', async () => {
    const file = await readResultsFile(fixture('random-io/seq-io-native-kvm-1rep.json'));
    assert.equal(file.host.kvmUsable, null, 'the host probe does not boot a guest');
    assert.equal(file.targets.find((target) => target.target === 'kvm')?.labels.kvmUsable, false);
    assert.match(unescape(sectionOf(file)), /\/dev\/kvm yes; KVM usable no \(the kvm target's probe\)/);
    // A run without a kvm target has no probe to quote.
    const native = { ...file, targets: file.targets.filter((target) => target.target !== 'kvm') };
    assert.match(unescape(sectionOf(native)), /KVM usable not probed/);
  });
});

describe('report environment: Docker', () => {
  it('names the daemon a Docker target ran on when the host probe found none (isobench started dockerd after it; the row said "not available")', async () => {
    const file = await readResultsFile(fixture('reports/native-docker-3reps.json'));
    const probed = { ...file, host: { ...file.host, docker: null } };
    const docker = file.targets.find((target) => typeof target.labels.dockerVersion === 'string')!;
    const facts = `${String(docker.labels.dockerVersion)}, storage driver ${String(docker.labels.storageDriver)}, cgroup ${String(docker.labels.cgroupVersion)}`;
    assert.ok(unescape(sectionOf(probed)).includes(`<td>${facts} (not answering at the host probe; ${docker.target} ran on it)</td>`));
    const started = { ...probed, targets: file.targets.map((target) => (target === docker ? { ...target, labels: { ...target.labels, daemonStartedByIsobench: true } } : target)) };
    assert.ok(unescape(sectionOf(started)).includes(`<td>${facts} (started by the run after the host probe; ${docker.target} ran on it)</td>`));
    const none = { ...probed, targets: file.targets.filter((target) => typeof target.labels.dockerVersion !== 'string') };
    assert.ok(unescape(sectionOf(none)).includes('<th scope="row">Docker</th><td>not available</td>'));
  });
});
