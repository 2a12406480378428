import { UsageError } from '../../core/errors.js';
import { findExecutable } from '../../core/tools.js';

/**
 * The host programs the image builder runs, and the Debian package each comes from, so a missing
 * one is reported as something to install rather than as a failed spawn.
 */

/** Each program the image builder runs, mapped to the Debian package that provides it. */
export const IMAGE_HOST_TOOLS = {
  debootstrap: 'debootstrap',
  'mkfs.ext4': 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  'qemu-img': 'qemu-utils',
  mount: 'mount',
  umount: 'mount',
} as const;

/** A program named in IMAGE_HOST_TOOLS. */
export type ImageHostTool = keyof typeof IMAGE_HOST_TOOLS;

/** The Debian packages the image builder needs on the host (installing them happens elsewhere). */
export const IMAGE_HOST_PACKAGES: readonly string[] = [...new Set(Object.values(IMAGE_HOST_TOOLS))].sort();

/** An image-building program is not installed: a UsageError (exit code 2) naming the package to install. */
export class MissingHostToolError extends UsageError {
  constructor(
    readonly tool: string,
    readonly debianPackage: string,
  ) {
    super(`${tool} is not installed on this host; it comes from the Debian package "${debianPackage}" (apt-get install ${debianPackage})`);
  }
}

/** Absolute path of the tool, or a MissingHostToolError naming the package to install. */
export async function requireHostTool(tool: ImageHostTool): Promise<string> {
  const found = await findExecutable(tool);
  if (!found) throw new MissingHostToolError(tool, IMAGE_HOST_TOOLS[tool]);
  return found;
}
