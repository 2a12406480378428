import type { ToolRequirement } from '../provisioning/types.js';
import { TARGET_NAMES, driverFor } from '../provisioning/targets/index.js';
import { SUITE_NAMES, suiteByName } from '../suites/index.js';
import { ensureTools } from './tools.js';

/** Tools the test suite itself uses beyond what targets and suites declare. */
const TEST_ONLY_TOOLS: readonly ToolRequirement[] = [
  { command: 'iptables', debianPackage: 'iptables', why: 'to check that teardown removed every rule' },
  { command: 'ss', debianPackage: 'iproute2', why: 'to see listening servers' },
];

export function everyToolRequirement(): ToolRequirement[] {
  return [
    ...TARGET_NAMES.flatMap((name) => driverFor(name)?.hostTools ?? []),
    ...SUITE_NAMES.flatMap((name) => suiteByName(name).hostTools),
    ...TEST_ONLY_TOOLS,
  ];
}

/** `npm test` starts here: install whatever the tests will really run. */
export async function setupForTests(log: (line: string) => void): Promise<void> {
  await ensureTools(everyToolRequirement(), log);
}
