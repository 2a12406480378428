import { createHash } from 'node:crypto';
import type { ToolRequirement } from '../../core/tools.js';

/*
 * The CRIU isobench builds for the container row of the migration suite, as data: which Debian
 * source it is built from, the bookworm packages the build needs, and the build steps' version. Its
 * hash names the cache directory, like the guest image's recipe hash names the tree.
 *
 * Why a build at all: bookworm's own criu 3.17.1 fails `criu check` on this host's kernel (6.18):
 * "vdso: Unexpected rt vDSO area bounds" (test/fixtures/criu/check-3.17-bookworm.txt). CRIU 4.1 knows
 * the newer kernels' vDSO layout, but 4.1.1 (trixie) still fails to dump any inet socket here:
 * "sockets: Can't get 1:16 opt: Operation not supported" — since Linux 6.16 getsockopt(SO_PASSCRED /
 * SO_PASSSEC) is refused on sockets other than unix and netlink, and CRIU 4.2 asks only those
 * (criu/sockets.c, dump_socket_opts). Hence sid's 4.2.1. Only Debian's archive is reachable here.
 */

/** Bump when the build steps in build.ts change in a way the data below does not show. */
export const CRIU_RECIPE_VERSION = 1;

/**
 * Each bookworm package the build needs and a file it installs (its command, or a header for a
 * `-dev` package; read from `dpkg -L` here), so `npm run bench` installs what is missing first.
 */
const BUILD_PACKAGE_FILES: Readonly<Record<string, string>> = {
  gcc: 'gcc',
  make: 'make',
  pkgconf: 'pkg-config',
  'libbsd-dev': '/usr/include/bsd/bsd.h',
  'libcap-dev': '/usr/include/sys/capability.h',
  'libgnutls28-dev': '/usr/include/gnutls/gnutls.h',
  'libnet1-dev': '/usr/bin/libnet-config',
  'libnftables-dev': '/usr/include/nftables/libnftables.h',
  'libnl-3-dev': '/usr/include/libnl3/netlink/netlink.h',
  'libprotobuf-c-dev': '/usr/include/protobuf-c/protobuf-c.h',
  'libprotobuf-dev': '/usr/include/google/protobuf/message.h',
  'protobuf-c-compiler': 'protoc-c',
  'protobuf-compiler': 'protoc',
  'uuid-dev': '/usr/include/uuid/uuid.h',
};

/** The build packages as tool requirements: the runc-criu target's host tools, installed like any other. */
export const CRIU_BUILD_TOOLS: readonly ToolRequirement[] = Object.entries(BUILD_PACKAGE_FILES).map(([debianPackage, command]) => ({
  command,
  debianPackage,
  why: 'to build CRIU 4.2 from Debian\'s source for the runc-criu target (bookworm\'s criu 3.17 fails `criu check` on newer kernels)',
}));

/** What is built, from where, with what. */
export interface CriuRecipe {
  /** Upstream version, as Debian's source package names it. */
  version: string;
  /**
   * The upstream tarball in Debian's pool, as sid's `criu` source package 4.2.1-1 ships it. Its
   * `.debian.tar.xz` was not served by the mirror here (HTTP 404 on 2026-11-30), and the `criu`
   * target needs none of Debian's packaging, so the build uses the upstream tree alone.
   */
  tarballUrl: string;
  /** sha256 of the tarball, from sid's main Sources index (Checksums-Sha256), which apt verifies against the signed InRelease. */
  tarballSha256: string;
  /** The make target: only the `criu` binary (no docs, no python bindings, no libcriu). */
  makeTarget: string;
  /** Bookworm packages the `criu` target needs (trixie's Build-Depends minus docs and python). */
  buildPackages: readonly string[];
  /** CRIU_RECIPE_VERSION. */
  recipeVersion: number;
}

/** The recipe the migration suite's container row uses. */
export const CRIU_RECIPE: CriuRecipe = {
  version: '4.2.1',
  tarballUrl: 'http://deb.debian.org/debian/pool/main/c/criu/criu_4.2.1.orig.tar.xz',
  tarballSha256: '29ec0ee09e296479fe7048c80980e8ef1d0684d0b0204c2b101dfea19f6725b9',
  makeTarget: 'criu',
  buildPackages: Object.keys(BUILD_PACKAGE_FILES),
  recipeVersion: CRIU_RECIPE_VERSION,
};

/** Length of the hash in the cache directory's name (as the image recipe's: 64 bits). */
const HASH_HEX_LENGTH = 16;

/** A stable hash of the recipe: any change to what is built or how gives a new cache directory. */
export function criuRecipeHash(recipe: CriuRecipe = CRIU_RECIPE): string {
  const canonical = JSON.stringify({ ...recipe, buildPackages: [...recipe.buildPackages].sort() });
  return createHash('sha256').update(canonical).digest('hex').slice(0, HASH_HEX_LENGTH);
}
