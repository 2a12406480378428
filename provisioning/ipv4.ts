/** Minimal IPv4 arithmetic for the test range: enough to validate and allocate, nothing more. */

/** An IPv4 range. Addresses are plain numbers in [0, 2^32), never bitwise-combined: JavaScript's bitwise operators are signed 32-bit and would turn 128.0.0.0 and up negative. */
export interface Cidr {
  /** The first address, with no host bits set. */
  network: number;
  /** Prefix length, 0..32. */
  prefix: number;
}

/**
 * Dotted quad to number (`10.0.0.1` -> 167772161). Strict: exactly four decimal parts of 0..255.
 * @throws {Error} on anything else.
 */
export function parseAddress(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`${text} is not an IPv4 address`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) throw new Error(`${text} is not an IPv4 address`);
    value = value * 256 + Number(part);
  }
  return value;
}

/** Number to dotted quad; the inverse of {@link parseAddress}. */
export function formatAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * `a.b.c.d/n` to a range.
 * @throws {Error} when the text is not of that form, the prefix exceeds 32, or host bits are set
 *   (the message suggests the range that was probably meant).
 */
export function parseCidr(text: string): Cidr {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!match) throw new Error(`${text} is not an IPv4 range like 198.18.0.0/24`);
  const prefix = Number(match[2]);
  if (prefix > 32) throw new Error(`${text}: the prefix length must be at most 32`);
  const address = parseAddress(match[1]!);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) throw new Error(`${text}: the address has host bits set (did you mean ${formatAddress(address - (address % size))}/${prefix}?)`);
  return { network: address, prefix };
}

/** The range as `a.b.c.d/n`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.network)}/${cidr.prefix}`;
}

/** Number of addresses in the range, network and broadcast included (2^(32 - prefix)). */
export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

/** Whether a numeric address (see {@link parseAddress}) lies in the range. */
export function cidrContains(cidr: Cidr, address: number): boolean {
  return address >= cidr.network && address < cidr.network + cidrSize(cidr);
}

/** Whether `inner` lies entirely inside `outer` (equal ranges count). */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return cidrContains(outer, inner.network) && inner.prefix >= outer.prefix;
}

/** Whether two ranges share any address; aligned ranges either nest or are disjoint, so checking both network addresses suffices. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.network) || cidrContains(b, a.network);
}

/** The n-th host address of a range (1 is the first usable one). */
export function hostAddress(cidr: Cidr, n: number): string {
  if (n < 1 || n >= cidrSize(cidr) - 1) throw new Error(`${formatCidr(cidr)} has no host number ${n}`);
  return formatAddress(cidr.network + n);
}
