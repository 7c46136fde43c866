import ipaddr from 'ipaddr.js';
import type { IPv4, IPv6 } from 'ipaddr.js';

/**
 * Client address ranges (allow/deny lists, rate-limit exemptions): parsed once at build time by
 * ipaddr.js, looked up per request. An IPv4-mapped IPv6 client (`::ffff:10.0.0.1`, as Node reports
 * IPv4 clients of a dual-stack listener) is compared as IPv4, the way nginx sees it.
 */
export interface AddressRanges {
  /** Normalised CIDRs (`10.0.0.0/24`), for /debug and messages. */
  readonly text: readonly string[];
  readonly v4: readonly [IPv4, number][];
  readonly v6: readonly [IPv6, number][];
}

const PREFIX = /^\d{1,3}$/;

/**
 * A comma-separated list of CIDRs or single addresses (`10.0.0.0/24,172.10.0.1`, IPv6 too), as
 * ingress-nginx takes them; a message naming the first item that is neither. Only the plain
 * notations are accepted (no `0x7f.1`, no zone index), so a list means what it says.
 */
export function parseAddressRanges(value: string): AddressRanges | string {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) return 'the list is empty';
  const text: string[] = [];
  const v4: [IPv4, number][] = [];
  const v6: [IPv6, number][] = [];
  for (const item of items) {
    const slash = item.indexOf('/');
    const address = slash === -1 ? item : item.slice(0, slash);
    const prefixText = slash === -1 ? undefined : item.slice(slash + 1);
    const isV4 = ipaddr.IPv4.isValidFourPartDecimal(address);
    if (!isV4 && !(ipaddr.IPv6.isValid(address) && !address.includes('%'))) return `"${item.slice(0, 60)}" is not an IPv4 or IPv6 address or CIDR`;
    const max = isV4 ? 32 : 128;
    const bits = prefixText === undefined ? max : PREFIX.test(prefixText) ? Number(prefixText) : NaN;
    if (!(bits >= 0 && bits <= max)) return `"${item.slice(0, 60)}" has a prefix length outside 0–${max}`;
    if (isV4) {
      const network = ipaddr.IPv4.networkAddressFromCIDR(`${address}/${bits}`);
      v4.push([network, bits]);
      text.push(`${network.toString()}/${bits}`);
    } else {
      const network = ipaddr.IPv6.networkAddressFromCIDR(`${address}/${bits}`);
      v6.push([network, bits]);
      text.push(`${network.toString()}/${bits}`);
    }
  }
  return { text, v4, v6 };
}

/** A client address as the socket reports it, parsed once per request; undefined when unusable. */
export function parseClientAddress(address: string): IPv4 | IPv6 | undefined {
  try {
    return ipaddr.process(address);
  } catch {
    return undefined;
  }
}

export function rangesContain(ranges: AddressRanges, address: IPv4 | IPv6): boolean {
  if (address.kind() === 'ipv4') {
    for (const range of ranges.v4) if ((address as IPv4).match(range)) return true;
  } else {
    for (const range of ranges.v6) if ((address as IPv6).match(range)) return true;
  }
  return false;
}
