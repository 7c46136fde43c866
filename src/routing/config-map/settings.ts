import type { SecureVersion } from 'node:tls';
import { parseAddressRanges, type AddressRanges } from '../../table/address-ranges.ts';
import { LOG_VARIABLES, type LogField, type LogVariable } from '../../table/log-fields.ts';
import type { ServerSettings } from '../../table/server-settings.ts';
import { parseBodySize } from '../annotations/body.ts';
import { MAX_TIMEOUT_SECONDS, parseGoBool, quote, SECOND, WHOLE_NUMBER } from '../annotations/reader.ts';

/** Writable while a ConfigMap is read; parsed address ranges stay as they are. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] extends AddressRanges ? T[K] : T[K] extends object ? Mutable<T[K]> : T[K] };

/** What the ConfigMap's instance-wide keys set: the server settings plus defaults build hands to families. */
export interface InstanceSettings {
  readonly server: ServerSettings;
  /** `limit-req-status-code`, `limit-conn-status-code` (ingress-nginx: 503). */
  readonly limitReqStatus: number;
  readonly limitConnStatus: number;
}

export type SettingsDraft = Mutable<InstanceSettings>;

/**
 * One instance-wide ConfigMap key: `read` applies a value to the draft, or says why it cannot
 * (the key then keeps its previous value, or the default the first time).
 */
export interface SettingKey {
  read(value: string, into: SettingsDraft): string | undefined;
}

/** A problem with a value, in words; anything else is the parsed value. */
type Parse<T> = (value: string) => T | Problem;
class Problem {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** A key whose value is parsed by `parse` and then applied; the parse's problem keeps the previous value. */
const parsed = <T>(parse: Parse<T>, apply: (into: SettingsDraft, parsedValue: T) => void): SettingKey => ({
  read(value, into) {
    const result = parse(value);
    if (result instanceof Problem) return result.text;
    apply(into, result);
    return undefined;
  },
});

const goBool: Parse<boolean> = (value) => parseGoBool(value) ?? new Problem(`"${quote(value)}" is not a boolean`);
const wholeIn = (min: number, max: number): Parse<number> => (value) =>
  WHOLE_NUMBER.test(value) && Number(value) >= min && Number(value) <= max ? Number(value) : new Problem(`"${quote(value)}" is not a whole number between ${min} and ${max}`);
/** ingress-nginx's int seconds (`60`); nginx's own `60s` is accepted too, as its docs show both. As ms. */
const secondsFrom = (min: number): Parse<number> => (value) => {
  const m = /^(\d{1,9})s?$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  return n >= min && n <= MAX_TIMEOUT_SECONDS ? n * SECOND : new Problem(`"${quote(value)}" is not a whole number of seconds between ${min} and ${MAX_TIMEOUT_SECONDS}`);
};
/** Adapts the shared parsers that return their problem as a string (address ranges, log formats). */
const orText = <T>(parse: (value: string) => T | string): Parse<T> => (value) => {
  const result = parse(value);
  return typeof result === 'string' ? new Problem(result) : result;
};

const bool = (apply: (into: SettingsDraft, on: boolean) => void): SettingKey => parsed(goBool, apply);
const whole = (min: number, max: number, apply: (into: SettingsDraft, n: number) => void): SettingKey => parsed(wholeIn(min, max), apply);
const seconds = (min: number, apply: (into: SettingsDraft, ms: number) => void): SettingKey => parsed(secondsFrom(min), apply);

const status = (apply: (into: SettingsDraft, code: number) => void): SettingKey => whole(200, 599, apply);

/** `large-client-header-buffers: "4 8k"`: the whole request head may take number × size bytes. */
const headerBuffers: Parse<number> = (value) => {
  const m = /^(\d{1,3})\s+(\d+[kKmM]?)$/.exec(value);
  const size = m ? parseBodySize(m[2]!) : undefined;
  if (!m || size === undefined || !Number.isFinite(size) || Number(m[1]) === 0) return new Problem(`"${quote(value)}" is not like "4 8k" (number and size of buffers)`);
  const total = Number(m[1]) * size;
  return total > 2 ** 30 ? new Problem(`${value} is more than 1 GiB of headers`) : total;
};

const TLS_VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** ingress-nginx's default `log-format-upstream` (upstreaminfo), what `--access-log nginx` writes. */
const UPSTREAMINFO = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id';

/**
 * `log-format-upstream`: a JSON object of `"name": "$variable"` pairs gives the JSON access log
 * its fields; the default upstreaminfo text is what `--access-log nginx` writes. Any other text
 * template is refused: Portico evaluates no templates.
 */
export function parseLogFormat(value: string): readonly LogField[] | undefined | string {
  const text = value.trim();
  if (text.replace(/\s+/g, ' ') === UPSTREAMINFO) return undefined;
  if (!text.startsWith('{')) return 'a text format is not evaluated by Portico: --access-log nginx writes ingress-nginx\'s default upstreaminfo line, --access-log json takes a JSON object of "name": "$variable" pairs';
  const pair = /^\s*"([A-Za-z0-9_.@-]{1,64})"\s*:\s*(?:"\$([a-z0-9_]+)"|\$([a-z0-9_]+))\s*(,|$)/;
  let rest = text.slice(1, text.endsWith('}') ? -1 : undefined);
  if (!text.endsWith('}')) return 'the JSON object is not closed with }';
  const fields: LogField[] = [];
  while (rest.trim() !== '') {
    const m = pair.exec(rest);
    if (!m) return `"${quote(rest.trim())}" is not a "name": "$variable" pair`;
    const variable = m[2] ?? m[3]!;
    if (!(LOG_VARIABLES as readonly string[]).includes(variable)) return `$${variable} is not a variable Portico can log (${LOG_VARIABLES.join(', ')})`;
    fields.push({ name: m[1]!, variable: variable as LogVariable });
    rest = rest.slice(m[0].length);
  }
  return fields.length > 0 ? fields : 'the JSON object has no fields';
}

/** Rebuilds the HSTS header from its four keys (nginx.tmpl's `add_header Strict-Transport-Security`). */
export function hstsHeader(hsts: { enabled: boolean; maxAge: number; includeSubdomains: boolean; preload: boolean }): string | undefined {
  if (!hsts.enabled) return undefined;
  return `max-age=${hsts.maxAge}${hsts.includeSubdomains ? '; includeSubDomains' : ''}${hsts.preload ? '; preload' : ''}`;
}

/** The HSTS keys are kept apart while reading, then folded into `server.hstsHeader`. */
export interface HstsDraft { enabled: boolean; maxAge: number; includeSubdomains: boolean; preload: boolean }
export const HSTS_DRAFT = Symbol('hsts');
export type DraftWithHsts = SettingsDraft & { [HSTS_DRAFT]: HstsDraft };

const hstsOf = (into: SettingsDraft): HstsDraft => (into as DraftWithHsts)[HSTS_DRAFT];
const hstsFlag = (field: 'enabled' | 'includeSubdomains' | 'preload'): SettingKey => bool((into, on) => { hstsOf(into)[field] = on; });

/** `ssl-protocols: "TLSv1.2 TLSv1.3"`: the lowest and highest listed version. */
const tlsVersions: Parse<{ min: SecureVersion; max: SecureVersion }> = (value) => {
  const listed = value.split(/\s+/).filter(Boolean);
  const unknown = listed.find((v) => !TLS_VERSIONS.includes(v as SecureVersion));
  if (unknown === 'SSLv2' || unknown === 'SSLv3') return new Problem(`${unknown} is not offered by Portico (broken protocol)`);
  if (unknown !== undefined || listed.length === 0) return new Problem(`"${quote(value)}" is not a list of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3`);
  const indexes = listed.map((v) => TLS_VERSIONS.indexOf(v as SecureVersion));
  return { min: TLS_VERSIONS[Math.min(...indexes)]!, max: TLS_VERSIONS[Math.max(...indexes)]! };
};

/**
 * The instance-wide keys Portico implements, by ConfigMap key. Keys that set an annotation's
 * default (`proxy-body-size`, …) are not here: they are validated by the annotation families.
 */
export const SETTING_KEYS: Readonly<Record<string, SettingKey>> = {
  'use-forwarded-headers': bool((s, on) => { s.server.clientAddress.forwardedHeaders = on; }),
  'enable-real-ip': bool((s, on) => { s.server.clientAddress.realIp = on; }),
  'forwarded-for-header': parsed((value) => (/^[A-Za-z0-9-]{1,64}$/.test(value) ? value.toLowerCase() : new Problem(`"${quote(value)}" is not a header name`)),
    (s, header) => { s.server.clientAddress.realIpHeader = header; }),
  'compute-full-forwarded-for': bool((s, on) => { s.server.clientAddress.fullForwardedFor = on; }),
  'proxy-real-ip-cidr': parsed(orText(parseAddressRanges), (s, ranges) => { s.server.clientAddress.trusted = ranges; }),
  'use-proxy-protocol': bool((s, on) => { s.server.proxyProtocol = on; }),
  'hsts': hstsFlag('enabled'),
  'hsts-max-age': parsed((value) => (/^\d{1,10}$/.test(value) ? Number(value) : new Problem(`"${quote(value)}" is not a whole number of seconds`)),
    (s, maxAge) => { hstsOf(s).maxAge = maxAge; }),
  'hsts-include-subdomains': hstsFlag('includeSubdomains'),
  'hsts-preload': hstsFlag('preload'),
  'ssl-protocols': parsed(tlsVersions, (s, versions) => { s.server.tlsVersions = versions; }),
  'keep-alive': seconds(0, (s, ms) => { s.server.listener.keepAliveTimeoutMs = ms; }),
  'keep-alive-requests': whole(0, 999_999_999, (s, n) => { s.server.listener.keepAliveRequests = n; }),
  'client-header-timeout': seconds(1, (s, ms) => { s.server.listener.headersTimeoutMs = ms; }),
  'client-body-timeout': seconds(1, (s, ms) => { s.server.clientBodyTimeoutMs = ms; }),
  'large-client-header-buffers': parsed(headerBuffers, (s, total) => { s.server.listener.maxHeaderSize = total; }),
  'max-worker-connections': whole(1, 2 ** 31 - 1, (s, n) => { s.server.listener.maxConnections = n; }),
  'upstream-keepalive-connections': whole(0, 999_999_999, (s, n) => { s.server.upstreamKeepalive.enabled = n > 0; }),
  'upstream-keepalive-timeout': seconds(1, (s, ms) => { s.server.upstreamKeepalive.idleTimeoutMs = ms; }),
  'upstream-keepalive-requests': whole(0, 999_999_999, (s, n) => { s.server.upstreamKeepalive.maxRequests = n; }),
  'server-tokens': bool((s, on) => { s.server.serverTokens = on; }),
  'generate-request-id': bool((s, on) => { s.server.generateRequestId = on; }),
  'allow-backend-server-header': bool((s, on) => { s.server.backendServerHeader = on; }),
  'proxy-add-original-uri-header': bool((s, on) => { s.server.originalUriHeader = on; }),
  'enable-underscores-in-headers': bool((s, on) => { s.server.underscoresInHeaders = on; }),
  'http-redirect-code': parsed((value) => (['301', '302', '307', '308'].includes(value) ? Number(value) : new Problem(`"${quote(value)}" is not one of 301, 302, 307, 308`)),
    (s, code) => { s.server.httpsRedirectCode = code; }),
  'log-format-upstream': parsed(orText(parseLogFormat), (s, fields) => { s.server.accessLogFields = fields; }),
  'limit-req-status-code': status((s, code) => { s.limitReqStatus = code; }),
  'limit-conn-status-code': status((s, code) => { s.limitConnStatus = code; }),
};

/**
 * Keys Portico accepts when their value means what Portico does anyway, and warns about
 * otherwise: the message says what Portico does instead.
 */
export const SAME_AS_PORTICO: Readonly<Record<string, { readonly value: (v: string) => boolean; readonly otherwise: string }>> = {
  'allow-snippet-annotations': { value: (v) => parseGoBool(v) === false, otherwise: 'Portico never runs snippets: *-snippet annotations stay refused' },
  'use-http2': { value: (v) => parseGoBool(v) === false, otherwise: 'Portico serves HTTP/1.1 only for now; clients that offer HTTP/2 use HTTP/1.1' },
  'no-tls-redirect-locations': { value: (v) => v.trim() === '/.well-known/acme-challenge', otherwise: 'only ACME HTTP-01 challenges are exempt from the HTTPS redirect in Portico' },
  'no-auth-locations': { value: (v) => v.trim() === '/.well-known/acme-challenge', otherwise: 'only ACME HTTP-01 challenges are exempt from global auth in Portico' },
  'ignore-invalid-headers': { value: (v) => parseGoBool(v) === true, otherwise: 'Portico always refuses requests with invalid header names (400)' },
  'reuse-port': { value: () => true, otherwise: '' },
  'annotations-risk-level': { value: () => true, otherwise: '' },
  'strict-validate-path-type': { value: (v) => parseGoBool(v) === true, otherwise: 'Portico always validates paths strictly' },
};

/** Built-in defaults of the instance-wide settings, before flags and the ConfigMap. */
export function defaultInstanceSettings(server: ServerSettings): InstanceSettings {
  return { server, limitReqStatus: 503, limitConnStatus: 503 };
}

/** ingress-nginx's value of every ServerSettings field (the flags may change some first). */
export const INGRESS_NGINX_SERVER_SETTINGS: ServerSettings = {
  clientAddress: { realIp: false, forwardedHeaders: false, realIpHeader: 'x-forwarded-for', trusted: parseAddressRanges('0.0.0.0/0') as AddressRanges, fullForwardedFor: false },
  proxyProtocol: false,
  hstsHeader: 'max-age=31536000; includeSubDomains',
  serverTokens: false,
  generateRequestId: true,
  backendServerHeader: false,
  originalUriHeader: false,
  underscoresInHeaders: false,
  listener: { maxHeaderSize: 16 * 1024, headersTimeoutMs: 60_000, keepAliveTimeoutMs: 75_000, keepAliveRequests: 1000, maxConnections: 16_384 },
  clientBodyTimeoutMs: 60_000,
  upstreamKeepalive: { enabled: true, idleTimeoutMs: 60_000, maxRequests: 10_000 },
  tlsVersions: { min: 'TLSv1.2', max: 'TLSv1.3' },
  httpsRedirectCode: 308,
  accessLogFields: undefined,
};
