import type { Diagnostic, ObjectRef } from '../diagnostics.ts';
import type { NextUpstreamPolicy, RewriteTemplate, RouteOptions } from '../table/types.ts';

/**
 * ingress-nginx compatible annotations, parsed once per Ingress into typed options.
 * Both `nginx.ingress.kubernetes.io/<name>` and `portico.dev/<name>` are read; ours wins.
 * An invalid value never takes a route down: the default applies and a diagnostic says why.
 */
export const NGINX_PREFIX = 'nginx.ingress.kubernetes.io/';
export const PORTICO_PREFIX = 'portico.dev/';

export interface IngressAnnotations {
  readonly options: RouteOptions;
  /** `use-regex` or a valid `rewrite-target`: the whole host switches to regex mode. */
  readonly regexMode: boolean;
  /** `service-upstream`: send to the Service's cluster IP instead of the pod endpoints. */
  readonly serviceUpstream: boolean;
  /** `app-root`: a host-level setting in ingress-nginx (`if ($uri = /)` in the server block). */
  readonly appRoot: string | undefined;
}

const SECOND = 1000;

export const DEFAULT_ROUTE_OPTIONS: RouteOptions = Object.freeze({
  denyReason: undefined,
  connectTimeoutMs: 5 * SECOND,
  sendTimeoutMs: 60 * SECOND,
  readTimeoutMs: 60 * SECOND,
  bodyLimit: 1024 * 1024,
  nextUpstream: Object.freeze({ onError: true, onTimeout: true, onStatus: new Set<number>(), nonIdempotent: false, tries: 3 }),
  rewrite: undefined,
  redirect: undefined,
  upstreamVhost: undefined,
  forwardedPrefix: undefined,
  backendProtocol: 'HTTP',
  sslRedirect: true,
  forceSslRedirect: false,
  preserveTrailingSlash: false,
  hsts: true,
});

/** Annotations we know from ingress-nginx but do not implement yet: said once, never silently ignored. */
const NOT_YET_SUPPORTED = new Set([
  'enable-cors', 'cors-allow-origin',
  'cors-allow-methods', 'cors-allow-headers', 'cors-allow-credentials', 'cors-max-age', 'cors-expose-headers',
  'affinity', 'affinity-mode', 'session-cookie-name', 'load-balance', 'upstream-hash-by', 'canary',
  'canary-by-header', 'canary-by-cookie', 'canary-weight', 'limit-rps', 'limit-rpm', 'limit-connections',
  'custom-http-errors', 'default-backend', 'server-alias', 'proxy-buffering',
  'proxy-request-buffering', 'proxy-buffer-size', 'client-body-buffer-size', 'proxy-http-version',
  'proxy-next-upstream-timeout', 'proxy-redirect-from', 'proxy-redirect-to', 'proxy-ssl-secret',
  'configuration-snippet', 'server-snippet', 'auth-snippet', 'stream-snippet',
]);

const SUPPORTED = new Set([
  'rewrite-target', 'use-regex', 'proxy-connect-timeout', 'proxy-send-timeout', 'proxy-read-timeout',
  'proxy-body-size', 'proxy-next-upstream', 'proxy-next-upstream-tries', 'app-root', 'permanent-redirect',
  'permanent-redirect-code', 'temporal-redirect', 'temporal-redirect-code', 'upstream-vhost',
  'x-forwarded-prefix', 'backend-protocol', 'service-upstream', 'ssl-redirect', 'force-ssl-redirect',
  'preserve-trailing-slash', 'hsts',
]);

/**
 * Annotations that guard access. Until Portico enforces one, or when its value is unusable, every
 * path of the Ingress answers 503: failing open would serve the backend unprotected.
 */
const ACCESS_GUARDS = new Set(['whitelist-source-range', 'allowlist-source-range', 'denylist-source-range']);
const isAccessGuard = (name: string): boolean => ACCESS_GUARDS.has(name) || name.startsWith('auth-');

// Formats from ingress-nginx's validators (parser/validators.go and each annotation's main.go).
const URI_TEMPLATE = /^\/?[-._~a-zA-Z0-9/:$]*$/;
const REDIRECT_URL = /^https?:\/\/[-._~a-zA-Z0-9/:,?&=]+$/;
const BODY_SIZE = /^(\d+)([kKmMgG]?)$/;
const WHOLE_NUMBER = /^\d{1,9}$/;
/** RFC 1123 labels (underscores tolerated, as ingress-nginx does) with an optional port. */
const HOST_AND_PORT = /^([A-Za-z0-9_](?:[-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)*)(?::(\d{1,5}))?$/;
const MAX_HOST_LENGTH = 253;
/** Paths and URLs longer than this could not be sent in a request line nginx or a pod would accept. */
const MAX_URI_LENGTH = 4096;
/** setTimeout's limit: 2^31−1 ms; a longer timer fires at once. */
const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
const NEXT_UPSTREAM_TOKEN = /^(error|timeout|invalid_header|http_(500|502|503|504|403|404|429)|non_idempotent|off)$/;
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

class AnnotationReader {
  readonly diagnostics: Diagnostic[] = [];
  private readonly annotations: Readonly<Record<string, string>>;
  private readonly ref: ObjectRef;

  constructor(annotations: Readonly<Record<string, string>>, ref: ObjectRef) {
    this.annotations = annotations;
    this.ref = ref;
  }

  /** The raw value under either prefix, or undefined; values with CR or LF are refused (CVE-2024-7646). */
  get(name: string): { key: string; value: string } | undefined {
    const key = PORTICO_PREFIX + name in this.annotations ? PORTICO_PREFIX + name : NGINX_PREFIX + name;
    const value = this.annotations[key];
    if (value === undefined) return undefined;
    if (/[\r\n]/.test(value)) {
      this.invalid(key, 'value contains a CR or LF character');
      return undefined;
    }
    return { key, value: value.trim() };
  }

  invalid(key: string, reason: string, fallback?: string): void {
    this.diagnostics.push({
      severity: 'Warning',
      code: 'InvalidAnnotation',
      object: this.ref,
      field: `metadata.annotations[${key}]`,
      message: fallback === undefined ? `${reason}; ignored` : `${reason}; using the default ${fallback}`,
    });
  }

  bool(name: string, fallback: boolean): boolean {
    const a = this.get(name);
    if (!a) return fallback;
    const parsed = parseGoBool(a.value);
    if (parsed === undefined) {
      this.invalid(a.key, `"${quote(a.value)}" is not a boolean`, String(fallback));
      return fallback;
    }
    return parsed;
  }

  seconds(name: string, fallbackMs: number): number {
    const a = this.get(name);
    if (!a) return fallbackMs;
    if (!WHOLE_NUMBER.test(a.value) || Number(a.value) === 0) {
      this.invalid(a.key, `"${quote(a.value)}" is not a positive whole number of seconds (write "120", not "120s")`, `${fallbackMs / SECOND}`);
      return fallbackMs;
    }
    if (Number(a.value) > MAX_TIMEOUT_SECONDS) {
      this.invalid(a.key, `${a.value} seconds is more than the ${MAX_TIMEOUT_SECONDS} a timer can hold`, `${fallbackMs / SECOND}`);
      return fallbackMs;
    }
    return Number(a.value) * SECOND;
  }

  matching(name: string, format: RegExp, what: string, maxLength = MAX_URI_LENGTH): string | undefined {
    const a = this.get(name);
    if (!a) return undefined;
    if (a.value.length > maxLength) {
      this.invalid(a.key, `the value is ${a.value.length} characters long, more than ${maxLength}`);
      return undefined;
    }
    if (!format.test(a.value)) {
      this.invalid(a.key, `"${quote(a.value)}" is not ${what}`);
      return undefined;
    }
    return a.value;
  }
}

/** A value as a diagnostic quotes it: long values are cut, so a message stays one readable line. */
function quote(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value;
}

/** Go's strconv.ParseBool, which ingress-nginx uses. */
function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/** Bytes for `N`, `Nk`, `Nm`, `Ng`; Infinity for 0 (unlimited); undefined when malformed or too large to count exactly. */
export function parseBodySize(value: string): number | undefined {
  const m = BODY_SIZE.exec(value.replace(/\s+/g, ''));
  if (!m) return undefined;
  const bytes = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) return undefined;
  return bytes === 0 ? Infinity : bytes;
}

export function compileRewriteTemplate(target: string): RewriteTemplate {
  const parts: (string | number)[] = [];
  const re = /\$(\d)/g;
  let last = 0;
  for (let m = re.exec(target); m; m = re.exec(target)) {
    if (m.index > last) parts.push(target.slice(last, m.index));
    parts.push(Number(m[1]));
    last = m.index + m[0].length;
  }
  if (last < target.length) parts.push(target.slice(last));
  return { source: target, parts };
}

function parseNextUpstream(reader: AnnotationReader): NextUpstreamPolicy {
  const fallback = DEFAULT_ROUTE_OPTIONS.nextUpstream;
  let tries = fallback.tries;
  const triesValue = reader.get('proxy-next-upstream-tries');
  if (triesValue) {
    if (WHOLE_NUMBER.test(triesValue.value)) tries = Number(triesValue.value);
    else reader.invalid(triesValue.key, `"${quote(triesValue.value)}" is not a whole number`, String(fallback.tries));
  }
  const a = reader.get('proxy-next-upstream');
  if (!a) return tries === fallback.tries ? fallback : { ...fallback, tries };
  const tokens = a.value.split(/\s+/).filter(Boolean);
  const bad = tokens.find((t) => !NEXT_UPSTREAM_TOKEN.test(t));
  if (bad !== undefined || tokens.length === 0) {
    reader.invalid(a.key, `"${quote(bad ?? a.value)}" is not one of error, timeout, invalid_header, http_5xx/403/404/429, non_idempotent, off`, '"error timeout"');
    return { ...fallback, tries };
  }
  if (tokens.includes('off')) return { onError: false, onTimeout: false, onStatus: new Set(), nonIdempotent: false, tries: 1 };
  return {
    onError: tokens.includes('error') || tokens.includes('invalid_header'),
    onTimeout: tokens.includes('timeout'),
    onStatus: new Set(tokens.filter((t) => t.startsWith('http_')).map((t) => Number(t.slice(5)))),
    nonIdempotent: tokens.includes('non_idempotent'),
    tries,
  };
}

function parseRedirect(reader: AnnotationReader): RouteOptions['redirect'] {
  // temporal-redirect wins over permanent-redirect, as in ingress-nginx.
  for (const [name, fallbackCode, maxCode] of [['temporal-redirect', 302, 307], ['permanent-redirect', 301, 308]] as const) {
    const url = reader.matching(name, REDIRECT_URL, 'an http(s) URL made of URL-safe characters');
    if (url === undefined) continue;
    let code: number = fallbackCode;
    const c = reader.get(`${name}-code`);
    if (c) {
      const n = Number(c.value);
      if (WHOLE_NUMBER.test(c.value) && n >= 300 && n <= maxCode) code = n;
      else reader.invalid(c.key, `"${quote(c.value)}" is not a redirect code between 300 and ${maxCode}`, String(fallbackCode));
    }
    return { url, code };
  }
  return undefined;
}

/** `upstream-vhost`: a host name (≤ 253 characters, labels ≤ 63) with an optional port 1–65535. */
function parseUpstreamVhost(reader: AnnotationReader): string | undefined {
  const value = reader.matching('upstream-vhost', HOST_AND_PORT, 'a host name with an optional port', MAX_HOST_LENGTH + 6);
  if (value === undefined) return undefined;
  const [, host, port] = HOST_AND_PORT.exec(value)!;
  if (host!.length > MAX_HOST_LENGTH || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    reader.invalid(reader.get('upstream-vhost')!.key, `"${quote(value)}" is not a host name of at most ${MAX_HOST_LENGTH} characters with a port between 1 and 65535`);
    return undefined;
  }
  return value;
}

/** Parses every annotation Portico understands on one Ingress. Pure: the same input gives the same output. */
export function parseIngressAnnotations(annotations: Readonly<Record<string, string>> | undefined, ref: ObjectRef): IngressAnnotations & { diagnostics: Diagnostic[] } {
  const reader = new AnnotationReader(annotations ?? {}, ref);
  const d = DEFAULT_ROUTE_OPTIONS;

  const unenforced: string[] = [];
  for (const key of Object.keys(annotations ?? {})) {
    const prefix = key.startsWith(NGINX_PREFIX) ? NGINX_PREFIX : key.startsWith(PORTICO_PREFIX) ? PORTICO_PREFIX : undefined;
    if (!prefix) continue;
    const name = key.slice(prefix.length);
    if (SUPPORTED.has(name)) continue;
    if (prefix === PORTICO_PREFIX && name.startsWith('acme')) continue;
    const guard = isAccessGuard(name);
    if (guard) unenforced.push(key);
    reader.diagnostics.push({
      severity: 'Warning',
      code: 'UnsupportedAnnotation',
      object: ref,
      field: `metadata.annotations[${key}]`,
      message: guard
        ? 'guards access and is not supported by Portico yet: every path of this Ingress answers 503 until it is (fail closed)'
        : NOT_YET_SUPPORTED.has(name) ? 'not supported by Portico yet; ignored' : 'unknown annotation; ignored',
    });
  }

  const bodySize = reader.get('proxy-body-size');
  let bodyLimit = d.bodyLimit;
  if (bodySize) {
    const parsed = parseBodySize(bodySize.value);
    if (parsed === undefined) reader.invalid(bodySize.key, `"${quote(bodySize.value)}" is not a size like 8m, 512k or 0 (unlimited)`, '1m');
    else bodyLimit = parsed;
  }

  const rewriteTarget = reader.matching('rewrite-target', URI_TEMPLATE, 'a path made of letters, digits, "-._~/:" and $1…$9');
  const forwardedPrefix = reader.matching('x-forwarded-prefix', URI_TEMPLATE, 'a path');
  let appRoot = reader.matching('app-root', URI_TEMPLATE, 'a path');
  if (appRoot !== undefined && !appRoot.startsWith('/')) {
    reader.invalid(reader.get('app-root')!.key, `"${quote(appRoot)}" must start with /`);
    appRoot = undefined;
  }

  let backendProtocol: RouteOptions['backendProtocol'] = d.backendProtocol;
  const protocol = reader.get('backend-protocol');
  if (protocol) {
    const upper = protocol.value.toUpperCase();
    if (upper === 'HTTP' || upper === 'HTTPS') backendProtocol = upper;
    else reader.invalid(protocol.key, `"${quote(protocol.value)}" is not HTTP or HTTPS (GRPC, GRPCS, FCGI and AUTO_HTTP are not supported)`, 'HTTP');
  }

  const useRegex = reader.bool('use-regex', false);
  const options: RouteOptions = {
    denyReason: unenforced.length === 0 ? undefined : `access-guarding annotation not enforced: ${unenforced.join(', ')}`,
    connectTimeoutMs: reader.seconds('proxy-connect-timeout', d.connectTimeoutMs),
    sendTimeoutMs: reader.seconds('proxy-send-timeout', d.sendTimeoutMs),
    readTimeoutMs: reader.seconds('proxy-read-timeout', d.readTimeoutMs),
    bodyLimit,
    nextUpstream: parseNextUpstream(reader),
    rewrite: rewriteTarget === undefined ? undefined : compileRewriteTemplate(rewriteTarget),
    redirect: parseRedirect(reader),
    upstreamVhost: parseUpstreamVhost(reader),
    forwardedPrefix,
    backendProtocol,
    sslRedirect: reader.bool('ssl-redirect', d.sslRedirect),
    forceSslRedirect: reader.bool('force-ssl-redirect', d.forceSslRedirect),
    preserveTrailingSlash: reader.bool('preserve-trailing-slash', d.preserveTrailingSlash),
    hsts: reader.bool('hsts', d.hsts),
  };
  return {
    options,
    regexMode: useRegex || rewriteTarget !== undefined,
    serviceUpstream: reader.bool('service-upstream', false),
    appRoot,
    diagnostics: reader.diagnostics,
  };
}
