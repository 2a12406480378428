import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { ResultsFile } from '../../results/schema.js';
import { displayOf } from '../../provisioning/targets/configuration.js';
import { writeReport } from '../../reports/write-report.js';
import { combined, HOSTILE, hostile, loadFixtures, shifted, withEmulatedGuest } from '../fixtures/reports/derive.js';

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
    const screenshot = join(workDir, 'report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`report screenshot: ${screenshot}`);
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
