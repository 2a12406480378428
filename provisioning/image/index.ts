/** The one image recipe behind every target; see README.md beside this file. */
export { ensureRootfs, rootfsDirName, DEBOOTSTRAP_TIMEOUT_MS, type EnsureRootfsOptions, type RootfsResult } from './rootfs.js';
export {
  ensureDiskImage,
  cloneDiskImage,
  diskImageName,
  DEFAULT_DISK_SIZE_GIB,
  DISK_LABEL,
  type DiskFormat,
  type DiskImage,
  type DiskImageOptions,
} from './disk.js';
export { findBootFiles, type BootFiles } from './boot-files.js';
export { RunImage, type HostImage, type HostImageNeeds } from './run-image.js';
export {
  HOST_IMAGE_SUBDIR,
  HOST_MANIFEST_NAME,
  artifactDamage,
  decideImageSync,
  hostImageDirectory,
  hostManifestPath,
  parseHostProbe,
  type HostImageManifest,
  type HostImageState,
  type HostManifestState,
  type ImageSyncDecision,
} from './host-manifest.js';
export { probeHostImage, syncImageToHost, RSYNC_TOOL, type ImageSyncOutcome, type ImageSyncRequest, type RsyncStats } from './host-sync.js';
export {
  IMAGE_RECIPE,
  RECIPE_VERSION,
  GUEST_INIT_PATH,
  GUEST_READY_MARKER,
  GUEST_AGENT_PORT_NAME,
  TREE_RECIPE_HASH_PATH,
  computeRecipeHash,
  type ImageRecipe,
} from './recipe.js';
export { IMAGE_HOST_PACKAGES, MissingHostToolError } from './host-tools.js';
export { DEFAULT_IMAGE_CACHE_DIR, resolveImageCacheDir } from './cache-dir.js';
export { guestKernelCommandLine } from './guest-boot.js';
