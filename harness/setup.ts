import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChecked } from '../core/exec.js';
import { APT_TIMEOUT_MS, ensureTools, findExecutable, type ToolRequirement } from '../core/tools.js';
import { loadLibvirtBindings } from '../provisioning/kvm/libvirt.js';
import { DRIVERS } from '../provisioning/targets/index.js';
import { SUITES } from '../suites/index.js';
import { cleanupLeftovers } from './commands/cleanup.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The optional native binding the `--vm-manager libvirt` test needs; it builds from source against libvirt-dev. */
const LIBVIRT_BINDINGS = '@unraid/libvirt';
const NPM_INSTALL_TIMEOUT_MS = 10 * 60_000;

/** Tools the test suite itself uses beyond what targets and suites declare. */
const TEST_ONLY_TOOLS: readonly ToolRequirement[] = [
  { command: 'iptables', debianPackage: 'iptables', why: 'to check that teardown removed every rule' },
  { command: 'ss', debianPackage: 'iproute2', why: 'to see listening servers' },
  { command: 'chromium', debianPackage: 'chromium', why: 'to open the HTML report in a real browser' },
  { command: 'debootstrap', debianPackage: 'debootstrap', why: 'to build the one image recipe' },
  { command: 'mkfs.ext4', debianPackage: 'e2fsprogs', why: 'to turn the image into a guest disk' },
  { command: 'qemu-img', debianPackage: 'qemu-utils', why: 'to make qcow2 guest disks' },
  { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', why: 'to boot the guest in the image tests' },
  // The lab tests start their own sshd in each namespace host; the machine's own must not start.
  { command: 'sshd', debianPackage: 'openssh-server', why: 'for the lab-mode tests (an sshd per namespace host)', startsService: true },
  { command: 'ssh-keygen', debianPackage: 'openssh-client', why: 'for the lab-mode tests (keys generated per test)' },
  // The image copy to lab hosts installs it when it copies; the unit test of its -e quoting runs it too.
  { command: 'rsync', debianPackage: 'rsync', why: 'for the lab-mode image copy tests' },
];

/** Every host tool a target, a suite or the tests need, duplicates included (ensureTools installs a package once). */
export function everyToolRequirement(): ToolRequirement[] {
  return [
    ...DRIVERS.flatMap((driver) => driver.hostTools),
    ...SUITES.flatMap((suite) => suite.hostTools),
    ...TEST_ONLY_TOOLS,
  ];
}

/** `npm test` starts here: install whatever the tests will really run. */
export async function setupForTests(log: (line: string) => void): Promise<void> {
  await ensureTools(everyToolRequirement(), log);
  await ensureLibvirtBindings(log);
  await removeCrashedRunLeftovers(log);
}

/**
 * The integration tests check the host is clean before a run and refuse a test range the host
 * already routes, so what an earlier run left when it was killed (a test run cut off, a crashed
 * bench: its bridge still routing 198.18.0.0/24) would fail every one of them for a reason that is
 * not theirs. Remove it first, exactly as `npm run cleanup` would, and say what went. A test's own
 * leak is still caught: each test compares the host after its run with the host before it.
 *
 * @throws {UsageError} while a live run holds the run lock (the tests would collide with it).
 */
async function removeCrashedRunLeftovers(log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const report = await cleanupLeftovers((line) => log(`isobench: before the tests, ${line}`));
  if (report.removed.length > 0) log(`isobench: before the tests, removed what crashed runs left: ${report.removed.join('; ')}`);
  if (report.failed.length > 0) log(`isobench: before the tests, could not remove: ${report.failed.join('; ')}`);
}

/**
 * npm drops an optional dependency whose build fails without a word, so an `npm ci` run before
 * libvirt-dev was installed leaves the libvirt test skipping. As root with apt, install the headers
 * and build the binding (the version the lockfile pins) in place; otherwise say why it will skip.
 *
 * @throws CommandFailedError when apt-get or npm fails.
 */
async function ensureLibvirtBindings(log: (line: string) => void): Promise<void> {
  if (await loadLibvirtBindings().then(() => true, () => false)) return;
  if (process.getuid?.() !== 0 || (await findExecutable('apt-get')) === null) {
    log(`isobench: ${LIBVIRT_BINDINGS} did not build, so the libvirt test will skip: as root, \`apt-get install libvirt-dev pkg-config\` and run \`npm ci\` again`);
    return;
  }
  log(`isobench: ${LIBVIRT_BINDINGS} did not build at \`npm ci\` (libvirt-dev was missing): installing libvirt-dev and pkg-config and building it for the libvirt test`);
  await runChecked(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'libvirt-dev', 'pkg-config'], {
    timeoutMs: APT_TIMEOUT_MS,
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
  const lock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { version?: string }> };
  const version = lock.packages?.[`node_modules/${LIBVIRT_BINDINGS}`]?.version;
  await runChecked(['npm', 'install', '--no-save', '--no-audit', '--no-fund', version ? `${LIBVIRT_BINDINGS}@${version}` : LIBVIRT_BINDINGS], {
    timeoutMs: NPM_INSTALL_TIMEOUT_MS,
    cwd: REPO_ROOT,
  });
}
