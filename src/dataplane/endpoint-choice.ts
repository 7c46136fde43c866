import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Backend, Balancing, CookieAffinity, Endpoint, Route } from '../table/types.ts';
import { backendToken, cookieOf } from './backend-choice.ts';
import type { Balancer } from './balancer.ts';
import { token } from './hashing.ts';
import { renderTemplate } from './request-template.ts';
import type { RequestHead } from './request-head.ts';

/** What endpoint choice may look at. */
export interface EndpointRequest {
  readonly req: IncomingMessage;
  readonly head: RequestHead;
  readonly route: Route;
  readonly backend: Backend;
  /** Affinity, hashing and load balancing for this backend (a canary's are its own Ingress's). */
  readonly balancing: Balancing;
  readonly clientAddress: string;
  readonly proto: 'http' | 'https';
}

export interface PickedEndpoint {
  readonly endpoint: Endpoint;
  /** A new affinity cookie for the client, when this pick pinned it. */
  readonly setCookie: string | undefined;
}

const endpointTokens = new WeakMap<Backend, Map<string, Endpoint>>();

/** Persistent affinity: the endpoint a token names, from the endpoint itself, so every replica agrees. */
function endpointByToken(backend: Backend, value: string): Endpoint | undefined {
  let byToken = endpointTokens.get(backend);
  if (!byToken) {
    byToken = new Map(backend.endpoints.map((e) => [token(`${backend.id}\u0000${e.key}`), e]));
    endpointTokens.set(backend, byToken);
  }
  return byToken.get(value);
}

/**
 * The endpoint for one attempt: cookie affinity, else `upstream-hash-by`, else `load-balance`
 * (round robin, with `sessionAffinity: ClientIP` honoured, or ewma). `retry`: an earlier attempt
 * failed; the client's pin then moves only with `session-cookie-change-on-failure`.
 */
export function pickEndpoint(balancer: Balancer, r: EndpointRequest, exclude: ReadonlySet<Endpoint>, retry: boolean): PickedEndpoint | undefined {
  const o = r.balancing;
  if (o.affinity) return pickPinned(balancer, r, o.affinity, exclude, retry);
  let endpoint: Endpoint | undefined;
  if (o.upstreamHash) endpoint = balancer.pickHashed(r.backend, renderTemplate(o.upstreamHash, r), exclude);
  else if (o.loadBalance === 'ewma') endpoint = balancer.pickEwma(r.backend, exclude);
  else endpoint = balancer.pick(r.backend, r.clientAddress, exclude);
  return endpoint && { endpoint, setCookie: undefined };
}

function pickPinned(balancer: Balancer, r: EndpointRequest, policy: CookieAffinity, exclude: ReadonlySet<Endpoint>, retry: boolean): PickedEndpoint | undefined {
  const cookie = cookieOf(r.req, policy.name);
  const bar = cookie?.indexOf('|') ?? -1;
  const pinned = cookie !== undefined && bar > 0 && cookie.slice(bar + 1) === backendToken(r.backend) ? cookie.slice(0, bar) : undefined;
  if (policy.mode === 'balanced') {
    // The cookie holds a random key; consistent hashing maps it to an endpoint.
    const key = pinned !== undefined && !(retry && policy.changeOnFailure) ? pinned : randomBytes(8).toString('hex');
    const endpoint = balancer.pickHashed(r.backend, key, exclude);
    return endpoint && { endpoint, setCookie: key !== pinned ? setCookie(policy, r, key) : undefined };
  }
  // Persistent: the cookie names the endpoint; a pinned endpoint out of rotation is skipped, not forgotten.
  const named = pinned === undefined ? undefined : endpointByToken(r.backend, pinned);
  if (named && !exclude.has(named) && !balancer.health.isEjected(named.key)) return { endpoint: named, setCookie: undefined };
  const endpoint = balancer.pick(r.backend, r.clientAddress, exclude);
  // A pin to an endpoint that left the Service is replaced; one to an endpoint that failed, only with change-on-failure.
  const repin = named === undefined || (policy.changeOnFailure && (retry || pinned !== undefined));
  return endpoint && { endpoint, setCookie: repin ? setCookie(policy, r, token(`${r.backend.id}\u0000${endpoint.key}`)) : undefined };
}

/** `Set-Cookie` for a pin: HttpOnly always; Secure as set, else on HTTPS; the route's path unless one is set. */
function setCookie(policy: CookieAffinity, r: EndpointRequest, key: string): string {
  let cookie = `${policy.name}=${key}|${backendToken(r.backend)}`;
  if (policy.expiresSeconds !== undefined) cookie += `; Expires=${new Date(Date.now() + policy.expiresSeconds * 1000).toUTCString()}`;
  if (policy.maxAgeSeconds !== undefined) cookie += `; Max-Age=${policy.maxAgeSeconds}`;
  if (policy.domain !== undefined) cookie += `; Domain=${policy.domain}`;
  cookie += `; Path=${policy.path ?? cookiePathOf(r.route)}`;
  if (policy.secure ?? r.proto === 'https') cookie += '; Secure';
  cookie += '; HttpOnly';
  if (policy.sameSite !== undefined && !(policy.sameSite === 'None' && policy.conditionalSameSiteNone && mishandlesSameSiteNone(r.req.headers['user-agent']))) {
    cookie += `; SameSite=${policy.sameSite}`;
  }
  return cookie;
}

/** The location path, as ingress-nginx uses; a regex path is no cookie path, so `/`. */
function cookiePathOf(route: Route): string {
  return /^\/[-\w./~%]*$/.test(route.path) ? route.path : '/';
}

/**
 * Clients that reject or misread `SameSite=None` (the list ingress-nginx and Chromium's guidance
 * use): Chrome 51–66, iOS 12, and Safari on macOS 10.14.
 */
function mishandlesSameSiteNone(userAgent: string | undefined): boolean {
  if (!userAgent) return false;
  return /Chrom(e|ium)\/(5[1-9]|6[0-6])\./.test(userAgent) ||
    /\(iP.+; CPU .*OS 12[_\d]*.*\) AppleWebKit\//.test(userAgent) ||
    (/\(Macintosh;.*Mac OS X 10_14[_\d]*.*\) AppleWebKit\//.test(userAgent) && /Version\/.* Safari\//.test(userAgent));
}
