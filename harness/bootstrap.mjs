// The entry of every npm script. It runs before the npm dependencies may exist, so it is plain
// JavaScript with Node's built-ins only: install them if missing, then hand over to the TypeScript CLI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (!existsSync(join(root, 'node_modules', 'tsx', 'package.json'))) {
  console.error('isobench: npm dependencies are missing; installing them with `npm ci` (first run only)…');
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', timeout: 10 * 60_000 });
  if (install.status !== 0) {
    console.error('isobench: `npm ci` failed; fix the error above and run the command again');
    process.exit(install.status ?? 1);
  }
}

const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'harness', 'cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
// This wrapper must outlive the CLI, which tears down and exits on its own, rather than die first
// and hand the terminal back mid-teardown. A terminal's Ctrl-C reaches both already; a signal sent
// to this pid alone (`kill -INT $!` in a script) must reach the CLI too. A second copy is harmless:
// the CLI acts on the first signal and ignores the rest while it tears down.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
