/** Where built trees and disk images are kept between runs (they take minutes to make). */
export const DEFAULT_IMAGE_CACHE_DIR = '/var/cache/isobench';

/** An explicit directory wins, then $ISOBENCH_CACHE_DIR, then the default. */
export function resolveImageCacheDir(explicit?: string): string {
  return explicit || process.env.ISOBENCH_CACHE_DIR || DEFAULT_IMAGE_CACHE_DIR;
}
