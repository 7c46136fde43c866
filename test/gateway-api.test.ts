// Gateway API HTTPRoutes served from a manifest directory, against real backends: the spec's
// match precedence, header, query and method matches, weights, unresolved backends, redirects,
// rewrites and header modifiers, hostname intersection, and the host an Ingress already has.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { echoed, send } from './helpers/http.ts';
import { GATEWAY_CLASS, ingress, service } from './helpers/manifests.ts';
import { startPortico, waitFor, type RunningPortico } from './helpers/portico.ts';

const GATEWAY = `${GATEWAY_CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: someone-else}
spec: {controllerName: example.com/other-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  gatewayClassName: portico
  listeners:
    - {name: http, protocol: HTTP, port: 80}
    - {name: apps, protocol: HTTP, port: 80, hostname: "*.apps.test"}
    - name: teams
      protocol: HTTP
      port: 80
      hostname: "*.teams.test"
      allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {tier: apps}}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team, labels: {tier: apps}}
---
apiVersion: v1
kind: Namespace
metadata: {name: outsiders}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: theirs, namespace: default}
spec:
  gatewayClassName: someone-else
  listeners: [{name: http, protocol: HTTP, port: 80}]
`;

function httpRoute(name: string, spec: string, namespace = 'default'): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec.replace(/^/gm, '  ')}
`;
}

const backendRef = (name: string, extra = '') => `{name: ${name}, port: 80${extra}}`;

describe('Gateway API HTTPRoutes (standalone)', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  const get = (host: string, path: string, headers: Record<string, string> = {}, method = 'GET') => send(portico.httpPort, host, path, { headers, method });
  const diagnostics = async (): Promise<unknown[]> => (await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/diagnostics`)).json()) as unknown[];
  const server = async (host: string, path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const r = await get(host, path, headers, method);
    expect(r.status, `${method} ${host}${path}`).toBe(200);
    return echoed(r).server;
  };

  /** What the mirror backend received. */
  const mirrored: { method: string; url: string; headers: Record<string, unknown>; body: string }[] = [];
  /** Requests the two slow pods received. */
  let slowArrivals = 0;
  /** A pod that answers after `?delay=` milliseconds. */
  const slowPod = async (address: string) => ({
    address,
    port: await backends.http(address, (req, res) => {
      slowArrivals++;
      const delay = Number(new URL(req.url!, 'http://x').searchParams.get('delay') ?? 0);
      setTimeout(() => res.end('slow'), delay);
    }),
  });

  beforeAll(async () => {
    const svc = async (name: string, address: string) => service(name, [{ address, port: await backends.echo(name, address) }]);
    portico = await startPortico({
      'gateway.yaml': GATEWAY,
      'svc.yaml': (await Promise.all([svc('a', '127.0.31.1'), svc('b', '127.0.31.2'), svc('c', '127.0.31.3')])).join('---\n'),
      'slow.yaml': service('slow', [await slowPod('127.0.31.4'), await slowPod('127.0.31.5')]),
      'timeouts.yaml': httpRoute('timeouts', `parentRefs: [{name: web}]
hostnames: [timeouts.test]
rules:
  - matches: [{path: {value: /request}}]
    backendRefs: [${backendRef('slow')}]
    timeouts: {request: 200ms}
  - matches: [{path: {value: /backend}}]
    backendRefs: [${backendRef('slow')}]
    timeouts: {backendRequest: 200ms}
  - matches: [{path: {value: /none}}]
    backendRefs: [${backendRef('slow')}]
    timeouts: {request: 0s}
  - matches: [{path: {value: /unreadable}}]
    backendRefs: [${backendRef('slow')}]
    timeouts: {request: soon}`),
      'per-backend.yaml': httpRoute('per-backend', `parentRefs: [{name: web}]
hostnames: [per-backend.test]
rules:
  - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Rule, value: rule}]}}]
    backendRefs:
      - name: a
        port: 80
        filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Backend, value: a}], add: [{name: X-Rule, value: a}], remove: [X-Drop]}}]
      - name: b
        port: 80
        filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Backend, value: b}]}}]
  - matches: [{path: {value: /mirror}}]
    backendRefs:
      - name: a
        port: 80
        filters: [{type: RequestMirror, requestMirror: {backendRef: {name: b, port: 80}}}]`),
      'precedence.yaml': httpRoute('precedence', `parentRefs: [{name: web}]
hostnames: [order.test]
rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [${backendRef('c')}]
  - matches: [{path: {type: PathPrefix, value: /foo}}]
    backendRefs: [${backendRef('b')}]
  - matches: [{path: {type: Exact, value: /foo}}]
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: Version, value: two}]}]
    backendRefs: [${backendRef('b')}]
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: Version, value: two}, {name: Env, type: RegularExpression, value: "canary|beta"}]}]
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {type: PathPrefix, value: /api}, method: POST}]
    backendRefs: [${backendRef('c')}]
  - matches: [{path: {type: PathPrefix, value: /search}, queryParams: [{name: engine, value: fast}]}]
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {type: RegularExpression, value: "/items/[0-9]+"}}]
    backendRefs: [${backendRef('a')}]`),
      'weights.yaml': httpRoute('weights', `parentRefs: [{name: web}]
hostnames: [weights.test]
rules:
  - matches: [{path: {value: /all-a}}]
    backendRefs: [${backendRef('a', ', weight: 1')}, ${backendRef('b', ', weight: 0')}]
  - matches: [{path: {value: /even}}]
    backendRefs: [${backendRef('a', ', weight: 1')}, ${backendRef('b', ', weight: 1')}]
  - matches: [{path: {value: /missing}}]
    backendRefs: [${backendRef('nowhere')}]
  - matches: [{path: {value: /half-missing}}]
    backendRefs: [${backendRef('a')}, ${backendRef('nowhere')}]`),
      'filters.yaml': httpRoute('filters', `parentRefs: [{name: web}]
hostnames: [filters.test]
rules:
  - matches: [{path: {value: /secure}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
  - matches: [{path: {value: /moved}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: elsewhere.test, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
  - matches: [{path: {value: /prefix}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten.test, path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {value: /full}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one/path}}}]
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {value: /headers}}]
    filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {set: [{name: X-Set, value: set}], add: [{name: X-Add, value: added}], remove: [X-Remove]}
      - type: ResponseHeaderModifier
        responseHeaderModifier: {set: [{name: X-Served-By, value: hidden}], add: [{name: X-Extra, value: extra}], remove: [Content-Type]}
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {value: /extension}}]
    filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Thing, name: thing}}]
    backendRefs: [${backendRef('a')}]`),
      'cors.yaml': httpRoute('cors', `parentRefs: [{name: web}]
hostnames: [cors.test]
rules:
  - matches: [{path: {value: /listed}}]
    filters:
      - type: CORS
        cors: {allowOrigins: ["https://app.example", "https://*.bar.example"], allowMethods: [GET, PUT], allowHeaders: [x-one], exposeHeaders: [x-two], allowCredentials: true, maxAge: 600}
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {value: /any}}]
    filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], allowCredentials: true}}]
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {value: /open}}]
    filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: ["*"]}}]
    backendRefs: [${backendRef('a')}]`),
      'mirrors.yaml': httpRoute('mirrors', `parentRefs: [{name: web}]
hostnames: [mirrors.test]
rules:
  - matches: [{path: {value: /all}}]
    filters:
      - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Rule, value: set}]}}
      - {type: RequestMirror, requestMirror: {backendRef: {name: sink, port: 80}}}
      - {type: RequestMirror, requestMirror: {backendRef: {name: nowhere, port: 80}}}
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {value: /none}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: sink, port: 80}, percent: 0}}]
    backendRefs: [${backendRef('a')}]
  - matches: [{path: {value: /half}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: sink, port: 80}, fraction: {numerator: 1, denominator: 2}}}]
    backendRefs: [${backendRef('a')}]`),
      'sink.yaml': service('sink', [{ address: '127.0.31.6', port: await backends.http('127.0.31.6', (req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d));
        req.on('end', () => {
          mirrored.push({ method: req.method!, url: req.url!, headers: req.headers, body });
          res.end('ignored');
        });
      }) }]),
      'hosts.yaml': [
        httpRoute('apps', `parentRefs: [{name: web, sectionName: apps}]
hostnames: [one.apps.test, other.test]
rules: [{backendRefs: [${backendRef('b')}]}]`),
        httpRoute('deep', `parentRefs: [{name: web, sectionName: http}]
hostnames: ["*.deep.test"]
rules: [{backendRefs: [${backendRef('c')}]}]`),
        httpRoute('stranger', `parentRefs: [{name: theirs}]
hostnames: [stranger.test]
rules: [{backendRefs: [${backendRef('a')}]}]`),
        httpRoute('elsewhere', `parentRefs: [{name: web, namespace: default}]
hostnames: [cross.test]
rules: [{backendRefs: [${backendRef('a')}]}]`, 'team'),
        httpRoute('selected', `parentRefs: [{name: web, namespace: default, sectionName: teams}]
hostnames: [a.teams.test]
rules: [{backendRefs: [{name: b, namespace: default, port: 80}]}]`, 'team'),
        httpRoute('unselected', `parentRefs: [{name: web, namespace: default, sectionName: teams}]
hostnames: [b.teams.test]
rules: [{backendRefs: [{name: b, namespace: default, port: 80}]}]`, 'outsiders'),
        `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: teams-to-b, namespace: default}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: team}]
  to: [{group: "", kind: Service, name: b}]
`,
        httpRoute('taken', `parentRefs: [{name: web}]
hostnames: [shared.test]
rules: [{backendRefs: [${backendRef('b')}]}]`),
        ingress({ name: 'first', host: 'shared.test', service: 'a' }),
      ].join('---\n'),
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  it('orders matches as the spec does: Exact, the longest prefix, then method, headers and query parameters', async () => {
    expect(await server('order.test', '/foo')).toBe('a');
    expect(await server('order.test', '/foo/bar')).toBe('b');
    expect(await server('order.test', '/foobar')).toBe('c'); // prefixes match whole path elements
    expect(await server('order.test', '/')).toBe('c');
    expect(await server('order.test', '/api/x', { version: 'two' })).toBe('b');
    expect(await server('order.test', '/api/x', { version: 'two', env: 'beta' })).toBe('a');
    expect(await server('order.test', '/api/x', { version: 'two', env: 'betamax' })).toBe('b'); // the regex matches whole values
    expect(await server('order.test', '/api/x', {}, 'POST')).toBe('c');
    expect(await server('order.test', '/api/x')).toBe('c'); // only the catch-all prefix is left
    expect(await server('order.test', '/search?engine=fast&engine=slow')).toBe('a');
    expect(await server('order.test', '/search?engine=slow')).toBe('c');
    expect(await server('order.test', '/items/42')).toBe('a');
    expect(await server('order.test', '/items/42/x')).toBe('c');
  });

  it('splits by weight, and answers 500 for the share of a backend that does not resolve', async () => {
    for (let i = 0; i < 20; i++) expect(await server('weights.test', '/all-a')).toBe('a');
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const answered = await server('weights.test', '/even');
      counts[answered] = (counts[answered] ?? 0) + 1;
    }
    expect(counts['a']! + counts['b']!).toBe(200);
    expect(counts['a']).toBeGreaterThan(60); // 200 draws at 1:1: far outside 60-140 is a broken split
    expect(counts['b']).toBeGreaterThan(60);
    expect((await get('weights.test', '/missing')).status).toBe(500);
    const statuses = new Set<number>();
    for (let i = 0; i < 40; i++) statuses.add((await get('weights.test', '/half-missing')).status);
    expect([...statuses].sort()).toEqual([200, 500]);
  });

  it('redirects, rewrites and modifies headers as the filters say', async () => {
    const secure = await get('filters.test', '/secure?q=1');
    expect([secure.status, secure.headers['location']]).toEqual([301, 'https://filters.test/secure?q=1']);
    const moved = await get('filters.test', '/moved/deep/path');
    expect(moved.status).toBe(302);
    expect(moved.headers['location']).toBe(`http://elsewhere.test:${portico.httpPort}/new/deep/path`);
    const prefixed = echoed(await get('filters.test', '/prefix/rest?x=1'));
    expect([prefixed.url, prefixed.headers['host']]).toEqual(['/rest?x=1', 'rewritten.test']);
    expect(echoed(await get('filters.test', '/prefix')).url).toBe('/');
    expect(echoed(await get('filters.test', '/full/anything?y=2')).url).toBe('/one/path?y=2');
    const modified = await get('filters.test', '/headers', { 'x-add': 'client', 'x-remove': 'gone', 'x-set': 'client' });
    const seen = echoed(modified).headers;
    expect([seen['x-set'], seen['x-add'], seen['x-remove']]).toEqual(['set', 'client,added', undefined]);
    expect([modified.headers['x-served-by'], modified.headers['x-extra'], modified.headers['content-type']]).toEqual(['hidden', 'extra', undefined]);
  });

  it('answers 500 for a rule with a filter it does not support, and says so', async () => {
    expect((await get('filters.test', '/extension')).status).toBe(500);
    expect(await diagnostics()).toContainEqual(expect.objectContaining({ code: 'UnsupportedGatewayFeature', field: 'spec.rules[5].filters[0]', object: { kind: 'HTTPRoute', namespace: 'default', name: 'filters' } }));
    expect((await get('per-backend.test', '/mirror')).status).toBe(500);
    expect(await diagnostics()).toContainEqual(expect.objectContaining({ code: 'UnsupportedGatewayFeature', field: 'spec.rules[1].backendRefs[0].filters[0]', object: { kind: 'HTTPRoute', namespace: 'default', name: 'per-backend' } }));
  });

  it('mirrors requests with their body to the mirror backend, for its share, whatever it answers', async () => {
    mirrored.length = 0;
    const r = await send(portico.httpPort, 'mirrors.test', '/all?n=1', { method: 'POST', headers: { 'x-client': 'yes', 'content-type': 'text/plain' }, body: 'payload' });
    expect(r.status).toBe(200);
    expect(echoed(r).server).toBe('a');
    await waitFor(() => mirrored.length === 1, 'the mirrored request');
    expect(mirrored[0]).toMatchObject({ method: 'POST', url: '/all?n=1', body: 'payload', headers: { host: 'mirrors.test', 'x-client': 'yes', 'x-rule': 'set', 'x-forwarded-host': 'mirrors.test' } });
    // A mirror backend that does not exist is reported and left out; the route and the other mirror serve.
    expect(await diagnostics()).toContainEqual(expect.objectContaining({ code: 'ServiceNotFound', field: 'spec.rules[0].filters[2].requestMirror.backendRef', object: { kind: 'HTTPRoute', namespace: 'default', name: 'mirrors' } }));

    for (let i = 0; i < 20; i++) expect((await get('mirrors.test', `/none?i=${i}`)).status).toBe(200);
    const n = 200;
    for (let i = 0; i < n; i++) expect((await get('mirrors.test', `/half?i=${i}`)).status).toBe(200);
    // Mirrors go on after the client's answer: wait until none has arrived for 300 ms.
    await waitFor(async () => {
      const before = mirrored.length;
      await new Promise((r) => setTimeout(r, 300));
      return before === mirrored.length;
    }, 'mirrored requests to stop arriving');
    expect(mirrored.filter((m) => m.url.startsWith('/none'))).toEqual([]);
    const half = mirrored.filter((m) => m.url.startsWith('/half')).length;
    // Binomial(200, 0.5): mean 100, sd 7.1; ±40 is 5.6 sd.
    expect(half).toBeGreaterThan(60);
    expect(half).toBeLessThan(140);
  });

  it('answers CORS preflights itself and adds the CORS headers for allowed origins only', async () => {
    const preflight = (path: string, origin: string, headers: Record<string, string> = {}) =>
      send(portico.httpPort, 'cors.test', path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT', ...headers } });
    const listed = await preflight('/listed', 'https://a.b.bar.example', { 'access-control-request-headers': 'x-one' });
    expect(listed.status).toBe(204);
    expect(listed.body).toBe(''); // not the pod's answer
    expect(listed.headers).toMatchObject({
      'access-control-allow-origin': 'https://a.b.bar.example', 'access-control-allow-credentials': 'true', 'access-control-allow-methods': 'GET, PUT',
      'access-control-allow-headers': 'x-one', 'access-control-expose-headers': 'x-two', 'access-control-max-age': '600',
    });
    const stranger = await preflight('/listed', 'https://bar.example.evil');
    expect(stranger.status).toBe(204);
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    expect((await preflight('/listed', 'https://bar.example')).headers['access-control-allow-origin']).toBeUndefined(); // *.bar.example needs a label before it

    const simple = await get('cors.test', '/listed', { origin: 'https://app.example' });
    expect(echoed(simple).server).toBe('a');
    expect([simple.headers['access-control-allow-origin'], simple.headers['access-control-allow-credentials'], simple.headers['access-control-expose-headers']]).toEqual(['https://app.example', 'true', 'x-two']);
    const other = await get('cors.test', '/listed', { origin: 'https://other.example' });
    expect([other.status, other.headers['access-control-allow-origin']]).toEqual([200, undefined]);

    // `*` with credentials: a browser refuses `*`, so the request's own origin, method and headers are named.
    const any = await preflight('/any', 'https://x.example', { 'access-control-request-headers': 'x-a, x-b' });
    expect([any.headers['access-control-allow-origin'], any.headers['access-control-allow-methods'], any.headers['access-control-allow-headers'], any.headers['access-control-max-age']])
      .toEqual(['https://x.example', 'PUT', 'x-a, x-b', '5']);
    const open = await preflight('/open', 'https://x.example');
    expect([open.headers['access-control-allow-origin'], open.headers['access-control-allow-methods'], open.headers['access-control-allow-credentials']]).toEqual(['*', '*', undefined]);
  });

  it('shows a rule\'s weights, filters and mirrors on its host\'s dashboard page', async () => {
    const data = (await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/dashboard`)).json()) as { hosts: { host: string; routes: { path: string; timeouts: string; options: Record<string, string> }[] }[] };
    const route = (host: string, path: string) => data.hosts.find((h) => h.host === host)?.routes.find((r) => r.path === path);
    const options = (host: string, path: string) => route(host, path)?.options;
    expect(route('timeouts.test', '/none')).toMatchObject({ timeouts: '5 / none / none s' });
    expect(route('timeouts.test', '/request')).toMatchObject({ timeouts: '5 / 0.2 / 0.2 s' });
    expect(options('mirrors.test', '/all')).toMatchObject({ filters: 'modify', mirrors: 'default/sink:80 100%' });
    expect(options('mirrors.test', '/half')).toMatchObject({ mirrors: 'default/sink:80 50%' });
    expect(options('cors.test', '/listed')).toMatchObject({ filters: 'cors' });
    expect(options('per-backend.test', '/')).toMatchObject({ backends: 'default/a:80 ×1 (headers modified), default/b:80 ×1 (headers modified)', filters: 'modify' });
    expect(options('weights.test', '/half-missing')).toMatchObject({ backends: 'default/a:80 ×1, (unresolved: 500) ×1' });
  });

  it('modifies request headers per backendRef, after the rule filters, for the backend drawn', async () => {
    const seen = { a: 0, b: 0 };
    for (let i = 0; i < 40; i++) {
      const r = await get('per-backend.test', '/', { 'x-drop': 'client', 'x-rule': 'client' });
      expect(r.status).toBe(200);
      const { server: answered, headers } = echoed(r);
      expect(headers['x-backend']).toBe(answered);
      expect([headers['x-rule'], headers['x-drop']]).toEqual(answered === 'a' ? ['rule,a', undefined] : ['rule', 'client']);
      seen[answered as 'a' | 'b']++;
    }
    expect(seen.a).toBeGreaterThan(0); // 40 draws of 1 in 2 each: all one side is 1 in 2^39
    expect(seen.b).toBeGreaterThan(0);
  });

  it('times out as the rule timeouts say: 504, no retry past a request timeout, and 0s for none', async () => {
    expect((await get('timeouts.test', '/request')).status).toBe(200);
    slowArrivals = 0;
    expect((await get('timeouts.test', '/request?delay=600')).status).toBe(504);
    expect(slowArrivals).toBe(1); // the request's time is up: not tried again on the other pod
    slowArrivals = 0;
    expect((await get('timeouts.test', '/backend?delay=600')).status).toBe(504);
    expect(slowArrivals).toBe(2); // each attempt had 200 ms, as ingress-nginx retries a timeout
    expect((await get('timeouts.test', '/none?delay=400')).status).toBe(200);
    expect((await get('timeouts.test', '/unreadable?delay=400')).status).toBe(200);
    expect(await diagnostics()).toContainEqual(expect.objectContaining({ code: 'InvalidTimeout', field: 'spec.rules[3].timeouts.request', object: { kind: 'HTTPRoute', namespace: 'default', name: 'timeouts' } }));
  });

  it('serves a route on the hostnames it shares with its listener, only for Gateways of our class and namespaces allowed', async () => {
    expect(await server('one.apps.test', '/')).toBe('b');
    expect(await server('a.b.deep.test', '/')).toBe('c'); // a Gateway API wildcard covers any depth
    expect((await get('deep.test', '/')).status).toBe(404);
    expect((await get('other.test', '/')).status).toBe(404); // not under the listener's *.apps.test
    expect((await get('stranger.test', '/')).status).toBe(404); // another controller's Gateway
    expect((await get('cross.test', '/')).status).toBe(404); // from namespace team: only the teams listener takes it, and not on cross.test
    expect(await server('a.teams.test', '/')).toBe('b'); // namespace team is selected, and granted Service b
    expect((await get('b.teams.test', '/')).status).toBe(404); // namespace outsiders is not selected
    expect(await diagnostics()).toContainEqual(expect.objectContaining({ code: 'InvalidRouteParent', object: { kind: 'HTTPRoute', namespace: 'team', name: 'elsewhere' } }));
    expect(await diagnostics()).toContainEqual(expect.objectContaining({ code: 'InvalidRouteParent', object: { kind: 'HTTPRoute', namespace: 'outsiders', name: 'unselected' } }));
  });

  it('leaves a host an Ingress serves to the Ingress, and reports the HTTPRoute', async () => {
    expect(await server('shared.test', '/')).toBe('a');
    expect(await diagnostics()).toContainEqual(expect.objectContaining({ code: 'HostConflict', object: { kind: 'HTTPRoute', namespace: 'default', name: 'taken' } }));
  });
});
