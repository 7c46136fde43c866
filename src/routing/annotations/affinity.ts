import type { CookieAffinity } from '../../table/types.ts';
import type { AnnotationFamily } from './family.ts';
import { quote, type AnnotationReader } from './reader.ts';

const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]{0,1023}$/;
const COOKIE_DOMAIN = /^\.?[A-Za-z0-9](?:[-A-Za-z0-9.]{0,251}[A-Za-z0-9])?$/;
/** ingress-nginx's validator for expires and max-age. */
const SECONDS = /^(0|-?[1-9]\d{0,9})$/;

function seconds(read: AnnotationReader, name: string): number | undefined {
  const a = read.get(name);
  if (!a) return undefined;
  if (!SECONDS.test(a.value)) {
    read.invalid(a.key, `"${quote(a.value)}" is not a number of seconds`);
    return undefined;
  }
  return Number(a.value);
}

function optionalBool(read: AnnotationReader, name: string): boolean | undefined {
  return read.has(name) ? read.bool(name, false) : undefined;
}

/**
 * `affinity: cookie` and `session-cookie-*`, `affinity-mode`, `affinity-canary-behavior`. The
 * cookie (default `INGRESSCOOKIE`, HttpOnly) is derived from the endpoint set, never from process
 * memory, so every replica and worker pins a client to the same endpoint.
 */
export const affinity: AnnotationFamily = {
  name: 'affinity',
  annotations: ['affinity', 'affinity-mode', 'affinity-canary-behavior', 'session-cookie-name', 'session-cookie-path', 'session-cookie-domain',
    'session-cookie-samesite', 'session-cookie-conditional-samesite-none', 'session-cookie-secure', 'session-cookie-expires',
    'session-cookie-max-age', 'session-cookie-change-on-failure'],
  scope: 'backend',
  parse(read) {
    const type = read.get('affinity');
    if (!type) return { route: { affinity: undefined } };
    if (type.value !== 'cookie') {
      read.invalid(type.key, `"${quote(type.value)}" is not cookie, the only affinity type`);
      return { route: { affinity: undefined } };
    }
    const policy: CookieAffinity = {
      name: read.matching('session-cookie-name', COOKIE_NAME, 'a cookie name', 256) ?? 'INGRESSCOOKIE',
      mode: read.oneOf('affinity-mode', ['balanced', 'persistent'] as const, 'balanced'),
      path: read.matching('session-cookie-path', COOKIE_PATH, 'a path without ";" or spaces', 1024),
      domain: read.matching('session-cookie-domain', COOKIE_DOMAIN, 'a domain', 253),
      sameSite: read.has('session-cookie-samesite') ? read.oneOf('session-cookie-samesite', ['None', 'Lax', 'Strict'] as const, 'Lax') : undefined,
      conditionalSameSiteNone: read.bool('session-cookie-conditional-samesite-none', false),
      secure: optionalBool(read, 'session-cookie-secure'),
      expiresSeconds: seconds(read, 'session-cookie-expires'),
      maxAgeSeconds: seconds(read, 'session-cookie-max-age'),
      changeOnFailure: read.bool('session-cookie-change-on-failure', false),
      canaryBehavior: read.oneOf('affinity-canary-behavior', ['sticky', 'legacy'] as const, 'sticky'),
    };
    return { route: { affinity: policy } };
  },
  describe: (o) => ({ affinity: o.affinity ?? null }),
};
