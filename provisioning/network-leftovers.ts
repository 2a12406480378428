import { runCommand } from '../core/exec.js';
import type { Leftover, LeftoverScanner } from './types.js';
import { DEFAULT_GUARD_RANGE, IPTABLES_COMMENT, LINK_PREFIX, NETNS_PREFIX } from './topology.js';

const TIMEOUT_MS = 10_000;
const GONE = 'Cannot find device|No such file|does not exist|No such process|Bad rule|No chain';

function parseJsonList<T>(text: string): T[] {
  return text.trim() ? (JSON.parse(text) as T[]) : [];
}

/** Finds isobench's network objects by their name prefix or rule comment, and only those. */
export const networkLeftovers: LeftoverScanner = {
  name: 'network',
  async find(): Promise<Leftover[]> {
    const leftovers: Leftover[] = [];
    const namespaces = await runCommand(['ip', '-j', 'netns', 'list'], { timeoutMs: TIMEOUT_MS });
    for (const { name } of parseJsonList<{ name: string }>(namespaces.stdout)) {
      if (name.startsWith(NETNS_PREFIX)) {
        leftovers.push({ description: `network namespace ${name}`, undo: { kind: 'command', command: ['ip', 'netns', 'delete', name], ignoreFailure: GONE } });
      }
    }
    const links = await runCommand(['ip', '-j', 'link', 'show'], { timeoutMs: TIMEOUT_MS });
    for (const { ifname } of parseJsonList<{ ifname: string }>(links.stdout)) {
      if (ifname.startsWith(LINK_PREFIX)) {
        leftovers.push({ description: `network link ${ifname}`, undo: { kind: 'command', command: ['ip', 'link', 'delete', ifname], ignoreFailure: GONE } });
      }
    }
    const routes = await runCommand(['ip', '-j', 'route', 'show', 'type', 'unreachable'], { timeoutMs: TIMEOUT_MS });
    for (const { dst } of parseJsonList<{ dst: string }>(routes.stdout)) {
      if (dst === DEFAULT_GUARD_RANGE) {
        leftovers.push({ description: `unreachable route ${dst}`, undo: { kind: 'command', command: ['ip', 'route', 'del', 'unreachable', dst], ignoreFailure: GONE } });
      }
    }
    leftovers.push(...(await iptablesLeftovers()));
    return leftovers;
  },
};

/** Rules carrying isobench's comment, turned from `-A chain …` into the matching `-D chain …`. */
async function iptablesLeftovers(): Promise<Leftover[]> {
  const leftovers: Leftover[] = [];
  for (const table of ['filter', 'nat']) {
    const rules = await runCommand(['iptables', '-w', '-t', table, '-S'], { timeoutMs: TIMEOUT_MS });
    if (!rules.ok) continue;
    for (const line of rules.stdout.split('\n')) {
      if (!line.startsWith('-A ') || !line.includes(`--comment ${IPTABLES_COMMENT}`)) continue;
      const words = line.split(/\s+/).slice(1);
      leftovers.push({
        description: `iptables rule (${table}): ${line}`,
        undo: { kind: 'command', command: ['iptables', '-w', '-t', table, '-D', ...words], ignoreFailure: GONE },
      });
    }
  }
  return leftovers;
}
