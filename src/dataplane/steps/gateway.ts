import type { IncomingMessage } from 'node:http';
import type { GatewayHeaderChange, GatewayPathChange, RequestStep } from '../../table/steps.ts';
import type { HeaderChanges } from '../headers.ts';
import { originListed } from './cors.ts';
import type { StepRunner } from './types.ts';

type Step<K extends RequestStep['kind']> = Extract<RequestStep, { kind: K }>;

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/**
 * HTTPRoute RequestRedirect: the request's scheme, host, port and path, each replaced where the
 * filter says. Without a port, a changed scheme takes its well-known port and an unchanged one
 * the port the client came in on; a scheme's own default port is left out of Location.
 */
export const gatewayRedirect: StepRunner<Step<'gateway-redirect'>> = ({ redirect }, context) => {
  const head = context.head;
  const scheme = redirect.scheme ?? context.proto;
  const port = redirect.port ?? (redirect.scheme ? DEFAULT_PORT[redirect.scheme] : context.req.socket.localPort ?? DEFAULT_PORT[scheme]);
  const shownPort = port === DEFAULT_PORT[scheme] ? '' : `:${port}`;
  const path = redirect.path ? changedPath(redirect.path, head.path) : head.rawPath;
  return { status: redirect.code, headers: { location: `${scheme}://${redirect.hostname ?? head.host}${shownPort}${path}${head.query}` } };
};

/** RequestHeaderModifier, ResponseHeaderModifier and URLRewrite: noted in the changes the forwarding reads. */
export const gatewayModify: StepRunner<Step<'gateway-modify'>> = ({ modify }, context) => {
  const changes = context.changes;
  if (modify.request) modifyRequestHeaders(changes, modify.request, context.req);
  if (modify.response) changes.responseModify = modify.response;
  if (modify.hostname !== undefined) changes.upstreamHost = modify.hostname;
  if (modify.path) changes.upstreamPath = changedPath(modify.path, context.head.path) + context.head.query;
  return undefined;
};

/** What a Gateway API wildcard origin covers in place of its `*`: any number of labels. */
const HOST_LABELS = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;

/**
 * HTTPRoute CORS: a request whose Origin is allowed gets the CORS headers on its response; a
 * preflight (OPTIONS with Access-Control-Request-Method) is answered 204 here with the methods,
 * headers and max age. Any other origin gets no CORS header, which is the browser's refusal; its
 * preflight is answered here all the same.
 */
export const gatewayCors: StepRunner<Step<'gateway-cors'>> = ({ policy }, context) => {
  const req = context.req;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  const method = req.headers['access-control-request-method'];
  const preflight = req.method === 'OPTIONS' && method !== undefined;
  // A preflight from an origin not allowed is answered here too (it is not the pod's to answer), without a CORS header.
  if (!policy.anyOrigin && !originListed(policy.origins, policy.wildcardOrigins, origin.toLowerCase(), HOST_LABELS)) return preflight ? { status: 204, headers: { 'content-length': '0' }, body: '' } : undefined;
  const credentials = policy.allowCredentials;
  // With credentials a browser accepts no `*`: the request's own origin, method and headers are named instead.
  const headers: Record<string, string> = { 'access-control-allow-origin': policy.anyOrigin && !credentials ? '*' : origin };
  if (credentials) headers['access-control-allow-credentials'] = 'true';
  if (policy.exposeHeaders !== '') headers['access-control-expose-headers'] = policy.exposeHeaders;
  if (!preflight) {
    context.changes.response = { ...context.changes.response, ...headers };
    return undefined;
  }
  if (policy.allowMethods !== '') headers['access-control-allow-methods'] = policy.allowMethods === '*' && credentials ? method : policy.allowMethods;
  const allowHeaders = policy.allowHeaders === '*' && credentials ? req.headers['access-control-request-headers'] : policy.allowHeaders;
  if (allowHeaders) headers['access-control-allow-headers'] = allowHeaders;
  headers['access-control-max-age'] = policy.maxAge;
  return { status: 204, headers: { ...headers, 'content-length': '0' }, body: '' };
};

/**
 * A RequestHeaderModifier (a rule's, or the drawn backendRef's after it) noted in `changes`: set
 * replaces, add appends to what the client or an earlier filter sent, remove drops both.
 */
export function modifyRequestHeaders(changes: HeaderChanges, modify: GatewayHeaderChange, req: IncomingMessage): void {
  const request = (changes.request = { ...changes.request });
  for (const [name, value] of modify.set) request[name] = value;
  for (const [name, value] of modify.add) {
    const present = request[name] ?? req.headers[name];
    request[name] = present === undefined ? value : `${Array.isArray(present) ? present.join(',') : present},${value}`;
  }
  if (modify.remove.length === 0) return;
  for (const name of modify.remove) delete request[name]; // what an earlier filter set goes too
  changes.dropFromRequest = [...(changes.dropFromRequest ?? []), ...modify.remove];
}

/** ReplaceFullPath, or the matched prefix replaced element-wise (`/foo` → `/bar`: `/foo/x` → `/bar/x`). */
export function changedPath(change: GatewayPathChange, path: string): string {
  if (change.type === 'full') return change.path;
  let rest = path.slice(change.matched.length);
  let replacement = change.replacement;
  if (replacement.endsWith('/') && rest.startsWith('/')) rest = rest.slice(1);
  if (replacement.endsWith('/') && rest === '' && replacement.length > 1) replacement = replacement.slice(0, -1);
  const joined = replacement + rest;
  return joined === '' ? '/' : joined.startsWith('/') ? joined : `/${joined}`;
}
