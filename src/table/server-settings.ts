import type { SecureVersion } from 'node:tls';
import type { AddressRanges } from './address-ranges.ts';
import type { LogField } from './log-fields.ts';

/**
 * Settings of the whole instance, from the controller ConfigMap over the flags' defaults
 * (ingress-nginx's `http` block): what the listeners and every request read. Part of the
 * table, so a ConfigMap change goes live with the swap like any other change.
 */
export interface ServerSettings {
  readonly clientAddress: ClientAddressPolicy;
  /** `use-proxy-protocol`: every connection starts with a PROXY protocol v1 or v2 header. */
  readonly proxyProtocol: boolean;
  /** `hsts`, `hsts-max-age`, `hsts-include-subdomains`, `hsts-preload`: the header value; undefined: no HSTS. */
  readonly hstsHeader: string | undefined;
  /** `server-tokens`: a `Server: portico` header on Portico's own answers and proxied responses; off by default. */
  readonly serverTokens: boolean;
  /** `generate-request-id`: make an X-Request-ID when the client sent none (off: none is made up). */
  readonly generateRequestId: boolean;
  /** `allow-backend-server-header`: pass the pod's `Server` header instead of removing it. */
  readonly backendServerHeader: boolean;
  /** `proxy-add-original-uri-header`: X-Original-URI with the request-target as received. */
  readonly originalUriHeader: boolean;
  /** `enable-underscores-in-headers`: forward headers whose name has `_` (nginx drops them). */
  readonly underscoresInHeaders: boolean;
  readonly listener: ListenerSettings;
  /** `client-body-timeout`: the longest pause while reading a request body, ms (→ 408). */
  readonly clientBodyTimeoutMs: number;
  readonly upstreamKeepalive: UpstreamKeepalive;
  /** `ssl-protocols`: the TLS versions offered to clients. */
  readonly tlsVersions: { readonly min: SecureVersion; readonly max: SecureVersion };
  /** `http-redirect-code`: the status of HTTP → HTTPS redirects. */
  readonly httpsRedirectCode: number;
  /** `log-format-upstream` as JSON: the JSON access log's fields; undefined: Portico's own. */
  readonly accessLogFields: readonly LogField[] | undefined;
}

/**
 * Who the client is (`use-forwarded-headers`, `enable-real-ip`, `forwarded-for-header`,
 * `proxy-real-ip-cidr`, `compute-full-forwarded-for`): nginx's realip module with
 * `real_ip_recursive on`. Headers count only when the connection comes from a trusted address.
 */
export interface ClientAddressPolicy {
  /** Take the client address from `realIpHeader` (enable-real-ip or use-forwarded-headers). */
  readonly realIp: boolean;
  /** Also trust X-Forwarded-Proto, -Host and -Port (use-forwarded-headers). */
  readonly forwardedHeaders: boolean;
  /** Lower case; `x-forwarded-for` by default. */
  readonly realIpHeader: string;
  readonly trusted: AddressRanges;
  /** X-Forwarded-For to the pod is the incoming list plus the peer, not just the client. */
  readonly fullForwardedFor: boolean;
}

/** The client listeners' limits (nginx's equivalents in brackets). */
export interface ListenerSettings {
  /** Request line and headers, bytes; larger: 431 (large_client_header_buffers). */
  readonly maxHeaderSize: number;
  /** Time to receive the request head, ms; slower: 408 (client_header_timeout; slow-loris). */
  readonly headersTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, ms; 0: no keep-alive (keepalive_timeout). */
  readonly keepAliveTimeoutMs: number;
  /** Requests per keep-alive connection; 0: unlimited (keepalive_requests). */
  readonly keepAliveRequests: number;
  /** Open client connections per listener; more are refused (worker_connections). */
  readonly maxConnections: number;
}

/** Connections to pods (`upstream-keepalive-connections`, `-timeout`, `-requests`). */
export interface UpstreamKeepalive {
  /** `upstream-keepalive-connections: 0` switches keep-alive to pods off. */
  readonly enabled: boolean;
  readonly idleTimeoutMs: number;
  /** Requests per connection before it is closed; 0: unlimited. */
  readonly maxRequests: number;
}
