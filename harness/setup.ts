import type { ToolRequirement } from '../core/tools.js';
import { DRIVERS } from '../provisioning/targets/index.js';
import { SUITES } from '../suites/index.js';
import { ensureTools } from '../core/tools.js';

/** Tools the test suite itself uses beyond what targets and suites declare. */
const TEST_ONLY_TOOLS: readonly ToolRequirement[] = [
  { command: 'iptables', debianPackage: 'iptables', why: 'to check that teardown removed every rule' },
  { command: 'ss', debianPackage: 'iproute2', why: 'to see listening servers' },
  { command: 'chromium', debianPackage: 'chromium', why: 'to open the HTML report in a real browser' },
  { command: 'debootstrap', debianPackage: 'debootstrap', why: 'to build the one image recipe' },
  { command: 'mkfs.ext4', debianPackage: 'e2fsprogs', why: 'to turn the image into a guest disk' },
  { command: 'qemu-img', debianPackage: 'qemu-utils', why: 'to make qcow2 guest disks' },
  { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', why: 'to boot the guest in the image tests' },
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
}
