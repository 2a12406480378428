/**
 * The efficiency figure of a lab run (issue 14): one figure per host whose CPU per byte the run
 * stored (`cpu_ns_per_byte_host NAME`), on the real lab results file
 * test/fixtures/results/lab-native-network-2reps.json; single-host files keep the figure they had.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FIGURE_MAX_WIDTH_PX } from '../../reports/figures/encoding.js';
import { hostRole, measuredHosts } from '../../reports/figures/tcp-bulk-efficiency.js';
import { renderFigure } from '../../reports/render.js';
import { buildFigures } from '../../reports/write-report.js';
import { parseResultsFile, type ResultsFile } from '../../results/schema.js';
import { readResultsFile } from '../../results/store.js';
import { combined, loadFixtures, withEmulatedGuest } from '../fixtures/reports/derive.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const LAB = fixture('results/lab-native-network-2reps.json');

/** The stored mean of a metric at a tcp-bulk point of the file. */
function storedMean(file: ResultsFile, pointId: string, metric: string): number | undefined {
  return file.points.find((point) => point.suite === 'tcp-bulk' && point.pointId === pointId)?.summaries.find((summary) => summary.metric === metric)?.mean;
}

describe('tcp-bulk efficiency of a lab run', () => {
  it('draws one figure per measured host, titled with its name and role, with the stored values', async () => {
    const lab = await readResultsFile(LAB);
    const { figures } = buildFigures([lab], 'native');
    const ids = figures.map((figure) => figure.id);
    assert.ok(!ids.includes('tcp-bulk-efficiency'), 'no single-host figure: the file has no whole-host cpu_ns_per_byte');
    assert.deepEqual(ids.filter((id) => id.startsWith('tcp-bulk-efficiency')), ['tcp-bulk-efficiency-host-sut', 'tcp-bulk-efficiency-host-peer']);
    for (const [name, role] of [['sut', 'server'], ['peer', 'client']] as const) {
      const figure = figures.find((candidate) => candidate.id === `tcp-bulk-efficiency-host-${name}`)!;
      assert.match(figure.title, new RegExp(`on host ${name} \\(${role}\\)`));
      assert.match(figure.notes.join(' '), new RegExp(`whole-host CPU time of ${name} \\(${role}\\), from its own /proc/stat read over SSH`));
      assert.match(figure.notes.join(' '), /divided by bytes moved/);
      const metric = `cpu_ns_per_byte_host ${name}`;
      assert.deepEqual(figure.rows.map((row) => row.pointId).sort(), ['client-to-server', 'server-to-client']);
      for (const row of figure.rows) {
        assert.equal(row.metric, metric);
        assert.equal(row.unit, 'ns/byte');
        assert.equal(row.n, 2, 'two repetitions');
        const stored = storedMean(lab, row.pointId, metric);
        assert.ok(stored !== undefined && stored > 0, `${name} ${row.pointId}: stored ${stored}`);
        assert.equal(row.mean, stored, `${name} ${row.pointId}`);
      }
      // Drawn with units, within the page.
      const { svg } = await renderFigure(figure.spec);
      assert.match(svg, new RegExp(`${name}'s CPU time per byte \\(ns/byte\\)`));
      assert.match(svg, new RegExp(`measured \\(host ${name} \\(${role}\\)\\)`), 'the panel names the host, not "this host"');
      const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
      assert.ok(width <= FIGURE_MAX_WIDTH_PX, `${figure.id}: ${width} px wide, the page has ${FIGURE_MAX_WIDTH_PX}`);
    }
  });

  it('takes the role from the command, else from the hosts\' roles, and names hosts in the file\'s order', async () => {
    const lab = await readResultsFile(LAB);
    assert.deepEqual(measuredHosts([lab]), ['sut', 'peer']);
    assert.equal(hostRole([lab], 'sut'), 'server');
    assert.equal(hostRole([lab], 'peer'), 'client');
    // Without --server/--client in the command, the inventory roles speak; a host without either has none.
    const withoutFlags = parseResultsFile({ ...structuredClone(lab), plan: { ...lab.plan, command: ['--hosts', 'lab.yaml'] } }, 'derived');
    assert.equal(hostRole([withoutFlags], 'sut'), 'server');
    const noRoles = parseResultsFile({ ...withoutFlags, hosts: withoutFlags.hosts!.map((host) => ({ ...host, roles: [] })) }, 'derived');
    assert.equal(hostRole([noRoles], 'peer'), null);
    assert.match(buildFigures([noRoles], 'native').figures.find((figure) => figure.id === 'tcp-bulk-efficiency-host-peer')!.title, /on host peer \(lower/);
    // A file without per-host metrics draws no per-host figure.
    const stripped = structuredClone(lab);
    for (const point of stripped.points) point.summaries = point.summaries.filter((summary) => !summary.metric.startsWith('cpu_ns_per_byte_host'));
    assert.deepEqual(measuredHosts([stripped]), []);
  });
});

describe('tcp-bulk efficiency of single-host files', () => {
  // Built with the code before per-host figures (commit 8af4c9a) and stored; see test/fixtures/reports/efficiency/README.md.
  const cases: Array<[golden: string, load: () => Promise<ResultsFile>]> = [
    ['native-network-1rep', () => readResultsFile(fixture('results/native-network-1rep.json'))],
    ['combined-emulated-guest', async () => withEmulatedGuest(combined(await loadFixtures()))],
  ];
  for (const [golden, load] of cases) {
    it(`builds the ${golden} figure exactly as before lab hosts`, async () => {
      const { figures } = buildFigures([await load()], 'native');
      const efficiency = figures.filter((figure) => figure.id.startsWith('tcp-bulk-efficiency'));
      assert.deepEqual(efficiency.map((figure) => figure.id), ['tcp-bulk-efficiency']);
      assert.equal(`${JSON.stringify(efficiency[0])}\n`, await readFile(fixture(`reports/efficiency/${golden}.json`), 'utf8'));
    });
  }
});
