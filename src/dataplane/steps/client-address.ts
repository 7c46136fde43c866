import type { IPv4, IPv6 } from 'ipaddr.js';
import { parseClientAddress } from '../../table/address-ranges.ts';
import type { StepContext } from './types.ts';

/**
 * Parsed client addresses by connection: a keep-alive connection's requests parse it once. The
 * address is kept beside it, because behind a trusted proxy each request may name another client.
 */
const byConnection = new WeakMap<object, { address: string; parsed: IPv4 | IPv6 | undefined }>();

/** The client address as ipaddr.js reads it (IPv4-mapped IPv6 as IPv4); undefined when unusable. */
export function parsedClient(context: StepContext): IPv4 | IPv6 | undefined {
  const socket = context.req.socket;
  const known = byConnection.get(socket);
  if (known?.address === context.clientAddress) return known.parsed;
  const parsed = parseClientAddress(context.clientAddress);
  byConnection.set(socket, { address: context.clientAddress, parsed });
  return parsed;
}
