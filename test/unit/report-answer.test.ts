import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { renderFigure } from '../../reports/render.js';
import { answerSection } from '../../reports/html/answer.js';
import { figureSection } from '../../reports/html/figure-section.js';
import { PAGE_STYLE } from '../../reports/html/style.js';
import { answerTable, judgedAgainst, noiseFloor } from '../../reports/model/answers.js';
import { labelRuns } from '../../reports/model/runs.js';
import { benchCommand, loadResultsSource, shellQuote } from '../../reports/model/source.js';
import { TargetStyles } from '../../reports/model/targets.js';
import { spansDecade, valueAxis } from '../../reports/figures/encoding.js';
import { buildFigures } from '../../reports/write-report.js';
import { parseResultsFile, type ResultsFile } from '../../results/schema.js';
import { withVerdicts } from '../../results/verdict.js';
import { FIXTURES, loadFixtures, loadRealRun, withEmulatedGuest, withRepetitions, withScaledTarget } from '../fixtures/reports/derive.js';

const styles = new TargetStyles(displayOf);
const real = await loadRealRun();
const [network] = await loadFixtures();
if (!network) throw new Error('fixture missing');
const repeated = withRepetitions(network, 5, 0.01, 11);

/** A derived run: `target` at exactly `factor` x native's throughput (costs / factor), judged. */
function shiftedBy(target: string, factor: number, file: ResultsFile = repeated): ResultsFile {
  return withVerdicts(withScaledTarget(file, target, factor));
}

describe('the answer table', () => {
  it('on the real run: one row per target in registry order, one column per suite, verdicts counted', () => {
    const table = answerTable(labelRuns([real])[0]!, styles);
    assert.deepEqual(table.rows.map((row) => row.target), ['native', 'docker-nat', 'docker-nat:overlay']);
    assert.deepEqual(table.suites, [
      { suite: 'random-io', metrics: ['iops', 'clat_mean_us'] },
      { suite: 'tcp-rr', metrics: ['latency_mean_us'] },
    ]);
    assert.deepEqual(table.counts, { slower: 1, faster: 0, equivalent: 0, undecided: 15, 'not-comparable': 0 });
    const [, dockerNat, overlay] = table.rows;
    const rr = dockerNat!.cells[1]!;
    assert.equal(rr.kind, 'slower');
    assert.equal(rr.words, 'slower on 1 of 2 points');
    // Performance: latency is lower-is-better, so the geometric mean is of the inverse ratios.
    const [tcp, udp] = rr.points.map((point) => point.verdict!.ratio!);
    assert.ok(Math.abs(rr.performancePercent! - 100 / Math.sqrt(tcp! * udp!)) < 1e-9);
    assert.ok(rr.performancePercent! < 100);
    assert.equal(dockerNat!.cells[0]!.kind, 'undecided');
    assert.equal(dockerNat!.cells[0]!.words, 'undecided on 6 of 6 points');
    assert.equal(overlay!.cells[1]!.words, 'undecided on 2 of 2 points');
    assert.equal(table.rows[0]!.isBaseline, true);
  });

  it('derived shifts: 0.8x is slower, 1x equivalent, 1.25x faster, each with its word and colour class', () => {
    const file = withVerdicts(withScaledTarget(withScaledTarget(withScaledTarget(repeated, 'docker-nat', 0.8), 'docker-host', 1), 'kvm', 1.25));
    const table = answerTable(labelRuns([file])[0]!, styles);
    const cell = (target: string, suite: string) => table.rows.find((row) => row.target === target)!.cells[table.suites.findIndex((column) => column.suite === suite)]!;
    assert.equal(cell('docker-nat', 'tcp-bulk').kind, 'slower');
    assert.ok(Math.abs(cell('docker-nat', 'tcp-bulk').performancePercent! - 80) < 1e-9);
    assert.ok(Math.abs(cell('docker-nat', 'tcp-rr').performancePercent! - 80) < 1e-9);
    assert.equal(cell('docker-host', 'tcp-rr').kind, 'equivalent');
    assert.equal(cell('docker-host', 'tcp-rr').words, 'equivalent on all 2');
    assert.equal(cell('kvm', 'tcp-rr').kind, 'faster');
    const page = answerSection(labelRuns([file]), styles).html;
    assert.match(page, /class="verdict v-slower" data-kind="slower"><div class="word"><span class="glyph" aria-hidden="true">▼<\/span> slower on 2 of 2 points/);
    assert.match(page, /v-equivalent" data-kind="equivalent"><div class="word"><span class="glyph" aria-hidden="true">=<\/span> equivalent on all 2/);
    assert.match(page, /slower by 20\.0 %/);
    assert.match(page, /faster by 25\.0 %/);
  });

  it('marks an emulated (TCG) row and lists why', () => {
    const guest = withEmulatedGuest(repeated);
    const page = answerSection(labelRuns([guest]), styles).html;
    assert.match(page, /<tr class="degraded" data-target="kvm"><th scope="row">kvm \(TCG, no vhost\) <span class="badge">TCG<\/span><br><span class="warnings">TCG emulation, not KVM; virtio-net without vhost<\/span>/);
  });

  it('a run only the baseline ran (a migration run on kvm) says nothing was compared, never "baseline (100 %)"', async () => {
    const migration = JSON.parse(await readFile(new URL('../fixtures/results/migration-idle-dirty-1rep.json', import.meta.url), 'utf8')) as ResultsFile;
    assert.equal(migration.plan.baseline, 'kvm');
    const page = answerSection(labelRuns([migration]), styles).html;
    assert.match(page, /Only <b>kvm<\/b> ran in this run, so nothing is judged against it/);
    assert.match(page, /measured here only: no other target to compare<br><span class="counts">2 points in the figures/);
    assert.doesNotMatch(page, /baseline \(100 %\)/);
    // With a second target, the baseline cell is the 100 % again.
    assert.match(answerSection(labelRuns([real]), styles).html, /baseline \(100 %\)/);
  });

  it('judges against a --baseline other than the run\'s own from the raw trials', () => {
    const file = shiftedBy('docker-nat', 0.8);
    const rejudged = judgedAgainst(file, 'docker-nat');
    const native = rejudged.points.find((point) => point.key === 'native/tcp-bulk/client-to-server')!;
    assert.equal(native.verdict?.baseline, 'docker-nat');
    assert.ok(Math.abs((native.verdict?.ratio ?? Number.NaN) - 1.25) < 1e-12);
    assert.equal(native.verdict?.verdict, 'faster');
    assert.equal(judgedAgainst(file, 'native'), file);
    assert.equal(judgedAgainst(file, 'no-such-target'), file);
  });
});

describe('an A/A run', () => {
  function aa(factor: number): ResultsFile {
    const file = shiftedBy('native-b', factor);
    return { ...file, plan: { ...file.plan, mode: 'aa' } };
  }

  it('counts the points that claimed a difference, and says it measures the noise floor', () => {
    const quiet = noiseFloor(aa(1));
    assert.equal(quiet.points.length, 4);
    assert.equal(quiet.claimed, 0);
    assert.ok(quiet.largestSpreadPercent !== null && quiet.largestSpreadPercent > 0 && quiet.largestSpreadPercent < 5);
    assert.equal(noiseFloor(aa(0.8)).claimed, 4);
    const page = answerSection(labelRuns([aa(1)]), styles).html;
    assert.match(page, /A\/A run: this measures the noise floor/);
    assert.match(page, /<b class="claimed">0 of 4 points claimed a difference<\/b>/);
    assert.doesNotMatch(page, /<th scope="col">tcp-bulk/, 'no target x suite grid for an A/A run');
  });
});

describe('provenance under each figure', () => {
  it('quotes arguments for a POSIX shell', () => {
    assert.equal(shellQuote('--target'), '--target');
    assert.equal(shellQuote('native,docker-nat:overlay'), 'native,docker-nat:overlay');
    assert.equal(shellQuote("it's a test"), `'it'\\''s a test'`);
    assert.equal(shellQuote(''), "''");
    assert.equal(shellQuote('$(rm -rf /)'), `'$(rm -rf /)'`);
  });

  it('the command of a version 2 run, none for a version 1 file', async () => {
    const file = { ...real, plan: { ...real.plan, command: ['--target', 'native,docker-nat', '--title', "Felter's rows"] }, order: [['native/tcp-rr/tcp']] };
    assert.equal(benchCommand(file, null), `npm run bench -- --target native,docker-nat --title 'Felter'\\''s rows'`);
    assert.equal(benchCommand({ ...file, plan: { ...file.plan, command: [] } }, null), 'npm run bench');
    const { source } = await loadResultsSource(FIXTURES.realThreeReps);
    assert.equal(benchCommand(real, source), null);
    assert.equal(benchCommand(real, null), null, 'an upgraded file without a source: empty command and order');
  });

  it('the command wraps between its arguments only: a span per shell word, kept whole', async () => {
    // A newcomer saw `--out` broken across two lines: `word-break: break-all` on every provenance code.
    const command = ['--target', 'kvm', '--suite', 'migration', '--bandwidth', '32,64,128', '--title', "Felter's rows", '--out', '/work/evidence/issue12'];
    const file = { ...real, plan: { ...real.plan, command }, order: [['native/tcp-rr/tcp']] };
    const { context, figures } = buildFigures([file], 'native', displayOf);
    const figure = figures.find((candidate) => candidate.id === 'rr-latency')!;
    const section = figureSection(figure, await renderFigure(figure.spec), 'native', context.runs).html;
    const code = /<code class="command">(.*?)<\/code>/.exec(section)![1]!;
    const words = [...code.matchAll(/<span class="arg">(.*?)<\/span>/g)].map((match) => match[1]);
    assert.deepEqual(words.map((word) => word!.replace(/&#39;/g, "'")), ['npm', 'run', 'bench', '--', ...command.slice(0, 7), "'Felter'\\''s rows'", '--out', '/work/evidence/issue12']);
    assert.equal(code.replace(/<[^>]+>/g, '').replace(/&#39;/g, "'"), benchCommand(file, null), 'the text pastes as the command');
    assert.match(PAGE_STYLE, /\.provenance code\.command \{ word-break: normal; overflow-wrap: normal; \}/);
    assert.match(PAGE_STYLE, /\.provenance code\.command \.arg \{ display: inline-block; max-width: 100%; overflow-wrap: anywhere; \}/, 'a word breaks only when it alone is wider than the page');
  });

  it("an interval reaching below 0 is shown as computed, marked, and explained once under the figure's numbers", async () => {
    // The real 3-repetition run: kvm's and docker's few, spread samples give 9 intervals below 0.
    const { context, figures } = buildFigures([real], 'native', displayOf);
    let marked = 0;
    let below = 0;
    for (const figure of figures) {
      const section = figureSection(figure, await renderFigure(figure.spec), 'native', context.runs).html;
      const numbers = /<table class="numbers">[\s\S]*?<\/table>(<p class="note">[^<]*<\/p>)?/.exec(section);
      if (!numbers) continue;
      const negative = figure.rows.filter((row) => row.ci95Low !== null && row.ci95Low < 0).length;
      below += negative;
      marked += (numbers[0].match(/ †<\/td>/g) ?? []).length;
      assert.equal(numbers[1] !== undefined, negative > 0, `${figure.id}: the note only where a row needs it`);
      if (negative > 0) assert.match(numbers[1]!, /reaches below 0, which this metric cannot: .*t\(1\) = 12\.7 at n = 2/);
    }
    assert.ok(below > 0, 'the fixture has intervals below 0');
    assert.equal(marked, below);
  });

  it('hashes exactly the bytes of the file, and says which version it was', async () => {
    const { results, source } = await loadResultsSource(FIXTURES.realThreeReps);
    assert.equal(source.sha256, createHash('sha256').update(await readFile(FIXTURES.realThreeReps)).digest('hex'));
    assert.equal(source.version, 1);
    assert.equal(results.version, 2);
    await assert.rejects(loadResultsSource('/nonexistent.json'), /cannot be read \(ENOENT\)/);
  });

  it('prints the command and the sha256 under a figure', async () => {
    const { results, source } = await loadResultsSource(FIXTURES.realThreeReps);
    const { context, figures } = buildFigures([results], 'native', displayOf, [source]);
    const figure = figures.find((candidate) => candidate.id === 'rr-latency')!;
    const section = figureSection(figure, await renderFigure(figure.spec), 'native', context.runs).html;
    assert.match(section, /Reproduce: command not recorded \(results file version 1\)/);
    assert.match(section, new RegExp(`native-docker-3reps\\.json</code>, sha256 <code class="sha256">${source.sha256}</code>`));
  });
});

describe('value axes decided from the data', () => {
  it('a log axis only for positive values spanning more than a decade', () => {
    assert.equal(spansDecade([40, 7000]), true);
    assert.equal(spansDecade([64, 82]), false);
    assert.equal(spansDecade([1, 10]), false);
    assert.equal(spansDecade([0, 5, 500]), false);
    assert.equal(spansDecade([-1, 500]), false);
    assert.equal(spansDecade([500]), false);
  });

  it('the real run is drawn on linear axes; a TCG-like 1/30 throughput on a log axis, labelled, dots, whiskers inside it', async () => {
    const { figures } = buildFigures([real], 'native', displayOf);
    assert.ok(figures.filter((figure) => figure.id !== 'random-read-latency-cdf').length > 0);
    for (const figure of figures) {
      if (figure.id === 'random-read-latency-cdf') continue; // p1 to p99.99 span more than a decade
      assert.doesNotMatch(JSON.stringify(figure.spec), /log scale/, figure.id);
    }
    const slow = shiftedBy('kvm', 1 / 30);
    const throughput = buildFigures([slow], 'native', displayOf).figures.find((figure) => figure.id === 'tcp-bulk-throughput')!;
    const spec = JSON.stringify(throughput.spec);
    assert.match(spec, /"title":"throughput \(Gbit\/s\) \(log scale\)","scale":\{"type":"log"\}/);
    assert.match(spec, /"mark":\{"type":"point","filled":true/);
    assert.ok(throughput.notes.some((note) => /span more than a decade/.test(note)));
    assert.ok(valueAxis(throughput.rows).log);
    const { svg } = await renderFigure(throughput.spec);
    assert.doesNotMatch(svg, /NaN|Infinity/);
  });

  it('legends list only the targets drawn: a skipped target with no bar is left out', () => {
    const guest = withEmulatedGuest(repeated);
    const figure = buildFigures([guest], 'native', displayOf).figures.find((candidate) => candidate.id === 'rr-latency')!;
    const legends = JSON.stringify(figure.spec).match(/"legend":\{"title":"target","orient":"bottom","values":(\[[^\]]*\])/);
    assert.ok(legends);
    // docker-host was skipped everywhere; kvm drew its ok point; the paper's docker rows are not this run's.
    assert.deepEqual(JSON.parse(legends[1]!), ['native', 'kvm']);
  });
});

describe('a figure without the baseline does not claim one', () => {
  const load = (name: string) => parseResultsFile(JSON.parse(readFileSync(new URL(`../fixtures/results/${name}`, import.meta.url), 'utf8')), name);

  it('before/after of a kvm migration run and a native-only run, judged against kvm: no "% of kvm" on native figures', async () => {
    // The compare report labelled native-only figures "labels: % of kvm" and gave them an empty "% of kvm" column.
    const { context, figures } = buildFigures([load('migration-idle-dirty-1rep.json'), load('aa-native-tcp-bulk-startup.json')], 'kvm', displayOf);
    const nativeOnly = figures.filter((figure) => figure.rows.every((row) => row.target.startsWith('native')));
    assert.deepEqual(nativeOnly.map((figure) => figure.id).sort(), ['startup-time', 'tcp-bulk-efficiency', 'tcp-bulk-throughput']);
    for (const figure of nativeOnly) {
      const section = figureSection(figure, await renderFigure(figure.spec), 'kvm', context.runs).html;
      assert.doesNotMatch(`${JSON.stringify(figure.spec)} ${figure.notes.join(' ')} ${section}`, /of kvm/, figure.id);
    }
    const downtime = figures.find((figure) => figure.id === 'migration-downtime')!;
    assert.match(JSON.stringify(downtime.spec), /labels: % of kvm/, 'the kvm figure still says it');
    assert.match(figureSection(downtime, await renderFigure(downtime.spec), 'kvm', context.runs).html, /<th>% of kvm<\/th>/);
  });

  it('every figure of a native and Docker run, judged against kvm (which it did not run), names no % of kvm', async () => {
    const { context, figures } = buildFigures([real], 'kvm', displayOf);
    assert.ok(figures.some((figure) => figure.id === 'random-read-latency-cdf'));
    for (const figure of figures) {
      const section = figureSection(figure, await renderFigure(figure.spec), 'kvm', context.runs).html;
      assert.doesNotMatch(`${JSON.stringify(figure.spec)} ${figure.notes.join(' ')} ${section}`, /of kvm/, figure.id);
    }
  });

  it('a native run judged against native keeps its "% of native"', () => {
    const throughput = buildFigures([load('aa-native-tcp-bulk-startup.json')], 'native', displayOf).figures.find((figure) => figure.id === 'tcp-bulk-throughput')!;
    assert.match(JSON.stringify(throughput.spec), /labels: % of native/);
  });
});
