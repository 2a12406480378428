/**
 * Issue 13: the random-io suite records the mean size of the requests the host's disks completed
 * during each trial (suites/random-io/host-disks.ts), and a point whose host requests were far from
 * fio's block size carries a caveat derived from that stored figure (results/io-request-caveat.ts)
 * in `npm run results` and in the report's figures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { directionOf, hostDisks, parseBlockStat, readDiskCounters, requestSize } from '../../suites/random-io/host-disks.js';
import { hostRequestMetrics } from '../../suites/random-io/index.js';
import { blockSizeKib, hostRequestCaveat } from '../../results/io-request-caveat.js';
import type { MetricSummary, PointResult } from '../../results/schema.js';
import { readResultsFile } from '../../results/store.js';
import { toVerdictTable } from '../../results/table.js';
import { collectRows } from '../../reports/model/rows.js';
import { labelRuns } from '../../reports/model/runs.js';
import { TargetStyles } from '../../reports/model/targets.js';
import { figureBanner } from '../../reports/html/banners.js';
import { displayOf } from '../../provisioning/targets/configuration.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/random-io/${name}`, import.meta.url), 'utf8');
const before = new Map([['vda', parseBlockStat(fixture('guest-vda-stat-before-seqwrite.txt'))]]);
const after = new Map([['vda', parseBlockStat(fixture('guest-vda-stat-after-seqwrite.txt'))]]);

describe('host disk request sizes', () => {
  it('reads fields 1, 3, 5 and 7 of a real /sys/block/vda/stat line', () => {
    assert.deepEqual(parseBlockStat(fixture('guest-vda-stat-after-seqwrite.txt')), { readIos: 4902, readSectors: 8685642, writeIos: 4770, writeSectors: 9771120 });
    assert.throws(() => parseBlockStat('4902 526 x'), /not a \/sys\/block\/\*\/stat line/);
  });

  it('the mean request between two readings, in the job\'s direction; none is absent, not 0 KiB', () => {
    // 4458 writes of 9125912 sectors between the fixtures: 9125912 × 512 / 1024 / 4458 KiB.
    const writes = requestSize(before, after, 'writes');
    assert.equal(writes?.requests, 4458);
    assert.ok(writes && Math.abs(writes.meanKib - (9125912 * 512) / 1024 / 4458) < 1e-9);
    assert.equal(requestSize(before, after, 'reads'), null);
    assert.deepEqual(requestSize(before, after, 'both'), writes);
    // A disk read only on one side is not counted.
    assert.equal(requestSize(new Map(), after, 'writes'), null);
  });

  it('fio\'s rw picks the direction', () => {
    assert.deepEqual(['read', 'randread', 'write', 'randwrite', 'randrw', 'rw'].map(directionOf), ['reads', 'reads', 'writes', 'writes', 'both', 'both']);
  });

  it('a trial\'s metric names the disks, and a trial without requests has none', () => {
    const [metric, ...rest] = hostRequestMetrics('write', ['vda'], before, after);
    assert.equal(rest.length, 0);
    assert.equal(metric?.name, 'host_disk_request_kib');
    assert.equal(metric?.unit, 'KiB');
    assert.equal(metric?.method, 'host /sys/block/{vda}/stat, writes');
    assert.deepEqual(hostRequestMetrics('read', ['vda'], before, after), []);
  });

  it('the host\'s disks are the /sys/block entries with a device link (no loop, zram)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'isobench-sysblock-'));
    try {
      for (const name of ['vda', 'loop0', 'zram0', 'sdb']) await mkdir(join(root, name), { recursive: true });
      await mkdir(join(root, 'vda', 'device'));
      await mkdir(join(root, 'sdb', 'device'));
      await writeFile(join(root, 'vda', 'stat'), fixture('guest-vda-stat-after-seqwrite.txt'));
      await writeFile(join(root, 'sdb', 'stat'), 'garbage\n');
      assert.deepEqual(await hostDisks(root), ['sdb', 'vda']);
      // sdb's unreadable stat leaves it out rather than failing the trial.
      assert.deepEqual([...(await readDiskCounters(['sdb', 'vda'], root)).keys()], ['vda']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

function summary(metric: string, mean: number, n = 3): MetricSummary {
  return { metric, unit: 'KiB', n, mean, sd: 0, ci95Low: mean, ci95High: mean, cv: 0, min: mean, max: mean, status: 'ok' };
}

function point(blockSize: string, hostKib: number | null, suite = 'random-io'): Pick<PointResult, 'suite' | 'params' | 'summaries'> {
  return { suite, params: { rw: 'read', blockSize }, summaries: [summary('iops', 2000), ...(hostKib === null ? [] : [summary('host_disk_request_kib', hostKib)])] };
}

describe('the request-size caveat', () => {
  it('reads fio block sizes', () => {
    assert.deepEqual(['4k', '1M', '512', '2m', '1-4k'].map(blockSizeKib), [4, 1024, 0.5, 2048, null]);
  });

  it('speaks when the host disk\'s requests were 1.5× fio\'s or more, either way, and only then', () => {
    assert.equal(
      hostRequestCaveat(point('1M', 2114)),
      "host disk requests averaged 2.1 MiB for fio's 1.0 MiB blocks (merged below fio, ×2.06, n=3): the host disk served requests of that size, not fio's",
    );
    assert.match(hostRequestCaveat(point('1M', 600)) ?? '', /averaged 600 KiB .*split below fio, ×0\.59/);
    assert.equal(hostRequestCaveat(point('1M', 1022)), null);
    assert.equal(hostRequestCaveat(point('4k', 4.0)), null);
    // Absent is absent: no metric (older files, other suites), no caveat.
    assert.equal(hostRequestCaveat(point('1M', null)), null);
    assert.equal(hostRequestCaveat(point('1M', 2114, 'tcp-bulk')), null);
  });
});

describe('the caveat where results are read', async () => {
  // A real quick run on the development machine (native and a TCG kvm guest, seqread and seqwrite
  // kept): kvm's 1 MiB reads reached the host disk as 1797 KiB requests, native's as 1021 KiB.
  const real = await readResultsFile(new URL('../fixtures/random-io/seq-io-native-kvm-1rep.json', import.meta.url).pathname);

  it('npm run results prints it under the target\'s line, and not under a point without it', () => {
    const table = toVerdictTable(real);
    const seqread = table.slice(table.indexOf('seqread ·'), table.indexOf('seqwrite ·'));
    // The fixture's trials also ran on a busy host (helpers' work beside it): that caveat comes first.
    const kvm = seqread.slice(seqread.indexOf('  kvm'));
    assert.match(kvm, /\n {4}caveat: host disk requests averaged 1\.8 MiB for fio's 1\.0 MiB blocks \(merged below fio, ×1\.75,\n {4}n=1\): the host disk served requests of that size, not fio's\n/);
    assert.doesNotMatch(seqread.slice(0, seqread.indexOf('  kvm')), /host disk requests/, 'native\'s 1021 KiB requests are fio\'s');
  });

  it('the report\'s figure rows carry it and the figure\'s banner says it', () => {
    const rows = collectRows(labelRuns([real]), { suite: 'random-io', metric: 'bandwidth_mb_s', pointIds: ['seqread'] }, { baseline: 'native', multiRun: false, styles: new TargetStyles(displayOf) });
    const kvm = rows.find((row) => row.target === 'kvm');
    assert.match(kvm?.caveat ?? '', /(^|; )host disk requests averaged 1\.8 MiB/);
    assert.doesNotMatch(rows.find((row) => row.target === 'native')?.caveat ?? '', /host disk requests/);
    const banner = figureBanner(rows).toString();
    assert.match(banner, /Caveats measured in these rows/);
    assert.match(banner, /host disk requests averaged 1\.8 MiB for fio&#39;s 1\.0 MiB blocks|host disk requests averaged 1\.8 MiB for fio's 1\.0 MiB blocks/);
  });
});
