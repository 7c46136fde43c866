// Property: no annotation set, however odd, makes build throw or puts an unusable value in the table.
import { validateHeaderValue } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dashboardData } from '../../src/admin/dashboard.ts';
import { buildRoutingTable } from '../../src/routing/index.ts';
import { STEP_ORDER } from '../../src/table/steps.ts';
import { snapshotOf, type ManifestObject } from '../../src/sources/manifests.ts';
import { describeTable } from '../../src/admin/describe-table.ts';
import type { RoutingTable } from '../../src/table/types.ts';
import { CLASS } from '../helpers/build-fixture.ts';
import { propertyRuns } from '../helpers/property.ts';

const MAX_TIMER_MS = 2 ** 31 - 1;
const NAMES = ['rewrite-target', 'use-regex', 'proxy-connect-timeout', 'proxy-send-timeout', 'proxy-read-timeout', 'proxy-body-size',
  'proxy-next-upstream', 'proxy-next-upstream-tries', 'app-root', 'permanent-redirect', 'permanent-redirect-code', 'temporal-redirect',
  'temporal-redirect-code', 'upstream-vhost', 'x-forwarded-prefix', 'backend-protocol', 'service-upstream', 'ssl-redirect',
  'force-ssl-redirect', 'preserve-trailing-slash', 'hsts', 'auth-url', 'whitelist-source-range', 'enable-cors', 'configuration-snippet', '__proto__', 'constructor',
  'allowlist-source-range', 'denylist-source-range', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-expose-headers', 'cors-max-age',
  'cors-allow-credentials', 'limit-rps', 'limit-rpm', 'limit-connections', 'limit-burst-multiplier', 'limit-whitelist', 'auth-type', 'auth-secret',
  'auth-realm', 'auth-secret-type', 'auth-signin', 'auth-method', 'auth-response-headers', 'auth-cache-key', 'auth-cache-duration',
  'auth-keepalive', 'auth-request-redirect', 'enable-global-auth', 'canary', 'canary-weight', 'canary-by-header-pattern', 'affinity',
  'session-cookie-path', 'upstream-hash-by', 'load-balance'];
const value = fc.oneof(
  fc.constantFrom('0', '1', '60', '2147483', '2147484', '9'.repeat(400), '-1', '1.5', '1e3', 'Infinity', 'NaN', ' 8 m ', '8m', '9999999999999999g',
    'true', 'false', 'True', 'yes', 'HTTPS', 'GRPC', 'http://a.example/x', 'https://b.example/', '//evil.example', 'javascript:alert(1)',
    '/$1/$2', '/api(/|$)(.*)', 'a'.repeat(70_000), 'x:99999', 'host:65535', '..', 'error timeout http_503', 'off', '\r\n', 'é', '',
    '10.0.0.0/8', '::1/128', '127.0.0.1, 10.0.0.0/33', '0x7f.1', 'fe80::1%eth0', 'basic', 'digest', 'htpasswd', 'other/htpasswd', 'auth-map',
    'https://*.example.com, http://a.test:80', '*', 'GET, POST', 'X-A,\tX-B', 'Realm "x"', 'http://auth.test/check', 'https://$host/oauth2/auth',
    'http://$request_body/x', '200 10m, 401 5m', 'X-User, X-Email', '$remote_user$http_authorization', 'cookie', '$arg_user', 'ewma', '(a'),
  fc.string({ maxLength: 40 }),
  fc.nat().map(String),
);
const key = fc.tuple(fc.constantFrom('nginx.ingress.kubernetes.io/', 'portico.dev/', 'example.com/'), fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 12 })))
  .map(([prefix, name]) => prefix + name);
const path = fc.oneof(fc.constantFrom('/', '/api', '/api/', '/(a+)+b', '/x)|(/y', '(', '/\\Q', '/v[0-9]+', 'nope', ''), fc.string({ maxLength: 20 }));

function ingress(annotations: Record<string, string>, paths: string[], name: string): ManifestObject {
  return {
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
    metadata: { name, namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z', annotations },
    spec: { ingressClassName: 'portico', rules: [{ host: 'fuzz.test', http: { paths: paths.map((p, i) => ({ path: p, pathType: i % 2 ? 'Prefix' : 'ImplementationSpecific', backend: { service: { name: 'svc', port: { number: 80 } } } })) } }] },
  };
}

function routesOf(table: RoutingTable) {
  return [...table.exactHosts.values()].flatMap((h) => [...h.exact.values(), ...h.prefix.values(), ...h.regex, ...(h.fallback ? [h.fallback] : [])]);
}

describe('annotations (property)', () => {
  it('never make build throw, and every value in the table is usable', () => {
    fc.assert(fc.property(fc.array(fc.dictionary(key, value, { maxKeys: 8 }), { minLength: 1, maxLength: 3 }), fc.array(path, { minLength: 1, maxLength: 4 }), (sets, paths) => {
      const objects: ManifestObject[] = [
        { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'portico' }, spec: { controller: CLASS.controllerName } },
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'htpasswd', namespace: 'default' }, type: 'Opaque', data: { auth: Buffer.from('u:{PLAIN}p\nbad\n').toString('base64') } },
        ...sets.map((annotations, i) => ingress(annotations, paths, `fuzz-${i}`)),
      ];
      const { table, diagnostics } = buildRoutingTable(snapshotOf(objects), { ...CLASS, generation: 1 });
      for (const route of routesOf(table)) {
        const o = route.options;
        for (const ms of [o.connectTimeoutMs, o.sendTimeoutMs, o.readTimeoutMs]) {
          expect(Number.isInteger(ms) && ms > 0 && ms <= MAX_TIMER_MS, `timer ${ms} ms`).toBe(true);
        }
        expect(o.bodyLimit === Infinity || (Number.isSafeInteger(o.bodyLimit) && o.bodyLimit > 0)).toBe(true);
        expect(Number.isSafeInteger(o.nextUpstream.tries)).toBe(true);
        expect((o.upstreamVhost ?? '').length).toBeLessThanOrEqual(259);
        for (const text of [o.upstreamVhost, o.forwardedPrefix, o.redirect?.url, o.rewrite?.source]) expect(text ?? '').not.toMatch(/[\r\n]/);
        if (o.redirect) expect(o.redirect.url).toMatch(/^https?:\/\//);
        // Whatever reaches a response header must be a valid header value.
        const headerValues = [o.cors?.allowMethods, o.cors?.allowHeaders, o.cors?.exposeHeaders, o.basicAuth?.challenge].filter((v): v is string => v !== undefined && v !== "");
        for (const v of headerValues) validateHeaderValue('x-test', v);
        if (o.cors) expect(Number.isSafeInteger(o.cors.maxAgeSeconds)).toBe(true);
        for (const n of [o.rateLimit?.requestsPerSecond, o.rateLimit?.requestsPerMinute, o.rateLimit?.connections]) if (n !== undefined) expect(Number.isSafeInteger(n) && n > 0).toBe(true);
        const order = route.steps.map((step) => STEP_ORDER.indexOf(step.kind));
        expect(order).toEqual([...order].sort((a, b) => a - b));
        // Fail closed: an Ingress with an access guard never forwards without that guard or a 503.
        const kinds = new Set(route.steps.map((step) => step.kind));
        const names = Object.keys(sets[Number(route.ingress.split('-').pop())]!).filter((k) => !k.startsWith('example.com/')).map((k) => k.slice(k.indexOf('/') + 1));
        if (names.some((n) => n.endsWith('-source-range'))) expect(kinds.has('deny') || kinds.has('access')).toBe(true);
        if (names.some((n) => n.startsWith('auth-') && n !== 'auth-snippet')) expect(kinds.has('deny') || kinds.has('basic-auth') || kinds.has('external-auth')).toBe(true);
      }
      for (const d of diagnostics) expect(d.message.length).toBeLessThan(1000);
      describeTable(table);
      dashboardData(table, diagnostics, { version: '0', uptimeSeconds: 0, health: () => ({ ejected: false, ejectedForMs: 0, requests: 0, errorRate: 0 }), defaultCertificate: undefined, totals: undefined });
    }), propertyRuns(2000));
  });
});
