/** Minimal IPv4 arithmetic for the test range: enough to validate and allocate, nothing more. */

export interface Cidr {
  network: number;
  prefix: number;
}

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

export function formatAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

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

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.network)}/${cidr.prefix}`;
}

export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return address >= cidr.network && address < cidr.network + cidrSize(cidr);
}

export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return cidrContains(outer, inner.network) && inner.prefix >= outer.prefix;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.network) || cidrContains(b, a.network);
}

/** The n-th host address of a range (1 is the first usable one). */
export function hostAddress(cidr: Cidr, n: number): string {
  if (n < 1 || n >= cidrSize(cidr) - 1) throw new Error(`${formatCidr(cidr)} has no host number ${n}`);
  return formatAddress(cidr.network + n);
}
