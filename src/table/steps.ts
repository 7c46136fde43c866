import type { AddressRanges } from './address-ranges.ts';

/**
 * The request steps of a route: what Portico checks or answers itself before a pod is
 * involved, compiled at build time from the route's annotations. A route lists only the steps
 * it needs, so a feature costs nothing where it is not used. Each kind has one runner in
 * `dataplane/steps/`. The order is nginx's phases (below); build sorts by it.
 */
export type RequestStep =
  | { readonly kind: 'deny'; readonly reason: string }
  | { readonly kind: 'cors'; readonly policy: CorsPolicy }
  | { readonly kind: 'redirect'; readonly url: string; readonly code: number }
  | { readonly kind: 'https-redirect'; readonly policy: HttpsRedirectPolicy }
  | { readonly kind: 'access'; readonly policy: AccessPolicy }
  | { readonly kind: 'rate-limit'; readonly policy: RateLimitPolicy }
  | { readonly kind: 'basic-auth'; readonly policy: BasicAuthPolicy }
  | { readonly kind: 'body-limit'; readonly bytes: number };

export type StepKind = RequestStep['kind'];

/**
 * nginx's order: a route that cannot be protected is refused before anything else; then the
 * rewrite phase (the CORS preflight `return 204`, redirects, the HTTPS redirect); preaccess and
 * access (allow/deny lists, then rate limits, as ingress-nginx documents); authentication; and
 * the body limit, which nginx applies when the proxy reads the body.
 */
export const STEP_ORDER: readonly StepKind[] = ['deny', 'cors', 'redirect', 'https-redirect', 'access', 'rate-limit', 'basic-auth', 'body-limit'];

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
  /** `limit-req-status-code` / `limit-conn-status-code` (ingress-nginx: 503). */
  readonly status: number;
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
