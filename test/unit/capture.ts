import { runCli, type CliOptions } from '../../harness/cli.js';

/** What one in-process CLI call printed, line by line, and how it ended. */
export interface CapturedCli {
  /** runCli's exit code. */
  code: number;
  /** console.log's lines, then anything written to process.stdout directly (a chunk may hold several lines). */
  stdout: string[];
  /** console.error's lines, split at newlines (a refusal is one line however it was built). */
  stderr: string[];
  /** Wall time of the call, in ms. */
  ms: number;
}

/**
 * Runs the CLI in this process (harness/cli.ts runCli) and captures what it prints, so a test sees
 * the exact lines and exit code a user would, and nothing reaches the test runner's own output.
 * console and process.stdout are restored however the call ends.
 */
export async function captureCli(argv: string[], options?: CliOptions): Promise<CapturedCli> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const original = { log: console.log.bind(console), error: console.error.bind(console) };
  const write = process.stdout.write.bind(process.stdout);
  console.log = (...args: unknown[]) => void stdout.push(args.join(' '));
  console.error = (...args: unknown[]) => void stderr.push(args.join(' '));
  process.stdout.write = (chunk: string | Uint8Array) => stdout.push(String(chunk)) > 0;
  const begin = performance.now();
  try {
    const code = await runCli(argv, options);
    return { code, stdout, stderr: stderr.length === 0 ? [] : stderr.join('\n').split('\n'), ms: performance.now() - begin };
  } finally {
    Object.assign(console, original);
    process.stdout.write = write;
  }
}
