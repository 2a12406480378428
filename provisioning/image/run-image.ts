import { DEFAULT_DISK_SIZE_GIB, ensureDiskImage, type DiskFormat, type DiskImage } from './disk.js';
import { ensureRootfs, type RootfsResult } from './rootfs.js';

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
}
