import { readdir } from 'node:fs/promises';
import { findStaleLedgers } from '../../harness/resources.js';
import { ensureDockerDaemon } from '../../provisioning/docker/daemon.js';
import { ensureDockerImage } from '../../provisioning/docker/image.js';
import { findDockerProxies, readDnatRules } from '../../provisioning/docker/nat.js';
import { ensureRootfs } from '../../provisioning/image/index.js';
import { cidrContains, parseAddress, parseCidr } from '../../provisioning/ipv4.js';
import { LEFTOVER_SCANNERS } from '../../provisioning/leftovers.js';
import { DEFAULT_GUARD_RANGE } from '../../provisioning/topology.js';

const GUARD = parseCidr(DEFAULT_GUARD_RANGE);
const inTestRange = (address: string) => /^\d+\.\d+\.\d+\.\d+$/.test(address) && cidrContains(GUARD, parseAddress(address));

/**
 * Everything of isobench's a Docker run could leave on the host: what `cleanup`'s scanners find
 * (labelled containers, volumes, networks; ib- links, netns, rules), Docker's DNAT rules and proxies
 * for test addresses, ledgers of dead runs and run directories.
 */
export async function isobenchLeftoversOnHost(): Promise<string[]> {
  const found: string[] = [];
  for (const scanner of LEFTOVER_SCANNERS) found.push(...(await scanner.find()).map((leftover) => leftover.description));
  for (const rule of await readDnatRules().catch(() => [])) {
    if (inTestRange(rule.destination)) found.push(`DNAT rule ${rule.destination}:${rule.port}/${rule.protocol} -> ${rule.to}`);
  }
  for (const proxy of await findDockerProxies((candidate) => inTestRange(candidate.hostIp))) {
    found.push(`docker-proxy pid ${proxy.pid} on ${proxy.hostIp}:${proxy.hostPort}`);
  }
  for (const ledger of await findStaleLedgers()) found.push(`ledger of run ${ledger.runId}`);
  found.push(...(await readdir('/var/tmp')).filter((name) => name.startsWith('isobench-run-')).map((name) => `run directory ${name}`));
  return found;
}

export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The image tag of the current recipe, imported if missing (the tree is built once and cached). */
export async function ensureIsobenchImage(): Promise<string> {
  const { client } = await ensureDockerDaemon({ log: () => {} });
  const image = await ensureDockerImage(client, await ensureRootfs(), { log: () => {} });
  return image.tag;
}
