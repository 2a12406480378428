import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { ResultsFile } from '../../results/schema.js';
import { readResultsFile } from '../../results/store.js';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { writeReport } from '../../reports/write-report.js';
import { loadResultsSource } from '../../reports/model/source.js';
import { combined, FIXTURES, HOSTILE, hostile, loadFixtures, shifted, withEmulatedGuest, withZeroAndNegativeSample } from '../fixtures/reports/derive.js';

/** Debian's chromium, never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let workDir: string;
let browser: BrowserContext;
let fixtures: ResultsFile[];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  workDir = await mkdtemp(join(tmpdir(), 'isobench-report-test-'));
  fixtures = await loadFixtures();
  browser = await chromium.launchPersistentContext(join(workDir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1300, height: 1000 },
  });
});

after(async () => {
  await browser?.close();
  // The screenshots stay for the test log; the browser profile does not.
  if (workDir) await rm(join(workDir, 'chromium-profile'), { recursive: true, force: true });
});

interface OpenedPage {
  page: Page;
  consoleErrors: string[];
  networkRequests: string[];
}

/** Opens a report with every non-file, non-data request aborted and recorded. */
async function open(path: string): Promise<OpenedPage> {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  const networkRequests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    networkRequests.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
  return { page, consoleErrors, networkRequests };
}

async function countMarks(page: Page, figureId: string, markName: string, container = '.static'): Promise<number> {
  return page.locator(`section#figure-${figureId} ${container} g.${markName}_marks > *`).count();
}

/**
 * Every mark of every figure's static SVG, with the ones whose box or drawing attributes are not
 * finite (a NaN coordinate draws nothing, silently).
 */
async function markGeometry(page: Page): Promise<{ count: number; bad: string[] }> {
  return page.locator('section.figure .static g.role-mark > *').evaluateAll((elements) => {
    const bad: string[] = [];
    for (const element of elements) {
      const box = (element as unknown as { getBBox(): { x: number; y: number; width: number; height: number } }).getBBox();
      const drawing = [...element.attributes].filter((attribute) => !attribute.name.startsWith('aria')).map((attribute) => attribute.value).join(' ');
      if (![box.x, box.y, box.width, box.height].every(Number.isFinite) || /NaN|Infinity/.test(drawing)) bad.push(String(element.outerHTML).slice(0, 200));
    }
    return { count: elements.length, bad };
  });
}

/** The labels of each figure's `target` legend, by figure id. */
async function targetLegends(page: Page): Promise<Record<string, string[]>> {
  return page.locator('section.figure').evaluateAll((sections) =>
    Object.fromEntries(
      sections.map((section) => {
        const legends = [...section.querySelectorAll('.static g.role-legend')].filter(
          (legend) => legend.querySelector('.role-legend-title text')?.textContent === 'target',
        );
        return [section.getAttribute('data-figure'), legends.flatMap((legend) => [...legend.querySelectorAll('.role-legend-label text')].map((text) => text.textContent))];
      }),
    ),
  );
}

type Expected = Record<string, Record<string, number>>;

/**
 * What each figure must draw, counted straight from the results files (not through the report's
 * own row model): one value mark per point that has the metric, one gap mark per failed, skipped
 * or pending point, and one mark per published value.
 */
function expectedMarks(files: readonly ResultsFile[]): Expected {
  const points = files.flatMap((file) => file.points);
  const count = (suite: string, pointIds: string[], metric: RegExp) => {
    const chosen = points.filter((point) => point.suite === suite && pointIds.includes(point.pointId));
    return {
      value: chosen.flatMap((point) => point.summaries).filter((summary) => metric.test(summary.metric)).length,
      gap: chosen.filter((point) => ['failed', 'skipped', 'pending'].includes(point.status)).length,
    };
  };
  const directions = ['client-to-server', 'server-to-client'];
  return {
    'tcp-bulk-throughput': { ...count('tcp-bulk', directions, /^throughput_gbps$/), paper: 6 },
    'tcp-bulk-efficiency': count('tcp-bulk', directions, /^est_cycles_per_byte$/),
    'rr-latency': { ...count('tcp-rr', ['tcp', 'udp'], /^latency_mean_us$/), paper: 4 },
    'random-io-iops': { ...count('random-io', ['randread', 'randwrite', 'randrw70'], /^iops$/), paper: 9 },
    'sequential-io': { ...count('random-io', ['seqread', 'seqwrite'], /^bandwidth_mb_s$/), paper: 6 },
    'random-read-latency-cdf': { ...count('random-io', ['randread-latency'], /^clat_p[\d.]+_us$/), paper: 9 },
  };
}

describe('HTML report in headless Chromium', () => {
  it('draws every expected figure with one mark per point, no console errors and no network', async () => {
    const results = [withEmulatedGuest(combined(fixtures))];
    const path = await writeReport(results, { out: join(workDir, 'single.html'), targetStyle: displayOf });
    const { page, consoleErrors, networkRequests } = await open(path);
    const expected = expectedMarks(results);
    const drawn = await page.locator('section.figure').evaluateAll((sections) => sections.map((section) => section.getAttribute('data-figure')));
    assert.deepEqual(drawn, Object.keys(expected));
    for (const [figureId, marks] of Object.entries(expected)) {
      assert.equal(await page.locator(`section#figure-${figureId} .static svg`).count(), 1, `${figureId} has one SVG`);
      assert.ok(marks.value !== undefined && marks.value > 0, `${figureId}: the fixture has values`);
      for (const [markName, count] of Object.entries(marks)) {
        assert.equal(await countMarks(page, figureId, markName), count, `${figureId}: ${markName} marks`);
      }
    }
    // The emulated guest is flagged on every figure it appears in, and on the page.
    assert.equal(await page.locator('section.figure .banner.degraded').count(), Object.keys(expected).length);
    assert.match(await page.locator('body > .banner.degraded').innerText(), /TCG emulation, not KVM/);
    // Failed and skipped points are listed in words, not only drawn.
    assert.match(await page.locator('section#figure-tcp-bulk-throughput .attention').innerText(), /skipped — docker is not installed/);
    // Legends name only what is drawn: docker-host was skipped everywhere and has no mark.
    const legends = Object.entries(await targetLegends(page));
    assert.ok(legends.length > 0, 'legends were found');
    for (const [figureId, labels] of legends) {
      assert.ok(labels.includes('native') && !labels.includes('docker-host'), `${figureId}: ${labels.join(', ')}`);
    }
    // The emulated row is marked in the answer table too.
    assert.equal(await page.locator('#answer tr[data-target="kvm"] .badge').innerText(), 'TCG');
    const geometry = await markGeometry(page);
    assert.ok(geometry.count > 0, 'marks were found');
    assert.deepEqual(geometry.bad, []);
    const screenshot = join(workDir, 'report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`report screenshot: ${screenshot}`);
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(networkRequests, []);
    await page.close();
  });

  it('draws a lab run\'s CPU cost per host, within the page', async () => {
    // The real lab run (test/fixtures/results/lab-native-network-2reps.json): CPU per byte stored per host only.
    const lab = await readResultsFile(fileURLToPath(new URL('../fixtures/results/lab-native-network-2reps.json', import.meta.url)));
    const path = await writeReport([lab], { out: join(workDir, 'lab.html'), targetStyle: displayOf });
    const { page, consoleErrors, networkRequests } = await open(path);
    const drawn = await page.locator('section.figure').evaluateAll((sections) => sections.map((section) => section.getAttribute('data-figure')));
    assert.deepEqual(drawn.filter((id) => id?.startsWith('tcp-bulk-efficiency')), ['tcp-bulk-efficiency-host-sut', 'tcp-bulk-efficiency-host-peer']);
    for (const [name, role] of [['sut', 'server'], ['peer', 'client']]) {
      const figureId = `tcp-bulk-efficiency-host-${name}`;
      const stored = lab.points.filter((point) => point.suite === 'tcp-bulk' && point.summaries.some((summary) => summary.metric === `cpu_ns_per_byte_host ${name}`));
      assert.equal(stored.length, 2, `${name}: both directions stored`);
      assert.equal(await countMarks(page, figureId, 'value'), stored.length, `${figureId}: value marks`);
      const section = await page.locator(`section#figure-${figureId}`).innerText();
      assert.match(section, new RegExp(`on host ${name} \\(${role}\\)`));
      assert.match(section, /read over SSH/);
      assert.match(await page.locator(`section#figure-${figureId} .static svg`).innerHTML(), new RegExp(`${name}'s CPU time per byte \\(ns/byte\\)`));
    }
    const overflow = await page.locator('html').evaluate((element) => {
      const box = element as unknown as { scrollWidth: number; clientWidth: number };
      return box.scrollWidth - box.clientWidth;
    });
    assert.ok(overflow <= 0, `no horizontal scroll (${overflow} px too wide)`);
    const geometry = await markGeometry(page);
    assert.deepEqual(geometry.bad, []);
    const screenshot = join(workDir, 'lab-report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`lab report screenshot: ${screenshot}`);
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(networkRequests, []);
    await page.close();
  });

  it('switches a figure to a live vega view with the same marks, offline', async () => {
    const results = [withEmulatedGuest(combined(fixtures))];
    const path = await writeReport(results, { out: join(workDir, 'interactive.html'), targetStyle: displayOf });
    const { page, consoleErrors, networkRequests } = await open(path);
    const figure = page.locator('section#figure-random-io-iops');
    await figure.locator('.controls button').click();
    await figure.locator('.live svg').waitFor();
    assert.equal(await figure.locator('.static').isHidden(), true);
    assert.equal(
      await countMarks(page, 'random-io-iops', 'value', '.live'),
      await countMarks(page, 'random-io-iops', 'value', '.static'),
    );
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(networkRequests, []);
    await page.close();
  });

  it('renders markup from a results file as text and runs none of it', async () => {
    const path = await writeReport([hostile(withEmulatedGuest(combined(fixtures)))], { out: join(workDir, 'hostile.html'), targetStyle: displayOf });
    const { page, consoleErrors, networkRequests } = await open(path);
    assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('img').count(), 0);
    // Only the report's own two scripts (vega and the toggle); everything else is JSON data.
    assert.equal(await page.locator('script:not([type="application/json"])').count(), 2);
    assert.ok((await page.locator('h1').innerText()).includes(HOSTILE), 'the host name is shown as text');
    assert.ok((await page.locator('#environment').innerText()).includes(HOSTILE));
    assert.ok((await page.locator('section#figure-tcp-bulk-throughput .attention').innerText()).includes(HOSTILE));
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(networkRequests, []);
    await page.close();
  });

  it('puts several runs side by side and compares them before/after', async () => {
    const [network] = fixtures;
    assert.ok(network);
    const later = shifted(network, 0.8, 'after-change');
    const path = await writeReport([network, later], { out: join(workDir, 'before-after.html'), targetStyle: displayOf });
    const { page, consoleErrors } = await open(path);
    const perRun = network.points.filter((point) => point.suite === 'tcp-rr').length;
    assert.equal(await countMarks(page, 'rr-latency', 'value'), 2 * perRun);
    const changes = page.locator('#before-after table.changes tbody tr');
    assert.ok((await changes.count()) > 0);
    assert.match(await changes.first().innerText(), /−20\.0%/);
    // The real quick runs have one repetition: no CI, so no verdict on noise.
    assert.match(await changes.first().innerText(), /unknown \(n < 2\)/);
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });
});

describe('the report of a real multi-repetition, high-variance run', () => {
  it('answers first, draws every mark at a finite place, names the command and the file\'s sha256', async () => {
    const { results, source } = await loadResultsSource(FIXTURES.realThreeReps);
    const path = await writeReport([results], { out: join(workDir, 'real.html'), targetStyle: displayOf, sources: [source] });
    const { page, consoleErrors, networkRequests } = await open(path);
    // The answer table comes before the first figure.
    assert.equal(await page.locator('#answer ~ section.figure').count(), await page.locator('section.figure').count());
    const rows = page.locator('#answer table.answer > tbody > tr');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-target'))), ['native', 'docker-nat', 'docker-nat:overlay']);
    assert.deepEqual(await page.locator('#answer table.answer > thead th').allInnerTexts(), ['target', 'random-io\niops, clat_mean_us', 'tcp-rr\nlatency_mean_us']);
    assert.match(await rows.nth(0).innerText(), /baseline \(100 %\)/);
    const cells = page.locator('#answer table.answer > tbody > tr > td[data-kind]');
    assert.deepEqual(await cells.evaluateAll((tds) => tds.map((td) => td.getAttribute('data-kind'))), ['undecided', 'slower', 'undecided', 'undecided']);
    const rr = page.locator('#answer tr[data-target="docker-nat"] > td[data-kind="slower"]');
    assert.match(await rr.locator('.word').innerText(), /^▼ slower on 1 of 2 points$/);
    await rr.locator('summary').click();
    assert.match(await rr.locator('table.points').innerText(), /udp\s+latency_mean_us \(lower is better\)\s+123\.6 % \(103\.6–147\.5\)\s+±26\.6 %\s+▼ slower by 23\.6 %/);
    assert.match(await rr.locator('table.points').innerText(), /tcp\s+.*undecided — 3 more reps would decide/);
    assert.match(await page.locator('#answer .answer-intro').innerText(), /16 points judged: 1 slower · 15 undecided/);

    const expected = ['rr-latency', 'random-io-iops', 'sequential-io', 'random-read-latency-cdf'];
    assert.deepEqual(await page.locator('section.figure').evaluateAll((sections) => sections.map((section) => section.getAttribute('data-figure'))), expected);
    const geometry = await markGeometry(page);
    assert.ok(geometry.count > 100, `${geometry.count} marks`);
    assert.deepEqual(geometry.bad, []);
    const legends = Object.entries(await targetLegends(page));
    assert.ok(legends.length > 0, 'legends were found');
    for (const [figureId, labels] of legends) assert.deepEqual(labels, ['native', 'docker-nat', 'docker-nat:overlay'], figureId);
    // Every point is noisy, each with its own CV: one line per target, the six points folded.
    const attention = page.locator('section#figure-rr-latency .attention');
    assert.deepEqual(await attention.locator(':scope > ul > li').allInnerTexts(), [
      'native · 2 points (TCP_RR, UDP_RR): noisy — 2 different reasons, each below',
      'docker-nat · 2 points (TCP_RR, UDP_RR): noisy — 2 different reasons, each below',
      'docker-nat:overlay · 2 points (TCP_RR, UDP_RR): noisy — 2 different reasons, each below',
    ]);
    assert.equal(await attention.locator('details li').count(), 6);
    for (const figureId of expected) {
      const provenance = await page.locator(`section#figure-${figureId} .provenance`).innerText();
      assert.match(provenance, /Reproduce: command not recorded \(results file version 1\)/);
      assert.equal(await page.locator(`section#figure-${figureId} .provenance code.sha256`).innerText(), source.sha256);
    }
    const screenshot = join(workDir, 'answer-table.png');
    await page.locator('#answer').screenshot({ path: screenshot });
    console.log(`answer table screenshot: ${screenshot}`);
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(networkRequests, []);
    await page.close();
  });

  it('a zero and a negative sample: not comparable in words, every whisker finite', async () => {
    const { results } = await loadResultsSource(FIXTURES.realThreeReps);
    const broken = withZeroAndNegativeSample(results, 'docker-nat/tcp-rr/tcp', 'docker-nat:overlay/random-io/randread');
    const path = await writeReport([broken], { out: join(workDir, 'zero-negative.html'), targetStyle: displayOf });
    const { page, consoleErrors } = await open(path);
    const overlayIo = page.locator('#answer tr[data-target="docker-nat:overlay"] > td[data-kind]').first();
    assert.match(await overlayIo.locator('.counts').innerText(), /^5 undecided · 1 not comparable$/);
    await overlayIo.locator('summary').click();
    assert.match(await overlayIo.locator('table.points').innerText(), /randread\s+iops \(higher is better\)\s+– not comparable: the candidate has a sample of -\d/);
    const tcp = page.locator('#answer tr[data-target="docker-nat"] > td[data-kind]').nth(1);
    assert.match(await tcp.locator('.counts').innerText(), /1 slower · 1 not comparable/);
    const geometry = await markGeometry(page);
    assert.ok(geometry.count > 100);
    assert.deepEqual(geometry.bad, []);
    // The negative sample pulls the interval below zero: its whisker is cut at the axis, and said so.
    assert.match(await page.locator('section#figure-random-io-iops .notes').innerText(), /1 whisker\(s\) whose 95 % interval reaches below 0 are cut at 0/);
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });
});

describe('SVG and CSV export', () => {
  it('writes one SVG and one CSV per figure', async () => {
    const results = [withEmulatedGuest(combined(fixtures))];
    const figureIds = Object.keys(expectedMarks(results));
    const svgDir = await writeReport(results, { format: 'svg', out: join(workDir, 'svg'), targetStyle: displayOf });
    const csvDir = await writeReport(results, { format: 'csv', out: join(workDir, 'csv'), targetStyle: displayOf });
    assert.deepEqual((await readdir(svgDir)).sort(), figureIds.map((id) => `${id}.svg`).sort());
    assert.deepEqual((await readdir(csvDir)).sort(), figureIds.map((id) => `${id}.csv`).sort());
    const svg = await readFile(join(svgDir, 'tcp-bulk-throughput.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const csv = (await readFile(join(csvDir, 'tcp-bulk-throughput.csv'), 'utf8')).trim().split('\n');
    const measuredLines = csv.filter((line) => line.startsWith('tcp-bulk-throughput,measured,'));
    const publishedLines = csv.filter((line) => line.includes(',published,'));
    assert.equal(measuredLines.length, expectedMarks(results)['tcp-bulk-throughput']!.value! + expectedMarks(results)['tcp-bulk-throughput']!.gap!);
    assert.equal(publishedLines.length, 6);
  });
});
