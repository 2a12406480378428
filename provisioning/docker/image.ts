import { execa } from 'execa';
import { dockerErrorMessage, dockerStatusCode, DockerStepError, LABEL, RECIPE_LABEL, type DockerClient } from './client.js';
import { withDeadline } from '../../core/poll.js';

/** The image every Docker row runs: the project's one root file system, tagged with its recipe hash. */
export const IMAGE_REPOSITORY = 'isobench/rootfs';
/** Measured here: importing the ~1.4 GB tree takes a few seconds; a slow disk may take minutes. */
export const IMPORT_TIMEOUT_MS = 10 * 60_000;

/** The part of ensureRootfs()'s answer an import needs. */
export interface RootfsTree {
  /** The finished tree's directory in the image cache. */
  tree: string;
  /** 16 hex digits (provisioning/image/recipe.ts); becomes the tag. */
  recipeHash: string;
}

/** The image a Docker row ran, as recorded in its facts. */
export interface DockerImage {
  /** `isobench/rootfs:<recipeHash>`. */
  tag: string;
  /** The image ID, `sha256:` and 64 hex digits. */
  id: string;
  recipeHash: string;
  /** True when the tag already existed and nothing was imported. */
  reused: boolean;
  /** Time spent finding or importing the image, in seconds. */
  seconds: number;
}

/**
 * `isobench/rootfs:<recipeHash>`.
 * @throws Error when the hash is not a valid Docker tag (a word character, then up to 127 of `[A-Za-z0-9_.-]`).
 */
export function imageTag(recipeHash: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(recipeHash)) throw new Error(`recipe hash "${recipeHash}" cannot be a Docker tag`);
  return `${IMAGE_REPOSITORY}:${recipeHash}`;
}

/** The Dockerfile instructions applied at import: isobench's labels and a command that just waits. */
export function importChanges(recipeHash: string): string[] {
  return [`LABEL ${LABEL}=1`, `LABEL ${RECIPE_LABEL}=${recipeHash}`, 'CMD ["sleep", "infinity"]'];
}

/** The tar of the tree, as streamed to the daemon: numeric owners, extended attributes (file capabilities). */
export function tarCommand(tree: string): string[] {
  return ['tar', '--create', '--file=-', `--directory=${tree}`, '--numeric-owner', '--xattrs', '--xattrs-include=*', '--one-file-system', '.'];
}

/** What an import's answer said. */
export interface ImportProgress {
  /** `sha256:…` of the new image, null when none was named. */
  imageId: string | null;
  /** The daemon's last error (or the first line that was not JSON); null when there was none. */
  error: string | null;
}

/**
 * Reads the JSON lines `POST /images/create?fromSrc=-` answers with: the new image's id arrives as a
 * `status` of the form `sha256:…`, a failure as an `error` (the HTTP status is 200 either way).
 */
export function parseImportProgress(text: string): ImportProgress {
  let imageId: string | null = null;
  let error: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    let event: { status?: unknown; error?: unknown; errorDetail?: { message?: unknown }; message?: unknown };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      error ??= `unexpected answer from the daemon: ${line.slice(0, 200)}`;
      continue;
    }
    if (typeof event.error === 'string') error = event.error;
    else if (typeof event.errorDetail?.message === 'string') error = event.errorDetail.message;
    // A request the daemon rejects outright (HTTP 500) answers with a bare `message`.
    else if (typeof event.message === 'string') error = event.message;
    if (typeof event.status === 'string' && /^sha256:[0-9a-f]{64}$/.test(event.status.trim())) imageId = event.status.trim();
  }
  return { imageId, error };
}

/**
 * The tree as a Docker image `isobench/rootfs:<recipeHash>`, imported once and reused while the tag
 * exists. The tar is streamed straight into the Engine API's import (no temporary archive), untagged
 * first: only an import whose tar and daemon side both succeeded gets the tag, so a torn import can
 * never be mistaken for the recipe's image.
 *
 * @param options `timeoutMs`: for the whole import, in ms (default IMPORT_TIMEOUT_MS, 10 min); tar is
 *   killed when it passes.
 * @throws DockerStepError when inspecting, importing or tagging fails: tar failing or timing out (the
 *   partial image is removed), the daemon reporting an error or naming no image.
 */
export async function ensureDockerImage(
  client: DockerClient,
  rootfs: RootfsTree,
  options: { log: (line: string) => void; timeoutMs?: number },
): Promise<DockerImage> {
  const started = performance.now();
  const tag = imageTag(rootfs.recipeHash);
  const existing = await inspectImage(client, tag);
  if (existing && existing.Config?.Labels?.[RECIPE_LABEL] === rootfs.recipeHash) {
    options.log(`Docker image ${tag} exists (${existing.Id.slice(7, 19)})`);
    return { tag, id: existing.Id, recipeHash: rootfs.recipeHash, reused: true, seconds: (performance.now() - started) / 1000 };
  }
  options.log(`importing ${rootfs.tree} as Docker image ${tag}…`);
  const timeoutMs = options.timeoutMs ?? IMPORT_TIMEOUT_MS;
  const tarArgs = tarCommand(rootfs.tree);
  const tar = execa(tarArgs[0]!, tarArgs.slice(1), {
    reject: false,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    buffer: { stdout: false, stderr: true },
    stdout: 'pipe',
  });
  const abort = new AbortController();
  const upload = (async () => {
    const response = await client.importImage(tar.stdout, { changes: importChanges(rootfs.recipeHash), abortSignal: abort.signal });
    return readAll(response);
  })();
  let answer: string;
  try {
    answer = await withDeadline(upload, timeoutMs, 'importing the image');
  } catch (error) {
    abort.abort();
    tar.kill('SIGKILL');
    await tar;
    throw new DockerStepError(`importing ${rootfs.tree} into Docker`, dockerErrorMessage(error), { cause: error });
  }
  const tarResult = await tar;
  const progress = parseImportProgress(answer);
  if (tarResult.exitCode !== 0) {
    // The daemon saw a short but well-formed stream and made an image of it: not the recipe's tree.
    if (progress.imageId) await removeImage(client, progress.imageId);
    throw new DockerStepError(`importing ${rootfs.tree} into Docker`, `\`${tarArgs.join(' ')}\` failed (${tarResult.timedOut ? 'timed out' : `exit code ${tarResult.exitCode ?? tarResult.signal}`}): ${String(tarResult.stderr).trim().slice(0, 500)}`);
  }
  if (progress.error || !progress.imageId) {
    throw new DockerStepError(`importing ${rootfs.tree} into Docker`, progress.error ?? `the daemon did not name the new image: ${answer.slice(0, 300)}`);
  }
  try {
    await withDeadline(client.getImage(progress.imageId).tag({ repo: IMAGE_REPOSITORY, tag: rootfs.recipeHash }), 30_000, 'tagging the image');
  } catch (error) {
    throw new DockerStepError(`tagging ${progress.imageId} as ${tag}`, dockerErrorMessage(error), { cause: error });
  }
  const seconds = (performance.now() - started) / 1000;
  options.log(`imported Docker image ${tag} (${progress.imageId.slice(7, 19)}) in ${seconds.toFixed(1)} s`);
  return { tag, id: progress.imageId, recipeHash: rootfs.recipeHash, reused: false, seconds };
}

async function removeImage(client: DockerClient, id: string): Promise<void> {
  await withDeadline(client.getImage(id).remove({ force: true }), 30_000, `removing ${id}`).catch(() => {});
}

interface ImageInspect {
  Id: string;
  Config?: { Labels?: Record<string, string> | null };
}

async function inspectImage(client: DockerClient, name: string): Promise<ImageInspect | null> {
  try {
    return await withDeadline(client.getImage(name).inspect(), 30_000, `inspecting ${name}`);
  } catch (error) {
    if (dockerStatusCode(error) === 404) return null;
    throw new DockerStepError(`inspecting Docker image ${name}`, dockerErrorMessage(error), { cause: error });
  }
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer | string) => chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
