import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { renderFigure } from '../../reports/render.js';
import { buildFigures } from '../../reports/write-report.js';
import { readResultsFile } from '../../results/store.js';

// A real quick run of the mysql suite on Felter et al.'s five rows (native, docker-host, docker-nat,
// docker-nat:overlay, kvm:qcow2 under TCG), 3 repetitions, on the development machine.
const RUN = fileURLToPath(new URL('../fixtures/sysbench/run-quick-five-configurations.json', import.meta.url));

describe('MySQL figures from a real run', () => {
  it('draw every configuration at every thread count, % of native, the paper\'s values, and the TCG row as emulated', async () => {
    const results = await readResultsFile(RUN);
    assert.deepEqual(results.plan.targets, ['native', 'docker-host', 'docker-nat', 'docker-nat:overlay', 'kvm:qcow2']);
    const { figures } = buildFigures([results], 'native', displayOf);
    const byId = new Map(figures.map((figure) => [figure.id, figure]));
    const throughput = byId.get('mysql-throughput');
    const latency = byId.get('mysql-latency-throughput');
    assert.ok(throughput && latency);
    assert.deepEqual(throughput.marks, { value: 15, ci: 15, gap: 0, percent: 15, paper: 10 });
    assert.deepEqual(latency.marks, { value: 15, ci: 15 });
    assert.equal(throughput.rows.filter((row) => row.target === 'native').every((row) => row.percentOfBaseline === 100), true);
    assert.ok(throughput.rows.filter((row) => row.target === 'kvm:qcow2').every((row) => row.emulated && (row.percentOfBaseline ?? 100) < 20), 'the TCG guest is labelled emulated and far below native');
    for (const figure of [throughput, latency]) {
      assert.match(figure.notes[0]!, /^sysbench oltp_read_only from the client namespace against isobench's own MariaDB/);
      const { svg } = await renderFigure(figure.spec);
      const drawn = (svg.match(/class="mark-[a-z]+ role-mark value_marks"[^>]*>(.*?)<\/g>/)?.[1] ?? '').match(/role="graphics-symbol"/g)?.length;
      assert.equal(drawn, figure.marks['value'], `${figure.id}: one value mark per configuration and thread count in the SVG`);
    }
  });

  it('judged against a target the run did not have (kvm): no "% of kvm" panel, subtitle or note', async () => {
    const results = await readResultsFile(RUN);
    const throughput = buildFigures([results], 'kvm', displayOf).figures.find((figure) => figure.id === 'mysql-throughput')!;
    assert.equal(throughput.marks['percent'], 0);
    const text = `${JSON.stringify(throughput.spec)} ${throughput.notes.join(' ')} ${(await renderFigure(throughput.spec)).svg}`;
    assert.doesNotMatch(text, /of kvm/);
    assert.doesNotMatch(text, /percent_curve/, 'no empty percentage panel');
  });
});
