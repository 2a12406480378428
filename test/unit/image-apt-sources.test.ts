import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  chooseDebianMirror,
  parseDeb822Sources,
  parseOneLineSources,
  readHostAptSources,
} from '../../provisioning/image/apt-sources.js';

const fixtures = fileURLToPath(new URL('../fixtures/apt-sources/', import.meta.url));

test('one-line sources: options, trailing comments, deb-src and commented lines', () => {
  const text = [
    '# a comment',
    '#deb http://old.example.org/debian bookworm main',
    'deb-src http://mirror.example.org/debian/ bookworm main',
    'deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example.org/debian/ bookworm main contrib # note',
    'deb http://mirror.example.org/debian bookworm-updates main',
  ].join('\n');
  const sources = parseOneLineSources(text, 'sources.list');
  assert.equal(sources.length, 3);
  assert.deepEqual(sources[1], {
    type: 'deb',
    uri: 'http://mirror.example.org/debian',
    suite: 'bookworm',
    components: ['main', 'contrib'],
    signedBy: '/usr/share/keyrings/k.gpg',
    origin: 'sources.list:4',
  });
  assert.equal(sources[0]?.type, 'deb-src');
});

test('deb822 sources: every type x URI x suite, Enabled: no skipped, inline keys not taken for a keyring', () => {
  const text = [
    'Types: deb deb-src',
    'URIs: http://a.example.org/debian http://b.example.org/debian/',
    'Suites: bookworm bookworm-updates',
    'Components: main',
    '',
    '# off',
    'Enabled: no',
    'Types: deb',
    'URIs: http://off.example.org/debian',
    'Suites: bookworm',
    'Components: main',
    '',
    'Types: deb',
    'uris: http://c.example.org/debian',
    'SUITES: trixie',
    'Components: main',
    'Signed-By:',
    ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
    ' .',
    ' -----END PGP PUBLIC KEY BLOCK-----',
  ].join('\n');
  const sources = parseDeb822Sources(text, 'x.sources');
  assert.equal(sources.length, 2 * 2 * 2 + 1);
  assert.ok(!sources.some((source) => source.uri.includes('off.example.org')));
  const trixie = sources.find((source) => source.suite === 'trixie');
  assert.equal(trixie?.uri, 'http://c.example.org/debian');
  assert.equal(trixie?.signedBy, undefined);
  assert.equal(trixie?.origin, 'x.sources:13');
  assert.equal(sources.filter((source) => source.uri === 'http://b.example.org/debian').length, 4);
});

test('reads a one-line host configuration and picks the binary bookworm main source', async () => {
  const sources = await readHostAptSources(path.join(fixtures, 'one-line'));
  assert.ok(!sources.some((source) => source.uri.includes('disabled.example.net')), '.disabled files are ignored, as apt does');
  assert.ok(sources.some((source) => source.uri === 'https://vendor.example.net/apt'));
  const mirror = chooseDebianMirror(sources, 'bookworm');
  assert.equal(mirror.uri, 'http://mirror.example.org/debian');
  assert.equal(mirror.keyring, '/usr/share/keyrings/debian-archive-keyring.gpg');
  assert.match(mirror.origin, /sources\.list:5$/);
});

test('reads a deb822 host configuration and skips the disabled stanza that sorts first', async () => {
  const sources = await readHostAptSources(path.join(fixtures, 'deb822'));
  const mirror = chooseDebianMirror(sources, 'bookworm');
  assert.equal(mirror.uri, 'http://mirror.example.org/debian');
  assert.match(mirror.origin, /debian\.sources:2$/);
  assert.equal(chooseDebianMirror(sources, 'bookworm-security').uri, 'http://security.example.org/debian-security');
});

test('no source for the suite is a clear error naming what was read', async () => {
  const sources = await readHostAptSources(path.join(fixtures, 'deb822'));
  assert.throws(() => chooseDebianMirror(sources, 'trixie'), /no apt source on this host serves Debian "trixie".*vendor\.example\.net/s);
});

test('a host without any sources files yields no sources; a CD source is no mirror', async () => {
  const aptDir = await mkdtemp(path.join(tmpdir(), 'isobench-apt-'));
  try {
    assert.deepEqual(await readHostAptSources(aptDir), []);
    assert.throws(() => chooseDebianMirror([], 'bookworm'), /Sources read: none/);
    await mkdir(path.join(aptDir, 'sources.list.d'));
    await writeFile(path.join(aptDir, 'sources.list.d', 'dvd.list'), 'deb cdrom:[Debian GNU/Linux 12]/ bookworm main\n');
    const sources = await readHostAptSources(aptDir);
    assert.equal(sources.length, 1);
    // debootstrap cannot fetch from a CD, so that source does not count
    assert.throws(() => chooseDebianMirror(sources, 'bookworm'), /no apt source/);
  } finally {
    await rm(aptDir, { recursive: true, force: true });
  }
});
