// Real client addresses through Portico: X-Forwarded-* from a trusted load balancer
// (use-forwarded-headers, proxy-real-ip-cidr) and PROXY protocol on both listeners, feeding the
// allow list and the headers the pod sees.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command, IPv4Address, IPv4ProxyAddress, TransportProtocol, V2ProxyProtocol } from 'proxy-protocol-js';
import { BackendSet } from './helpers/backends.ts';
import { echoed, exchange, send } from './helpers/http.ts';
import { ingress, service } from './helpers/manifests.ts';
import { startPortico, type RunningPortico } from './helpers/portico.ts';

const backends = new BackendSet();
let portico: RunningPortico;
const LB = '127.0.13.5';
const TRUSTED = { 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '127.0.13.0/24' };

const configMap = (data: Record<string, string>): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: portico-config, namespace: default}\ndata:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;

beforeAll(async () => {
  const echo = { address: '127.0.13.1', port: await backends.echo('echo', '127.0.13.1') };
  portico = await startPortico({
    'config.yaml': configMap(TRUSTED),
    'app.yaml': [service('echo', [echo]),
      ingress({ name: 'guarded', host: 'guarded.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/whitelist-source-range': '203.0.113.0/24' } }),
      ingress({ name: 'secure', host: 'secure.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true' } }),
      ingress({ name: 'open', host: 'open.test', service: 'echo' })].join('---\n'),
  }, 'undici', { configMap: 'default/portico-config' });
});

afterAll(async () => {
  await portico.stop();
  await backends.close();
});

/** The echo backend's JSON out of a raw HTTP/1.1 exchange. */
const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };

describe('behind a trusted load balancer (use-forwarded-headers)', () => {
  it('takes the client from X-Forwarded-For for the allow list and the pod', async () => {
    const viaLb = echoed(await send(portico.httpPort, 'guarded.test', '/', { localAddress: LB, headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } }));
    expect(viaLb.headers['x-real-ip']).toBe('203.0.113.9');
    expect(viaLb.headers['x-forwarded-for']).toBe('203.0.113.9');
    expect(viaLb.headers['x-original-forwarded-for']).toBe('198.51.100.1, 203.0.113.9');
    // The same header from a client that is not the load balancer counts for nothing.
    expect((await send(portico.httpPort, 'guarded.test', '/', { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(403);
  });

  it('trusts X-Forwarded-Proto and -Host only from it', async () => {
    const https = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example', 'x-forwarded-port': '443' };
    const viaLb = echoed(await send(portico.httpPort, 'secure.test', '/', { localAddress: LB, headers: https }));
    expect(viaLb.headers).toMatchObject({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example', 'x-forwarded-port': '443' });
    expect((await send(portico.httpPort, 'secure.test', '/', { headers: https })).status).toBe(308);
    const direct = echoed(await send(portico.httpPort, 'open.test', '/', { headers: https }));
    expect(direct.headers).toMatchObject({ 'x-forwarded-proto': 'http', 'x-forwarded-host': 'open.test', 'x-real-ip': '127.0.0.1' });
  });
});

describe('PROXY protocol (use-proxy-protocol)', () => {
  beforeAll(async () => {
    await portico.apply('config.yaml', configMap({ 'use-proxy-protocol': 'true' }));
  });
  afterAll(async () => {
    await portico.apply('config.yaml', configMap(TRUSTED));
  });

  it('reads a v1 header on the HTTP listener: the announced client reaches the allow list and the pod', async () => {
    const raw = await exchange(portico.httpPort, 'PROXY TCP4 203.0.113.9 192.0.2.1 40000 80\r\nGET / HTTP/1.1\r\nHost: guarded.test\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 200/);
    expect(bodyOf(raw).headers['x-real-ip']).toBe('203.0.113.9');
    const outside = await exchange(portico.httpPort, 'PROXY TCP4 198.51.100.1 192.0.2.1 40000 80\r\nGET / HTTP/1.1\r\nHost: guarded.test\r\nConnection: close\r\n\r\n');
    expect(outside).toMatch(/^HTTP\/1\.1 403/);
  });

  it('closes a connection that does not start with a valid header, answering nothing', async () => {
    expect(await exchange(portico.httpPort, 'GET / HTTP/1.1\r\nHost: open.test\r\n\r\n', 1000)).toBe('');
    expect(await exchange(portico.httpPort, 'PROXY TCP4 nonsense\r\nGET / HTTP/1.1\r\nHost: open.test\r\n\r\n', 1000)).toBe('');
  });

  it('reads a v2 header before TLS on the HTTPS listener', async () => {
    const header = Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM,
      new IPv4ProxyAddress(IPv4Address.createFrom([203, 0, 113, 44]), 40000, IPv4Address.createFrom([192, 0, 2, 1]), 443)).build());
    const reply = await new Promise<string>((resolve, reject) => {
      const raw: Socket = connect(portico.httpsPort, '127.0.0.1', () => {
        raw.write(header);
        const secure = tlsConnect({ socket: raw, servername: 'open.test', rejectUnauthorized: false }, () => secure.write('GET / HTTP/1.1\r\nHost: open.test\r\nConnection: close\r\n\r\n'));
        let data = '';
        secure.on('data', (d: Buffer) => (data += d.toString()));
        secure.on('end', () => resolve(data));
        secure.on('error', reject);
      });
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(bodyOf(reply).headers).toMatchObject({ 'x-real-ip': '203.0.113.44', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' });
  });
});
