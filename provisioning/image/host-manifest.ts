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
/** The manifest's format number; a manifest of another format is unreadable (and the image is copied again). */
export const HOST_MANIFEST_FORMAT = 1;

/**
 * An artifact's name: one file or folder directly in the image cache (`rootfs-<hash>`,
 * `disk-<hash>-4g.qcow2`). No slash and no rsync wildcard (`*`, `?`, `[`), so it can be an rsync
 * include rule as it is.
 */
export const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const ManifestSchema = z.strictObject({
  format: z.literal(HOST_MANIFEST_FORMAT),
  recipeHash: z.string().regex(new RegExp(`^[0-9a-f]{${RECIPE_HASH_LENGTH}}$`)),
  artifacts: z.array(z.string().regex(ARTIFACT_NAME)).min(1),
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

/** What one look at a host says: whether it has rsync, and its manifest. */
export interface HostImageState {
  /** `command -v rsync` found it in the login shell's PATH on the host. */
  rsync: boolean;
  manifest: HostManifestState;
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
 * The shell script (run as `sh -c SCRIPT sh MANIFEST_PATH`) that looks at a host in one round trip:
 * a line `rsync=yes|no`, a line `manifest=present|absent`, then the manifest's text when present.
 */
export const HOST_PROBE_SCRIPT =
  'if command -v rsync >/dev/null 2>&1; then echo rsync=yes; else echo rsync=no; fi; ' +
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

/**
 * HOST_PROBE_SCRIPT's output as a HostImageState.
 * @throws Error quoting the first line when the output is not the script's (a login shell that prints a banner, say).
 */
export function parseHostProbe(stdout: string): HostImageState {
  const newline = stdout.indexOf('\n');
  const second = stdout.indexOf('\n', newline + 1);
  const rsyncLine = stdout.slice(0, newline);
  const manifestLine = stdout.slice(newline + 1, second < 0 ? undefined : second);
  const rsync = /^rsync=(yes|no)$/.exec(rsyncLine)?.[1];
  const manifest = /^manifest=(present|absent)$/.exec(manifestLine)?.[1];
  if (newline < 0 || rsync === undefined || manifest === undefined) {
    throw new Error(`unexpected output from the image probe: ${JSON.stringify(stdout.split('\n')[0]!.slice(0, 200))}`);
  }
  return {
    rsync: rsync === 'yes',
    manifest: manifest === 'absent' ? { kind: 'absent' } : parseManifest(stdout.slice(second + 1)),
  };
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

/** Decides from the host's manifest whether `wanted` must be copied (see ImageSyncDecision). */
export function decideImageSync(wanted: WantedImage, state: HostManifestState): ImageSyncDecision {
  if (state.kind === 'absent') return { copy: true, artifacts: wanted.artifacts, reason: 'no manifest on the host (never copied, or a copy that did not finish)' };
  if (state.kind === 'unreadable') return { copy: true, artifacts: wanted.artifacts, reason: `its manifest is unreadable (${state.reason})` };
  const { manifest } = state;
  if (manifest.recipeHash !== wanted.recipeHash) {
    return { copy: true, artifacts: wanted.artifacts, reason: `the host has recipe ${manifest.recipeHash}, this host's is ${wanted.recipeHash}` };
  }
  const missing = wanted.artifacts.filter((name) => !manifest.artifacts.includes(name));
  if (missing.length > 0) {
    return { copy: true, artifacts: [...manifest.artifacts, ...missing], reason: `the host lacks ${missing.join(', ')}` };
  }
  return { copy: false, artifacts: manifest.artifacts };
}
