import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { randomUUID } from 'node:crypto';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus `proxy` (httpoxy): never forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy', 'expect']);
/** Set by Portico itself; incoming values are not trusted (ingress-nginx default `use-forwarded-headers: false`). */
const OURS = new Set(['host', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-proto', 'x-forwarded-scheme', 'x-scheme', 'x-request-id', 'x-forwarded-prefix', 'x-original-forwarded-for']);

export interface ForwardedFacts {
  clientAddress: string;
  /** The Host header as received (or the `upstream-vhost` override for `host`). */
  host: string;
  upstreamHost: string;
  port: number;
  proto: 'http' | 'https';
  requestId: string;
  forwardedPrefix: string | undefined;
  /** Set for upgrades: keep `connection: upgrade` and `upgrade`. */
  upgrade?: string;
  /** Client headers the pod must not see (lower case), e.g. `authorization` after basic auth. */
  drop?: readonly string[] | undefined;
}

/** The request id: the client's `X-Request-ID` if it sent a sane one, else 32 random hex digits like nginx's `$request_id`. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const incoming = headers['x-request-id'];
  if (typeof incoming === 'string' && incoming.length > 0 && incoming.length <= 200) return incoming;
  return randomUUID().replaceAll('-', '');
}

/**
 * Headers towards the pod: the client's end-to-end headers (raw pairs, so duplicates and
 * order survive) minus hop-by-hop and those named in `Connection`, then ours.
 */
export function upstreamHeaders(rawHeaders: readonly string[], facts: ForwardedFacts): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  let connectionTokens: Set<string> | undefined;
  let incomingXff: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (name === 'connection') {
      connectionTokens = new Set(value.toLowerCase().split(',').map((t) => t.trim()));
      continue;
    }
    if (name === 'x-forwarded-for') incomingXff = incomingXff === undefined ? value : `${incomingXff}, ${value}`;
    // nginx drops headers with underscores by default (`enable-underscores-in-headers: false`).
    if (HOP_BY_HOP.has(name) || OURS.has(name) || name.includes('_')) continue;
    const existing = out[name];
    out[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  if (connectionTokens) for (const token of connectionTokens) delete out[token];
  if (facts.drop) for (const name of facts.drop) delete out[name];

  out['host'] = facts.upstreamHost;
  out['x-request-id'] = facts.requestId;
  out['x-real-ip'] = facts.clientAddress;
  out['x-forwarded-for'] = facts.clientAddress;
  out['x-forwarded-host'] = facts.host;
  out['x-forwarded-port'] = String(facts.port);
  out['x-forwarded-proto'] = facts.proto;
  out['x-forwarded-scheme'] = facts.proto;
  out['x-scheme'] = facts.proto;
  if (incomingXff !== undefined) out['x-original-forwarded-for'] = incomingXff;
  if (facts.forwardedPrefix !== undefined) out['x-forwarded-prefix'] = facts.forwardedPrefix;
  if (facts.upgrade !== undefined) {
    out['connection'] = 'upgrade';
    out['upgrade'] = facts.upgrade;
  }
  return out;
}

/**
 * Headers towards the client: the pod's minus hop-by-hop and `Server` (ingress-nginx hides the
 * backend's), then Portico's own (`extra`, e.g. CORS), which replace the pod's of the same name.
 */
export function downstreamHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, extra?: Record<string, string>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  let connection: string | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'connection') {
      connection = Array.isArray(value) ? value.join(',') : value;
      continue;
    }
    if (HOP_BY_HOP.has(name) || name === 'server') continue;
    out[name] = value;
  }
  if (connection) for (const token of connection.toLowerCase().split(',')) delete out[token.trim()];
  if (!extra) return out;
  for (const name in extra) {
    const pod = out[name];
    // Portico's Set-Cookie (an affinity pin) joins the pod's; any other header replaces the pod's.
    out[name] = name === 'set-cookie' && pod !== undefined ? [...(Array.isArray(pod) ? pod : [String(pod)]), extra[name]!] : extra[name];
  }
  return out;
}
