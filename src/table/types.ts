import type RE2 from 're2';
import type { PatternSet } from './pattern-set.ts';
import type { Diagnostic } from '../diagnostics.ts';
import type { AccessPolicy, BasicAuthPolicy, CorsPolicy, ExternalAuthPolicy, GatewayHeaderChange, RateLimitPolicy, RequestStep } from './steps.ts';
import type { ServerSettings } from './server-settings.ts';

/**
 * The longest a timer can wait, 2^31−1 ms (about 24.8 days): a route's timeouts never exceed it,
 * since Node fires a longer timer at once and undici refuses Infinity. It also stands for "no timeout".
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The routing table: what build produces and the data plane reads. Everything here is
 * typed and precompiled; nothing string-typed from annotations survives to request time.
 * A table is never mutated after build; a change produces a new one that is swapped in.
 */
export interface RoutingTable {
  /** Increases with every build, for logs and /debug. */
  readonly generation: number;
  readonly exactHosts: ReadonlyMap<string, HostRoutes>;
  /** Wildcard hosts keyed by the parent domain: `*.foo.com` is stored under `foo.com`. */
  readonly wildcardHosts: ReadonlyMap<string, HostRoutes>;
  /** Rules without a host: they match any Host that no exact or wildcard rule claims. */
  readonly anyHost: HostRoutes | undefined;
  /**
   * HTTPRoute wildcard hosts by parent domain: unlike an Ingress's, `*.example.com` here covers
   * names any number of labels deep (the Gateway API's rule); the most specific suffix wins.
   */
  readonly gatewayWildcardHosts?: ReadonlyMap<string, HostRoutes> | undefined;
  /** Gateways with an address of their own (`--gateway-addresses`): their hosts, by the address requests come to. */
  readonly gatewayByAddress?: ReadonlyMap<string, AddressHosts> | undefined;
  /** The catch-all for requests no host claims (the oldest Ingress `spec.defaultBackend`). */
  readonly defaultRoute: Route | undefined;
  /** Every backend the table refers to, keyed by Backend.id. */
  readonly backends: ReadonlyMap<string, Backend>;
  /**
   * Hosts (exact, or `*.example.com`) named in a TLS section of one of our Ingresses, with
   * their certificate; undefined where the Secret is unusable and the default one is served.
   */
  readonly tlsHosts: ReadonlyMap<string, TlsCertificate | undefined>;
  /** `--default-backend-service`: answers custom errors of routes without their own default-backend. */
  readonly errorBackend: Backend | undefined;
  /** `--default-ssl-certificate`, when it names a usable Secret. */
  readonly defaultCertificate: TlsCertificate | undefined;
  /** The instance's settings (the controller ConfigMap over the flags): listeners and requests read them. */
  readonly settings: ServerSettings;
}

/** The hosts of the Gateways served on one address: exact names, wildcards (any depth) by parent domain, and `*`. */
export interface AddressHosts {
  readonly exact: ReadonlyMap<string, HostRoutes>;
  readonly wildcards: ReadonlyMap<string, HostRoutes>;
  readonly any: HostRoutes | undefined;
}

export interface TlsCertificate {
  /** `namespace/name` of the Secret. */
  readonly secret: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** ISO times the leaf certificate is valid from and until. */
  readonly notBefore: string;
  readonly notAfter: string;
  readonly subjectAltNames: readonly string[];
  /** SHA-256 fingerprint of the leaf: a changed Secret yields a new fingerprint. */
  readonly fingerprint: string;
}

export interface HostRoutes {
  /** As written in the Ingress, lower case: `app.example.com`, `*.example.com` or `*` for rules without host. */
  readonly host: string;
  /** True when any Ingress of this host uses `use-regex` or `rewrite-target` (ingress-nginx semantics). */
  readonly regexMode: boolean;
  /** Non-regex mode: Exact paths by path. */
  readonly exact: ReadonlyMap<string, Route>;
  /** Non-regex mode: Prefix paths by their normalised path (no trailing slash, `/` for root). */
  readonly prefix: ReadonlyMap<string, Route>;
  /** Regex mode: every path, in match order (longest path string first); first match wins. */
  readonly regex: readonly Route[];
  /** Regex mode: the paths of `regex`, index for index, compiled into RE2 sets. */
  readonly patterns: PatternSet | undefined;
  /** The `spec.defaultBackend` of the oldest Ingress defining this host, for paths no rule matches. */
  readonly fallback: Route | undefined;
  /** `app-root` of the oldest Ingress of this host that sets it: `/` answers 302 there, before any path matching. */
  readonly appRoot: string | undefined;
  /** `from-to-www-redirect`: this name only redirects (308) to that host; it has no routes. */
  readonly redirectTo: string | undefined;
  /**
   * Gateway API: the HTTPRoute matches for this host, in the spec's order of precedence (the
   * first that matches wins); undefined for a host only Ingresses serve.
   */
  readonly gateway?: readonly GatewayMatch[] | undefined;
}

/** One match of an HTTPRoute rule, compiled: every condition must hold. */
export interface GatewayMatch {
  readonly route: Route;
  /** PathPrefix values have no trailing slash (`''` for `/`); a RegularExpression is anchored at both ends. */
  readonly path: { readonly type: 'Exact' | 'PathPrefix'; readonly value: string } | { readonly type: 'RegularExpression'; readonly value: string; readonly regex: RE2 };
  /** Upper case. */
  readonly method: string | undefined;
  /** Header names lower case; values exact, or a full-match RE2 test. */
  readonly headers: readonly ValueMatch[];
  readonly queryParams: readonly ValueMatch[];
}

/** A header or query parameter: an exact value, or an RE2 regex anchored at both ends (plain data, so tables cross to workers). */
export interface ValueMatch {
  readonly name: string;
  readonly exact: string | undefined;
  readonly regex: RE2 | undefined;
}

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface Route {
  /** `namespace/name` of the Ingress the route comes from. */
  readonly ingress: string;
  readonly host: string;
  /** The path as written in the Ingress (the metrics label, the /debug view). */
  readonly path: string;
  readonly pathType: PathType;
  /** The main backend (metrics, /debug); which backend a request goes to is `choice`'s. */
  readonly backend: Backend;
  readonly choice: BackendChoice;
  readonly options: RouteOptions;
  /** What Portico checks or answers before forwarding, in nginx's phase order; empty for a plain route. */
  readonly steps: readonly RequestStep[];
  /** HTTPRoute RequestMirror filters: copies of the request sent on, their answers ignored. */
  readonly mirrors?: readonly RequestMirror[] | undefined;
}

export interface RequestMirror {
  readonly backend: Backend;
  /** The share of requests mirrored, 0 to 100. */
  readonly percent: number;
}

export interface RouteOptions {
  /**
   * Set when an access-guarding annotation of the Ingress (auth, allow/deny lists, client
   * certificates) cannot be enforced, because it is not implemented or invalid: the route then
   * answers 503 to every request, never the backend unprotected. The text says why.
   */
  readonly denyReason: string | undefined;
  readonly connectTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Maximum request body in bytes; Infinity when `proxy-body-size: 0`. */
  readonly bodyLimit: number;
  readonly nextUpstream: NextUpstreamPolicy;
  readonly rewrite: RewriteTemplate | undefined;
  readonly redirect: { readonly url: string; readonly code: number } | undefined;
  readonly upstreamVhost: string | undefined;
  /** `X-Forwarded-Prefix`, sent only when a rewrite happened. */
  readonly forwardedPrefix: string | undefined;
  readonly backendProtocol: 'HTTP' | 'HTTPS';
  /** `ssl-redirect`: 308 to https for hosts with a TLS section. */
  readonly sslRedirect: boolean;
  /** `force-ssl-redirect`: 308 to https even without a TLS section. */
  readonly forceSslRedirect: boolean;
  /** `preserve-trailing-slash`: keep a trailing `/` in the https redirect (ingress-nginx strips it). */
  readonly preserveTrailingSlash: boolean;
  /** `hsts`: send Strict-Transport-Security on HTTPS responses. */
  readonly hsts: boolean;
  readonly cors: CorsPolicy | undefined;
  readonly access: AccessPolicy | undefined;
  readonly rateLimit: RateLimitPolicy | undefined;
  readonly basicAuth: BasicAuthPolicy | undefined;
  readonly externalAuth: ExternalAuthPolicy | undefined;
  /** `affinity: cookie`: a cookie pins the client to an endpoint, on every replica. */
  readonly affinity: CookieAffinity | undefined;
  /** `upstream-hash-by`: consistent hashing of this key over the endpoints. */
  readonly upstreamHash: RequestTemplate | undefined;
  /** `load-balance`: how endpoints are picked without affinity or hashing. */
  readonly loadBalance: 'round_robin' | 'ewma';
  /** `custom-headers`: response headers from a ConfigMap. */
  readonly customHeaders: { readonly configMap: string; readonly headers: Readonly<Record<string, string>> } | undefined;
  /** `proxy-request-buffering`: read a chunked body whole and send it with a Content-Length. */
  readonly requestBuffering: boolean;
  /** `custom-http-errors`: these statuses are answered by the error backend. */
  readonly customErrors: ReadonlySet<number> | undefined;
  /** `default-backend`, resolved: serves the custom errors, and requests when the backend has no ready endpoint. */
  readonly defaultBackend: Backend | undefined;
}

export interface CookieAffinity {
  readonly name: string;
  /** balanced: the cookie holds a key hashed over the endpoints (scaling moves a share of sessions); persistent: it names the endpoint. */
  readonly mode: 'balanced' | 'persistent';
  /** Undefined: the route's path (`/` for regex paths). */
  readonly path: string | undefined;
  readonly domain: string | undefined;
  readonly sameSite: 'None' | 'Lax' | 'Strict' | undefined;
  /** Leave out `SameSite=None` for clients known to mishandle it. */
  readonly conditionalSameSiteNone: boolean;
  /** Undefined: Secure on HTTPS requests only. */
  readonly secure: boolean | undefined;
  readonly expiresSeconds: number | undefined;
  readonly maxAgeSeconds: number | undefined;
  /** After a failed attempt, pin the client to the endpoint that answered instead. */
  readonly changeOnFailure: boolean;
  /** sticky: a client pinned to the canary (or the main backend) stays there; legacy: canary rules decide alone. */
  readonly canaryBehavior: 'sticky' | 'legacy';
}

/**
 * Text with nginx variables (`upstream-hash-by`, `auth-url`, `auth-signin`, `auth-cache-key`),
 * parsed into parts at build time: each variable becomes a typed lookup; nothing is evaluated.
 */
export interface RequestTemplate {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
}

export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'remote_addr' | 'request_uri' | 'escaped_request_uri' | 'uri' | 'host' | 'scheme' | 'args' | 'remote_user' }
  | { readonly kind: 'header' | 'cookie' | 'arg'; readonly name: string };

/**
 * Which backend a request of the route goes to: the route's own, or a canary Ingress's
 * backend for the requests its rules pick (ingress-nginx's alternative backend).
 */
export type BackendChoice =
  | { readonly kind: 'single' }
  /** HTTPRoute backendRefs: a backend by weight; an unresolved one (undefined) answers 500 for its share. */
  | { readonly kind: 'weighted'; readonly backends: readonly WeightedBackend[]; readonly total: number }
  | { readonly kind: 'canary'; readonly canary: Backend; readonly rules: CanaryRules; readonly ingress: string; readonly balancing: Balancing };

export interface WeightedBackend {
  readonly backend: Backend | undefined;
  readonly weight: number;
  /** The backendRef's own RequestHeaderModifier, applied after the rule's filters when it is drawn. */
  readonly requestHeaders?: GatewayHeaderChange | undefined;
}

/** How a backend's endpoints are picked: what a canary Ingress keeps of its own annotations (as ingress-nginx). */
export type Balancing = Pick<RouteOptions, 'affinity' | 'upstreamHash' | 'loadBalance'>;

/** `canary-by-header`, `-value`, `-pattern`, `canary-by-cookie`, `canary-weight(-total)`: tried in that order. */
export interface CanaryRules {
  /** Lower case. */
  readonly header: string | undefined;
  readonly headerValue: string | undefined;
  /** RE2, unanchored, as ingress-nginx's `ngx.re.match`. */
  readonly headerPattern: { readonly source: string; test(value: string): boolean } | undefined;
  readonly cookie: string | undefined;
  readonly weight: number;
  /** ingress-nginx honours a total only above 100. */
  readonly weightTotal: number;
}

export interface NextUpstreamPolicy {
  /** Retry on connection errors (refused, reset before a response). */
  readonly onError: boolean;
  readonly onTimeout: boolean;
  /** Upstream statuses that count as failures worth another endpoint (`http_502` …). */
  readonly onStatus: ReadonlySet<number>;
  /** Also retry POST, PATCH and LOCK after the request was sent. */
  readonly nonIdempotent: boolean;
  /** Total attempts including the first; 0 = as many as there are endpoints. */
  readonly tries: number;
}

/** `rewrite-target` split once at build time into literal text and capture-group references. */
export interface RewriteTemplate {
  readonly source: string;
  readonly parts: readonly (string | number)[];
}

export interface Backend {
  /** `namespace/service:port`: shared by every route pointing at the same Service port. */
  readonly id: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: string;
  readonly endpoints: readonly Endpoint[];
  /** Endpoints listed but not ready or terminating: never routed to, shown in /debug and the dashboard. */
  readonly unready: readonly Endpoint[];
  /** Service `sessionAffinity: ClientIP`: pin a client address for this long. */
  readonly affinityTimeoutMs: number | undefined;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  /** `address:port`, made once at build time: the key of pools, passive health and affinity pins. */
  readonly key: string;
  /** The pod name from the EndpointSlice targetRef, for logs and /debug. */
  readonly target: string | undefined;
}

export interface BuildResult {
  readonly table: RoutingTable;
  readonly diagnostics: readonly Diagnostic[];
}
