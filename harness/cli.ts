import { benchCommand, BENCH_USAGE } from './commands/bench.js';
import { calibrateCommand } from './commands/calibrate.js';
import { cleanupCommand } from './commands/cleanup.js';
import { doctorCommand } from './commands/doctor.js';
import { resultsCommand, RESULTS_USAGE } from './commands/results.js';
import { pathToFileURL } from 'node:url';
import { IsobenchError } from '../core/errors.js';
import { setupForTests } from './setup.js';
import { displayOf } from '../provisioning/targets/configuration.js';
import { withAaArms } from './aa.js';
import type { BenchOptions } from './runner.js';

/** What an in-process caller (a test) may pass beside the arguments. */
export interface CliOptions {
  /** Test seams for `bench` (harness/runner.ts BenchOptions.seams); none in real use. */
  benchSeams?: BenchOptions['seams'];
}

const COMMANDS: Record<string, (argv: string[], options: CliOptions) => Promise<number>> = {
  bench: (argv, options) => benchCommand(argv, options.benchSeams),
  doctor: (argv) => doctorCommand(argv),
  results: (argv) => resultsCommand(argv),
  cleanup: (argv) => cleanupCommand(argv),
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
  npm run doctor [-- --hosts FILE]   what this host (or every inventory host) can do and what is missing
  ${RESULTS_USAGE.replace('usage: ', '')}
  npm run report -- FILE | BEFORE AFTER   one self-contained HTML report with the papers' figures; two runs: what changed
  npm run calibrate           does the harness change what it measures?
  npm run cleanup             remove what a crashed run left behind`;

/** The commands a user runs, in the order the usage lists them (setup-tests is the test suite's own). */
const USER_COMMANDS = Object.keys(COMMANDS).filter((key) => key !== 'setup-tests');

async function main(argv: string[], options: CliOptions): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return 0;
  }
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    // One line, as for any bad input: the commands to choose from, and where the usage is.
    const problem = name ? `unknown command "${name}"` : 'name a command';
    console.error(`isobench: ${problem}: choose one of ${USER_COMMANDS.join(', ')} (npm run COMMAND -- --help for its flags)`);
    return 2;
  }
  return command(rest, options);
}

/**
 * What to do about a results file isobench cannot read, appended to the reader's message when it
 * does not already say (a newer schema version says "upgrade isobench").
 */
function resultsFileFix(message: string): string {
  if (!/ is not a valid isobench results file: /.test(message) || /: upgrade isobench/.test(message)) return '';
  if (/cannot be read \(ENOENT\)/.test(message)) return '; check the path (runs are written as DIR/RUN-ID.json, runs/ by default)';
  if (/cannot be read \((EACCES|EPERM)\)/.test(message)) return '; check its permissions';
  if (/cannot be read \(EISDIR\)/.test(message)) return '; name the .json file inside it';
  if (/is not JSON|is not a JSON object/.test(message)) return '; it is cut short or was edited: restore it from a copy, or rerun npm run bench';
  return '; it was edited or damaged: restore the file as isobench wrote it, or rerun npm run bench';
}

/**
 * Runs one isobench command, in this process, and returns its exit code. Errors isobench throws on
 * purpose (IsobenchError) become one line on stderr, `isobench: MESSAGE`, and their exit code (2 for
 * a mistake the user can fix); anything else is a bug, printed with its stack, exit code 1.
 */
export async function runCli(argv: string[], options: CliOptions = {}): Promise<number> {
  try {
    return await main(argv, options);
  } catch (error) {
    if (error instanceof IsobenchError) {
      // One line whatever the message holds (a quoted tool output, a zod path list).
      console.error(`isobench: ${error.message.replace(/\s*\n\s*/g, ' ')}${resultsFileFix(error.message)}`);
      return error.exitCode;
    }
    console.error(`isobench: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}

// The entry of every npm script (via bootstrap.mjs); imported by a test, it only exports runCli.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // A reader that goes away (`npm run bench | head`) made the next write throw EPIPE, unhandled: the
  // run died mid-trial without its teardown, leaving its namespace, bridge and ledger (a newcomer's
  // check). What is printed after that is dropped; the run finishes, writes its file and tears down.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  process.exitCode = await runCli(process.argv.slice(2));
}
