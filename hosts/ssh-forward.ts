/**
 * A unix socket on a lab host reached through a local socket (OpenSSH stream-local forwarding,
 * `ssh -O forward -L LOCAL:REMOTE` on the host's shared connection): a client written for a local
 * socket (QmpClient) talks to a QEMU on the host unchanged, over the one authenticated connection
 * the host already has, with no port opened anywhere. The forward lives in the connection's master;
 * `ssh -O cancel` ends it.
 */
import { rm } from 'node:fs/promises';
import { runCommand } from '../core/exec.js';
import type { ResourceRegistry } from '../core/ledger.js';
import { HostError, type SshHost } from './host.js';

/** How long ssh's mux commands (`-O forward`, `-O cancel`) may take, in ms: local, no packet waits on the host. */
const MUX_TIMEOUT_MS = 10_000;
/**
 * What `ssh -O cancel` says when the forward or the master is already gone (a regex alternation): its
 * undo has nothing left to do then.
 */
export const FORWARD_GONE = 'No such file or directory|Connection refused|forwarding request failed|Control socket connect';

/**
 * The local command line that asks `host`'s shared connection to add (`forward`) or remove
 * (`cancel`) the forward of `local` to `remote`.
 * @throws Error when either path is not absolute or holds a `:` (ssh splits `-L` at colons).
 */
export function forwardCommand(host: Pick<SshHost, 'sshOptions' | 'destination'>, action: 'forward' | 'cancel', local: string, remote: string): string[] {
  for (const path of [local, remote]) {
    if (!path.startsWith('/') || path.includes(':')) throw new Error(`a forwarded socket path must be absolute and free of ':': ${path}`);
  }
  return [...host.sshOptions(), '-O', action, '-L', `${local}:${remote}`, '--', host.destination];
}

/** A forward made by forwardSocket. */
export interface SocketForward {
  /** The local socket: connect here to reach `remote`. */
  local: string;
  remote: string;
  /** Cancels the forward and removes the local socket; forgets both ledger entries. Idempotent; never throws. */
  close(): Promise<void>;
}

/**
 * Forwards `local` (which must not exist) to the unix socket `remote` on `host`, over its shared
 * connection (one is opened first when there is none). Both the forward (`ssh -O cancel`) and the
 * local socket file are registered in `resources` the moment they exist.
 * @throws HostError when the host cannot be reached; Error "host H: forwarding … failed: <ssh's words>".
 */
export async function forwardSocket(host: SshHost, local: string, remote: string, resources: ResourceRegistry): Promise<SocketForward> {
  // `-O forward` needs a master: any command opens one (ControlMaster=auto).
  const opened = await host.run(['true'], { timeoutMs: 30_000 });
  if (!opened.ok) throw new HostError(host.name, 'ssh-failed', `could not open the shared connection: ${opened.stderr.trim()}`, opened);
  const pathId = await resources.register(`forwarded socket ${local}`, { kind: 'path', path: local });
  const outcome = await runCommand(forwardCommand(host, 'forward', local, remote), { timeoutMs: MUX_TIMEOUT_MS });
  if (!outcome.ok) {
    await resources.undo(pathId).catch(() => {});
    throw new Error(`host ${host.name}: forwarding ${local} to ${remote} failed: ${outcome.stderr.trim() || `ssh exited with code ${outcome.exitCode}`}`);
  }
  const forwardId = await resources.register(`SSH forward ${local} -> host ${host.name}:${remote}`, {
    kind: 'command',
    command: forwardCommand(host, 'cancel', local, remote),
    ignoreFailure: FORWARD_GONE,
  });
  let closed = false;
  return {
    local,
    remote,
    async close() {
      if (closed) return;
      closed = true;
      await resources.undo(forwardId).catch(() => {});
      await rm(local, { force: true }).catch(() => {});
      await resources.forget(pathId).catch(() => {});
    },
  };
}
