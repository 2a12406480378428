/**
 * Where `npm run report` writes without --out (issue 13): beside the results file, as `npm run
 * bench` does, not in ./runs/report-ID.html relative to wherever the command was started.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runReportCommand, type ReportOutput } from '../../reports/command.js';
import { reportPathBeside } from '../../reports/write-report.js';
import { REPO_ROOT } from '../helpers.js';

test('reportPathBeside: the results file\'s name with .html (bench\'s name), -svg/-csv directories, BEFORE-to-AFTER beside AFTER', () => {
  assert.equal(reportPathBeside(['runs/20261130-abc.json']), join('runs', '20261130-abc.html'));
  assert.equal(reportPathBeside(['/data/x/run.json'], 'svg'), '/data/x/run-svg');
  assert.equal(reportPathBeside(['/data/x/run.json'], 'csv'), '/data/x/run-csv');
  assert.equal(reportPathBeside(['old/a.json', '/new/b.json']), '/new/a-to-b.html');
  // Never the results file's own name, whatever it is called.
  assert.equal(reportPathBeside(['results']), 'results.html');
  assert.equal(reportPathBeside(['run.JSON']), 'run.JSON.html');
});

test('npm run report -- FILE writes FILE.html beside the file, whatever the working directory, and prints the path', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'isobench-report-path-'));
  const cwd = process.cwd();
  try {
    const data = join(scratch, 'data');
    const elsewhere = join(scratch, 'elsewhere');
    await mkdir(data);
    await mkdir(elsewhere);
    const results = join(data, 'run-1.json');
    await copyFile(join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json'), results);
    process.chdir(elsewhere);
    const printed: string[] = [];
    const output: ReportOutput = { print: (line) => void printed.push(line), warn: () => {} };
    assert.equal(await runReportCommand([results], undefined, output), 0);
    assert.deepEqual(printed, [join(data, 'run-1.html')]);
    assert.match(await readFile(join(data, 'run-1.html'), 'utf8'), /^<!doctype html>/i);
    assert.deepEqual(await readdir(elsewhere), [], 'nothing written in the working directory (it wrote runs/report-ID.html there)');
  } finally {
    process.chdir(cwd);
    await rm(scratch, { recursive: true, force: true });
  }
});

test('npm run report: a bad flag is one line in isobench\'s words, naming the fix (it passed on Node\'s parseArgs text)', async () => {
  const results = join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json');
  const cases: Array<[string[], string]> = [
    [[results, '--bogus'], 'unknown flag --bogus: see npm run report -- --help for the flags'],
    [[results, '--out'], '--out needs a value, e.g. --out VALUE: see npm run report -- --help'],
    [[results, '--out', 'a.html', '--out', 'b.html'], '--out given twice ("a.html", then "b.html"): give it once'],
    [[results, '--baseline', 'kvm'], '--baseline kvm: no such target in the results (targets: native): name one of them, or leave --baseline out'],
  ];
  for (const [argv, line] of cases) {
    await assert.rejects(runReportCommand(argv, undefined, { print: () => {}, warn: () => {} }), (error: Error) => {
      assert.equal(error.name, 'UsageError', argv.join(' '));
      assert.equal(error.message, line);
      return true;
    });
  }
});

test('npm run report --out in a directory that does not exist creates it, as bench --out does, and says so (it did so silently)', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'isobench-report-out-'));
  try {
    const results = join(REPO_ROOT, 'test/fixtures/results/native-network-1rep.json');
    const printed: string[] = [];
    const warned: string[] = [];
    const output: ReportOutput = { print: (line) => void printed.push(line), warn: (line) => void warned.push(line) };
    const out = join(scratch, 'that/does/not/exist/x.html');
    assert.equal(await runReportCommand([results, '--out', out], undefined, output), 0);
    assert.deepEqual(warned, [`created the directory ${join(scratch, 'that/does/not/exist')}, which did not exist`]);
    assert.deepEqual(printed, [out]);
    assert.match(await readFile(out, 'utf8'), /^<!doctype html>/i);
    // A directory that is there is not announced.
    warned.length = 0;
    assert.equal(await runReportCommand([results, '--out', join(scratch, 'y.html')], undefined, output), 0);
    assert.deepEqual(warned, []);
    // csv writes into --out itself: only a missing parent is news.
    assert.equal(await runReportCommand([results, '--format', 'csv', '--out', join(scratch, 'csv')], undefined, output), 0);
    assert.deepEqual(warned, []);
    assert.equal(await runReportCommand([results, '--format', 'csv', '--out', join(scratch, 'new/csv')], undefined, output), 0);
    assert.deepEqual(warned, [`created the directory ${join(scratch, 'new')}, which did not exist`]);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
