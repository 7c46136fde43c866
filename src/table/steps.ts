import type { AddressRanges } from './address-ranges.ts';
import type { RequestTemplate } from './types.ts';

/**
 * The request steps of a route: what Portico checks or answers itself before a pod is
 * involved, compiled at build time from the route's annotations. A route lists only the steps
 * it needs, so a feature costs nothing where it is not used. Each kind has one runner in
 * `dataplane/steps/`. The order is nginx's phases (below); build sorts by it.
 */
export type RequestStep =
  | { readonly kind: 'deny'; readonly reason: string }
  | { readonly kind: 'custom-headers'; readonly headers: Readonly<Record<string, string>> }
  | { readonly kind: 'cors'; readonly policy: CorsPolicy }
  | { readonly kind: 'redirect'; readonly url: string; readonly code: number }
  | { readonly kind: 'https-redirect'; readonly policy: HttpsRedirectPolicy }
  | { readonly kind: 'access'; readonly policy: AccessPolicy }
  | { readonly kind: 'rate-limit'; readonly policy: RateLimitPolicy }
  | { readonly kind: 'basic-auth'; readonly policy: BasicAuthPolicy }
  | { readonly kind: 'external-auth'; readonly policy: ExternalAuthPolicy }
  | { readonly kind: 'body-limit'; readonly bytes: number }
  /** HTTPRoute RequestRedirect: a Location made from the request, parts replaced. */
  | { readonly kind: 'gateway-redirect'; readonly redirect: GatewayRedirect }
  /** HTTPRoute RequestHeaderModifier, ResponseHeaderModifier and URLRewrite, applied to what is forwarded. */
  | { readonly kind: 'gateway-modify'; readonly modify: GatewayModify }
  /** HTTPRoute CORS: the preflight answered, the CORS headers on the response. */
  | { readonly kind: 'gateway-cors'; readonly policy: GatewayCorsPolicy };

export type StepKind = RequestStep['kind'];

/**
 * nginx's order: a route that cannot be protected is refused before anything else; then the
 * rewrite phase (the CORS preflight `return 204`, redirects, the HTTPS redirect); preaccess and
 * access (allow/deny lists, then rate limits, as ingress-nginx documents); authentication; and
 * the body limit, which nginx applies when the proxy reads the body. Custom headers only
 * decorate whatever answers, so they come first.
 */
export const STEP_ORDER: readonly StepKind[] = ['deny', 'custom-headers', 'cors', 'gateway-cors', 'redirect', 'gateway-redirect', 'https-redirect', 'access', 'rate-limit', 'basic-auth', 'external-auth', 'body-limit', 'gateway-modify'];

/**
 * The HTTPRoute CORS filter. Unlike ingress-nginx's, a wildcard origin covers any number of labels,
 * and `*` (origin, methods, headers) is answered with what the request asked for when credentials
 * are allowed, since browsers refuse `*` then.
 */
export interface GatewayCorsPolicy {
  readonly anyOrigin: boolean;
  /** `scheme://host[:port]`, lower case. */
  readonly origins: ReadonlySet<string>;
  /** `https://*.example.com` as scheme `https://` and suffix `.example.com` (with a port if it has one). */
  readonly wildcardOrigins: readonly { readonly scheme: string; readonly suffix: string }[];
  /** Header values, comma-separated at build time: `*` for any, '' for none. */
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly allowCredentials: boolean;
  /** Seconds, as the header says it. */
  readonly maxAge: string;
}

/** RequestRedirect, with what it replaces; the rest comes from the request. */
export interface GatewayRedirect {
  readonly scheme: 'http' | 'https' | undefined;
  readonly hostname: string | undefined;
  readonly port: number | undefined;
  readonly path: GatewayPathChange | undefined;
  readonly code: number;
}

/** ReplaceFullPath, or ReplacePrefixMatch of the prefix the route matched. */
export type GatewayPathChange =
  | { readonly type: 'full'; readonly path: string }
  /** `matched` without a trailing slash (`''` for `/`). */
  | { readonly type: 'prefix'; readonly matched: string; readonly replacement: string };

export interface GatewayHeaderChange {
  /** Lower-case names. */
  readonly set: readonly (readonly [string, string])[];
  readonly add: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
}

export interface GatewayModify {
  readonly request: GatewayHeaderChange | undefined;
  readonly response: GatewayHeaderChange | undefined;
  /** URLRewrite. */
  readonly hostname: string | undefined;
  readonly path: GatewayPathChange | undefined;
}

export interface HttpsRedirectPolicy {
  /** `force-ssl-redirect`: redirect even when the host has no TLS section. */
  readonly force: boolean;
  /** `preserve-trailing-slash`: keep a trailing `/` (ingress-nginx strips one). */
  readonly preserveTrailingSlash: boolean;
}

/** `denylist-source-range` then `whitelist-source-range`/`allowlist-source-range`: 403 outside. */
export interface AccessPolicy {
  readonly allow: AddressRanges | undefined;
  readonly deny: AddressRanges | undefined;
}

/** `enable-cors` and `cors-*`, with ingress-nginx's defaults. */
export interface CorsPolicy {
  /** `*`, or exact origins (`https://a.example.com:8443`, lower case) and one-label wildcards. */
  readonly anyOrigin: boolean;
  readonly origins: ReadonlySet<string>;
  /** `https://*.example.com` is stored as scheme `https://` and suffix `.example.com` (with any port). */
  readonly wildcardOrigins: readonly { readonly scheme: string; readonly suffix: string }[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  readonly allowCredentials: boolean;
  readonly maxAgeSeconds: number;
}

/** `limit-*`: per client address, per Portico instance, as ingress-nginx's limit_req/limit_conn zones. */
export interface RateLimitPolicy {
  /** The zone: `namespace/name` of the Ingress; every path of it shares the counters. */
  readonly zone: string;
  readonly requestsPerSecond: number | undefined;
  readonly requestsPerMinute: number | undefined;
  /** Requests in progress per client address. */
  readonly connections: number | undefined;
  /** `limit-burst-multiplier`: burst = rate × this; excess requests within it pass at once (nodelay). */
  readonly burstMultiplier: number;
  /** `limit-whitelist`: addresses never limited. */
  readonly exempt: AddressRanges | undefined;
  /** `limit-req-status-code`: the answer over the request rate (ingress-nginx: 503). */
  readonly requestStatus: number;
  /** `limit-conn-status-code`: the answer over the connection limit (ingress-nginx: 503). */
  readonly connectionStatus: number;
}

/** A password hash from an htpasswd line, by the scheme its prefix names. */
export interface PasswordHash {
  readonly scheme: 'bcrypt' | 'apr1' | 'md5-crypt' | 'sha256-crypt' | 'sha512-crypt' | 'sha1' | 'ssha' | 'plain' | 'des-crypt';
  readonly hash: string;
}

/** `auth-type: basic` with its Secret read at build time. */
export interface BasicAuthPolicy {
  /** The `WWW-Authenticate` value, realm quoted at build time: `Basic realm="…"`. */
  readonly challenge: string;
  readonly users: ReadonlyMap<string, PasswordHash>;
  /** `namespace/name` of the Secret, for /debug. */
  readonly secret: string;
}

/** `auth-url` and its family: nginx's auth_request, a subrequest per request (or a cached answer). */
export interface ExternalAuthPolicy {
  /** http(s) URL, possibly with variables (`https://$host/oauth2/auth`). */
  readonly url: RequestTemplate;
  /** `auth-method`; undefined: the client's method. */
  readonly method: string | undefined;
  /** `auth-signin`: a 401 becomes a 302 there, with the redirect parameter. */
  readonly signin: RequestTemplate | undefined;
  readonly signinRedirectParam: string;
  /** `auth-response-headers`, lower case: copied from the auth response to the pod's request. */
  readonly responseHeaders: readonly string[];
  /** `auth-request-redirect`: `X-Auth-Request-Redirect` (default: the request URI). */
  readonly requestRedirect: string | undefined;
  /** `auth-cache-key`; undefined: no caching. */
  readonly cacheKey: RequestTemplate | undefined;
  /** `auth-cache-duration`: how long an answer with this status is cached, ms (0 = the `any` entry). */
  readonly cacheDurations: ReadonlyMap<number, number>;
  /** `auth-always-set-cookie`: pass the auth response's Set-Cookie on every status, not only success and redirects. */
  readonly alwaysSetCookie: boolean;
}
