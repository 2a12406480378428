import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeJsonAtomic } from '../../core/json-file.js';

async function withTempDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'isobench-json-'));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('writeJsonAtomic writes pretty JSON with a newline, creating the directory, replacing the old file', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'nested', 'run.json');
    await writeJsonAtomic(path, { runId: 'a', points: [1] });
    assert.equal(await readFile(path, 'utf8'), '{\n  "runId": "a",\n  "points": [\n    1\n  ]\n}\n');
    await writeJsonAtomic(path, { runId: 'b' }, { mode: 0o600 });
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { runId: 'b' });
    assert.deepEqual(await readdir(join(dir, 'nested')), ['run.json'], 'no temporary file left behind');
  }));

test('writeJsonAtomic: a new file gets the mode asked for; concurrent writes each land whole', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'results.json');
    await writeJsonAtomic(path, {}, { mode: 0o640 });
    assert.equal((await stat(path)).mode & 0o777, 0o640 & ~process.umask());
    const big = (n: number) => ({ n, filler: 'x'.repeat(200_000) });
    await Promise.all([1, 2, 3, 4].map((n) => writeJsonAtomic(path, big(n))));
    const final = JSON.parse(await readFile(path, 'utf8')) as { n: number; filler: string };
    assert.ok([1, 2, 3, 4].includes(final.n));
    assert.equal(final.filler.length, 200_000);
    assert.deepEqual(await readdir(dir), ['results.json']);
  }));

test('writeJsonAtomic: a value JSON cannot hold fails before anything is written', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'x.json');
    await assert.rejects(writeJsonAtomic(path, { n: 1n }), TypeError);
    assert.deepEqual(await readdir(dir), []);
  }));
