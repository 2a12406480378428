import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The host's apt sources, read so the image is fetched from whatever Debian mirror this host
 * already uses (no mirror is named in isobench itself). Both formats apt reads are understood:
 * one-line `.list` files and deb822 `.sources` files.
 */

/** `deb`: binary packages (the only kind a mirror is chosen from); `deb-src`: source packages. */
export type AptSourceType = 'deb' | 'deb-src';

/** One (type, URI, suite) combination; a deb822 stanza with several of each yields several. */
export interface AptSource {
  type: AptSourceType;
  /** Without trailing slashes. */
  uri: string;
  /** As written, e.g. `bookworm`, `bookworm-security`. */
  suite: string;
  components: string[];
  /** Signed-By when it names a keyring file (an inline key block is not kept). */
  signedBy?: string;
  /** Where it was read, e.g. "/etc/apt/sources.list.d/debian.sources:3", for error messages. */
  origin: string;
}

/**
 * A one-line `.list` file (sources.list(5)): `deb [options] uri suite component…` per line. Lines
 * that are not `deb`/`deb-src` entries are skipped, not errors.
 * @param fileName For `origin` only; nothing is read.
 */
export function parseOneLineSources(text: string, fileName: string): AptSource[] {
  const sources: AptSource[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const line = stripComment(rawLine).trim();
    if (!line) return;
    const origin = `${fileName}:${index + 1}`;
    const parsed = /^(\S+)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)(.*)$/.exec(line);
    if (!parsed) return;
    const [, type, optionText = '', uri = '', suite = '', rest = ''] = parsed;
    if (!isSourceType(type)) return;
    const options = parseOneLineOptions(optionText);
    const source: AptSource = {
      type,
      uri: normalizeUri(uri),
      suite,
      components: rest.split(/\s+/).filter(Boolean),
      origin,
    };
    const signedBy = keyringPath(options.get('signed-by'));
    if (signedBy) source.signedBy = signedBy;
    sources.push(source);
  });
  return sources;
}

/**
 * A deb822 `.sources` file (sources.list(5)): one stanza per blank-line-separated block, each the
 * product of its Types, URIs and Suites; stanzas with `Enabled: no` are skipped.
 * @param fileName For `origin` only; nothing is read.
 */
export function parseDeb822Sources(text: string, fileName: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of splitStanzas(text)) {
    const fields = stanza.fields;
    if ((fields.get('enabled') ?? 'yes').trim().toLowerCase() === 'no') continue;
    const types = words(fields.get('types')).filter(isSourceType);
    const uris = words(fields.get('uris')).map(normalizeUri);
    const suites = words(fields.get('suites'));
    const components = words(fields.get('components'));
    const signedBy = keyringPath(fields.get('signed-by'));
    const origin = `${fileName}:${stanza.firstLine}`;
    for (const type of types) {
      for (const uri of uris) {
        for (const suite of suites) {
          const source: AptSource = { type, uri, suite, components: [...components], origin };
          if (signedBy) source.signedBy = signedBy;
          sources.push(source);
        }
      }
    }
  }
  return sources;
}

/**
 * Reads apt's sources the way apt does: `sources.list`, then `sources.list.d/*.list` and
 * `*.sources` in name order. Files with other endings (e.g. `.disabled`, `.save`) are ignored,
 * as apt ignores them. Missing files and a missing `sources.list.d` give no sources.
 * @throws the read error for a file that exists but cannot be read.
 */
export async function readHostAptSources(aptDir = '/etc/apt'): Promise<AptSource[]> {
  const sources: AptSource[] = [];
  const mainList = path.join(aptDir, 'sources.list');
  const mainText = await readIfPresent(mainList);
  if (mainText !== undefined) sources.push(...parseOneLineSources(mainText, mainList));

  const partsDir = path.join(aptDir, 'sources.list.d');
  const names = await readdir(partsDir).catch(() => [] as string[]);
  for (const name of [...names].sort()) {
    const file = path.join(partsDir, name);
    if (name.endsWith('.list')) {
      const text = await readIfPresent(file);
      if (text !== undefined) sources.push(...parseOneLineSources(text, file));
    } else if (name.endsWith('.sources')) {
      const text = await readIfPresent(file);
      if (text !== undefined) sources.push(...parseDeb822Sources(text, file));
    }
  }
  return sources;
}

/** The mirror the image is built from, as chooseDebianMirror found it. */
export interface DebianMirror {
  /** Without trailing slashes, e.g. `http://deb.debian.org/debian`. */
  uri: string;
  /** The keyring the host trusts for this mirror, when its source names one. */
  keyring?: string;
  /** The source it came from, `file:line`, for messages. */
  origin: string;
}

/** Schemes debootstrap can fetch from (apt's mirror+, cdrom: and the like it cannot). */
const FETCHABLE_SCHEMES = ['http:', 'https:', 'ftp:', 'file:'];

/**
 * The first binary source that serves `suite` with `component`. Only an exact suite match counts:
 * a `-security` or `-updates` source is a different archive, and a source for another release
 * would build another Debian.
 *
 * @throws Error listing the sources read when none matches (debootstrap needs an http, https, ftp or
 *   file URI).
 */
export function chooseDebianMirror(sources: readonly AptSource[], suite: string, component = 'main'): DebianMirror {
  const match = sources.find(
    (source) =>
      source.type === 'deb' &&
      source.suite === suite &&
      source.components.includes(component) &&
      FETCHABLE_SCHEMES.some((scheme) => source.uri.startsWith(scheme)),
  );
  if (!match) {
    const seen = sources.length
      ? sources.map((source) => `${source.type} ${source.uri} ${source.suite} (${source.origin})`).join('; ')
      : 'none';
    throw new Error(
      `no apt source on this host serves Debian "${suite}" with component "${component}", so there is no mirror ` +
        `to build the image from. Add one to /etc/apt/sources.list.d/ or pass a mirror explicitly. Sources read: ${seen}`,
    );
  }
  const mirror: DebianMirror = { uri: match.uri, origin: match.origin };
  if (match.signedBy) mirror.keyring = match.signedBy;
  return mirror;
}

/**
 * The mirror this host's apt already uses for `suite` (`main` component): readHostAptSources then chooseDebianMirror.
 * @throws Error when no source matches, or a sources file cannot be read.
 */
export async function findHostDebianMirror(suite: string, aptDir = '/etc/apt'): Promise<DebianMirror> {
  return chooseDebianMirror(await readHostAptSources(aptDir), suite);
}

function isSourceType(value: string | undefined): value is AptSourceType {
  return value === 'deb' || value === 'deb-src';
}

/** apt treats everything from a `#` on as a comment in one-line files. */
function stripComment(line: string): string {
  const hash = line.indexOf('#');
  return hash === -1 ? line : line.slice(0, hash);
}

/** `[arch=amd64 signed-by=/usr/share/keyrings/x.gpg]` -> map of lower-cased keys. */
function parseOneLineOptions(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const equals = word.indexOf('=');
    if (equals > 0) options.set(word.slice(0, equals).replace(/[+-]$/, '').toLowerCase(), word.slice(equals + 1));
  }
  return options;
}

interface Stanza {
  firstLine: number;
  fields: Map<string, string>;
}

/** deb822: stanzas split by blank lines; `#` lines are comments; indented lines continue a field. */
function splitStanzas(text: string): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  let lastKey: string | undefined;
  text.split('\n').forEach((line, index) => {
    if (line.startsWith('#')) return;
    if (!line.trim()) {
      current = undefined;
      lastKey = undefined;
      return;
    }
    if (/^\s/.test(line)) {
      if (current && lastKey) current.fields.set(lastKey, `${current.fields.get(lastKey) ?? ''}\n${line.trim()}`);
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return;
    if (!current) {
      current = { firstLine: index + 1, fields: new Map() };
      stanzas.push(current);
    }
    lastKey = line.slice(0, colon).trim().toLowerCase();
    current.fields.set(lastKey, line.slice(colon + 1).trim());
  });
  return stanzas;
}

function words(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter(Boolean);
}

/** Only a single absolute path is a keyring file; an inline armored key is not. */
function keyringPath(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  if (!trimmed || trimmed.includes('\n') || !trimmed.startsWith('/')) return undefined;
  return trimmed;
}

function normalizeUri(uri: string): string {
  return uri.replace(/\/+$/, '');
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
