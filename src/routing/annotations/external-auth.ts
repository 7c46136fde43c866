import type { ExternalAuthPolicy } from '../../table/steps.ts';
import type { RequestTemplate } from '../../table/types.ts';
import type { AnnotationFamily } from './family.ts';
import { MAX_URI_LENGTH, quote, splitList, type AnnotationReader } from './reader.ts';
import { parseRequestTemplate, TEMPLATE_VARIABLES } from './request-template.ts';

const HTTP_URL = /^https?:\/\/[^\s"'<>\\^`{|}]+$/;
const METHOD = /^[A-Z]{1,16}$/;
const HEADER = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const PARAM = /^[-_.~A-Za-z0-9]{1,64}$/;
const DURATION_PART = /(\d+)(ms|s|m|h|d)?/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DEFAULT_CACHE_DURATION = '200 202 401 5m';

/** A URL annotation with nginx variables; a problem fails the Ingress closed. */
function urlTemplate(read: AnnotationReader, name: string): RequestTemplate | undefined | null {
  const a = read.get(name);
  if (!a) return undefined;
  if (a.value.length > MAX_URI_LENGTH || !HTTP_URL.test(a.value)) {
    read.failClosed(a.key, `"${quote(a.value)}" is not an http(s) URL`);
    return null;
  }
  const parsed = parseRequestTemplate(a.value);
  if (typeof parsed === 'string') {
    read.failClosed(a.key, `the variable ${parsed} is not one Portico can fill in (${TEMPLATE_VARIABLES})`);
    return null;
  }
  if (parsed.parts.every((p) => p.kind === 'text') && URL.parse(a.value) === null) {
    read.failClosed(a.key, `"${quote(a.value)}" is not an http(s) URL`);
    return null;
  }
  return parsed;
}

/** `200 202 10m, 401 5m` (nginx's proxy_cache_valid): status → ms; `any` is stored as 0. */
export function parseCacheDurations(value: string): Map<number, number> | undefined {
  const out = new Map<number, number>();
  for (const group of splitList(value)) {
    const words = group.split(/\s+/);
    const time = words.pop()!;
    let ms = 0;
    let matched = '';
    for (const m of time.matchAll(DURATION_PART)) {
      ms += Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
      matched += m[0];
    }
    if (matched !== time || words.length === 0) return undefined;
    for (const word of words) {
      if (word === 'any') out.set(0, ms);
      else if (/^[1-5]\d\d$/.test(word)) out.set(Number(word), ms);
      else return undefined;
    }
  }
  return out;
}

/**
 * `auth-url` (nginx auth_request): each request is first sent, without its body, to the auth
 * service; 2xx lets it through, 401 and 403 are the answer (or 401 becomes a redirect to
 * `auth-signin`), anything else is 500. With `auth-method`, `auth-response-headers`,
 * `auth-request-redirect`, `auth-cache-key`/`-duration`, `auth-always-set-cookie`. An unusable
 * value fails closed. The keep-alive annotations are accepted: Portico always keeps connections
 * to the auth service alive.
 */
export const externalAuth: AnnotationFamily = {
  name: 'external-auth',
  annotations: ['auth-url', 'auth-method', 'auth-signin', 'auth-signin-redirect-param', 'auth-response-headers', 'auth-request-redirect',
    'auth-cache-key', 'auth-cache-duration', 'auth-always-set-cookie', 'enable-global-auth', 'auth-keepalive', 'auth-keepalive-share-vars',
    'auth-keepalive-requests', 'auth-keepalive-timeout'],
  scope: 'route',
  parse(read) {
    const url = urlTemplate(read, 'auth-url');
    // enable-global-auth (default true) only matters with a global-auth-url in the ConfigMap.
    read.bool('enable-global-auth', true);
    if (url === undefined) {
      for (const name of externalAuth.annotations.filter((n) => n !== 'auth-url' && n !== 'enable-global-auth')) {
        const orphan = read.get(name);
        if (orphan) read.failClosed(orphan.key, 'auth-url is not set, so there is no auth service to ask');
      }
      return { route: { externalAuth: undefined } };
    }
    const signin = urlTemplate(read, 'auth-signin');
    const method = read.get('auth-method');
    if (method && !METHOD.test(method.value)) read.failClosed(method.key, `"${quote(method.value)}" is not an HTTP method`);
    const headers = read.get('auth-response-headers');
    const responseHeaders = headers ? splitList(headers.value) : [];
    if (headers && responseHeaders.some((h) => !HEADER.test(h))) read.failClosed(headers.key, `"${quote(headers.value)}" is not a comma-separated list of header names`);
    let cacheKey: RequestTemplate | undefined;
    const key = read.get('auth-cache-key');
    if (key) {
      const parsed = parseRequestTemplate(key.value);
      // A key Portico cannot fill in would merge different clients' answers: no caching, and say so.
      if (typeof parsed === 'string') read.invalid(key.key, `the variable ${parsed} is not one Portico can fill in (${TEMPLATE_VARIABLES}); answers are not cached`);
      else cacheKey = parsed;
    }
    const durationValue = read.get('auth-cache-duration');
    let cacheDurations = parseCacheDurations(durationValue?.value ?? DEFAULT_CACHE_DURATION);
    if (!cacheDurations) {
      read.invalid(durationValue!.key, `"${quote(durationValue!.value)}" is not like "200 202 10m, 401 5m"`, `"${DEFAULT_CACHE_DURATION}"`);
      cacheDurations = parseCacheDurations(DEFAULT_CACHE_DURATION)!;
    }
    if (url === null || signin === null) return { route: { externalAuth: undefined } };
    const policy: ExternalAuthPolicy = {
      url,
      method: method?.value,
      signin,
      signinRedirectParam: read.matching('auth-signin-redirect-param', PARAM, 'a query parameter name', 64) ?? 'rd',
      responseHeaders: responseHeaders.map((h) => h.toLowerCase()),
      requestRedirect: read.matching('auth-request-redirect', /^[\x21-\x7e]+$/, 'a URL or path'),
      cacheKey,
      cacheDurations,
      alwaysSetCookie: read.bool('auth-always-set-cookie', false),
    };
    return { route: { externalAuth: policy } };
  },
  differences: Object.fromEntries(['auth-keepalive', 'auth-keepalive-share-vars', 'auth-keepalive-requests', 'auth-keepalive-timeout']
    .map((name) => [name, 'checked but without effect: Portico always keeps connections to the auth service alive'])),
  describe: (o) => ({
    externalAuth: o.externalAuth
      ? { url: o.externalAuth.url.source, method: o.externalAuth.method ?? null, signin: o.externalAuth.signin?.source ?? null, responseHeaders: o.externalAuth.responseHeaders, cacheKey: o.externalAuth.cacheKey?.source ?? null }
      : null,
  }),
  step: (o) => o.externalAuth && { kind: 'external-auth', policy: o.externalAuth },
};
