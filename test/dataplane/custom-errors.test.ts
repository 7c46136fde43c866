// custom-http-errors and default backends with real pods: who answers, and what the error backend is told.
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../../src/dataplane/server.ts';
import { BackendSet } from '../helpers/backends.ts';
import { echoed, send } from '../helpers/http.ts';
import { ingress, service } from '../helpers/manifests.ts';
import { startPortico, type RunningPortico } from '../helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

describe.each(ENGINES)('custom errors and default backends (%s engine)', (engine) => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  const errorCalls: { url: string; method: string; headers: IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    const pod = { address: '127.0.80.1', port: await backends.http('127.0.80.1', (req, res) => {
      const status = Number(new URL(req.url!, 'http://x').searchParams.get('status') ?? 200);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`pod ${status}`);
    }) };
    const errorPage = (name: string) => async (address: string) => ({ address, port: await backends.http(address, (req, res) => {
      errorCalls.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers });
      const code = Number(req.headers['x-code'] ?? 404);
      res.writeHead(code === 503 ? 503 : code, { 'content-type': 'text/html', 'x-error-backend': name });
      res.end(`<h1>${name} ${code}</h1>`);
    }) });
    const pages = await errorPage('pages')('127.0.80.2');
    const global = await errorPage('global')('127.0.80.3');
    const refused = { address: '127.0.80.4', port: await backends.closedPort('127.0.80.4') };
    const fallback = { address: '127.0.80.5', port: await backends.echo('fallback', '127.0.80.5') };
    const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: users}\ntype: Opaque\nstringData: {auth: "u:{PLAIN}p"}\n`;
    portico = await startPortico({
      'apps.yaml': [
        service('pod', [pod]), service('pages', [pages]), service('global-pages', [global]), service('refused', [refused]),
        service('empty', [{ ...pod, ready: false }]), service('fallback', [fallback]), secret,
        ingress({ name: 'shop', host: 'shop.test', service: 'pod', annotations: { [`${NGINX}custom-http-errors`]: '404,503', [`${NGINX}default-backend`]: 'pages' } }),
        ingress({ name: 'global', host: 'global.test', service: 'pod', annotations: { [`${NGINX}custom-http-errors`]: '404' } }),
        ingress({ name: 'down', host: 'down.test', service: 'refused', annotations: { [`${NGINX}custom-http-errors`]: '502', [`${NGINX}default-backend`]: 'pages' } }),
        ingress({ name: 'guarded', host: 'guarded.test', service: 'pod', annotations: { [`${NGINX}custom-http-errors`]: '401', [`${NGINX}default-backend`]: 'pages', [`${NGINX}auth-type`]: 'basic', [`${NGINX}auth-secret`]: 'users' } }),
        ingress({ name: 'scaled-down', host: 'scaled-down.test', service: 'empty', annotations: { [`${NGINX}default-backend`]: 'fallback' } }),
      ].join('---\n'),
    }, engine, { defaultBackendService: 'default/global-pages' });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  const get = (host: string, path: string, headers: Record<string, string> = {}) => send(portico.httpPort, host, path, { headers });

  it('replaces a listed pod status with the error backend’s answer, and tells it about the request', async () => {
    const reply = await get('shop.test', '/cart?status=404', { accept: 'application/json' });
    expect(reply.status).toBe(404);
    expect(reply.body).toBe('<h1>pages 404</h1>');
    expect(reply.headers['x-error-backend']).toBe('pages');
    expect(errorCalls.at(-1)).toMatchObject({
      url: '/', method: 'GET',
      headers: { 'x-code': '404', 'x-format': 'application/json', 'x-original-uri': '/cart?status=404', 'x-namespace': 'default', 'x-ingress-name': 'shop', 'x-service-name': 'pod', 'x-service-port': '80', 'x-request-id': reply.headers['x-request-id'], host: 'shop.test' },
    });
  });

  it('passes statuses that are not listed', async () => {
    const reply = await get('shop.test', '/?status=500');
    expect([reply.status, reply.body]).toEqual([500, 'pod 500']);
  });

  it('uses --default-backend-service without a default-backend annotation, and for unmatched hosts', async () => {
    expect((await get('global.test', '/?status=404')).body).toBe('<h1>global 404</h1>');
    const unmatched = await get('nobody.test', '/x');
    expect(unmatched.headers['x-error-backend']).toBe('global');
  });

  it('serves Portico’s own failures (502 when the pod refuses) and answers of request steps (401) through it', async () => {
    const down = await get('down.test', '/');
    expect([down.status, down.body]).toEqual([502, '<h1>pages 502</h1>']);
    const unauthorized = await get('guarded.test', '/');
    expect([unauthorized.status, unauthorized.body]).toEqual([401, '<h1>pages 401</h1>']);
    expect((await get('guarded.test', '/?status=200', { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` })).body).toBe('pod 200');
  });

  it('default-backend takes the requests of a Service without ready endpoints, as they are', async () => {
    const pod = echoed(await get('scaled-down.test', '/some/path?q=1'));
    expect(pod.server).toBe('fallback');
    expect(pod.url).toBe('/some/path?q=1');
  });
});
