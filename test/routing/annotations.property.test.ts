// Property: no annotation set, however odd, makes build throw or puts an unusable value in the table.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dashboardData } from '../../src/admin/dashboard.ts';
import { buildRoutingTable } from '../../src/routing/index.ts';
import { snapshotOf, type ManifestObject } from '../../src/sources/manifests.ts';
import { describeTable } from '../../src/table/describe.ts';
import type { RoutingTable } from '../../src/table/types.ts';
import { CLASS } from '../helpers/build-fixture.ts';
import { propertyRuns } from '../helpers/property.ts';

const MAX_TIMER_MS = 2 ** 31 - 1;
const NAMES = ['rewrite-target', 'use-regex', 'proxy-connect-timeout', 'proxy-send-timeout', 'proxy-read-timeout', 'proxy-body-size',
  'proxy-next-upstream', 'proxy-next-upstream-tries', 'app-root', 'permanent-redirect', 'permanent-redirect-code', 'temporal-redirect',
  'temporal-redirect-code', 'upstream-vhost', 'x-forwarded-prefix', 'backend-protocol', 'service-upstream', 'ssl-redirect',
  'force-ssl-redirect', 'preserve-trailing-slash', 'hsts', 'auth-url', 'whitelist-source-range', 'enable-cors', 'configuration-snippet', '__proto__', 'constructor'];
const value = fc.oneof(
  fc.constantFrom('0', '1', '60', '2147483', '2147484', '9'.repeat(400), '-1', '1.5', '1e3', 'Infinity', 'NaN', ' 8 m ', '8m', '9999999999999999g',
    'true', 'false', 'True', 'yes', 'HTTPS', 'GRPC', 'http://a.example/x', 'https://b.example/', '//evil.example', 'javascript:alert(1)',
    '/$1/$2', '/api(/|$)(.*)', 'a'.repeat(70_000), 'x:99999', 'host:65535', '..', 'error timeout http_503', 'off', '\r\n', 'é', ''),
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
      }
      for (const d of diagnostics) expect(d.message.length).toBeLessThan(1000);
      describeTable(table);
      dashboardData(table, diagnostics, () => ({ ejected: false, ejectedForMs: 0, requests: 0, errorRate: 0 }));
    }), propertyRuns(2000));
  });
});
