import path from 'node:path';
import { z } from 'zod';
import { RECIPE_HASH_LENGTH } from './recipe.js';

/**
 * The image on a lab host (issue 14): which recipe's artifacts a host holds, read from a small
 * manifest beside them in its data-dir. The manifest is removed before a copy starts and written
 * last, after the copy completed, so a copy cut off half-way never looks complete. Pure: parsing
 * and deciding only; host-sync.ts runs the commands.
 */

/** The folder under a host's data-dir that holds the image: artifacts under their cache names, and the manifest. */
export const HOST_IMAGE_SUBDIR = 'image';
/** The manifest's file name inside HOST_IMAGE_SUBDIR. */
export const HOST_MANIFEST_NAME = 'isobench-image.json';
/**
 * The manifest's format number; a manifest of another format is unreadable (and the image is copied
 * again). Format 2 added `contents`: format 1 trusted its artifact names alone, so a file deleted on
 * the host behind isobench's back went unnoticed.
 */
export const HOST_MANIFEST_FORMAT = 2;

/**
 * An artifact's name: one file or folder directly in the image cache (`rootfs-<hash>`,
 * `disk-<hash>-4g.qcow2`). No slash and no rsync wildcard (`*`, `?`, `[`), so it can be an rsync
 * include rule as it is.
 */
export const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * What an artifact holds, counted the same way on both sides (ARTIFACT_COUNT_SCRIPT): every entry
 * that is not a folder (files, each hard link's name, symlinks, device nodes) and the sum of their
 * sizes as `find -printf %s` gives them (a file's apparent size, a symlink's target length). A file
 * removed, cut short or grown changes it; a change that keeps every size does not (hashing 2.5 GB
 * on every look would cost more than the copy it saves).
 */
const ArtifactContentsSchema = z.strictObject({ entries: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() });
/** An artifact's counted contents (see ArtifactContentsSchema). */
export type ArtifactContents = z.infer<typeof ArtifactContentsSchema>;

const ManifestSchema = z.strictObject({
  format: z.literal(HOST_MANIFEST_FORMAT),
  recipeHash: z.string().regex(new RegExp(`^[0-9a-f]{${RECIPE_HASH_LENGTH}}$`)),
  artifacts: z.array(z.string().regex(ARTIFACT_NAME)).min(1),
  /** Each artifact's contents as counted on this host before the copy, by artifact name. */
  contents: z.record(z.string().regex(ARTIFACT_NAME), ArtifactContentsSchema),
  /** ISO 8601 time the copy completed. */
  copiedAt: z.string().min(1),
  /** The controlling host's hostname, for doctor's line. */
  from: z.string().min(1),
});

/** What a host's manifest says: the recipe hash its artifacts were built from, and which artifacts were copied completely. */
export type HostImageManifest = z.infer<typeof ManifestSchema>;

/** The host's manifest as read: absent, present and valid, or present but not a manifest isobench wrote. */
export type HostManifestState =
  | { kind: 'absent' }
  | { kind: 'present'; manifest: HostImageManifest }
  | { kind: 'unreadable'; reason: string };

/** What one look at a host says: whether it has rsync, its manifest, and what its image folder holds now. */
export interface HostImageState {
  /** `command -v rsync` found it in the login shell's PATH on the host. */
  rsync: boolean;
  manifest: HostManifestState;
  /** Each artifact-named entry of `<data-dir>/image` (the manifest aside), counted now (ARTIFACT_COUNT_SCRIPT), by name. */
  found: ReadonlyMap<string, ArtifactContents>;
}

/** The image folder on a host: `<data-dir>/image`. */
export function hostImageDirectory(dataDir: string): string {
  return path.posix.join(dataDir, HOST_IMAGE_SUBDIR);
}

/** The manifest's path on a host: `<data-dir>/image/isobench-image.json`. */
export function hostManifestPath(dataDir: string): string {
  return path.posix.join(hostImageDirectory(dataDir), HOST_MANIFEST_NAME);
}

/**
 * A shell function `count DIRECTORY` that prints a line `artifact NAME ENTRIES BYTES` for each
 * artifact-named entry of DIRECTORY, the manifest and its temp file aside (ArtifactContentsSchema
 * says what is counted). The same function counts the local cache before a copy and the host's
 * folder on each look, so both sides count alike. `%.0f`: mawk's `%d` stops at 2^31, and a 4 GiB
 * disk is past it.
 */
const COUNT_FUNCTION =
  `one() { find "$1/$2" ! -type d -printf '%s\\n' | awk -v n="$2" '{c++; s+=$1} END {printf "artifact %s %.0f %.0f\\n", n, c, s}'; }; ` +
  'count() { for a in "$1"/*; do [ -e "$a" ] || continue; n=${a##*/}; ' +
  `case $n in ${HOST_MANIFEST_NAME}*|*[!A-Za-z0-9._-]*|[!A-Za-z0-9]*) continue;; esac; one "$1" "$n"; done; }; `;

/**
 * The shell script (run as `sh -c SCRIPT sh DIRECTORY NAME…`) that counts the named artifacts of
 * DIRECTORY (COUNT_FUNCTION's lines): the local cache before a copy, where other recipes' trees
 * are left uncounted.
 */
export const ARTIFACT_COUNT_SCRIPT = `${COUNT_FUNCTION}d=$1; shift; for n; do one "$d" "$n"; done`;

/**
 * The shell script (run as `sh -c SCRIPT sh MANIFEST_PATH`) that looks at a host in one round trip:
 * a line `rsync=yes|no`, a line `artifact NAME ENTRIES BYTES` for each artifact in the manifest's
 * folder (COUNT_FUNCTION), a line `manifest=present|absent`, then the manifest's text when present.
 */
export const HOST_PROBE_SCRIPT =
  COUNT_FUNCTION +
  'if command -v rsync >/dev/null 2>&1; then echo rsync=yes; else echo rsync=no; fi; ' +
  'd=$(dirname -- "$1"); if [ -d "$d" ]; then count "$d"; fi; ' +
  'if [ -f "$1" ]; then echo manifest=present; cat -- "$1"; else echo manifest=absent; fi';

/** The manifest's text as written on the host: one JSON object and a newline. */
export function serializeManifest(manifest: HostImageManifest): string {
  return `${JSON.stringify(ManifestSchema.parse(manifest))}\n`;
}

/** A manifest's text checked: `unreadable` with zod's first complaint (or JSON's) for anything isobench did not write. */
export function parseManifest(text: string): HostManifestState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { kind: 'unreadable', reason: `not JSON (${(error as Error).message})` };
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { kind: 'unreadable', reason: `${issue.path.join('.') || 'manifest'}: ${issue.message}` };
  }
  return { kind: 'present', manifest: parsed.data };
}

const ARTIFACT_LINE = /^artifact ([A-Za-z0-9][A-Za-z0-9._-]*) (\d+) (\d+)$/;

/**
 * The `artifact NAME ENTRIES BYTES` lines of ARTIFACT_COUNT_SCRIPT (or of the probe), by name.
 * @throws Error quoting the first line that is not one.
 */
export function parseArtifactCounts(lines: readonly string[]): Map<string, ArtifactContents> {
  const found = new Map<string, ArtifactContents>();
  for (const line of lines) {
    const match = ARTIFACT_LINE.exec(line);
    if (!match) throw new Error(`unexpected line where artifact counts were expected: ${JSON.stringify(line.slice(0, 200))}`);
    found.set(match[1]!, { entries: Number(match[2]), bytes: Number(match[3]) });
  }
  return found;
}

/**
 * HOST_PROBE_SCRIPT's output as a HostImageState.
 * @throws Error quoting the first line when the output is not the script's (a login shell that prints a banner, say).
 */
export function parseHostProbe(stdout: string): HostImageState {
  const unexpected = (line: string) => new Error(`unexpected output from the image probe: ${JSON.stringify(line.slice(0, 200))}`);
  const lines = stdout.split('\n');
  const rsync = /^rsync=(yes|no)$/.exec(lines[0]!)?.[1];
  if (rsync === undefined) throw unexpected(lines[0]!);
  const manifestAt = lines.findIndex((line, index) => index > 0 && !line.startsWith('artifact '));
  const manifest = manifestAt < 0 ? undefined : /^manifest=(present|absent)$/.exec(lines[manifestAt]!)?.[1];
  if (manifest === undefined) throw unexpected(lines[manifestAt < 0 ? lines.length - 1 : manifestAt]!);
  let found: Map<string, ArtifactContents>;
  try {
    found = parseArtifactCounts(lines.slice(1, manifestAt));
  } catch (error) {
    throw unexpected((error as Error).message);
  }
  return {
    rsync: rsync === 'yes',
    manifest: manifest === 'absent' ? { kind: 'absent' } : parseManifest(lines.slice(manifestAt + 1).join('\n')),
    found,
  };
}

/** `17,607 entries, 1,294,221,312 bytes`. */
function describeContents(contents: ArtifactContents): string {
  return `${contents.entries.toLocaleString('en-US')} entries, ${contents.bytes.toLocaleString('en-US')} bytes`;
}

/**
 * Why an artifact the manifest lists no longer holds what was copied: null when `found` matches
 * `copied`, else one phrase (`rootfs-… is gone`, `rootfs-… holds 17,606 entries, 1,293 bytes; 17,607
 * entries, 1,294 bytes were copied`).
 */
export function artifactDamage(name: string, copied: ArtifactContents | undefined, found: ArtifactContents | undefined): string | null {
  if (found === undefined) return `${name} is gone`;
  if (copied === undefined) return `the manifest does not count ${name}`;
  if (found.entries === copied.entries && found.bytes === copied.bytes) return null;
  return `${name} holds ${describeContents(found)}; ${describeContents(copied)} were copied`;
}

/** The image a host should hold: the local recipe hash and the artifacts' names in the local cache. */
export interface WantedImage {
  recipeHash: string;
  artifacts: readonly string[];
}

/**
 * Whether to copy: `copy: false` when the host's manifest names the same recipe hash and every
 * wanted artifact; otherwise `copy: true`, the reason in words, and the artifacts the copy makes
 * the host hold (with the same hash, those it already has stay, so a later manifest still lists them).
 */
export type ImageSyncDecision =
  | { copy: false; artifacts: readonly string[] }
  | { copy: true; artifacts: readonly string[]; reason: string };

/**
 * Decides from the host's manifest, and what its folder holds now, whether `wanted` must be copied
 * (see ImageSyncDecision): an artifact whose counted contents differ from the manifest's (a file
 * removed or cut short on the host behind isobench's back) is copied again.
 */
export function decideImageSync(wanted: WantedImage, state: Pick<HostImageState, 'manifest' | 'found'>): ImageSyncDecision {
  const { found } = state;
  if (state.manifest.kind === 'absent') return { copy: true, artifacts: wanted.artifacts, reason: 'no manifest on the host (never copied, or a copy that did not finish)' };
  if (state.manifest.kind === 'unreadable') return { copy: true, artifacts: wanted.artifacts, reason: `its manifest is unreadable (${state.manifest.reason})` };
  const { manifest } = state.manifest;
  if (manifest.recipeHash !== wanted.recipeHash) {
    return { copy: true, artifacts: wanted.artifacts, reason: `the host has recipe ${manifest.recipeHash}, this host's is ${wanted.recipeHash}` };
  }
  const missing = wanted.artifacts.filter((name) => !manifest.artifacts.includes(name));
  if (missing.length > 0) {
    return { copy: true, artifacts: [...manifest.artifacts, ...missing], reason: `the host lacks ${missing.join(', ')}` };
  }
  const damage = wanted.artifacts.map((name) => artifactDamage(name, manifest.contents[name], found.get(name))).filter((why) => why !== null);
  if (damage.length > 0) return { copy: true, artifacts: manifest.artifacts, reason: `its copy changed since: ${damage.join('; ')}` };
  return { copy: false, artifacts: manifest.artifacts };
}
