// The entry of every npm script. It runs before the npm dependencies may exist, so it is plain
// JavaScript with Node's built-ins only: install them if missing, then hand over to the TypeScript CLI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// The CLI records how long `npm ci` took as the run's first phase (harness/bootstrap-phase.ts).
const environment = { ...process.env };
delete environment.ISOBENCH_NPM_CI_MS;
if (!existsSync(join(root, 'node_modules', 'tsx', 'package.json'))) {
  console.error('isobench: npm dependencies are missing; installing them with `npm ci` (first run only)…');
  const begin = Date.now();
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', timeout: 10 * 60_000 });
  if (install.status !== 0) {
    console.error('isobench: `npm ci` failed; fix the error above and run the command again');
    process.exit(install.status ?? 1);
  }
  environment.ISOBENCH_NPM_CI_MS = String(Date.now() - begin);
}

// tsx by its path: a bare `--import tsx` is resolved from the working directory, so `node
// /path/to/isobench/harness/bootstrap.mjs` typed elsewhere could not find it.
const tsx = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href;
const child = spawn(process.execPath, ['--import', tsx, join(root, 'harness', 'cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: environment,
});
// This wrapper must outlive the CLI, which tears down and exits on its own, rather than die first
// and hand the terminal back mid-teardown. A terminal's Ctrl-C reaches both already; a signal sent
// to this pid alone (`kill -INT $!` in a script) must reach the CLI too. A second copy is harmless:
// the CLI acts on the first signal and ignores the rest while it tears down.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
// `kill $!` in a script, or a CI job's timeout, signals npm, and npm exits without passing it on:
// the shell between npm and this wrapper dies and the run would go on unseen, holding the lock.
// When the process that started this wrapper is gone (our parent changes), stop the run as a
// SIGTERM would: it tears down, writes what it measured, and exits.
const parent = process.ppid;
const orphanWatch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(orphanWatch);
  console.error(`isobench: the process that started this run (pid ${parent}) is gone: stopping the run`);
  child.kill('SIGTERM');
}, 1_000);
orphanWatch.unref();
// A signal's exit code is 128 + its number (SIGINT 130, SIGTERM 143, SIGKILL 137), as a shell reports it.
const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (SIGNAL_NUMBERS[signal] ?? 2) : 1)));
