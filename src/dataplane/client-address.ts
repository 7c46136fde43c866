import type { IncomingMessage } from 'node:http';
import { parseClientAddress, rangesContain, type AddressRanges } from '../table/address-ranges.ts';
import type { ServerSettings } from '../table/server-settings.ts';
import { proxiedPeer } from './proxy-protocol.ts';

/** Who sent a request and how, once the ConfigMap's trust rules are applied (nginx's realip module). */
export interface ClientFacts {
  /** The client (nginx's `$remote_addr`): access lists, rate limits, X-Real-IP and logs use it. */
  readonly address: string;
  /** The scheme the client used (X-Forwarded-Proto, redirects). */
  readonly proto: 'http' | 'https';
  /** X-Forwarded-Host from a trusted proxy; undefined: the request's own Host. */
  readonly host: string | undefined;
  /** The port the client connected to (X-Forwarded-Port). */
  readonly port: number;
  /** X-Forwarded-For for the pod. */
  readonly forwardedFor: string;
}

/**
 * The client of a request. Without `use-forwarded-headers`, `enable-real-ip` or
 * `use-proxy-protocol`, it is the connection's peer. With PROXY protocol, the address the load
 * balancer announced. Otherwise, when the peer is in `proxy-real-ip-cidr`, the right-most address
 * of `forwarded-for-header` that is not (`real_ip_recursive on`); X-Forwarded-Proto, -Host and
 * -Port count only from such a peer, and only with `use-forwarded-headers`.
 */
export function clientOf(req: IncomingMessage, listenerProto: 'http' | 'https', settings: ServerSettings | undefined): ClientFacts {
  const socket = req.socket;
  const policy = settings?.clientAddress;
  if (!settings || !policy || (!policy.realIp && !settings.proxyProtocol)) {
    const peer = socket.remoteAddress ?? '';
    return { address: peer, proto: listenerProto, host: undefined, port: socket.localPort ?? 0, forwardedFor: peer };
  }
  const announced = proxiedPeer(socket);
  const peer = announced?.peer ?? socket.remoteAddress ?? '';
  const port = socket.localPort ?? 0;
  const incomingXff = joined(req.headers['x-forwarded-for']);
  // compute-full-forwarded-for: the incoming list plus `last`; otherwise just the client.
  const full = (client: string, last: string): string => (policy.fullForwardedFor && incomingXff ? `${incomingXff}, ${last}` : client);
  const parsedPeer = parseClientAddress(peer);
  const trusted = parsedPeer !== undefined && rangesContain(policy.trusted, parsedPeer);
  if (settings.proxyProtocol) {
    // ingress-nginx: with PROXY protocol the announced address is the client, forwarded headers or not.
    const address = (trusted && announced?.address) || peer;
    return { address, proto: listenerProto, host: undefined, port: trusted && announced ? announced.destinationPort : port, forwardedFor: full(address, address) };
  }
  if (!trusted) return { address: peer, proto: listenerProto, host: undefined, port, forwardedFor: full(peer, peer) };
  const headerValue = policy.realIpHeader === 'x-forwarded-for' ? incomingXff : joined(req.headers[policy.realIpHeader]);
  const address = headerValue ? realClient(headerValue, policy.trusted) ?? peer : peer;
  let proto = listenerProto;
  let host: string | undefined;
  let forwardedPort = port;
  if (policy.forwardedHeaders) {
    const p = single(req.headers['x-forwarded-proto'])?.toLowerCase();
    if (p === 'http' || p === 'https') proto = p;
    host = single(req.headers['x-forwarded-host']);
    const fp = single(req.headers['x-forwarded-port']);
    if (fp !== undefined && /^\d{1,5}$/.test(fp) && Number(fp) <= 65535) forwardedPort = Number(fp);
  }
  return { address, proto, host, port: forwardedPort, forwardedFor: full(address, peer) };
}

/**
 * The right-most address that is not a trusted proxy; when every one is trusted, the left-most.
 * An entry that is no address ends the walk at the last good one (nginx declines there too).
 */
function realClient(list: string, trusted: AddressRanges): string | undefined {
  const items = list.split(',');
  let client: string | undefined;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!.trim();
    const parsed = parseClientAddress(item);
    if (!parsed) return client;
    client = parsed.toString();
    if (!rangesContain(trusted, parsed)) return client;
  }
  return client;
}

/** Repeated headers as one comma-separated list, as nginx reads X-Forwarded-For. */
function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** A header that may appear once; repeated, it is not trusted. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value?.trim() || undefined;
}
