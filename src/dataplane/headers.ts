import type { IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { ClientFacts } from './client-address.ts';
import type { GatewayHeaderChange } from '../table/steps.ts';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus `proxy` (httpoxy): never forwarded in either direction. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy', 'expect']);
/** Set by Portico itself; incoming values are not trusted (ingress-nginx default `use-forwarded-headers: false`). */
const OURS = new Set(['host', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-proto', 'x-forwarded-scheme', 'x-scheme', 'x-request-id', 'x-forwarded-prefix', 'x-original-forwarded-for']);

/** Statuses nginx's `add_header` (without `always`) covers: where an auth service's Set-Cookie is passed on. */
const ADD_HEADER_STATUSES = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);

/** What a route's steps change on a request's exchange; each part is absent when no step set it. */
export interface HeaderChanges {
  /** On the client's response whatever its status (CORS, an affinity pin), replacing the pod's; Set-Cookie joins the pod's. */
  response?: Record<string, string | string[]>;
  /** On the client's response for the statuses nginx's add_header covers only (an auth service's Set-Cookie). */
  responseOnSuccess?: Record<string, string[]>;
  /** On the pod's request, replacing the client's (auth-response-headers). */
  request?: Record<string, string>;
  /** Client headers the pod must not see, lower case (Authorization after basic auth). */
  dropFromRequest?: string[];
  /** HTTPRoute ResponseHeaderModifier: applied to the pod's response. */
  responseModify?: GatewayHeaderChange;
  /** HTTPRoute URLRewrite: the Host and the path (with the query) the pod gets. */
  upstreamHost?: string;
  upstreamPath?: string;
}

/** The headers `changes` adds to a response with this status (Portico's own answers). */
export function responseChanges(changes: HeaderChanges, status: number): Record<string, string | string[]> | undefined {
  if (!changes.responseOnSuccess || !ADD_HEADER_STATUSES.has(status)) return changes.response;
  return mergeHeaders({ ...changes.response }, changes.responseOnSuccess);
}

/** Adds `extra` to `out`: a Set-Cookie joins the ones there, any other header replaces its namesake. */
function mergeHeaders<T extends Record<string, unknown>>(out: T, extra: Record<string, string | string[]>): T {
  const o = out as Record<string, unknown>;
  for (const name in extra) {
    const present = o[name];
    const value = extra[name]!;
    o[name] = name === 'set-cookie' && present !== undefined ? [...(Array.isArray(present) ? present : [String(present)]), ...(Array.isArray(value) ? value : [value])] : value;
  }
  return out;
}

export interface ForwardedFacts {
  /** Who the client is and how it came (the ConfigMap's trust rules applied). */
  client: ClientFacts;
  /** The Host header as received (or the `upstream-vhost` override for `host`). */
  host: string;
  upstreamHost: string;
  requestId: string;
  forwardedPrefix: string | undefined;
  /** Set for upgrades: keep `connection: upgrade` and `upgrade`. */
  upgrade?: string;
  /** What the route's steps add or drop. */
  changes?: HeaderChanges | undefined;
  /** `enable-underscores-in-headers`: forward header names with `_` (nginx drops them by default). */
  underscores: boolean;
  /** `proxy-add-original-uri-header`: the request-target as received, as X-Original-URI. */
  originalUri?: string | undefined;
}

/**
 * The request id: the client's `X-Request-ID` if it sent a sane one, else 32 hex digits like
 * nginx's `$request_id`; '' (none anywhere) without one when `generate-request-id` is off.
 */
export function requestIdOf(headers: IncomingHttpHeaders, generate = true): string {
  const incoming = headers['x-request-id'];
  if (typeof incoming === 'string' && incoming.length > 0 && incoming.length <= 200) return incoming;
  return generate ? nextRequestId() : '';
}

/**
 * 16 random hex digits per process, then a 16-digit counter: as unique as 32 random digits
 * across replicas and restarts, without a random draw per request.
 */
const ID_PREFIX = randomBytes(8).toString('hex');
let idCounter = 0;
function nextRequestId(): string {
  return ID_PREFIX + (idCounter++).toString(16).padStart(16, '0');
}

/** Headers Portico puts on every response to a request, before the pod's or a step's. */
export type OwnHeaders = Readonly<Record<string, string>>;

/**
 * A request's own response headers: its id, `server: portico` with `server-tokens`, and HSTS
 * (on an HTTPS route that has it). Passed to the one `writeHead` call of the response rather
 * than set beforehand: a header set before `writeHead` puts Node on its slower path, one
 * `setHeader` per header.
 */
export function ownHeadersOf(requestId: string, serverTokens: boolean, hsts: string | undefined): OwnHeaders {
  if (!serverTokens && hsts === undefined) return requestId ? { 'x-request-id': requestId } : NO_HEADERS;
  const own: Record<string, string> = {};
  if (serverTokens) own['server'] = 'portico';
  if (hsts !== undefined) own['strict-transport-security'] = hsts;
  if (requestId) own['x-request-id'] = requestId;
  return own;
}

const NO_HEADERS: OwnHeaders = Object.freeze({});

/** `{ x-request-id }` for a response or a request, or nothing when there is no id. */
export function requestIdHeader(requestId: string): Record<string, string> {
  return requestId ? { 'x-request-id': requestId } : {};
}

/**
 * Header fields as name/value pairs, `[name, value, name, value, …]`, names in lower case: what
 * undici and `writeHead` take without walking an object's keys, duplicates kept as they came.
 */
export type HeaderPairs = string[];

/**
 * Headers towards the pod: the client's end-to-end headers (raw pairs, so duplicates and
 * order survive) minus hop-by-hop and those named in `Connection`, then ours.
 */
export function upstreamHeaders(rawHeaders: readonly string[], facts: ForwardedFacts): HeaderPairs {
  const out: HeaderPairs = [];
  let connection: string | undefined;
  let incomingXff: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (name === 'connection') {
      connection = connection === undefined ? value : `${connection},${value}`;
      continue;
    }
    if (name === 'x-forwarded-for') incomingXff = incomingXff === undefined ? value : `${incomingXff}, ${value}`;
    // nginx drops headers with underscores by default (`enable-underscores-in-headers: false`).
    if (HOP_BY_HOP.has(name) || OURS.has(name) || (!facts.underscores && name.includes('_'))) continue;
    out.push(name, value);
  }
  if (connection) for (const token of connection.toLowerCase().split(',')) removePairs(out, token.trim());
  const changes = facts.changes;
  if (changes?.dropFromRequest) for (const name of changes.dropFromRequest) removePairs(out, name);
  if (changes?.request) for (const name in changes.request) setPair(out, name, changes.request[name]!);

  // Ours last, replacing what the steps set under the same names (the client's were dropped above).
  const replace = changes?.request !== undefined;
  const client = facts.client;
  put(out, 'host', facts.upstreamHost, replace);
  if (facts.requestId) put(out, 'x-request-id', facts.requestId, replace);
  put(out, 'x-real-ip', client.address, replace);
  put(out, 'x-forwarded-for', client.forwardedFor, replace);
  put(out, 'x-forwarded-host', client.host ?? facts.host, replace);
  put(out, 'x-forwarded-port', String(client.port), replace);
  put(out, 'x-forwarded-proto', client.proto, replace);
  put(out, 'x-forwarded-scheme', client.proto, replace);
  put(out, 'x-scheme', client.proto, replace);
  if (incomingXff !== undefined) put(out, 'x-original-forwarded-for', incomingXff, replace);
  if (facts.forwardedPrefix !== undefined) put(out, 'x-forwarded-prefix', facts.forwardedPrefix, replace);
  if (facts.originalUri !== undefined) put(out, 'x-original-uri', facts.originalUri, replace);
  if (facts.upgrade !== undefined) {
    put(out, 'connection', 'upgrade', replace);
    put(out, 'upgrade', facts.upgrade, replace);
  }
  return out;
}

/** Pairs as an object (duplicates as arrays), for engines that take one (http-proxy). */
export function headerObject(pairs: HeaderPairs): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]!;
    const existing = out[name];
    out[name] = existing === undefined ? pairs[i + 1]! : Array.isArray(existing) ? [...existing, pairs[i + 1]!] : [existing, pairs[i + 1]!];
  }
  return out;
}

function hasPair(pairs: HeaderPairs, name: string): boolean {
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) return true;
  return false;
}

export function removePairs(pairs: HeaderPairs, name: string): void {
  for (let i = pairs.length - 2; i >= 0; i -= 2) if (pairs[i] === name) pairs.splice(i, 2);
}

/** Replaces every `name` field with one of `value`. */
export function setPair(pairs: HeaderPairs, name: string, value: string): void {
  removePairs(pairs, name);
  pairs.push(name, value);
}

/** Adds a field; with `replace`, in place of any of that name. */
function put(pairs: HeaderPairs, name: string, value: string, replace: boolean): void {
  if (replace) setPair(pairs, name, value);
  else pairs.push(name, value);
}

/**
 * Headers towards the client, as name/value pairs for `writeHead` (Node writes a list without
 * walking an object's keys): the pod's minus hop-by-hop and `Server` (ingress-nginx hides the
 * backend's unless `allow-backend-server-header`), Portico's own where the pod sent no
 * namesake, then what the route's steps add for this status.
 */
export function downstreamHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, status: number, changes?: HeaderChanges, keepServer = false, own?: OwnHeaders): HeaderPairs {
  const out: HeaderPairs = [];
  let connection: string | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'connection') {
      connection = Array.isArray(value) ? value.join(',') : value;
      continue;
    }
    if (HOP_BY_HOP.has(name) || (name === 'server' && !keepServer)) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  if (connection) for (const token of connection.toLowerCase().split(',')) removePairs(out, token.trim());
  if (own) for (const name in own) if (!hasPair(out, name)) out.push(name, own[name]!);
  if (!changes) return out;
  if (changes.responseModify) modifyResponse(out, changes.responseModify);
  if (changes.response) mergePairs(out, changes.response);
  if (changes.responseOnSuccess && ADD_HEADER_STATUSES.has(status)) mergePairs(out, changes.responseOnSuccess);
  return out;
}

/** ResponseHeaderModifier on the pod's response pairs: removed, replaced, then added. */
function modifyResponse(pairs: HeaderPairs, change: GatewayHeaderChange): void {
  for (const name of change.remove) removePairs(pairs, name);
  for (const [name, value] of change.set) setPair(pairs, name, value);
  for (const [name, value] of change.add) pairs.push(name, value);
}

/** `mergeHeaders` on pairs: a Set-Cookie joins the ones there, any other header replaces its namesake. */
function mergePairs(pairs: HeaderPairs, extra: Record<string, string | string[]>): void {
  for (const name in extra) {
    if (name !== 'set-cookie') removePairs(pairs, name);
    const value = extra[name]!;
    if (typeof value === 'string') pairs.push(name, value);
    else for (const v of value) pairs.push(name, v);
  }
}
