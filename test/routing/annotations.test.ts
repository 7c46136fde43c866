import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTE_OPTIONS, parseBodySize, parseIngressAnnotations } from '../../src/routing/annotations/index.ts';

const ref = { kind: 'Ingress', namespace: 'default', name: 'app' };
const parse = (a: Record<string, string>) => parseIngressAnnotations(a, ref);
const nginx = (name: string, value: string) => ({ [`nginx.ingress.kubernetes.io/${name}`]: value });

describe('annotation parsing', () => {
  it('gives ingress-nginx defaults when nothing is set', () => {
    const r = parse({});
    expect(r.route).toEqual(DEFAULT_ROUTE_OPTIONS);
    expect(r.route).toMatchObject({ connectTimeoutMs: 5000, readTimeoutMs: 60000, sendTimeoutMs: 60000, bodyLimit: 1048576 });
    expect(r.host.regexMode).toBe(false);
    expect(r.diagnostics).toEqual([]);
  });

  it.each([
    ['1m', 1048576], ['10m', 10485760], ['512k', 524288], ['512K', 524288], ['2g', 2147483648], ['100', 100], [' 8 m ', 8388608], ['0', Infinity],
  ])('reads proxy-body-size %j as %d bytes', (value, bytes) => {
    expect(parseBodySize(value)).toBe(bytes);
  });

  it.each(['8mb', '1.5m', '-1', 'm', '1t'])('refuses proxy-body-size %j with a diagnostic and keeps 1m', (value) => {
    const r = parse(nginx('proxy-body-size', value));
    expect(r.route.bodyLimit).toBe(1048576);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'InvalidAnnotation', field: 'metadata.annotations[nginx.ingress.kubernetes.io/proxy-body-size]' });
  });

  it('reads timeouts as whole seconds only', () => {
    const r = parse({ ...nginx('proxy-connect-timeout', '10'), ...nginx('proxy-send-timeout', '30'), ...nginx('proxy-read-timeout', '120s') });
    expect(r.route).toMatchObject({ connectTimeoutMs: 10000, sendTimeoutMs: 30000, readTimeoutMs: 60000 });
    expect(r.diagnostics.map((d) => d.field)).toEqual(['metadata.annotations[nginx.ingress.kubernetes.io/proxy-read-timeout]']);
  });

  it('prefers portico.dev/ over nginx.ingress.kubernetes.io/', () => {
    const r = parse({ ...nginx('proxy-read-timeout', '10'), 'portico.dev/proxy-read-timeout': '20' });
    expect(r.route.readTimeoutMs).toBe(20000);
  });

  it('refuses any value with CR or LF', () => {
    const r = parse(nginx('rewrite-target', '/\r\nx'));
    expect(r.route.rewrite).toBeUndefined();
    expect(r.host.regexMode).toBe(false);
    expect(r.diagnostics[0]!.message).toContain('CR or LF');
  });

  it('reads Go booleans for use-regex', () => {
    expect(parse(nginx('use-regex', 'True')).host.regexMode).toBe(true);
    expect(parse(nginx('use-regex', '1')).host.regexMode).toBe(true);
    expect(parse(nginx('use-regex', 'false')).host.regexMode).toBe(false);
    const bad = parse(nginx('use-regex', 'yes'));
    expect(bad.host.regexMode).toBe(false);
    expect(bad.diagnostics).toHaveLength(1);
  });

  it('compiles rewrite-target into literal parts and group numbers, and turns on regex mode', () => {
    const r = parse(nginx('rewrite-target', '/api/$2/x$1'));
    expect(r.route.rewrite?.parts).toEqual(['/api/', 2, '/x', 1]);
    expect(r.host.regexMode).toBe(true);
  });

  it('refuses a rewrite-target with a query string, as ingress-nginx validation does', () => {
    const r = parse(nginx('rewrite-target', '/x?a=b'));
    expect(r.route.rewrite).toBeUndefined();
    expect(r.diagnostics).toHaveLength(1);
  });

  it('reads proxy-next-upstream tokens and tries', () => {
    const r = parse({ ...nginx('proxy-next-upstream', 'error http_502 http_503 non_idempotent'), ...nginx('proxy-next-upstream-tries', '5') });
    expect(r.route.nextUpstream).toEqual({ onError: true, onTimeout: false, onStatus: new Set([502, 503]), nonIdempotent: true, tries: 5 });
    expect(parse(nginx('proxy-next-upstream', 'off')).route.nextUpstream).toMatchObject({ onError: false, onTimeout: false, tries: 1 });
    const bad = parse(nginx('proxy-next-upstream', 'error sometimes'));
    expect(bad.route.nextUpstream).toEqual(DEFAULT_ROUTE_OPTIONS.nextUpstream);
    expect(bad.diagnostics[0]!.message).toContain('"sometimes"');
  });

  it('reads redirects with their codes; temporal-redirect wins; out-of-range codes fall back', () => {
    expect(parse(nginx('permanent-redirect', 'https://x.test/a?b=c')).route.redirect).toEqual({ url: 'https://x.test/a?b=c', code: 301 });
    expect(parse({ ...nginx('permanent-redirect', 'https://x.test/'), ...nginx('permanent-redirect-code', '308') }).route.redirect?.code).toBe(308);
    const bad = parse({ ...nginx('temporal-redirect', 'https://x.test/'), ...nginx('temporal-redirect-code', '308') });
    expect(bad.route.redirect).toEqual({ url: 'https://x.test/', code: 302 });
    expect(bad.diagnostics).toHaveLength(1);
    expect(parse({ ...nginx('temporal-redirect', 'https://t.test/'), ...nginx('permanent-redirect', 'https://p.test/') }).route.redirect?.url).toBe('https://t.test/');
    expect(parse(nginx('permanent-redirect', 'javascript:alert(1)')).route.redirect).toBeUndefined();
  });

  it('reads app-root, upstream-vhost, x-forwarded-prefix, backend-protocol and service-upstream', () => {
    const r = parse({
      ...nginx('app-root', '/app'), ...nginx('upstream-vhost', 'internal.svc.cluster.local'), ...nginx('x-forwarded-prefix', '/api'),
      ...nginx('backend-protocol', 'https'), ...nginx('service-upstream', 'true'),
    });
    expect(r.host.appRoot).toBe('/app');
    expect(r.route).toMatchObject({ upstreamVhost: 'internal.svc.cluster.local', forwardedPrefix: '/api', backendProtocol: 'HTTPS' });
    expect(r.backend.serviceUpstream).toBe(true);
    expect(r.diagnostics).toEqual([]);
  });

  it('refuses protocols Portico does not speak and app-roots that are not paths', () => {
    const r = parse({ ...nginx('backend-protocol', 'GRPC'), ...nginx('app-root', 'app') });
    expect(r.route.backendProtocol).toBe('HTTP');
    expect(r.host.appRoot).toBeUndefined();
    expect(r.diagnostics).toHaveLength(2);
  });

  it('says which annotations it ignores', () => {
    const r = parse({ ...nginx('proxy-cookie-path', '/'), ...nginx('made-up', 'x'), 'other.io/thing': 'y' });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ['UnsupportedAnnotation', 'not supported by Portico yet; ignored'],
      ['UnsupportedAnnotation', 'unknown annotation; ignored'],
    ]);
  });

  it.each([
    ['proxy-send-timeout', '2147484'], ['proxy-read-timeout', '9'.repeat(400)], ['proxy-connect-timeout', '99999999999'],
  ])('refuses %s %j, which no timer can hold (F7), and keeps the default', (name, value) => {
    const r = parse(nginx(name, value));
    expect([r.route.sendTimeoutMs, r.route.readTimeoutMs, r.route.connectTimeoutMs]).toEqual([60_000, 60_000, 5_000]);
    expect(r.diagnostics).toHaveLength(1);
    expect(parse(nginx(name, '2147483')).diagnostics).toEqual([]);
  });

  it('refuses sizes too large to count instead of making them unlimited (F16)', () => {
    expect(parseBodySize('9'.repeat(30) + 'g')).toBeUndefined();
    expect(parseBodySize('8388608g')).toBeUndefined(); // 2^53 bytes
    expect(parse(nginx('proxy-body-size', '9'.repeat(30) + 'g')).route.bodyLimit).toBe(1024 * 1024);
  });

  it.each(['a'.repeat(1024 * 1024), `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`, 'x:99999', 'x:0', '..', 'a..b', '-a.example', `${'a'.repeat(64)}.example`])(
    'refuses upstream-vhost %s (F16)', (value) => {
      const r = parse(nginx('upstream-vhost', value));
      expect(r.route.upstreamVhost).toBeUndefined();
      expect(r.diagnostics).toHaveLength(1);
      expect(r.diagnostics[0]!.message.length).toBeLessThan(300);
    });

  it('accepts upstream-vhost host names with a port, and refuses paths and URLs longer than a request line could carry', () => {
    expect(parse(nginx('upstream-vhost', 'internal.svc:8080')).route.upstreamVhost).toBe('internal.svc:8080');
    expect(parse(nginx('rewrite-target', '/' + 'a'.repeat(5000))).route.rewrite).toBeUndefined();
    expect(parse(nginx('permanent-redirect', `https://x.example/${'a'.repeat(5000)}`)).route.redirect).toBeUndefined();
  });

  it.each(['auth-url', 'auth-type', 'auth-secret', 'auth-tls-secret', 'auth-tls-verify-client', 'auth-signin', 'whitelist-source-range', 'allowlist-source-range', 'denylist-source-range'])(
    'fails closed on the access-guarding %s when it is unsupported or unusable', (name) => {
      const r = parse(nginx(name, 'x'));
      expect(r.route.denyReason).toContain(`nginx.ingress.kubernetes.io/${name}`);
      expect(r.diagnostics[0]!.message).toContain('answers 503');
    });

  it.each(['auth-type', 'whitelist-source-range', 'denylist-source-range'])('fails closed on a %s value with CR or LF instead of dropping the guard', (name) => {
    expect(parse(nginx(name, 'basic\r\n10.0.0.0/8')).route.denyReason).toContain(name);
  });

  it('does not fail closed on annotations that guard nothing', () => {
    expect(parse({ ...nginx('enable-cors', 'true'), ...nginx('configuration-snippet', 'more_set_headers "x: y";') }).route.denyReason).toBeUndefined();
  });
});
