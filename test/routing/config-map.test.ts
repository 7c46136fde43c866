// The controller ConfigMap: ingress-nginx's precedence (annotation > ConfigMap > built-in default),
// a Warning for every key Portico does not implement, and a bad value that keeps the previous one.
import { describe, expect, it } from 'vitest';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { buildRoutingTable } from '../../src/routing/index.ts';
import { parseControllerConfig, INGRESS_NGINX_SERVER_SETTINGS } from '../../src/routing/config-map/index.ts';
import type { Route } from '../../src/table/types.ts';
import { buildFixture, CLASS, fixtureSnapshot } from '../helpers/build-fixture.ts';

const SOURCE = 'default/portico-config';
const routeAt = (r: ReturnType<typeof buildFixture>, host: string): Route => r.table.exactHosts.get(host)!.prefix.get('/')!;
const about = (r: { diagnostics: readonly { object: { kind: string }; field?: string | undefined; code: string; message: string }[] }, key: string) =>
  r.diagnostics.filter((d) => d.object.kind === 'ConfigMap' && d.field === `data[${key}]`).map((d) => `${d.code}: ${d.message}`);
const configMap = (data: Record<string, string>): V1ConfigMap => ({ metadata: { name: 'portico-config', namespace: 'default' }, data });

describe('controller ConfigMap', () => {
  const r = buildFixture('config-map', { configMap: SOURCE });

  it('sets the defaults of Ingresses without the annotation', () => {
    const plain = routeAt(r, 'plain.example.com').options;
    expect(plain.bodyLimit).toBe(8 * 1024);
    expect(plain.readTimeoutMs).toBe(120_000);
    expect(plain.access?.allow?.text).toEqual(['10.0.0.0/8']);
    expect(plain.externalAuth?.url.source).toBe('http://auth.default.svc/check');
    expect(plain.externalAuth?.responseHeaders).toEqual(['x-user']);
  });

  it('loses to the Ingress’s own annotations, its own auth-url included', () => {
    const own = routeAt(r, 'own.example.com').options;
    expect(own.bodyLimit).toBe(2 * 1024 * 1024);
    expect(own.access?.allow?.text).toEqual(['192.168.0.0/16']);
    expect(own.externalAuth?.url.source).toBe('http://other-auth.default.svc/');
    expect(own.externalAuth?.responseHeaders).toEqual([]);
    expect(own.rateLimit).toMatchObject({ requestsPerSecond: 5, requestStatus: 429, connectionStatus: 503 });
  });

  it('stands in for an unusable annotation, and enable-global-auth "false" opts out', () => {
    const bad = routeAt(r, 'bad.example.com').options;
    expect(bad.readTimeoutMs).toBe(120_000);
    expect(bad.externalAuth).toBeUndefined();
    const d = r.diagnostics.find((x) => x.object.name === 'bad')!;
    expect(d.message).toContain('using the ConfigMap\'s value "120"');
  });

  it('sets the instance settings the listeners and requests read', () => {
    const s = r.table.settings;
    expect(s.hstsHeader).toBe('max-age=600; includeSubDomains; preload');
    expect(s.clientAddress).toMatchObject({ realIp: true, forwardedHeaders: true, trusted: { text: ['192.0.2.0/24'] } });
    expect(s.listener).toMatchObject({ keepAliveRequests: 50, maxHeaderSize: 64 * 1024, keepAliveTimeoutMs: 75_000 });
    expect(s.clientBodyTimeoutMs).toBe(60_000);
  });

  it('warns once per key it does not implement, and names typos and snippets', () => {
    expect(about(r, 'enable-brotli')).toEqual(['UnsupportedConfigKey: not supported by Portico yet; ignored']);
    expect(about(r, 'proxy-bodysize')).toEqual(['UnsupportedConfigKey: not an ingress-nginx ConfigMap key; ignored']);
    expect(about(r, 'main-snippet')).toEqual(['RefusedSnippet: nginx configuration snippets are never run by Portico; ignored']);
    expect(about(r, 'client-body-timeout')).toEqual(['InvalidConfigValue: "soon" is not a whole number of seconds between 1 and 2147483; using the default']);
    expect(about(r, 'proxy-body-size')).toEqual([]);
  });

  it('keeps the previous value of a key whose new value is bad, and says so', () => {
    const first = parseControllerConfig(configMap({ 'proxy-body-size': '8k', 'keep-alive': '30' }), SOURCE, INGRESS_NGINX_SERVER_SETTINGS);
    const second = parseControllerConfig(configMap({ 'proxy-body-size': 'lots', 'keep-alive': 'forever' }), SOURCE, INGRESS_NGINX_SERVER_SETTINGS, first.config);
    expect(second.config.annotationDefaults.get('proxy-body-size')).toBe('8k');
    expect(second.config.settings.server.listener.keepAliveTimeoutMs).toBe(30_000);
    expect(about(second, 'proxy-body-size')[0]).toMatch(/^InvalidConfigValue: .*"lots".*; keeping the previous value "8k"$/);
    expect(about(second, 'keep-alive')[0]).toMatch(/"forever".*; keeping the previous value "30"$/);
    // Without a previous value: the built-in default.
    const fresh = parseControllerConfig(configMap({ 'proxy-body-size': 'lots' }), SOURCE, INGRESS_NGINX_SERVER_SETTINGS);
    expect(fresh.config.annotationDefaults.has('proxy-body-size')).toBe(false);
    expect(about(fresh, 'proxy-body-size')[0]).toContain('using the default 1m');
  });

  it('fails closed when an access guard in it cannot be used and none was before', () => {
    const snapshot = fixtureSnapshot('config-map');
    const cm = snapshot.configMaps.get(SOURCE)!;
    const broken = new Map(snapshot.configMaps).set(SOURCE, { ...cm, data: { ...cm.data, 'whitelist-source-range': '10.0.0.0/33' } });
    const b = buildRoutingTable({ ...snapshot, configMaps: broken }, { ...CLASS, generation: 1, configMap: SOURCE });
    expect(routeAt(b, 'plain.example.com').steps.map((s) => s.kind)).toEqual(['deny']);
    expect(routeAt(b, 'plain.example.com').options.denyReason).toContain('ConfigMap default/portico-config data[whitelist-source-range]');
    // An Ingress with its own allow list does not depend on the ConfigMap's.
    expect(routeAt(b, 'own.example.com').steps.map((s) => s.kind)).not.toContain('deny');
    expect(about(b, 'whitelist-source-range')[0]).toContain('every path of every Ingress that does not set this annotation itself answers 503');
  });

  it('reports a missing ConfigMap and uses the defaults; without --configmap nothing is read', () => {
    const missing = buildFixture('config-map', { configMap: 'default/nope' });
    expect(missing.diagnostics.filter((d) => d.code === 'ConfigMapNotFound').map((d) => d.message)).toEqual(['--configmap default/nope does not exist; using the built-in defaults']);
    expect(routeAt(missing, 'plain.example.com').options.bodyLimit).toBe(1024 * 1024);
    const none = buildFixture('config-map');
    expect(none.diagnostics.some((d) => d.object.kind === 'ConfigMap')).toBe(false);
    expect(none.table.settings).toEqual(INGRESS_NGINX_SERVER_SETTINGS);
  });

  it('warns about global-auth keys without global-auth-url, and values with CR/LF', () => {
    const r2 = parseControllerConfig(configMap({ 'global-auth-method': 'POST', 'hsts-max-age': '1\r\nX: y' }), SOURCE, INGRESS_NGINX_SERVER_SETTINGS);
    expect(about(r2, 'global-auth-method')).toEqual(['InvalidConfigValue: global-auth-url is not set, so this has no effect']);
    expect(r2.config.globalAuth.size).toBe(0);
    expect(about(r2, 'hsts-max-age')[0]).toContain('CR or LF');
  });
});
