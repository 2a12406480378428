import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareRuns } from '../../reports/html/comparison.js';
import { escapeHtml, html, jsonForScriptElement } from '../../reports/html/escape.js';
import { UsageError } from '../../core/errors.js';
import type { ResultsFile } from '../../results/schema.js';
import { runReportCommand } from '../../reports/command.js';
import { figureCsv } from '../../reports/csv.js';
import { collectRows } from '../../reports/model/rows.js';
import { labelRuns } from '../../reports/model/runs.js';
import { describeTarget } from '../../reports/model/targets.js';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { TargetStyles } from '../../reports/model/targets.js';
import { buildFigures } from '../../reports/write-report.js';
import { renderFigure } from '../../reports/render.js';
import { FIXTURES, loadFixtures, shifted, withEmulatedGuest } from '../fixtures/reports/derive.js';

const [network] = await loadFixtures();
if (!network) throw new Error('fixture missing');
const guest = withEmulatedGuest(network);
const styles = new TargetStyles(displayOf);

describe('report rows', () => {
  it('computes % of the baseline from the same run, point and metric', () => {
    const rows = collectRows(labelRuns([guest]), { suite: 'tcp-bulk', metric: 'throughput_gbps' }, { baseline: 'native', multiRun: false, styles });
    const native = rows.find((row) => row.target === 'native' && row.pointId === 'client-to-server');
    const kvm = rows.find((row) => row.target === 'kvm' && row.pointId === 'client-to-server');
    assert.equal(native?.percentOfBaseline, 100);
    assert.ok(kvm?.percentOfBaseline !== null && Math.abs((kvm?.percentOfBaseline ?? 0) - 30) < 1e-9);
  });

  it('keeps failed and skipped points as rows without a value, with their reason', () => {
    const rows = collectRows(labelRuns([guest]), { suite: 'tcp-bulk', metric: 'throughput_gbps' }, { baseline: 'native', multiRun: false, styles });
    const failed = rows.filter((row) => row.status === 'failed');
    const skipped = rows.filter((row) => row.status === 'skipped');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.mean, null);
    assert.match(failed[0]?.reason ?? '', /timed out/);
    assert.equal(skipped.length, 2);
  });

  it('flags each row by its own metric\'s spread, never with another metric\'s coefficient of variation', () => {
    // A point noisy on its headline (throughput) whose CPU cost is steady, and the other way round.
    const file = structuredClone(network);
    const [noisyHeadline, noisyOther] = file.points.filter((point) => point.suite === 'tcp-bulk');
    const mark = (point: typeof noisyHeadline, metric: string, cv: number) => {
      const summary = point!.summaries.find((candidate) => candidate.metric === metric)!;
      Object.assign(summary, { cv, status: 'noisy' });
    };
    mark(noisyHeadline, 'throughput_gbps', 0.31);
    Object.assign(noisyHeadline!, { status: 'noisy', reason: 'throughput_gbps varies by 31.0 % (threshold 10 %)' });
    mark(noisyOther, 'cpu_ns_per_byte', 0.22);
    const rows = (metric: string) => collectRows(labelRuns([file]), { suite: 'tcp-bulk', metric }, { baseline: 'native', multiRun: false, styles });
    const byPoint = (metric: string, pointId: string) => rows(metric).find((row) => row.pointId === pointId)!;
    assert.equal(byPoint('throughput_gbps', noisyHeadline!.pointId).status, 'noisy');
    assert.match(byPoint('throughput_gbps', noisyHeadline!.pointId).reason ?? '', /throughput_gbps varies by 31\.0 %/);
    assert.equal(byPoint('cpu_ns_per_byte', noisyHeadline!.pointId).status, 'ok', 'a steady metric of a point noisy on its headline is not flagged');
    assert.equal(byPoint('cpu_ns_per_byte', noisyHeadline!.pointId).reason, null);
    assert.equal(byPoint('cpu_ns_per_byte', noisyOther!.pointId).status, 'noisy');
    assert.equal(byPoint('cpu_ns_per_byte', noisyOther!.pointId).reason, 'cpu_ns_per_byte varies by 22.0 %');
  });

  it('leaves out a metric an ok point does not measure instead of calling it a gap', () => {
    const rows = collectRows(labelRuns([network]), { suite: 'tcp-bulk', metric: 'cycles_per_byte' }, { baseline: 'native', multiRun: false, styles });
    assert.deepEqual(rows, []);
  });

  it('labels emulated targets in their display name and warnings', () => {
    const kvm = describeTarget(guest, 'kvm');
    assert.equal(kvm.emulated, true);
    assert.equal(kvm.display, 'kvm (TCG, no vhost)');
    assert.deepEqual(kvm.warnings, ['TCG emulation, not KVM', 'virtio-net without vhost']);
  });

  it('prefixes series with the run when several runs are drawn side by side', () => {
    const later = shifted(network, 1.1, 'later-run');
    const runs = labelRuns([network, later]);
    const rows = collectRows(runs, { suite: 'tcp-rr', metric: 'latency_mean_us' }, { baseline: 'native', multiRun: true, styles });
    assert.equal(new Set(rows.map((row) => row.series)).size, 2);
    assert.deepEqual([...new Set(rows.map((row) => row.run))], runs.map((run) => run.label));
  });
});

describe('before/after comparison', () => {
  /** The real quick runs have one repetition; give every summary five and a ±2% CI. */
  function repeated(file: ResultsFile): ResultsFile {
    const copy = structuredClone(file);
    for (const point of copy.points) {
      point.summaries = point.summaries.map((summary) => ({ ...summary, n: 5, ci95Low: summary.mean * 0.98, ci95High: summary.mean * 1.02 }));
    }
    return copy;
  }

  function changesBetween(before: ResultsFile, after: ResultsFile) {
    const { context, figures } = buildFigures([before, after], 'native', displayOf);
    const [first, second] = context.runs;
    assert.ok(first && second);
    return compareRuns(figures, first, second);
  }

  it('reports the change in % and calls CIs that separate beyond noise', () => {
    const changes = changesBetween(repeated(network), shifted(repeated(network), 1.5, 'later-run'));
    assert.ok(changes.length > 0);
    for (const change of changes) {
      // The derived run is 1.5x faster: throughput +50%, costs (latency, CPU per byte) -33.3%.
      const expected = /latency|per_byte/.test(change.metric) ? (1 / 1.5 - 1) * 100 : 50;
      assert.ok(Math.abs(change.changePercent - expected) < 1e-6, `${change.metric}: ${change.changePercent}`);
      assert.equal(change.beyondNoise, true);
    }
  });

  /** How many changes a comparison of the fixture with itself yields: one per figure row both runs measured. */
  const comparable = () => changesBetween(repeated(network), shifted(repeated(network), 1.5, 'later-run')).length;

  it('calls a change inside overlapping CIs noise', () => {
    const changes = changesBetween(repeated(network), shifted(repeated(network), 1.01, 'later-run'));
    // Non-empty first: a comparison that returned nothing would pass the loop below.
    assert.ok(changes.length > 0);
    assert.equal(changes.length, comparable(), 'every comparable row is judged, not a few');
    for (const change of changes) {
      const expected = /latency|per_byte/.test(change.metric) ? (1 / 1.01 - 1) * 100 : 1;
      assert.ok(Math.abs(change.changePercent - expected) < 1e-6, `${change.metric}: ${change.changePercent} %`);
      assert.equal(change.beyondNoise, false);
    }
  });

  it('does not judge noise from a single repetition', () => {
    const changes = changesBetween(network, shifted(network, 1.5, 'later-run'));
    assert.ok(changes.length > 0);
    assert.equal(changes.length, comparable(), 'every comparable row is listed, not judged');
    for (const change of changes) assert.equal(change.beyondNoise, null);
  });
});

describe('escaping', () => {
  it('escapes markup in text and attributes', () => {
    assert.equal(escapeHtml(`<a href="x">'&`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
    assert.equal(html`<p title="${'"><script>'}">${'<b>'}</p>`.html, '<p title="&quot;&gt;&lt;script&gt;">&lt;b&gt;</p>');
  });

  it('keeps JSON in a script element from closing it, and equal to the original', () => {
    const value = { text: '</script><script>alert(1)</script>\u2028<!--' };
    const encoded = jsonForScriptElement(value);
    assert.doesNotMatch(encoded, /<|>/);
    assert.deepEqual(JSON.parse(encoded), value);
  });

  it('quotes CSV fields and defuses spreadsheet formulas', () => {
    const { figures } = buildFigures([withEmulatedGuest(network)], 'native', displayOf);
    const figure = figures.find((candidate) => candidate.id === 'tcp-bulk-throughput');
    assert.ok(figure);
    const rowWithFormula = { ...figure, rows: [{ ...figure.rows[0]!, reason: '=HYPERLINK("http://x"), "quoted"' }] };
    const csv = figureCsv(rowWithFormula);
    assert.match(csv, /"'=HYPERLINK\(""http:\/\/x""\), ""quoted"""/);
    assert.equal(csv.split('\n')[0]?.split(',')[0], 'figure');
  });
});

describe('report command', () => {
  it('writes the HTML report where told and returns 0', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'isobench-report-command-'));
    const out = join(directory, 'report.html');
    assert.equal(await runReportCommand([FIXTURES.network, FIXTURES.storage, '--out', out, '--title', 'two runs']), 0);
    const page = await readFile(out, 'utf8');
    assert.match(page, /<title>two runs<\/title>/);
    await rm(directory, { recursive: true });
  });

  for (const [why, argv] of [
    ['no files', []],
    ['an unknown option', [FIXTURES.network, '--colour', 'red']],
    ['an unknown format', [FIXTURES.network, '--format', 'pdf']],
    ['a baseline no run measured', [FIXTURES.network, '--baseline', 'kvm']],
    ['a file that is not results', [new URL(import.meta.url).pathname]],
    ['a missing file', ['/nonexistent/results.json']],
  ] as const) {
    it(`rejects ${why} with a UsageError`, async () => {
      await assert.rejects(runReportCommand([...argv]), UsageError);
    });
  }
});

describe('figures for suites not yet measured here', () => {
  /** mysql and startup points shaped as DESIGN names them, built from a real point's frame. */
  function withLaterSuites(file: ResultsFile): ResultsFile {
    const copy = structuredClone(file);
    const frame = copy.points[0];
    assert.ok(frame);
    const summary = (metric: string, unit: string, mean: number) => ({
      metric, unit, n: 3, mean, sd: mean * 0.02, ci95Low: mean * 0.95, ci95High: mean * 1.05, cv: 0.02, min: mean * 0.97, max: mean * 1.03, status: 'ok' as const,
    });
    for (const target of ['native', 'kvm']) {
      for (const threads of [1, 2, 4]) {
        const slow = target === 'kvm' ? 0.6 : 1;
        copy.points.push({
          ...frame, key: `${target}/mysql/threads-${threads}`, target, suite: 'mysql', pointId: `threads-${threads}`, params: { threads },
          summaries: [summary('transactions_per_s', 'tx/s', 1000 * threads * slow), summary('latency_p95_ms', 'ms', 2 + threads / slow)],
        });
      }
      copy.points.push({ ...frame, key: `${target}/startup/ready`, target, suite: 'startup', pointId: 'ready', params: {}, summaries: [summary('ready_ms', 'ms', target === 'kvm' ? 7000 : 40)] });
    }
    copy.points.push({ ...frame, key: 'docker-nat/mysql/threads-1', target: 'docker-nat', suite: 'mysql', pointId: 'threads-1', params: { threads: 1 }, summaries: [], status: 'failed', reason: 'mariadb did not start' });
    return copy;
  }

  it('renders MySQL and startup figures with one mark per point and the failed point as a gap', async () => {
    const { renderFigure } = await import('../../reports/render.js');
    const { figures } = buildFigures([withLaterSuites(network)], 'native', displayOf);
    const byId = new Map(figures.map((figure) => [figure.id, figure]));
    assert.deepEqual(byId.get('mysql-throughput')?.marks, { value: 6, ci: 6, gap: 1, percent: 6, paper: 10 });
    assert.deepEqual(byId.get('mysql-latency-throughput')?.marks, { value: 6, ci: 6 });
    assert.deepEqual(byId.get('startup-time')?.marks, { value: 2, ci: 2, gap: 0 });
    for (const id of ['mysql-throughput', 'mysql-latency-throughput', 'startup-time']) {
      const figure = byId.get(id);
      assert.ok(figure);
      const { svg } = await renderFigure(figure.spec);
      const drawn = (svg.match(/class="mark-[a-z]+ role-mark value_marks"[^>]*>(.*?)<\/g>/)?.[1] ?? '').match(/role="graphics-symbol"/g)?.length;
      assert.equal(drawn, figure.marks['value'], `${id}: value marks in the SVG`);
    }
  });
});

describe('configurations as rows', () => {
  it('a configuration id that names its option is not labelled with it twice', () => {
    const overlay = structuredClone(network);
    const facts = overlay.targets[0]!;
    overlay.targets.push({ ...facts, target: 'docker-nat:overlay', labels: { ...facts.labels, storage: 'overlay' } });
    assert.equal(describeTarget(overlay, 'docker-nat:overlay').display, 'docker-nat:overlay');
    overlay.targets.push({ ...facts, target: 'docker-nat', labels: { ...facts.labels, storage: 'overlay' } });
    assert.equal(describeTarget(overlay, 'docker-nat').display, 'docker-nat (overlay)');
  });
});

describe('whiskers of wide intervals', () => {
  it('a 95 % interval reaching below zero is cut at the axis floor: the log-scale CDF renders with no NaN, and says so', async () => {
    const [, storage] = await loadFixtures();
    const wide = structuredClone(storage!);
    let widened = 0;
    for (const point of wide.points) {
      if (point.pointId !== 'randread-latency' && point.pointId !== 'randread') continue;
      for (const summary of point.summaries) {
        // What n = 3 and a CV near 1 give with Student t (seen here: clat_p99.5_us -438 .. 2348 µs).
        summary.ci95Low = -summary.mean;
        widened++;
      }
    }
    assert.ok(widened > 10);
    const { figures } = buildFigures([wide], 'native', displayOf);
    const cdf = figures.find((figure) => figure.id === 'random-read-latency-cdf')!;
    const iops = figures.find((figure) => figure.id === 'random-io-iops')!;
    for (const figure of [cdf, iops]) {
      assert.ok(figure.notes.some((note) => /whisker\(s\) whose 95 % interval reaches .* are cut/.test(note)), figure.id);
      const { svg } = await renderFigure(figure.spec);
      assert.doesNotMatch(svg, /NaN/, `${figure.id} draws no NaN coordinate`);
    }
    const cdfData = JSON.stringify(cdf.spec);
    assert.doesNotMatch(cdfData, /"whiskerLow":-/, 'no whisker starts below zero');
  });
});
