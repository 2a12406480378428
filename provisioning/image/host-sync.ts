import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { errorMessage } from '../../core/errors.js';
import { describeFailure, runCommand } from '../../core/exec.js';
import { ensureTools, type InstallSession, type ToolRequirement } from '../../core/tools.js';
import { classifySshFailure, HostError, LocalHost, type Host, type SshHost } from '../../hosts/host.js';
import { HostLockError, takeHostLock, type HostLock } from '../../hosts/host-lock.js';
import {
  ARTIFACT_COUNT_SCRIPT,
  ARTIFACT_NAME,
  artifactDamage,
  decideImageSync,
  HOST_MANIFEST_FORMAT,
  HOST_MANIFEST_NAME,
  HOST_PROBE_SCRIPT,
  hostImageDirectory,
  hostManifestPath,
  parseArtifactCounts,
  parseHostProbe,
  serializeManifest,
  type ArtifactContents,
  type HostImageState,
  type WantedImage,
} from './host-manifest.js';

/**
 * Copies the image built on this (the controlling) host to a lab host, only when the host's
 * manifest (host-manifest.ts) names another recipe hash or lacks an artifact: rsync over the
 * host's own ssh options and shared connection (SshHost.sshOptions), into `<data-dir>/image/`,
 * then the manifest, written last. The host needs rsync, not debootstrap.
 */

/** rsync on this host: installed like every other tool (core/tools.ts). */
export const RSYNC_TOOL: ToolRequirement = { command: 'rsync', debianPackage: 'rsync', why: 'to copy the image to lab hosts over SSH' };

/**
 * Deadline of one image copy, in ms (30 min): the tree is 1.3 GiB on disk here and the 4 GiB qcow2
 * disk 1.2 GiB (2026-11-30), about 25 s on a gigabit link and minutes on a slow one.
 */
export const DEFAULT_IMAGE_SYNC_TIMEOUT_MS = 30 * 60_000;
/** rsync's `--timeout`: seconds without any data moving before rsync gives up (a stalled link fails long before the deadline). */
export const RSYNC_IO_TIMEOUT_S = 60;
/** Deadline of the one-round-trip look at a host (HOST_PROBE_SCRIPT), and of preparing and finishing a copy, in ms. */
const HOST_STEP_TIMEOUT_MS = 30_000;
/** Deadline of writing the manifest, in ms: it first flushes the file system the copy wrote (`sync -f`). */
const MANIFEST_TIMEOUT_MS = 5 * 60_000;
/** Extra seconds the remote rsync's `timeout` waits past the local deadline, as SshHost's remote commands do. */
const REMOTE_DEADLINE_SLACK_S = 2;
/**
 * The lock file, beside the image folder (inside it, rsync's `--delete` would remove it): two
 * isobench processes copying to one host take turns (hosts/host-lock.ts); the second then finds the
 * image present and copies nothing.
 */
export const HOST_IMAGE_LOCK_NAME = 'isobench-image.lock';
/** How long, in ms, a copy waits for another process's copy to the same host (one whole copy's deadline). */
const LOCK_WAIT_MS = DEFAULT_IMAGE_SYNC_TIMEOUT_MS;
/** Deadline of counting artifacts (a `find` over the 18,726 entries of the real tree: 0.09–0.30 s here, 2026-11-30), in ms. */
const COUNT_TIMEOUT_MS = 2 * 60_000;

/**
 * The named artifacts of `directory` on `host`, counted (ARTIFACT_COUNT_SCRIPT): on this host, the
 * cache before a copy; on a lab host, the copy after it.
 * @throws Error naming the host when the count fails; HostError when the host cannot be reached.
 */
export async function countArtifacts(host: Host, directory: string, artifacts: readonly string[]): Promise<Map<string, ArtifactContents>> {
  const outcome = await host.run(['sh', '-c', ARTIFACT_COUNT_SCRIPT, 'sh', directory, ...artifacts], { timeoutMs: COUNT_TIMEOUT_MS });
  if (!outcome.ok) throw new Error(`counting the image's files in ${directory} on host ${host.name} failed: ${describeFailure(outcome)}`);
  return parseArtifactCounts(outcome.stdout.split('\n').filter(Boolean));
}

/**
 * An argument list as rsync's `-e COMMAND` wants it: one string rsync splits at spaces; an argument
 * with anything but plain characters is single-quoted, a quote inside doubled (rsync(1), `--rsh`:
 * backslashes are not special there).
 */
export function rshCommand(args: readonly string[]): string {
  return args.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "''")}'`)).join(' ');
}

/** What rsync's `--stats --no-human-readable` says it moved. */
export interface RsyncStats {
  /** `Total bytes sent`: bytes this side wrote to the link (file data, file list and protocol), the copy's cost on the wire. */
  bytesSent: number;
  /** `Total bytes received`. */
  bytesReceived: number;
  /** `Total transferred file size`: the size of the files that were (re)sent, before rsync's delta. */
  transferredFileBytes: number;
  /** `Number of regular files transferred`. */
  filesTransferred: number;
}

/**
 * rsync's `--stats` block, with `--no-human-readable` (plain digits; commas are accepted too).
 * @throws Error naming the first line that is missing.
 */
export function parseRsyncStats(stdout: string): RsyncStats {
  const field = (label: string): number => {
    const match = new RegExp(`^${label}: ([\\d,]+)`, 'm').exec(stdout);
    if (!match) throw new Error(`rsync's statistics lack "${label}"`);
    return Number(match[1]!.replaceAll(',', ''));
  };
  return {
    bytesSent: field('Total bytes sent'),
    bytesReceived: field('Total bytes received'),
    transferredFileBytes: field('Total transferred file size'),
    filesTransferred: field('Number of regular files transferred'),
  };
}

/** `USER@ADDRESS` as rsync's remote path wants it: an IPv6 address in brackets. */
function rsyncDestination(host: SshHost): string {
  const { user, address } = host.target;
  return address.includes(':') ? `${user}@[${address}]` : `${user}@${address}`;
}

/**
 * The whole rsync command line that makes `directory` on the host hold exactly `artifacts` from
 * `cacheDir`: archive mode with hard links, extended attributes (file capabilities) and numeric
 * owners (the tree's uids are the image's, not the host's names), sparse files kept sparse; the
 * folder's anything else (an older recipe's artifacts, the manifest, a cut-off copy's temp files)
 * deleted. ssh is the host's own (SshHost.sshOptions: the same shared connection, config and
 * timeouts); the remote rsync runs under `timeout` like SshHost's remote commands.
 * @param deadlineS The local deadline in seconds; the remote one is 2 s later.
 */
export function rsyncArguments(host: SshHost, cacheDir: string, artifacts: readonly string[], directory: string, deadlineS: number): string[] {
  return [
    'rsync',
    '--archive', '--hard-links', '--xattrs', '--numeric-ids', '--sparse',
    '--delete', '--delete-excluded',
    '--stats', '--no-human-readable',
    `--timeout=${RSYNC_IO_TIMEOUT_S}`,
    '--rsh', rshCommand(host.sshOptions()),
    `--rsync-path=timeout --kill-after=2 ${deadlineS + REMOTE_DEADLINE_SLACK_S}s rsync`,
    // Each artifact (file or folder, and all inside it); nothing else of the cache (locks, builds in progress).
    ...artifacts.flatMap((name) => [`--include=/${name}`, `--include=/${name}/**`]),
    '--exclude=*',
    '--',
    `${cacheDir.replace(/\/*$/, '')}/`,
    `${rsyncDestination(host)}:${directory}/`,
  ];
}

/**
 * One look at a host's image (HOST_PROBE_SCRIPT): whether it has rsync, and its manifest.
 * @throws HostError when the host cannot be reached; Error when the look itself fails on the host.
 */
export async function probeHostImage(host: Host, dataDir: string): Promise<HostImageState> {
  const outcome = await host.run(['sh', '-c', HOST_PROBE_SCRIPT, 'sh', hostManifestPath(dataDir)], { timeoutMs: HOST_STEP_TIMEOUT_MS });
  if (!outcome.ok) throw new Error(`looking at the image on host ${host.name} failed: ${describeFailure(outcome)}`);
  return parseHostProbe(outcome.stdout);
}

/** What to copy where: the artifacts in this host's cache and the lab host's data-dir. */
export interface ImageSyncRequest extends WantedImage {
  /** The host's inventory `data-dir` (absolute); the image goes to `<data-dir>/image/`. */
  dataDir: string;
  /** This host's image cache holding the artifacts (provisioning/image/cache-dir.ts). */
  cacheDir: string;
}

/** How syncImageToHost runs; the defaults are a real run's. */
export interface ImageSyncOptions {
  /** Progress lines: already present, copying and why, copied; default none. */
  log?: (line: string) => void;
  /** Deadline of the rsync, in ms; default DEFAULT_IMAGE_SYNC_TIMEOUT_MS. */
  timeoutMs?: number;
  /** The run's installs (core/tools.ts), so rsync is announced and tried once a run. */
  session?: InstallSession;
}

/** Fields every outcome has. */
interface SyncOutcomeBase {
  /** The host's inventory name. */
  host: string;
  /** Seconds the whole call took, the look at the host included. */
  seconds: number;
}

/**
 * What syncImageToHost did. `copied` and `already-present` mean the host now holds the artifacts
 * of `recipeHash` in `directory` under their cache names; `failed` means it may not, with the reason
 * in one line that starts `host NAME:`.
 */
export type ImageSyncOutcome =
  | (SyncOutcomeBase & {
      kind: 'copied';
      recipeHash: string;
      /** `<data-dir>/image` on the host. */
      directory: string;
      /** The artifacts the manifest now lists. */
      artifacts: readonly string[];
      /** Why it was copied (ImageSyncDecision's reason). */
      reason: string;
      /** rsync's statistics: bytes on the wire and the size of the files (re)sent. */
      stats: RsyncStats;
      /** Seconds rsync itself ran. */
      copySeconds: number;
    })
  | (SyncOutcomeBase & { kind: 'already-present'; recipeHash: string; directory: string; artifacts: readonly string[] })
  | (SyncOutcomeBase & { kind: 'failed'; reason: string });

/**
 * Makes the host hold `request.artifacts` of `request.recipeHash` in `<data-dir>/image/`: looks at
 * its manifest; when it names the same hash and every artifact, copies nothing. Otherwise removes
 * the manifest, rsyncs (rsyncArguments: other content of that folder is deleted), flushes the host's
 * file system and writes the manifest last (a temp file renamed), so a copy cut off anywhere is
 * found incomplete and redone by the next call (rsync then sends only what is missing or differs).
 * A failure of the host (unreachable, rsync missing there, rsync failing, the deadline) is a
 * `failed` outcome naming the host, never thrown.
 * @throws Error for a bad request (an artifact name that is not a plain name, one missing from `cacheDir`).
 * @throws MissingToolError or UsageError (core/tools.ts) when rsync is missing here and cannot be installed.
 */
export async function syncImageToHost(host: SshHost, request: ImageSyncRequest, options: ImageSyncOptions = {}): Promise<ImageSyncOutcome> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const seconds = () => (performance.now() - started) / 1000;
  const failed = (reason: string): ImageSyncOutcome => ({
    kind: 'failed',
    host: host.name,
    reason: reason.startsWith(`host ${host.name}:`) ? reason : `host ${host.name}: ${reason}`,
    seconds: seconds(),
  });
  for (const name of request.artifacts) {
    if (!ARTIFACT_NAME.test(name)) throw new Error(`image artifact ${JSON.stringify(name)} is not a plain file or folder name in the cache`);
    if (!existsSync(path.join(request.cacheDir, name))) throw new Error(`image artifact ${name} is not in ${request.cacheDir}: build it before copying it`);
  }
  const directory = hostImageDirectory(request.dataDir);
  const timeoutMs = options.timeoutMs ?? DEFAULT_IMAGE_SYNC_TIMEOUT_MS;
  let lock: HostLock | null = null;
  try {
    try {
      lock = await takeHostLock(host, path.posix.join(request.dataDir, HOST_IMAGE_LOCK_NAME), {
        waitMs: LOCK_WAIT_MS,
        holdMs: timeoutMs + MANIFEST_TIMEOUT_MS + 2 * COUNT_TIMEOUT_MS + 3 * HOST_STEP_TIMEOUT_MS,
        what: 'copying the image',
      });
    } catch (error) {
      if (error instanceof HostLockError) return failed(error.message);
      throw error;
    }
    let state: HostImageState;
    try {
      state = await probeHostImage(host, request.dataDir);
    } catch (error) {
      return failed(errorMessage(error));
    }
    const decision = decideImageSync(request, state);
    if (!decision.copy) {
      log(`host ${host.name}: image ${request.recipeHash} already in ${directory}; nothing copied`);
      return { kind: 'already-present', host: host.name, recipeHash: request.recipeHash, directory, artifacts: decision.artifacts, seconds: seconds() };
    }
    if (!state.rsync) return failed(`rsync is missing there, and the image (${decision.reason}) is copied with it: install Debian's rsync package on ${host.name} (apt-get install rsync); isobench installs nothing on lab hosts`);
    await ensureTools([RSYNC_TOOL], log, options.session ? { session: options.session } : {});
    // An artifact the host kept from the same recipe but this host no longer has cannot be sent: leave it out.
    const artifacts = decision.artifacts.filter((name) => existsSync(path.join(request.cacheDir, name)));
    const sent = await countArtifacts(new LocalHost(), request.cacheDir, artifacts);
    log(`host ${host.name}: copying image ${request.recipeHash} (${artifacts.join(', ')}) to ${directory}: ${decision.reason}`);

    const prepare = await host.run(['sh', '-c', 'mkdir -p -- "$1" && rm -f -- "$1/$2" "$1/$2.tmp"', 'sh', directory, HOST_MANIFEST_NAME], { timeoutMs: HOST_STEP_TIMEOUT_MS });
    if (!prepare.ok) return failed(`preparing ${directory} failed: ${describeFailure(prepare)}`);

    const rsync = await runCommand(rsyncArguments(host, request.cacheDir, artifacts, directory, Math.ceil(timeoutMs / 1000)), { timeoutMs });
    if (!rsync.ok) {
      // rsync exits 12 or 255 when its ssh failed; ssh's own diagnostic on stderr says how.
      const ssh = rsync.timedOut ? null : classifySshFailure({ exitCode: 255, stderr: rsync.stderr });
      if (ssh) return failed(new HostError(host.name, ssh.failure, `${ssh.detail} (${host.via}, during rsync)`).message);
      return failed(`copying the image failed: ${describeFailure({ ...rsync, command: ['rsync', '…', `${rsyncDestination(host)}:${directory}/`] })}`);
    }
    let stats: RsyncStats;
    try {
      stats = parseRsyncStats(rsync.stdout);
    } catch (error) {
      return failed(`rsync succeeded but ${errorMessage(error)}`);
    }
    // The copy counted on the host as the next look will count it: a manifest is written only for what arrived.
    const arrived = await countArtifacts(host, directory, artifacts).catch((error: unknown) => error as Error);
    if (arrived instanceof Error) return failed(arrived.message);
    const damage = artifacts.map((name) => artifactDamage(name, sent.get(name), arrived.get(name))).filter((why) => why !== null);
    if (damage.length > 0) return failed(`rsync succeeded but the copy does not hold what was sent: ${damage.join('; ')}`);

    const manifest = serializeManifest({
      format: HOST_MANIFEST_FORMAT,
      recipeHash: request.recipeHash,
      artifacts: [...artifacts],
      contents: Object.fromEntries(sent),
      copiedAt: new Date().toISOString(),
      from: hostname(),
    });
    const finish = await host.run(
      ['sh', '-c', 'sync -f -- "$1" && printf %s "$3" > "$1/$2.tmp" && mv -f -- "$1/$2.tmp" "$1/$2"', 'sh', directory, HOST_MANIFEST_NAME, manifest],
      { timeoutMs: MANIFEST_TIMEOUT_MS },
    );
    if (!finish.ok) return failed(`the image was copied but writing its manifest failed: ${describeFailure(finish)}`);
    const copySeconds = rsync.durationMs / 1000;
    log(`host ${host.name}: image ${request.recipeHash} copied: ${stats.bytesSent} bytes sent (${stats.filesTransferred} files, ${stats.transferredFileBytes} bytes of file data) in ${copySeconds.toFixed(1)} s`);
    return { kind: 'copied', host: host.name, recipeHash: request.recipeHash, directory, artifacts, reason: decision.reason, stats, copySeconds, seconds: seconds() };
  } catch (error) {
    // The host went away between steps; a local problem (rsync not installable here) is thrown on.
    if (error instanceof HostError) return failed(error.message);
    throw error;
  } finally {
    await lock?.release();
  }
}
