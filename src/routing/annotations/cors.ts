import type { CorsPolicy } from '../../table/steps.ts';
import type { AnnotationFamily } from './family.ts';
import { quote, splitList, type AnnotationReader } from './reader.ts';

// ingress-nginx's validators (annotations/cors/main.go) and defaults.
const ORIGIN = /^(https?:\/\/(\*\.)?[A-Za-z0-9\-.]*(:\d+)?|\*)$/;
const METHODS = /^([A-Za-z]+,?\s?)+$/;
const HEADERS = /^([A-Za-z0-9\-_]+,?\s?)+$/;
const EXPOSE_HEADERS = /^(([A-Za-z0-9\-_]+|\*),?\s?)+$/;
const DEFAULT_METHODS = 'GET, PUT, POST, DELETE, PATCH, OPTIONS';
const DEFAULT_HEADERS = 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization';
const DEFAULT_MAX_AGE = 1728000;

function headerList(read: AnnotationReader, name: string, format: RegExp, fallback: string): string {
  const a = read.get(name);
  if (!a) return fallback;
  if (a.value.length > 1000 || !format.test(a.value)) {
    read.invalid(a.key, `"${quote(a.value)}" is not a comma-separated list of ${name.endsWith('methods') ? 'methods' : 'header names'}`, fallback === '' ? 'none' : `"${fallback}"`);
    return fallback;
  }
  return a.value;
}

/**
 * `enable-cors` and `cors-*`. Origins: `*` (every response, any Origin), or a list of exact
 * origins and `https://*.example.com` one-label wildcards matched case-insensitively, the
 * matching Origin echoed. Every OPTIONS request with a matching origin is a preflight: 204.
 */
export const cors: AnnotationFamily = {
  name: 'cors',
  annotations: ['enable-cors', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-expose-headers', 'cors-allow-credentials', 'cors-max-age'],
  scope: 'route',
  parse(read) {
    if (!read.bool('enable-cors', false)) return { route: { cors: undefined } };
    const origins = new Set<string>();
    const wildcardOrigins: { scheme: string; suffix: string }[] = [];
    let anyOrigin = true;
    const originValue = read.get('cors-allow-origin');
    if (originValue) {
      const items = splitList(originValue.value);
      const bad = items.filter((o) => !ORIGIN.test(o));
      if (bad.length > 0) read.invalid(originValue.key, `${bad.map((o) => `"${quote(o)}"`).join(', ')} is not an origin like https://app.example.com or https://*.example.com`);
      const good = items.filter((o) => ORIGIN.test(o));
      if (good.length > 0 && !good.includes('*')) {
        anyOrigin = false;
        for (const origin of good.map((o) => o.toLowerCase())) {
          const star = origin.indexOf('://*.');
          if (star === -1) origins.add(origin);
          else wildcardOrigins.push({ scheme: origin.slice(0, star + 3), suffix: origin.slice(star + 4) });
        }
      }
    }
    const policy: CorsPolicy = {
      anyOrigin,
      origins,
      wildcardOrigins,
      allowMethods: headerList(read, 'cors-allow-methods', METHODS, DEFAULT_METHODS),
      allowHeaders: headerList(read, 'cors-allow-headers', HEADERS, DEFAULT_HEADERS),
      exposeHeaders: headerList(read, 'cors-expose-headers', EXPOSE_HEADERS, ''),
      allowCredentials: read.bool('cors-allow-credentials', true),
      maxAgeSeconds: read.wholeNumber('cors-max-age', DEFAULT_MAX_AGE),
    };
    return { route: { cors: policy } };
  },
  describe: (o) => ({
    cors: o.cors
      ? { ...o.cors, origins: o.cors.anyOrigin ? '*' : [...o.cors.origins, ...o.cors.wildcardOrigins.map((w) => `${w.scheme}*${w.suffix}`)], anyOrigin: undefined, wildcardOrigins: undefined }
      : null,
  }),
  step: (o) => o.cors && { kind: 'cors', policy: o.cors },
};
