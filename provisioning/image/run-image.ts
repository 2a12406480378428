import path from 'node:path';
import { SshHost, type Host } from '../../hosts/host.js';
import { DEFAULT_DISK_SIZE_GIB, ensureDiskImage, type DiskFormat, type DiskImage } from './disk.js';
import { hostImageDirectory } from './host-manifest.js';
import { syncImageToHost, type ImageSyncOptions, type ImageSyncOutcome } from './host-sync.js';
import { ensureRootfs, type RootfsResult } from './rootfs.js';

/** What a target on a lab host needs of the image: the tree always (kernel and initrd included), a qcow2 disk when `disk` is set. */
export interface HostImageNeeds {
  /** The kvm target's disk, in GiB; absent: the tree alone (the Docker targets). */
  diskGiB?: number;
}

/**
 * The image as a lab host holds it. `ready`: the paths are the host's own (this machine's cache for
 * `localhost`); `sync` says what the copy did (null on this machine). `failed`: the reason names the host.
 */
export type HostImage =
  | { kind: 'ready'; host: string; recipeHash: string; tree: string; disk?: string; sync: ImageSyncOutcome | null }
  | { kind: 'failed'; host: string; reason: string };

/**
 * The image steps of one run, each done at most once. The runner's image phase and every target
 * that runs the image (docker-host, docker-nat, kvm, runc-criu, and the startup suite's fresh
 * instances) ask for the tree; each ask used to look in the cache again and say "image recipe … is
 * cached" again, once per target. Here the first ask does the work and says what it found; later
 * asks in the run get the same answer, silently.
 *
 * A failed step stays failed for the run: retrying a debootstrap that just failed, once per target,
 * would cost up to its 15 min deadline each time and say the same failure again.
 */
export class RunImage {
  private rootfsStep: Promise<RootfsResult> | undefined;
  private readonly diskSteps = new Map<string, Promise<DiskImage>>();
  private readonly hostSteps = new Map<string, Promise<HostImage>>();
  /** Per host, the end of its last copy: copies to one host run one after another. */
  private readonly hostTails = new Map<string, Promise<void>>();

  /** @param cacheDir Where trees and disk images are cached; default $ISOBENCH_CACHE_DIR, else /var/cache/isobench. */
  constructor(private readonly cacheDir?: string) {}

  /**
   * The recipe's tree (ensureRootfs), found or built at the first call of the run.
   * @param log Receives ensureRootfs's progress lines, at the first call only.
   * @throws What ensureRootfs throws, at every call once it has failed.
   */
  rootfs(log: (line: string) => void): Promise<RootfsResult> {
    this.rootfsStep ??= ensureRootfs({ log, ...(this.cacheDir ? { cacheDir: this.cacheDir } : {}) });
    return this.rootfsStep;
  }

  /**
   * The tree's disk image in `format` (ensureDiskImage), found or made at the first call for that
   * format and size; the tree comes from {@link rootfs}.
   * @param log Receives the progress lines, at the first call for that format and size only.
   * @param sizeGiB Whole GiB; default DEFAULT_DISK_SIZE_GIB.
   * @throws What ensureRootfs or ensureDiskImage throws, at every call once it has failed.
   */
  disk(format: DiskFormat, log: (line: string) => void, sizeGiB: number = DEFAULT_DISK_SIZE_GIB): Promise<DiskImage> {
    const key = `${format}/${sizeGiB}`;
    let step = this.diskSteps.get(key);
    if (!step) {
      step = this.rootfs(log).then((rootfs) => ensureDiskImage(rootfs.tree, rootfs.recipeHash, format, sizeGiB, { log, ...(this.cacheDir ? { cacheDir: this.cacheDir } : {}) }));
      this.diskSteps.set(key, step);
    }
    return step;
  }

  /**
   * The image on a lab host, for a target that runs there: built here once (rootfs, and the qcow2
   * disk when `needs.diskGiB` is set: qcow2 because a raw disk would cross the link at its full
   * size), then copied to the host's `<data-dir>/image/` by syncImageToHost only when its manifest
   * differs; once per host and needs in the run. `localhost` uses this machine's cache as it is.
   * A disk goes as qcow2 only; a target needing raw converts on the host (not built yet).
   * @param dataDir The host's inventory `data-dir`; a remote host without one gets `failed`.
   * @throws What ensureRootfs or ensureDiskImage throws (the build here failed), and
   *   syncImageToHost's throws (rsync missing here and not installable).
   */
  onHost(host: Host, dataDir: string | undefined, needs: HostImageNeeds, log: (line: string) => void, options: Omit<ImageSyncOptions, 'log'> = {}): Promise<HostImage> {
    const key = `${host.name}/${needs.diskGiB ?? 'tree'}`;
    let step = this.hostSteps.get(key);
    if (!step) {
      const work = async (): Promise<HostImage> => {
        const rootfs = await this.rootfs(log);
        const disk = needs.diskGiB === undefined ? undefined : await this.disk('qcow2', log, needs.diskGiB);
        // Not reached over SSH: `localhost`, this machine, whose cache is the image.
        if (!(host instanceof SshHost)) return { kind: 'ready', host: host.name, recipeHash: rootfs.recipeHash, tree: rootfs.tree, ...(disk ? { disk: disk.path } : {}), sync: null };
        if (dataDir === undefined) return { kind: 'failed', host: host.name, reason: `host ${host.name}: no data-dir in the inventory, and the image is copied there: add \`data-dir: /srv/isobench\` (any absolute path with room for about 1 GiB)` };
        const artifacts = [path.basename(rootfs.tree), ...(disk ? [path.basename(disk.path)] : [])];
        const sync = await syncImageToHost(host, { dataDir, cacheDir: path.dirname(rootfs.tree), recipeHash: rootfs.recipeHash, artifacts }, { ...options, log });
        if (sync.kind === 'failed') return { kind: 'failed', host: host.name, reason: sync.reason };
        const directory = hostImageDirectory(dataDir);
        return { kind: 'ready', host: host.name, recipeHash: rootfs.recipeHash, tree: path.posix.join(directory, artifacts[0]!), ...(disk ? { disk: path.posix.join(directory, artifacts[1]!) } : {}), sync };
      };
      // One copy at a time per host: two at once into one folder would delete each other's artifacts.
      const previous = this.hostTails.get(host.name) ?? Promise.resolve();
      step = previous.then(work);
      this.hostTails.set(host.name, step.then(() => undefined, () => undefined));
      this.hostSteps.set(key, step);
    }
    return step;
  }
}
