import { LRUCache } from 'lru-cache';
import type { ExternalAuthPolicy, RequestStep } from '../../table/steps.ts';
import type { AuthClient, AuthReply } from '../auth-client.ts';
import { HOP_BY_HOP } from '../headers.ts';
import { renderTemplate, type TemplateRequest } from '../request-template.ts';
import type { StepAnswer, StepContext, StepRunner } from './types.ts';

/** Client headers the auth service never gets: hop-by-hop ones, the body's, and those ingress-nginx resets. */
const NOT_TO_AUTH = new Set([...HOP_BY_HOP, 'content-length', 'content-type', 'x-forwarded-proto', 'host']);
const ERROR: StepAnswer = { status: 500 };

/** Answers of the auth service by cache key (`auth-cache-key`), each for its status's duration. */
export class AuthCache {
  private readonly entries = new LRUCache<string, AuthReply>({ max: 10_000, ttl: 60_000, ttlAutopurge: false });

  get(key: string): AuthReply | undefined {
    return this.entries.get(key);
  }

  set(key: string, reply: AuthReply, ttlMs: number): void {
    this.entries.set(key, reply, { ttl: ttlMs });
  }
}

/** The subrequest's headers, as ingress-nginx's internal auth location sets them. */
function authHeaders(policy: ExternalAuthPolicy, context: StepContext, url: URL): Record<string, string | string[]> {
  const { req, head } = context;
  const out: Record<string, string | string[]> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (NOT_TO_AUTH.has(name) || name.includes('_')) continue;
    const existing = out[name];
    out[name] = existing === undefined ? raw[i + 1]! : Array.isArray(existing) ? [...existing, raw[i + 1]!] : [existing, raw[i + 1]!];
  }
  out['host'] = url.host;
  out['x-original-url'] = `${context.proto}://${head.authority}${req.url ?? '/'}`;
  out['x-original-method'] = req.method ?? 'GET';
  out['x-sent-from'] = 'nginx-ingress-controller';
  out['x-real-ip'] = context.clientAddress;
  out['x-forwarded-for'] = context.clientAddress;
  out['x-auth-request-redirect'] = policy.requestRedirect ?? req.url ?? '/';
  if (policy.method !== undefined) {
    out['x-original-uri'] = req.url ?? '/';
    out['x-scheme'] = context.proto;
  }
  if (context.requestId) out['x-request-id'] = context.requestId;
  return out;
}

/** `auth-signin` with the redirect parameter (`rd=<scheme>://<host><escaped request URI>`), unless it has one. */
function signinLocation(policy: ExternalAuthPolicy, context: StepContext, request: TemplateRequest): string {
  const signin = renderTemplate(policy.signin!, request);
  const param = policy.signinRedirectParam;
  const query = signin.indexOf('?');
  if (query !== -1 && new URLSearchParams(signin.slice(query + 1)).has(param)) return signin;
  const back = `${context.proto}://${context.head.authority}${encodeURIComponent(context.req.url ?? '/')}`;
  return `${signin}${query === -1 ? '?' : '&'}${param}=${back}`;
}

/** What the auth service's answer means for the request. */
function decide(policy: ExternalAuthPolicy, context: StepContext, request: TemplateRequest, reply: AuthReply | undefined): StepAnswer | undefined {
  if (!reply) return ERROR;
  const cookies = reply.headers['set-cookie'];
  if (cookies !== undefined) {
    const list = Array.isArray(cookies) ? cookies : [cookies];
    const changes = context.changes;
    if (policy.alwaysSetCookie) changes.response = { ...changes.response, 'set-cookie': list };
    else changes.responseOnSuccess = { ...changes.responseOnSuccess, 'set-cookie': list };
  }
  if (reply.status >= 200 && reply.status < 300) {
    if (policy.responseHeaders.length > 0) {
      const changes = context.changes;
      // The listed headers come from the auth service only: a client's own copy is dropped.
      changes.dropFromRequest = [...(changes.dropFromRequest ?? []), ...policy.responseHeaders];
      for (const name of policy.responseHeaders) {
        const value = reply.headers[name];
        if (value !== undefined) (changes.request ??= {})[name] = Array.isArray(value) ? value.join(', ') : value;
      }
    }
    return undefined;
  }
  if (reply.status === 401) {
    if (policy.signin) return { status: 302, headers: { location: signinLocation(policy, context, request) } };
    const challenge = reply.headers['www-authenticate'];
    return { status: 401, headers: challenge === undefined ? undefined : { 'www-authenticate': Array.isArray(challenge) ? challenge[0]! : challenge } };
  }
  if (reply.status === 403) return { status: 403 };
  return ERROR;
}

/**
 * nginx's auth_request for `auth-url`: the client's headers (no body) to the auth service, through
 * undici with the route's timeouts; 2xx forwards, 401/403 answer (401 with the service's
 * WWW-Authenticate, or a redirect to `auth-signin`), anything else, or no answer, is 500.
 */
export const externalAuth: StepRunner<Extract<RequestStep, { kind: 'external-auth' }>> = async ({ policy }, context) => {
  const request: TemplateRequest = { req: context.req, head: context.head, clientAddress: context.clientAddress, proto: context.proto };
  const url = URL.parse(renderTemplate(policy.url, request));
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return ERROR;
  const cache = context.state.authCache;
  const cacheKey = policy.cacheKey && `${context.head.host}\u0000${policy.url.source}\u0000${renderTemplate(policy.cacheKey, request)}`;
  let reply = cacheKey ? cache.get(cacheKey) : undefined;
  if (!reply) {
    const o = context.route.options;
    reply = await context.state.auth.ask(url, policy.method ?? context.req.method ?? 'GET', authHeaders(policy, context, url), o.connectTimeoutMs, o.readTimeoutMs);
    const ttl = reply && (policy.cacheDurations.get(reply.status) ?? policy.cacheDurations.get(0));
    if (cacheKey && reply && ttl) cache.set(cacheKey, reply, ttl);
  }
  return decide(policy, context, request, reply);
};
