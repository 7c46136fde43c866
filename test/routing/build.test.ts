import { describe, expect, it } from 'vitest';
import { buildFixture, routeOf } from '../helpers/build-fixture.ts';

const codes = (r: ReturnType<typeof buildFixture>) => r.diagnostics.map((d) => `${d.code} ${d.object.name} ${d.field ?? ''}`.trim());

describe('path types (Kubernetes docs path-matching table)', () => {
  const r = buildFixture('path-types');
  it.each([
    ['/', 'default/svc-a:80'],
    ['/foo', 'default/svc-b:80'], // Exact beats Prefix of equal length
    ['/foo/', 'default/svc-c:http'], // Exact /foo does not match /foo/; Prefix does
    ['/foo/bar', 'default/svc-c:http'],
    ['/foobar', 'default/svc-a:80'], // element-wise: /foo is not a prefix of /foobar
    ['/aaa/bbb', 'default/svc-c:admin'], // trailing slash in the Ingress path is ignored
    ['/aaa/bbb/', 'default/svc-c:admin'],
    ['/aaa/bbbxyz', 'default/svc-a:80'],
    ['/aaa/bbb/ccc', 'default/svc-b:80'], // longest match: Exact /aaa/bbb/ccc
    ['/aaa/bbb/ccc/', 'default/svc-c:admin'],
    ['/impl/x', 'default/svc-b:80'], // ImplementationSpecific is Prefix outside regex mode
    ['/FOO', 'default/svc-a:80'], // paths are case-sensitive
    ['/foo/../foo', 'default/svc-b:80'], // matching uses the normalised path
    ['/f%6fo', 'default/svc-b:80'],
  ])('%s → %s', (path, backend) => {
    expect(routeOf(r, 'app.example.com', path)).toBe(backend);
  });
  it('has no diagnostics', () => expect(codes(r)).toEqual([]));
});

describe('hosts', () => {
  const r = buildFixture('hosts');
  it.each([
    ['foo.example.com', 'default/svc-a:80'], // host names are case-insensitive
    ['FOO.example.com:8080', 'default/svc-a:80'], // the port in Host is ignored
    ['bar.example.com', 'default/svc-b:80'], // one-label wildcard
    ['baz.bar.example.com', 'default/svc-c:http'], // two labels: not the wildcard, the rule without host
    ['example.com', 'default/svc-c:http'],
    ['anything.test', 'default/svc-c:http'],
  ])('%s → %s', (host, backend) => {
    expect(routeOf(r, host, '/')).toBe(backend);
  });
  it('reports an invalid host and skips that rule only', () => {
    expect(codes(r)).toEqual(['InvalidHost hosts spec.rules[3].host']);
  });
});

describe('IngressClass selection', () => {
  it('serves its class by name and the legacy annotation (our class or an IngressClass of ours), ignores other classes and class-less Ingresses', () => {
    const r = buildFixture('class-selection');
    expect([...r.table.exactHosts.keys()].sort()).toEqual(['legacy-object.example.com', 'legacy.example.com', 'ours.example.com']);
  });
  it('serves class-less Ingresses with --watch-ingress-without-class, and still not other classes', () => {
    const r = buildFixture('class-selection', { watchWithoutClass: true });
    expect([...r.table.exactHosts.keys()].sort()).toEqual(['legacy-object.example.com', 'legacy.example.com', 'no-class.example.com', 'ours.example.com']);
  });
  it('serves class-less Ingresses when our IngressClass is the default', () => {
    const r = buildFixture('default-class');
    expect(routeOf(r, 'no-class.example.com', '/')).toBe('default/svc-a:80');
  });
});

describe('Prefix /foo and /foo/ (Ingress API reference)', () => {
  const r = buildFixture('prefix-trailing-slash');
  it.each([
    ['/foo', 'default/svc-b:80'], ['/foo/', 'default/svc-b:80'], ['/foo/x', 'default/svc-b:80'],
    ['/bar', 'default/svc-a:80'], ['/bar/', 'default/svc-a:80'], ['/bar/x', 'default/svc-a:80'],
    ['/foobar', '404'],
  ])('%s → %s: the longer of the two wins, whichever Ingress is older', (path, backend) => {
    expect(routeOf(r, 'app.example.com', path)).toBe(backend);
  });
  it('is not a conflict', () => expect(codes(r)).toEqual([]));
});

describe('conflicts', () => {
  const r = buildFixture('conflicting-paths');
  it('gives the path to the oldest Ingress, keeps the loser\'s other paths, and reports the loser', () => {
    expect(routeOf(r, 'app.example.com', '/api/x')).toBe('default/svc-a:80');
    expect(routeOf(r, 'app.example.com', '/web')).toBe('default/svc-b:80');
    expect(codes(r)).toEqual(['PathConflict newer spec.rules[0].http.paths[0].path']);
    expect(r.diagnostics[0]!.message).toContain('default/older');
  });
});

describe('regex mode', () => {
  const r = buildFixture('regex-host');
  it('matches every path of the host as a case-insensitive, start-anchored regex', () => {
    expect(routeOf(r, 'regex.example.com', '/headers')).toBe('default/svc-b:80'); // Exact /HEAD as a prefix regex
    expect(routeOf(r, 'regex.example.com', '/SOMETHING/new')).toBe('default/svc-a:80');
  });
  it('tries the longest path first: a longer regex beats a shorter literal', () => {
    expect(routeOf(r, 'regex.example.com', '/foo/bar/bar')).toBe('default/svc-c:http');
    expect(routeOf(r, 'regex.example.com', '/nothing')).toBe('404');
  });
  it('reports a path that is not valid RE2, or that would escape its anchor, and keeps the others', () => {
    expect(codes(r)).toEqual(['InvalidPath plain spec.rules[0].http.paths[3].path', 'InvalidPath plain spec.rules[0].http.paths[4].path']);
    // Wrapped as ^(?:/api)|(/admin) it would match /admin anywhere in the path.
    expect(routeOf(r, 'regex.example.com', '/public/admin')).toBe('404');
  });
  it('compiles the rewrite template', () => {
    const route = r.table.exactHosts.get('regex.example.com')!.regex.find((x) => x.ingress === 'default/rewrite')!;
    expect(route.options.rewrite?.parts).toEqual(['/', 2]);
  });
});

describe('default backends', () => {
  const r = buildFixture('default-backend');
  it('sends unknown hosts to the oldest default backend', () => {
    expect(routeOf(r, 'unknown.example.com', '/x')).toBe('default/svc-c:http');
  });
  it('sends unmatched paths of a host to the default backend of its Ingress', () => {
    expect(routeOf(r, 'app.example.com', '/api/v1')).toBe('default/svc-a:80');
    expect(routeOf(r, 'app.example.com', '/other')).toBe('default/svc-b:80');
  });
  it('reports the default backend that lost', () => {
    expect(codes(r)).toEqual(['DefaultBackendConflict with-own-default spec.defaultBackend']);
  });
});

describe('backends and endpoints', () => {
  it('merges all slices, resolves the port through the slice port name, honours readiness', () => {
    const r = buildFixture('path-types');
    expect(r.table.backends.get('default/svc-a:80')!.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual([
      '10.244.0.10:8080', // ready unset counts as ready
      '10.244.0.11:8080',
      '10.244.1.10:8081', // second slice, its own port
    ]);
    expect(r.table.backends.get('default/svc-c:admin')!.endpoints.map((e) => e.port)).toEqual([9999]);
  });
  it('keeps routes to missing Services and ports (they answer 503) and reports them', () => {
    const r = buildFixture('missing-backends');
    expect(r.table.backends.get('default/nope:80')!.endpoints).toEqual([]);
    expect(r.table.backends.get('default/svc-a:81')!.endpoints).toEqual([]);
    expect(routeOf(r, 'app.example.com', '/no-service')).toBe('default/nope:80');
    expect(codes(r)).toEqual([
      'ServiceNotFound missing spec.rules[0].http.paths[0].backend.service',
      'ServicePortNotFound missing spec.rules[0].http.paths[1].backend.service',
    ]);
  });
  it('reads sessionAffinity and service-upstream', () => {
    const r = buildFixture('session-affinity');
    expect(r.table.backends.get('default/sticky:80')!.affinityTimeoutMs).toBe(30_000);
    expect(r.table.backends.get('default/sticky:80 (service-upstream)')!.endpoints).toEqual([{ address: '10.96.0.20', port: 80, key: '10.96.0.20:80', target: 'service sticky' }]);
  });
});

describe('invalid annotations', () => {
  const r = buildFixture('invalid-annotations');
  const options = r.table.exactHosts.get('app.example.com')!.prefix.get('/')!.options;
  it('keep the route serving with defaults, ours winning over nginx.ingress.kubernetes.io', () => {
    expect(options.bodyLimit).toBe(1024 * 1024);
    expect(options.readTimeoutMs).toBe(60_000);
    expect(options.connectTimeoutMs).toBe(2_000);
    expect(options.upstreamVhost).toBeUndefined();
  });
  it('name the Ingress, the annotation and the reason', () => {
    expect(codes(r)).toEqual([
      'UnsupportedAnnotation typos metadata.annotations[nginx.ingress.kubernetes.io/proxy-cookie-path]',
      'InvalidAnnotation typos metadata.annotations[nginx.ingress.kubernetes.io/proxy-read-timeout]',
      'InvalidAnnotation typos metadata.annotations[nginx.ingress.kubernetes.io/proxy-body-size]',
      'InvalidAnnotation typos metadata.annotations[nginx.ingress.kubernetes.io/upstream-vhost]',
    ]);
    expect(r.diagnostics.find((d) => d.field?.includes('upstream-vhost'))!.message).toContain('CR or LF');
    expect(r.diagnostics.find((d) => d.field?.includes('proxy-read-timeout'))!.message).toContain('"120s"');
  });
});
