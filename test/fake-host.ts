/** A Host double for unit tests of what runs commands on lab hosts (no SSH, no process). */
import type { CommandOutcome } from '../core/exec.js';
import type { Host } from '../hosts/host.js';

/** A host double whose every command gets `answer`'s outcome; records what ran and with which deadline. */
export function fakeHost(name: string, answer: (command: readonly string[]) => Partial<CommandOutcome> | Error, ran: Array<{ command: readonly string[]; timeoutMs?: number }> = []): Host {
  return {
    name,
    via: `ssh root@${name}`,
    async run(command, options) {
      ran.push({ command, ...(options?.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) });
      const result = answer(command);
      if (result instanceof Error) throw result;
      return { command: ['ssh', name, ...command], ok: true, exitCode: 0, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1, ...result };
    },
    commandLine: (command) => ['ssh', name, ...command],
    start: () => {
      throw new Error('unused');
    },
    close: async () => {},
  };
}

