// server-alias, from-to-www-redirect, custom-headers and request buffering, from outside.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from '../helpers/backends.ts';
import { echoed, send } from '../helpers/http.ts';
import { ingress, service } from '../helpers/manifests.ts';
import { startPortico, type RunningPortico } from '../helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

async function* chunks(n: number, size: number, gapMs = 0): AsyncIterable<Buffer> {
  for (let i = 0; i < n; i++) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    yield Buffer.alloc(size, 97);
  }
}

describe('hosts, response headers and request buffering', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  const get = (host: string, path = '/', o: Parameters<typeof send>[3] = {}) => send(portico.httpPort, host, path, o);

  beforeAll(async () => {
    const echo = { address: '127.0.90.1', port: await backends.echo('echo', '127.0.90.1') };
    const other = { address: '127.0.90.2', port: await backends.echo('other', '127.0.90.2') };
    const headersPod = { address: '127.0.90.3', port: await backends.http('127.0.90.3', (_req, res) => {
      res.writeHead(200, { 'x-frame-options': 'ALLOWALL', 'content-type': 'text/plain' });
      res.end('pod');
    }) };
    const configMap = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: security-headers}\ndata:\n  X-Frame-Options: DENY\n  Strict-Transport-Security: "max-age=600"\n  Content-Length: "5"\n`;
    portico = await startPortico({
      'apps.yaml': [
        service('echo', [echo]), service('other', [other]), service('headers', [headersPod]), configMap,
        ingress({ name: 'aliased', host: 'shop.test', service: 'echo', annotations: { [`${NGINX}server-alias`]: 'store.test, owned.test' } }),
        ingress({ name: 'owned', host: 'owned.test', service: 'other' }),
        ingress({ name: 'www', host: 'www.brand.test', service: 'echo', annotations: { [`${NGINX}from-to-www-redirect`]: 'true' } }),
        ingress({ name: 'bare', host: 'bare.test', service: 'echo', annotations: { [`${NGINX}from-to-www-redirect`]: 'true' } }),
        ingress({ name: 'decorated', host: 'decorated.test', service: 'headers', annotations: { [`${NGINX}custom-headers`]: 'default/security-headers' } }),
        ingress({ name: 'buffered', host: 'buffered.test', service: 'echo', annotations: { [`${NGINX}proxy-body-size`]: '8m' } }),
        ingress({ name: 'streamed', host: 'streamed.test', service: 'echo', annotations: { [`${NGINX}proxy-request-buffering`]: 'off' } }),
      ].join('---\n'),
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  it('server-alias answers with the host’s routes, but never takes a host a rule names', async () => {
    expect(echoed(await get('store.test')).server).toBe('echo');
    expect(echoed(await get('owned.test')).server).toBe('other');
    const diagnostics = await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/diagnostics`)).json() as { message: string }[];
    expect(diagnostics.map((d) => d.message)).toContain('"owned.test" is already a rule of host "owned.test"; alias ignored');
  });

  it('from-to-www-redirect: 308 from the other spelling, path and query kept', async () => {
    const toWww = await get('brand.test', '/a/b?c=d');
    expect(toWww.status).toBe(308);
    expect(toWww.headers.location).toBe('http://www.brand.test/a/b?c=d');
    // A port in the Host header is kept.
    expect((await get('www.bare.test:8080', '/x')).headers.location).toBe('http://bare.test:8080/x');
    expect(echoed(await get('www.brand.test')).server).toBe('echo');
  });

  it('custom-headers replace the pod’s, and framing headers are refused', async () => {
    const reply = await get('decorated.test');
    expect(reply.body).toBe('pod');
    expect(reply.headers['x-frame-options']).toBe('DENY');
    expect(reply.headers['strict-transport-security']).toBe('max-age=600');
    expect(reply.headers['content-length']).not.toBe('5');
  });

  it('proxy-request-buffering on (the default): a chunked body reaches the pod with a Content-Length', async () => {
    const pod = echoed(await get('buffered.test', '/', { method: 'POST', body: chunks(20, 10_000, 5) }));
    expect(pod.headers['content-length']).toBe('200000');
    expect(pod.headers['transfer-encoding']).toBeUndefined();
    expect(pod.bodyBytes).toBe(200_000);
    // Larger than the 1 MiB kept in memory but within the limit: it streams.
    const big = echoed(await get('buffered.test', '/', { method: 'POST', body: chunks(40, 64 * 1024) }));
    expect(big.bodyBytes).toBe(40 * 64 * 1024);
    expect(big.headers['transfer-encoding']).toBe('chunked');
  });

  it('proxy-request-buffering off: the body streams as it comes', async () => {
    const pod = echoed(await get('streamed.test', '/', { method: 'POST', body: chunks(3, 1000, 30) }));
    expect(pod.headers['transfer-encoding']).toBe('chunked');
    expect(pod.bodyBytes).toBe(3000);
  });

  it('a chunked body over the limit gets 413, streamed or not', async () => {
    expect((await get('streamed.test', '/', { method: 'POST', body: chunks(20, 64 * 1024) })).status).toBe(413);
    expect((await get('buffered.test', '/', { method: 'POST', body: chunks(140, 64 * 1024) })).status).toBe(413);
  });
});
