// The controller ConfigMap as an operator uses it in standalone mode: its keys act on requests and
// listeners, an annotation still wins, and a change (a bad value included) goes live without a restart.
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { echoed, exchange, send } from './helpers/http.ts';
import { ingress, service } from './helpers/manifests.ts';
import { startPortico, type RunningPortico } from './helpers/portico.ts';

const backends = new BackendSet();
let portico: RunningPortico;

function configMap(data: Record<string, string>): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: portico-config, namespace: default}\ndata:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
}

const BASE = { 'proxy-body-size': '1k', 'force-ssl-redirect': 'false', 'keep-alive-requests': '2', 'large-client-header-buffers': '2 1k', 'enable-underscores-in-headers': 'true' };

beforeAll(async () => {
  const echo = { address: '127.0.12.1', port: await backends.echo('echo', '127.0.12.1') };
  const coyote = { address: '127.0.12.2', port: await backends.http('127.0.12.2', (_req, res) => res.setHeader('server', 'Apache-Coyote/1.1').end('ok')) };
  portico = await startPortico({
    'config.yaml': configMap(BASE),
    'app.yaml': [service('echo', [echo]), service('coyote', [coyote]), ingress({ name: 'coyote', host: 'coyote.test', service: 'coyote' }), ingress({ name: 'plain', host: 'plain.test', service: 'echo' }),
      ingress({ name: 'big', host: 'big.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '10k' } })].join('---\n'),
  }, 'undici', { configMap: 'default/portico-config' });
});

afterAll(async () => {
  await portico.stop();
  await backends.close();
});

const post = (host: string, bytes: number) => send(portico.httpPort, host, '/', { method: 'POST', body: Buffer.alloc(bytes, 'x') });
const diagnostics = async (): Promise<string[]> => {
  const r = await fetch(`http://127.0.0.1:${portico.adminPort}/debug/diagnostics`);
  return ((await r.json()) as { field?: string; message: string }[]).map((d) => `${d.field}: ${d.message}`);
};

describe('controller ConfigMap in standalone mode', () => {
  it('sets every Ingress’s defaults; the annotation wins', async () => {
    expect((await post('plain.test', 2048)).status).toBe(413);
    expect(echoed(await post('big.test', 2048)).bodyBytes).toBe(2048);
  });

  it('sets the listeners’ limits and the headers passed on', async () => {
    expect((await send(portico.httpPort, 'plain.test', '/', { headers: { 'x-big': 'a'.repeat(2100) } })).status).toBe(431);
    expect(echoed(await send(portico.httpPort, 'plain.test', '/', { headers: { 'x_tenant': 'blue' } })).headers['x_tenant']).toBe('blue');
    // keep-alive-requests 2: the second response on a connection closes it.
    const replies = await exchange(portico.httpPort, 'GET / HTTP/1.1\r\nHost: plain.test\r\n\r\nGET / HTTP/1.1\r\nHost: plain.test\r\n\r\n');
    expect(replies.match(/^HTTP\/1\.1 200/gm)).toHaveLength(2);
    expect(replies.split('HTTP/1.1 200')[2]).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('applies a change live, keeps the previous value of a bad one and says so', async () => {
    await portico.apply('config.yaml', configMap({ ...BASE, 'proxy-body-size': 'huge' }));
    expect((await post('plain.test', 2048)).status).toBe(413);
    expect(await diagnostics()).toContainEqual('data[proxy-body-size]: "huge" is not a size like 8m, 512k or 0 (unlimited); keeping the previous value "1k"');
    await portico.apply('config.yaml', configMap({ ...BASE, 'force-ssl-redirect': 'true', 'http-redirect-code': '301' }));
    const redirect = await send(portico.httpPort, 'plain.test', '/a');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://plain.test:${portico.httpsPort}/a`);

    await portico.apply('config.yaml', configMap({ ...BASE, 'proxy-body-size': '4k', 'keep-alive-requests': '0' }));
    expect(echoed(await post('plain.test', 2048)).bodyBytes).toBe(2048);
    expect(await diagnostics()).not.toContainEqual(expect.stringContaining('data[proxy-body-size]'));
  });

  it('sets TLS versions, keep-alive to pods, the Server header and request ids live', async () => {
    const tls12 = () => new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: portico.httpsPort, servername: 'plain.test', rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
        resolve(socket.getProtocol() ?? '');
        socket.destroy();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(await tls12()).toBe('TLSv1.2');
    expect(echoed(await send(portico.httpPort, 'plain.test', '/')).headers['connection']).toBe('keep-alive');
    await portico.apply('config.yaml', configMap({ ...BASE, 'ssl-protocols': 'TLSv1.3', 'upstream-keepalive-connections': '0', 'server-tokens': 'true', 'generate-request-id': 'false' }));
    expect(await tls12()).toMatch(/^ERR_SSL_|^ECONNRESET$/);
    const r = await send(portico.httpPort, 'plain.test', '/');
    expect(echoed(r).headers['connection']).toBe('close');
    expect(r.headers['server']).toBe('portico');
    expect(r.headers['x-request-id']).toBeUndefined();
    expect(echoed(r).headers['x-request-id']).toBeUndefined();
    // A client's own id still goes through.
    expect((await send(portico.httpPort, 'plain.test', '/', { headers: { 'x-request-id': 'mine' } })).headers['x-request-id']).toBe('mine');
    await portico.apply('config.yaml', configMap(BASE));
    expect(await tls12()).toBe('TLSv1.2');
    const back = await send(portico.httpPort, 'plain.test', '/');
    expect([back.headers['server'], typeof back.headers['x-request-id'], echoed(back).headers['connection']]).toEqual([undefined, 'string', 'keep-alive']);
  });

  it('passes the pod\'s Server header and adds X-Original-URI only when asked', async () => {
    expect((await send(portico.httpPort, 'coyote.test', '/')).headers['server']).toBeUndefined();
    expect(echoed(await send(portico.httpPort, 'plain.test', '/a?b=1')).headers['x-original-uri']).toBeUndefined();
    await portico.apply('config.yaml', configMap({ ...BASE, 'allow-backend-server-header': 'true', 'proxy-add-original-uri-header': 'true' }));
    expect((await send(portico.httpPort, 'coyote.test', '/')).headers['server']).toBe('Apache-Coyote/1.1');
    expect(echoed(await send(portico.httpPort, 'plain.test', '/a?b=1')).headers['x-original-uri']).toBe('/a?b=1');
    await portico.apply('config.yaml', configMap(BASE));
  });

  it('keep-alive 0 closes every connection after its response', async () => {
    await portico.apply('config.yaml', configMap({ ...BASE, 'keep-alive': '0' }));
    const socket = connect(portico.httpPort, '127.0.0.1');
    const reply = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.write('GET / HTTP/1.1\r\nHost: plain.test\r\n\r\n');
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply).toMatch(/\r\nconnection: close\r\n/i);
  });
});
