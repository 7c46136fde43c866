// Property: no HTTPRoute, however odd, makes build throw; the matches of a host come out in the
// spec's order of precedence; mirrored shares and timeouts stay within what the data plane can use; matching any request path never throws and picks the first match
// that holds; and the table still crosses to worker threads.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildRoutingTable } from '../../src/routing/index.ts';
import { snapshotOf, type ManifestObject } from '../../src/sources/manifests.ts';
import { allHostRoutes, matchGateway } from '../../src/table/match.ts';
import { encodeTable, TableDecoder } from '../../src/table/transfer.ts';
import { MAX_TIMER_MS, type GatewayMatch } from '../../src/table/types.ts';
import { CLASS } from '../helpers/build-fixture.ts';
import { propertyRuns } from '../helpers/property.ts';

const text = fc.oneof(fc.constantFrom('/', '/a', '/a/', '/a/b', '/ab', '', 'x', '/(a+)+b', '[', '.*', '/v[0-9]+', '/é', '/a//b', '(?i)/A', '\\'), fc.string({ maxLength: 12 }));
const pathMatch = fc.record({ type: fc.constantFrom('Exact', 'PathPrefix', 'RegularExpression', undefined), value: fc.option(text, { nil: undefined }) }, { requiredKeys: [] });
const valueMatch = fc.record({ type: fc.constantFrom('Exact', 'RegularExpression', undefined), name: fc.constantFrom('X-A', 'x-a', 'Host', 'v', ''), value: text }, { requiredKeys: ['name', 'value'] });
const match = fc.record({ path: pathMatch, headers: fc.array(valueMatch, { maxLength: 3 }), queryParams: fc.array(valueMatch, { maxLength: 2 }), method: fc.constantFrom('GET', 'post', undefined) }, { requiredKeys: [] });
const modifier = fc.record({ type: fc.constantFrom('ReplaceFullPath', 'ReplacePrefixMatch'), replaceFullPath: fc.option(text, { nil: undefined }), replacePrefixMatch: fc.option(text, { nil: undefined }) });
const filter = fc.oneof(
  fc.record({ type: fc.constant('RequestHeaderModifier'), requestHeaderModifier: fc.record({ set: fc.array(fc.record({ name: fc.constantFrom('X-A', 'Host'), value: text }), { maxLength: 2 }), remove: fc.array(fc.constantFrom('X-B', 'host'), { maxLength: 2 }) }) }),
  fc.record({ type: fc.constant('RequestRedirect'), requestRedirect: fc.record({ scheme: fc.constantFrom('http', 'https', undefined), hostname: fc.option(fc.constantFrom('b.test', '*'), { nil: undefined }), port: fc.option(fc.integer({ min: 0, max: 70000 }), { nil: undefined }), statusCode: fc.option(fc.integer({ min: 100, max: 999 }), { nil: undefined }), path: fc.option(modifier, { nil: undefined }) }, { requiredKeys: [] }) }),
  fc.record({ type: fc.constant('URLRewrite'), urlRewrite: fc.record({ hostname: fc.option(fc.constantFrom('c.test', ''), { nil: undefined }), path: fc.option(modifier, { nil: undefined }) }, { requiredKeys: [] }) }),
  fc.record({ type: fc.constantFrom('RequestMirror', 'ExtensionRef', 'CORS', '') }),
  fc.record({ type: fc.constant('RequestMirror'), requestMirror: fc.record({
    backendRef: fc.record({ name: fc.constantFrom('svc', 'missing'), namespace: fc.constantFrom(undefined, 'other', 'elsewhere'), port: fc.option(fc.constantFrom(80, 81), { nil: undefined }) }, { requiredKeys: ['name'] }),
    percent: fc.option(fc.integer({ min: -5, max: 105 }), { nil: undefined }),
    fraction: fc.option(fc.record({ numerator: fc.integer({ min: -1, max: 200 }), denominator: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }) }, { requiredKeys: ['numerator'] }), { nil: undefined }),
  }, { requiredKeys: ['backendRef'] }) }),
  fc.record({ type: fc.constant('CORS'), cors: fc.record({
    allowOrigins: fc.array(fc.constantFrom('*', 'https://a.test', 'https://*.a.test', 'HTTP://*.B.TEST:8080', 'https://*', '*.x', ''), { maxLength: 3 }),
    allowMethods: fc.array(fc.constantFrom('*', 'GET', 'PUT'), { maxLength: 2 }),
    allowHeaders: fc.array(fc.constantFrom('*', 'x-a'), { maxLength: 2 }),
    exposeHeaders: fc.array(fc.constantFrom('x-b'), { maxLength: 1 }),
    allowCredentials: fc.boolean(),
    maxAge: fc.integer({ min: 0, max: 86_400 }),
  }, { requiredKeys: [] }) }),
);
const backendRef = fc.record({ name: fc.constantFrom('svc', 'missing'), namespace: fc.constantFrom(undefined, 'other'), port: fc.option(fc.constantFrom(80, 81), { nil: undefined }), weight: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }), kind: fc.constantFrom(undefined, 'Service', 'Bucket'), filters: fc.option(fc.array(filter, { maxLength: 2 }), { nil: undefined }) }, { requiredKeys: ['name'] });
const rule = fc.record({
  matches: fc.option(fc.array(match, { maxLength: 3 }), { nil: undefined }),
  filters: fc.option(fc.array(filter, { maxLength: 2 }), { nil: undefined }),
  backendRefs: fc.option(fc.array(backendRef, { maxLength: 3 }), { nil: undefined }),
  timeouts: fc.option(fc.record({ request: fc.constantFrom('10s', '0s', '1m30s', 'soon', '500ms', '99999h'), backendRequest: fc.constantFrom('1s', '0s', '1h1m1s1ms', '1.5s') }, { requiredKeys: [] }), { nil: undefined }),
}, { requiredKeys: [] });
const route = fc.record({
  hostnames: fc.option(fc.array(fc.constantFrom('a.test', '*.test', 'x.a.test', '*.a.test', 'B.TEST', '*'), { maxLength: 3 }), { nil: undefined }),
  rules: fc.option(fc.array(rule, { maxLength: 3 }), { nil: undefined }),
  parentRefs: fc.array(fc.record({ name: fc.constantFrom('web', 'nope'), sectionName: fc.constantFrom(undefined, 'http', 'apps', 'x'), port: fc.constantFrom(undefined, 80, 81) }, { requiredKeys: ['name'] }), { maxLength: 2 }),
}, { requiredKeys: ['parentRefs'] });

const FIXED: ManifestObject[] = [
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'portico' }, spec: { controllerName: 'portico.dev/gateway-controller' } },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'web', namespace: 'default' }, spec: { gatewayClassName: 'portico', listeners: [{ name: 'http', protocol: 'HTTP', port: 80 }, { name: 'apps', protocol: 'HTTP', port: 80, hostname: '*.a.test' }, { name: 'tcp', protocol: 'TCP', port: 81 }] } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } },
  { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name: 'g', namespace: 'other' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] } },
] as ManifestObject[];

/** The spec's order between two matches of one host: Exact first, then the longer path, then method, headers, query parameters. */
function outranks(a: GatewayMatch, b: GatewayMatch): boolean {
  const exact = Number(a.path.type === 'Exact') - Number(b.path.type === 'Exact');
  if (exact !== 0) return exact > 0;
  if (a.path.value.length !== b.path.value.length) return a.path.value.length > b.path.value.length;
  return false;
}

describe('HTTPRoutes (property)', () => {
  it('never make build throw, come out in precedence order, and match any path without throwing', () => {
    const decoder = new TableDecoder();
    let served = 0; // runs whose routes reached the table: the property must not hold vacuously
    fc.assert(fc.property(fc.array(route, { minLength: 1, maxLength: 4 }), fc.array(text, { maxLength: 4 }), (routes, paths) => {
      const objects = routes.map((spec, i) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: `r${i}`, namespace: 'default', creationTimestamp: `2026-01-0${(i % 9) + 1}T00:00:00Z` }, spec }) as unknown as ManifestObject);
      const { table } = buildRoutingTable(snapshotOf([...FIXED, ...objects]), { ...CLASS, generation: 1 });
      const hosts = allHostRoutes(table);
      if (hosts.some((h) => (h.gateway?.length ?? 0) > 0)) served++;
      for (const host of hosts) {
        const matches = host.gateway ?? [];
        for (let i = 1; i < matches.length; i++) expect(outranks(matches[i]!, matches[i - 1]!), `${host.host}: match ${i} outranks ${i - 1}`).toBe(false);
        for (const m of matches) {
          if (m.path.type === 'RegularExpression') expect(m.path.regex.source.startsWith('^(?:')).toBe(true);
          if (m.route.choice.kind === 'weighted') expect(m.route.choice.total).toBe(m.route.choice.backends.reduce((n, b) => n + b.weight, 0));
          for (const mirror of m.route.mirrors ?? []) expect(mirror.percent >= 0 && mirror.percent <= 100, `mirrored share ${mirror.percent}`).toBe(true);
          // Timers take at most MAX_TIMER_MS (more, or Infinity, and Node fires them at once).
          for (const ms of [m.route.options.readTimeoutMs, m.route.options.sendTimeoutMs]) expect(Number.isInteger(ms) && ms > 0 && ms <= MAX_TIMER_MS, `timeout ${ms}`).toBe(true);
        }
        for (const p of paths) {
          const found = matchGateway(matches, { method: 'GET', headers: { 'x-a': 'x' } }, p, '?v=1');
          const first = matches.find((m) => matchGateway([m], { method: 'GET', headers: { 'x-a': 'x' } }, p, '?v=1'));
          expect(found).toBe(first?.route);
        }
      }
      decoder.decode(structuredClone(encodeTable(table)));
    }), propertyRuns(300));
    expect(served).toBeGreaterThan(100);
  });
});
