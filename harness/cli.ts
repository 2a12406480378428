import { benchCommand, BENCH_USAGE } from './commands/bench.js';
import { calibrateCommand } from './commands/calibrate.js';
import { cleanupCommand } from './commands/cleanup.js';
import { doctorCommand } from './commands/doctor.js';
import { resultsCommand, RESULTS_USAGE } from './commands/results.js';
import { IsobenchError } from '../core/errors.js';
import { setupForTests } from './setup.js';
import { displayOf } from '../provisioning/targets/configuration.js';
import { withAaArms } from './aa.js';

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  bench: benchCommand,
  doctor: () => doctorCommand(),
  results: resultsCommand,
  cleanup: () => cleanupCommand(),
  calibrate: calibrateCommand,
  // Loaded on demand: vega is heavy, and the other commands do not need it.
  report: async (argv) => (await import('../reports/command.js')).runReportCommand(argv, withAaArms(displayOf)),
  'setup-tests': async () => {
    await setupForTests((line) => console.error(line));
    return 0;
  },
};

const USAGE = `isobench: what does isolation cost?
  npm run bench -- --help     ${BENCH_USAGE.split('\n')[0]!.replace('usage: ', '')}
  npm run doctor              what this host can do and what is missing
  ${RESULTS_USAGE.replace('usage: ', '')}
  npm run report -- FILE | BEFORE AFTER   one self-contained HTML report with the papers' figures; two runs: what changed
  npm run calibrate           does the harness change what it measures?
  npm run cleanup             remove what a crashed run left behind`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(name ? `unknown command "${name}"\n${USAGE}` : USAGE);
    return 2;
  }
  return command(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // Errors isobench throws on purpose carry their exit code and a one-line message; anything else
  // is a bug, and its stack is what a bug report needs.
  if (error instanceof IsobenchError) {
    console.error(`isobench: ${error.message}`);
    process.exitCode = error.exitCode;
  } else {
    console.error(`isobench: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  }
}
