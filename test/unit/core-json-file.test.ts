import assert from 'node:assert/strict';
import { link, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
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

test('writeJsonAtomic replaces the file by rename, never in place: a reader holding the old file keeps it whole', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'results.json');
    await writeJsonAtomic(path, { version: 'old' });
    // A second name for the old file's inode stands for a reader that opened it before the write.
    await link(path, join(dir, 'reader-view'));
    const before = await stat(path);
    await writeJsonAtomic(path, { version: 'new' });
    assert.notEqual((await stat(path)).ino, before.ino, 'a new inode: renamed over, not rewritten');
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'reader-view'), 'utf8')), { version: 'old' });
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { version: 'new' });
  }));

test('writeJsonAtomic: writers with one pid and one counter (two copies of the module) never share a temporary file', () =>
  withTempDir(async (dir) => {
    // Each copy has its own module state, as a second process with the same pid in another PID
    // namespace would: a name made of pid + counter (or pid + milliseconds) is the same for both.
    type Writer = { writeJsonAtomic: typeof writeJsonAtomic };
    const copy = async (tag: string) => (await import(new URL(`../../core/json-file.ts?copy=${tag}`, import.meta.url).href)) as Writer;
    const [first, second] = [await copy('a'), await copy('b')];
    assert.notEqual(first.writeJsonAtomic, second.writeJsonAtomic, 'two module instances');
    const path = join(dir, 'results.json');
    const big = (n: number) => ({ n, filler: String(n).repeat(4_000_000) });
    for (let round = 0; round < 3; round++) {
      // Both writes must land: with a shared temporary name one rename finds it gone (ENOENT).
      const settled = await Promise.allSettled([first.writeJsonAtomic(path, big(1)), second.writeJsonAtomic(path, big(2))]);
      assert.deepEqual(settled.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : outcome.status)), ['fulfilled', 'fulfilled']);
      const final = JSON.parse(await readFile(path, 'utf8')) as { n: number; filler: string };
      assert.equal(final.filler, String(final.n).repeat(4_000_000), 'one writer\'s file, whole');
      assert.deepEqual(await readdir(dir), ['results.json']);
    }
  }));
