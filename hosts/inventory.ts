import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { userPath } from '../core/user-path.js';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../core/errors.js';

/**
 * What a host may do in a lab run (issue 14): `server` runs the targets, `client` drives the load,
 * `migration-source`/`migration-dest` are the two ends of a live migration.
 */
export const HOST_ROLES = ['server', 'client', 'migration-source', 'migration-dest'] as const;
/** One of HOST_ROLES. */
export type HostRole = (typeof HOST_ROLES)[number];

/** The host that is this machine: no SSH, commands run here (single-host mode is this host alone). */
export const LOCAL_HOST_NAME = 'localhost';

/**
 * `user@address[:port]`: a login name (POSIX portable user name characters), a host name or IPv4
 * address (an IPv6 address in brackets), and an optional port 1..65535. Nothing else: no `ssh://`,
 * no options, so the value can never be read by ssh as a flag.
 */
const SSH_FORM = /^([a-z_][a-z0-9_.-]{0,31})@([A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

/** Where a host is reached over SSH, parsed from `user@address[:port]`. */
export interface SshTarget {
  user: string;
  /** Host name or address as written (an IPv6 address without its brackets). */
  address: string;
  /** Absent when not written: then the user's ssh config (or 22) decides. */
  port?: number;
}

/**
 * Parses `user@address[:port]`; null for any other form (a missing user, a port out of range,
 * spaces, a leading `-`).
 */
export function parseSshTarget(text: string): SshTarget | null {
  const match = SSH_FORM.exec(text);
  if (!match) return null;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65_535)) return null;
  const address = match[2]!.replace(/^\[(.*)\]$/, '$1');
  return port === undefined ? { user: match[1]!, address } : { user: match[1]!, address, port };
}

/**
 * What is wrong with an inventory's `ssh` text, completing "ssh …"; null when parseSshTarget reads it.
 * A port out of range is said as such: the form's general wording sent a newcomer looking at the form.
 */
function sshProblem(text: string): string | null {
  if (parseSshTarget(text) !== null) return null;
  const port = SSH_FORM.exec(text)?.[3];
  if (port !== undefined) return `${text}: port ${port} is out of range 1-65535: use a port in that range, or leave :PORT out for ssh's default`;
  return 'must be user@address[:port], e.g. root@lab-sut.example:22';
}

const HostEntry = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be lower-case letters, digits and - (at most 32, starting with a letter)'),
  ssh: z
    .string()
    .superRefine((text, context) => {
      const problem = sshProblem(text);
      if (problem !== null) context.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  'test-address': z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'must be an IPv4 address like 198.18.1.2'),
  'data-dir': z.string().startsWith('/', 'must be an absolute path').optional(),
  'shared-dir': z.string().startsWith('/', 'must be an absolute path').optional(),
  bridge: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'must be a network interface name (1-15 letters, digits, ., _, -)').optional(),
  'guest-address': z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be ADDRESS/PREFIX like 198.18.1.50/24').optional(),
  roles: z.array(z.enum(HOST_ROLES)).default([]),
});

const InventoryFile = z.strictObject({
  'ssh-config': z.string().min(1).optional(),
  hosts: z.array(HostEntry).min(1, 'must list at least one host'),
});

/** One host of an inventory, validated. */
export interface InventoryHost {
  name: string;
  /** Absent only for the host named `localhost`, which runs commands here. */
  ssh?: SshTarget;
  /** The inventory's `ssh` text, for messages and the results file. */
  sshText?: string;
  /** Where test traffic to this host goes (inside the test range). */
  testAddress: string;
  /** `data-dir`: storage for I/O tests and images on that host. */
  dataDir?: string;
  /**
   * `shared-dir`: a directory on storage this host shares with others (NFS in a real lab), at the
   * same path on each; a QEMU migration between two hosts keeps its guest's disk there. A promise the
   * user makes, checked before each use (provisioning/kvm/lab/shared-dir.ts), never assumed.
   */
  sharedDir?: string;
  /** `bridge`: an existing bridge on that host that isobench's guest taps join (on the lab link to reach other hosts). */
  bridge?: string;
  /**
   * `guest-address`: on a `migration-source` host, the address and prefix length the migrating guest
   * takes on the lab link (its tap joins `bridge`), e.g. `{ address: '198.18.1.50', prefix: 24 }`.
   * Inside the test range and no host's test address; the guest keeps it on the destination.
   */
  guestAddress?: { address: string; prefix: number };
  roles: HostRole[];
}

/** A validated inventory: hosts in file order, names and test addresses unique. */
export interface Inventory {
  /** The file it was read from, as given. */
  source: string;
  /**
   * `ssh-config`: an ssh_config file for these hosts (`ssh -F`), resolved against the inventory's
   * directory; absent: the user's own ~/.ssh/config applies.
   */
  sshConfig?: string;
  hosts: InventoryHost[];
}

/** The test range an inventory's test addresses must lie in (the harness passes `--guard-range`'s). */
export interface TestRange {
  /** The range as written, e.g. `198.18.0.0/15`. */
  text: string;
  /** Whether a dotted-quad address lies in it. */
  contains(address: string): boolean;
}

/**
 * Reads and validates an inventory file (`--hosts FILE`): YAML, or JSON (YAML 1.2 reads JSON as it
 * is, so one parser serves both and its errors carry line numbers).
 * @throws UsageError, one line naming the file, the field and the host, for: a file that cannot be
 *   read or parsed, an unknown field, a missing or malformed field, a duplicate host name or
 *   test-address, a bad `ssh` form, a host other than `localhost` without `ssh`, `localhost` with
 *   `ssh`, a test-address outside `testRange`, an `ssh-config` file that cannot be read.
 */
export async function readInventory(path: string, testRange: TestRange): Promise<Inventory> {
  // Typed in a subdirectory, the path is that directory's (core/user-path.ts); messages keep it as typed.
  const file = userPath(path);
  const source = file === resolve(path) ? path : file;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(`--hosts ${path} cannot be read (${code}): name an inventory file (YAML or JSON)`, { cause: error });
  }
  const inventory = parseInventory(text, source, testRange);
  // ssh would fail on every host with an error that reads like a dead host: say what is missing instead.
  if (inventory.sshConfig !== undefined) {
    await access(inventory.sshConfig, constants.R_OK).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`--hosts ${source}: ssh-config ${inventory.sshConfig} cannot be read (${error.code ?? 'unreadable'}): write the path of an ssh_config file, relative to the inventory's directory`, { cause: error });
    });
  }
  return inventory;
}

/**
 * parseInventory's work on text already read; `source` names the file in messages.
 * @throws UsageError as readInventory.
 */
export function parseInventory(text: string, source: string, testRange: TestRange): Inventory {
  const fail = (detail: string): never => {
    throw new UsageError(`--hosts ${source}: ${detail}`);
  };
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const syntax = document.errors[0];
  if (syntax) {
    const line = syntax.linePos?.[0]?.line;
    fail(`not valid YAML or JSON${line === undefined ? '' : ` (line ${line})`}: ${syntax.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const raw: unknown = document.toJS();
  const parsed = InventoryFile.safeParse(raw);
  // A misspelt field is also a missing one (`test-adress`): naming the misspelling says what to fix.
  if (!parsed.success) fail(describeIssue(parsed.error.issues.find((issue) => issue.code === 'unrecognized_keys') ?? parsed.error.issues[0]!, raw));
  const hosts: InventoryHost[] = [];
  const names = new Set<string>();
  const addresses = new Map<string, string>();
  for (const [index, entry] of parsed.data!.hosts.entries()) {
    const where = `hosts[${index}] (${entry.name})`;
    if (names.has(entry.name)) fail(`${where}: duplicate host name "${entry.name}": every host needs its own name`);
    names.add(entry.name);
    const address = entry['test-address'];
    if (address.split('.').some((part) => Number(part) > 255)) fail(`${where}: test-address ${address} is not an IPv4 address`);
    if (!testRange.contains(address)) fail(`${where}: test-address ${address} lies outside the test range ${testRange.text}: use an address in it`);
    const other = addresses.get(address);
    if (other !== undefined) fail(`${where}: duplicate test-address ${address}, already host ${other}'s`);
    addresses.set(address, entry.name);
    const local = entry.name === LOCAL_HOST_NAME;
    if (local && entry.ssh !== undefined) fail(`${where}: ssh is not allowed on localhost: commands for localhost run on this machine`);
    if (!local && entry.ssh === undefined) fail(`${where}: ssh is missing: write user@address[:port]`);
    const host: InventoryHost = { name: entry.name, testAddress: address, roles: [...new Set(entry.roles)] };
    if (entry.ssh !== undefined) {
      host.ssh = parseSshTarget(entry.ssh)!;
      host.sshText = entry.ssh;
    }
    if (entry['data-dir'] !== undefined) host.dataDir = entry['data-dir'];
    if (entry['shared-dir'] !== undefined) host.sharedDir = entry['shared-dir'];
    if (entry.bridge !== undefined) host.bridge = entry.bridge;
    if (entry['guest-address'] !== undefined) host.guestAddress = guestAddressOf(entry['guest-address'], (detail) => fail(`${where}: ${detail}`));
    hosts.push(host);
  }
  // A guest address must not be a host's: its ARP would take that host's traffic on the lab link.
  for (const [index, host] of hosts.entries()) {
    const guest = host.guestAddress?.address;
    if (guest === undefined) continue;
    if (!testRange.contains(guest)) fail(`hosts[${index}] (${host.name}): guest-address ${guest} lies outside the test range ${testRange.text}: use an address in it`);
    const owner = addresses.get(guest);
    if (owner !== undefined) fail(`hosts[${index}] (${host.name}): guest-address ${guest} is host ${owner}'s test-address: give the guest an address of its own`);
  }
  const config = parsed.data!['ssh-config'];
  return config === undefined ? { source, hosts } : { source, sshConfig: resolve(dirname(source), config), hosts };
}

/**
 * `ADDRESS/PREFIX` (the schema checked its form) as its parts.
 * @param fail Throws the inventory's one-line UsageError; called for an octet above 255 or a prefix
 *   outside 8-30 (a guest needs a peer on its link).
 */
function guestAddressOf(text: string, fail: (detail: string) => never): { address: string; prefix: number } {
  const [address, prefixText] = text.split('/') as [string, string];
  const prefix = Number(prefixText);
  if (address.split('.').some((part) => Number(part) > 255)) fail(`guest-address ${text} is not an IPv4 address`);
  if (prefix < 8 || prefix > 30) fail(`guest-address ${text}: the prefix length must be 8-30`);
  return { address, prefix };
}

/** One zod issue as `hosts[1] (peer): FIELD …`: the host by index and, where it has one, by name. */
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const path = issue.path.map(String);
  let where = path.length === 0 ? 'the file' : path[0]!;
  let field = path.slice(1);
  if (path[0] === 'hosts' && path.length >= 2) {
    const index = Number(path[1]);
    const name = (raw as { hosts?: Array<{ name?: unknown }> }).hosts?.[index]?.name;
    where = `hosts[${index}]${typeof name === 'string' ? ` (${name})` : ''}`;
    field = path.slice(2);
  }
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => `"${key}"`).join(', ');
    return `${where}: unknown field ${keys}: the fields are ${path[0] === 'hosts' ? 'name, ssh, test-address, data-dir, shared-dir, bridge, guest-address, roles' : 'hosts, ssh-config'}`;
  }
  if (path.length === 0) return 'the file must be a mapping with a hosts list, like hosts: [{ name: sut, ssh: root@lab-sut, test-address: 198.18.1.2 }]';
  const fieldText = field.join('.');
  // zod 4 words a missing field as a type error that received undefined.
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `${where}: ${fieldText || path.join('.')} is missing`;
  if (path.length === 1) return `${path[0]} ${issue.message}`;
  if (issue.code === 'invalid_type') return `${where}: ${fieldText}: ${issue.message}`;
  if (issue.code === 'invalid_value' && path.includes('roles')) {
    // The value as written, so a typo (`sever`) is seen without counting list items.
    const value = path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], raw);
    return `${where}: ${fieldText}: unknown role ${JSON.stringify(value)}: the roles are ${HOST_ROLES.join(', ')}`;
  }
  return `${where}: ${fieldText || 'value'} ${issue.message}`;
}

/**
 * The host a command line names for a role (`--server sut`), or, when none is named, the one host
 * that has the role.
 * @throws UsageError when the named host is not in the inventory or lacks the role, when no host has
 *   the role, or when several do and none is named.
 */
export function hostForRole(inventory: Inventory, role: HostRole, named: string | undefined, flag: string): InventoryHost {
  if (named !== undefined) {
    const host = inventory.hosts.find((candidate) => candidate.name === named);
    if (!host) throw new UsageError(`--${flag} ${named}: no such host in ${inventory.source} (hosts: ${inventory.hosts.map((entry) => entry.name).join(', ')})`);
    if (!host.roles.includes(role)) throw new UsageError(`--${flag} ${named}: host ${named} does not have the role ${role} in ${inventory.source}: add it to its roles`);
    return host;
  }
  const having = inventory.hosts.filter((host) => host.roles.includes(role));
  if (having.length === 0) throw new UsageError(`--hosts ${inventory.source}: no host has the role ${role}: give one host roles: [${role}] or name it with --${flag}`);
  if (having.length > 1) throw new UsageError(`--hosts ${inventory.source}: ${having.map((host) => host.name).join(', ')} all have the role ${role}: choose one with --${flag}`);
  return having[0]!;
}
