// One build fixture per annotation family: a valid use, a defaulted one and an invalid one with its diagnostic.
import { describe, expect, it } from 'vitest';
import type { Route } from '../../src/table/types.ts';
import { buildFixture } from '../helpers/build-fixture.ts';

type Result = ReturnType<typeof buildFixture>;
const routeAt = (r: Result, host: string): Route => r.table.exactHosts.get(host)!.prefix.get('/')!;
const steps = (r: Result, host: string) => routeAt(r, host).steps.map((s) => s.kind);
const problems = (r: Result) => r.diagnostics.map((d) => `${d.code} ${d.object.name} ${d.field ?? ''}`.trim());

describe('access family', () => {
  const r = buildFixture('annotations-access');
  it('parses IPv4, IPv6 and single addresses into networks', () => {
    const access = routeAt(r, 'valid.example.com').options.access!;
    expect(access.allow!.text).toEqual(['10.0.0.0/8', '192.168.1.7/32', '2001:db8::/32']);
    expect(access.deny!.text).toEqual(['10.1.0.0/16']);
    expect(steps(r, 'valid.example.com')).toEqual(['https-redirect', 'access', 'body-limit']);
    expect(routeAt(r, 'deny.example.com').options.access).toMatchObject({ allow: undefined, deny: { text: ['203.0.113.0/24'] } });
  });
  it('fails closed on a list it cannot read', () => {
    expect(steps(r, 'invalid.example.com')).toEqual(['deny']);
    expect(problems(r)).toEqual(['InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/whitelist-source-range]']);
    expect(r.diagnostics[0]!.message).toContain('"0x7f.1" is not an IPv4 or IPv6 address');
  });
});

describe('cors family', () => {
  const r = buildFixture('annotations-cors');
  it('reads origins, methods, credentials and max-age', () => {
    expect(routeAt(r, 'valid.example.com').options.cors).toMatchObject({
      anyOrigin: false, origins: new Set(['https://app.example.com']), wildcardOrigins: [{ scheme: 'https://', suffix: '.example.org' }],
      allowMethods: 'GET, POST', allowCredentials: false, maxAgeSeconds: 60,
    });
    expect(steps(r, 'valid.example.com')[0]).toBe('cors');
  });
  it('gives ingress-nginx’s defaults', () => {
    expect(routeAt(r, 'defaulted.example.com').options.cors).toMatchObject({
      anyOrigin: true, allowMethods: 'GET, PUT, POST, DELETE, PATCH, OPTIONS', allowCredentials: true, maxAgeSeconds: 1728000, exposeHeaders: '',
      allowHeaders: 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
    });
  });
  it('does nothing without enable-cors, and keeps the defaults for values it cannot use', () => {
    expect(routeAt(r, 'disabled.example.com').options.cors).toBeUndefined();
    expect(routeAt(r, 'invalid.example.com').options.cors).toMatchObject({ anyOrigin: true, maxAgeSeconds: 1728000 });
    expect(problems(r)).toEqual([
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/cors-allow-origin]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/cors-allow-headers]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/cors-max-age]',
    ]);
  });
});

describe('rate-limit family', () => {
  const r = buildFixture('annotations-rate-limit');
  it('reads the limits into one zone per Ingress', () => {
    expect(routeAt(r, 'valid.example.com').options.rateLimit).toMatchObject({
      zone: 'default/valid', requestsPerSecond: 10, requestsPerMinute: 300, connections: 4, burstMultiplier: 2, exempt: { text: ['10.0.0.0/8'] }, requestStatus: 503, connectionStatus: 503,
    });
    expect(routeAt(r, 'defaulted.example.com').options.rateLimit).toMatchObject({ requestsPerSecond: 5, requestsPerMinute: undefined, burstMultiplier: 5, exempt: undefined });
  });
  it('keeps the usable limits when one value is not', () => {
    expect(routeAt(r, 'invalid.example.com').options.rateLimit).toMatchObject({ requestsPerSecond: undefined, requestsPerMinute: 60, exempt: undefined });
    expect(problems(r)).toEqual([
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/limit-rps]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/limit-whitelist]',
    ]);
  });
});

describe('basic-auth family', () => {
  const r = buildFixture('annotations-basic-auth');
  it('reads htpasswd files and auth-map Secrets, with the realm', () => {
    const auth = routeAt(r, 'valid.example.com').options.basicAuth!;
    expect([...auth.users.keys()]).toEqual(['alice', 'bob']);
    expect(auth.users.get('bob')!.scheme).toBe('apr1');
    expect(auth.challenge).toBe('Basic realm="Authentication Required"');
    expect(routeAt(r, 'map.example.com').options.basicAuth!.users.get('dave')).toEqual({ scheme: 'sha1', hash: 'lKsjh5LDiBR3NhWqPUFUPO8CGyk=' });
  });
  it('fails closed when the Secret is missing, for digest and for an auth-secret without auth-type', () => {
    for (const host of ['missing', 'digest', 'orphan']) expect(steps(r, `${host}.example.com`)).toEqual(['deny']);
    expect(problems(r)).toEqual([
      'InvalidAnnotation digest metadata.annotations[nginx.ingress.kubernetes.io/auth-type]',
      'InvalidAnnotation missing metadata.annotations[nginx.ingress.kubernetes.io/auth-secret]',
      'InvalidAnnotation orphan metadata.annotations[nginx.ingress.kubernetes.io/auth-secret]',
      'InvalidAuthSecret htpasswd data[auth] line 3',
    ]);
    expect(r.diagnostics[1]!.message).toBe('Secret default/nope not found; every path of this Ingress answers 503 until it is fixed (fail closed)');
  });
});

describe('snippets', () => {
  const r = buildFixture('annotations-snippets');
  it('are refused with ingress-nginx’s message while the rest of the Ingress serves', () => {
    expect(problems(r)).toEqual([
      'RefusedSnippet snippets metadata.annotations[nginx.ingress.kubernetes.io/configuration-snippet]',
      'RefusedSnippet snippets metadata.annotations[nginx.ingress.kubernetes.io/server-snippet]',
    ]);
    expect(r.diagnostics[0]!.message).toBe('nginx.ingress.kubernetes.io/configuration-snippet annotation cannot be used. Snippet directives are disabled by the Ingress administrator');
    expect(routeAt(r, 'snippets.example.com').options.readTimeoutMs).toBe(30_000);
    expect(steps(r, 'snippets.example.com')).not.toContain('deny');
  });
});

describe('canary family', () => {
  const r = buildFixture('annotations-canary');
  const route = routeAt(r, 'app.example.com');
  it('makes the canary an alternative backend of the main path, with its rules', () => {
    expect(route.backend.id).toBe('default/svc-a:80');
    expect(route.ingress).toBe('default/main');
    expect(route.choice).toMatchObject({ kind: 'canary', ingress: 'default/canary', canary: { id: 'default/svc-b:80' }, rules: { header: 'x-canary', cookie: 'canary', weight: 300, weightTotal: 1000 } });
    const rules = (route.choice as Extract<Route['choice'], { kind: 'canary' }>).rules;
    expect(rules.headerPattern!.test('beta')).toBe(true);
    expect(rules.headerPattern!.test('stable')).toBe(false);
    // The canary's own settings do not apply, except how its endpoints are picked (as ingress-nginx).
    expect(route.options.readTimeoutMs).toBe(60_000);
    expect(route.options.loadBalance).toBe('round_robin');
    expect((route.choice as Extract<Route['choice'], { kind: 'canary' }>).balancing.loadBalance).toBe('ewma');
  });
  it('reports what it ignores: other annotations, a second canary, a canary without a main path, rules without canary "true"', () => {
    expect(problems(r)).toEqual([
      'InvalidAnnotation canary metadata.annotations',
      'InvalidAnnotation second-canary metadata.annotations[nginx.ingress.kubernetes.io/canary-by-header-pattern]',
      'InvalidAnnotation not-enabled metadata.annotations[nginx.ingress.kubernetes.io/canary-weight]',
      'InvalidBackend canary spec.rules[0].http.paths[1].path',
      'PathConflict second-canary spec.rules[0].http.paths[0].path',
    ]);
    expect(r.diagnostics[0]!.message).toBe('a canary Ingress takes its settings from the Ingress it is a canary for: nginx.ingress.kubernetes.io/proxy-read-timeout ignored');
    expect(r.diagnostics[2]!.message).toContain('configured but not enabled');
    expect(r.table.exactHosts.get('app.example.com')!.prefix.has('/only-canary')).toBe(false);
    expect(routeAt(r, 'other.example.com').choice.kind).toBe('single');
  });
});

describe('affinity and load-balancing families', () => {
  const r = buildFixture('annotations-affinity');
  it('reads every session-cookie setting', () => {
    expect(routeAt(r, 'valid.example.com').options.affinity).toEqual({
      name: 'route', mode: 'persistent', path: '/shop', domain: '.example.com', sameSite: 'Strict', conditionalSameSiteNone: false,
      secure: true, expiresSeconds: 172800, maxAgeSeconds: 172800, changeOnFailure: true, canaryBehavior: 'legacy',
    });
  });
  it('gives ingress-nginx’s defaults, and parses upstream-hash-by into typed parts', () => {
    const o = routeAt(r, 'defaulted.example.com').options;
    expect(o.affinity).toMatchObject({ name: 'INGRESSCOOKIE', mode: 'balanced', path: undefined, secure: undefined, sameSite: undefined, canaryBehavior: 'sticky' });
    expect(o.upstreamHash!.parts).toEqual([{ kind: 'request_uri' }, { kind: 'header', name: 'x-tenant' }]);
    expect(o.loadBalance).toBe('ewma');
  });
  it('refuses what it cannot use, keeping the defaults', () => {
    const o = routeAt(r, 'invalid.example.com').options;
    expect([o.affinity, o.upstreamHash, o.loadBalance]).toEqual([undefined, undefined, 'round_robin']);
    expect(problems(r)).toEqual([
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/affinity]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/upstream-hash-by]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/load-balance]',
    ]);
    expect(r.diagnostics[1]!.message).toContain('the variable $request_body is not one Portico can hash');
  });
});

describe('external-auth family', () => {
  const r = buildFixture('annotations-external-auth');
  it('parses URLs with nginx variables into templates, the cache key and durations', () => {
    const auth = routeAt(r, 'valid.example.com').options.externalAuth!;
    expect(auth.url.parts).toEqual([{ kind: 'text', text: 'https://' }, { kind: 'host' }, { kind: 'text', text: '/oauth2/auth' }]);
    expect(auth.signin!.parts.at(-1)).toEqual({ kind: 'escaped_request_uri' });
    expect(auth.responseHeaders).toEqual(['x-auth-request-user', 'x-auth-request-email']);
    expect(auth.cacheKey!.parts).toEqual([{ kind: 'remote_user' }, { kind: 'header', name: 'authorization' }]);
    expect([...auth.cacheDurations]).toEqual([[200, 600_000], [202, 600_000], [401, 30_000]]);
    expect(steps(r, 'valid.example.com')).toEqual(['https-redirect', 'external-auth', 'body-limit']);
  });
  it('defaults: the client’s method, rd, cache durations "200 202 401 5m" (used only with a key)', () => {
    const auth = routeAt(r, 'defaulted.example.com').options.externalAuth!;
    expect(auth).toMatchObject({ method: undefined, signin: undefined, signinRedirectParam: 'rd', cacheKey: undefined, alwaysSetCookie: false });
    expect([...auth.cacheDurations]).toEqual([[200, 300_000], [202, 300_000], [401, 300_000]]);
  });
  it('fails closed on a URL it cannot fill in, and on auth annotations without auth-url', () => {
    expect(steps(r, 'invalid.example.com')).toEqual(['deny']);
    expect(steps(r, 'orphan.example.com')).toEqual(['deny']);
    expect(problems(r)).toEqual([
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/auth-url]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/auth-cache-duration]',
      'InvalidAnnotation orphan metadata.annotations[nginx.ingress.kubernetes.io/auth-signin]',
    ]);
  });
});

describe('errors family', () => {
  const r = buildFixture('annotations-errors');
  it('reads the statuses and resolves default-backend to its Service’s first port', () => {
    const o = routeAt(r, 'valid.example.com').options;
    expect([...o.customErrors!]).toEqual([404, 503]);
    expect(o.defaultBackend!.id).toBe('default/svc-c:http');
    expect(o.defaultBackend!.endpoints.length).toBeGreaterThan(0);
  });
  it('reports a missing Service and invalid values', () => {
    expect(routeAt(r, 'missing.example.com').options.defaultBackend!.endpoints).toEqual([]);
    expect(routeAt(r, 'invalid.example.com').options).toMatchObject({ customErrors: undefined, defaultBackend: undefined });
    expect(problems(r)).toEqual([
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/custom-http-errors]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/default-backend]',
      'ServiceNotFound missing metadata.annotations[nginx.ingress.kubernetes.io/default-backend]',
    ]);
  });
});

describe('hosts, custom-headers and buffering families', () => {
  const r = buildFixture('annotations-hosts');
  it('aliases share the host’s routes; the www name only redirects; headers and buffering are read', () => {
    const valid = r.table.exactHosts.get('valid.example.com')!;
    expect(r.table.exactHosts.get('alias.example.com')).toBe(valid);
    expect(r.table.exactHosts.get('other.example.com')).not.toBe(valid);
    expect(r.table.exactHosts.get('www.valid.example.com')).toMatchObject({ redirectTo: 'valid.example.com', exact: new Map(), prefix: new Map() });
    const o = routeAt(r, 'valid.example.com').options;
    expect(o.customHeaders).toEqual({ configMap: 'default/headers', headers: { 'x-frame-options': 'DENY' } });
    expect(o.requestBuffering).toBe(false);
    expect(steps(r, 'valid.example.com')[0]).toBe('custom-headers');
    expect(routeAt(r, 'other.example.com').options.requestBuffering).toBe(true);
  });
  it('reports what it cannot use', () => {
    expect(problems(r)).toEqual([
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/client-body-buffer-size]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/proxy-request-buffering]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/server-alias]',
      'InvalidAnnotation invalid metadata.annotations[nginx.ingress.kubernetes.io/custom-headers]',
      'InvalidAnnotation valid metadata.annotations[nginx.ingress.kubernetes.io/custom-headers]',
      'InvalidHost valid metadata.annotations[nginx.ingress.kubernetes.io/server-alias]',
    ]);
  });
});
