// auth-url against a real small auth service: what it receives, and what each of its answers does.
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from '../helpers/backends.ts';
import { echoed, send } from '../helpers/http.ts';
import { ingress, service } from '../helpers/manifests.ts';
import { startPortico, type RunningPortico } from '../helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

interface AuthCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
}

describe('external auth (auth-url)', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  const calls: AuthCall[] = [];
  let authUrl = '';
  let deadUrl = '';

  beforeAll(async () => {
    const echo = { address: '127.0.70.1', port: await backends.echo('echo', '127.0.70.1') };
    // The auth service: the verdict comes from the client's X-Verdict header, so each test picks it.
    const authPort = await backends.http('127.0.70.2', (req, res) => {
      let bodyBytes = 0;
      req.on('data', (c: Buffer) => (bodyBytes += c.length));
      req.on('end', () => {
        calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes });
        const verdict = String(req.headers['x-verdict'] ?? 'allow');
        if (verdict === 'allow') res.writeHead(200, { 'x-auth-user': 'alice', 'x-auth-email': 'alice@example.com', 'set-cookie': 'session=abc; Path=/' });
        else if (verdict === 'login') res.writeHead(401, { 'www-authenticate': 'Bearer realm="sso"', 'set-cookie': 'tried=1' });
        else if (verdict === 'forbidden') res.writeHead(403);
        else res.writeHead(502);
        res.end('ignored body');
      });
    });
    authUrl = `http://127.0.70.2:${authPort}/check?app=1`;
    deadUrl = `http://127.0.70.3:${await backends.closedPort('127.0.70.3')}/check`;
    portico = await startPortico({
      'apps.yaml': [
        service('echo', [echo]),
        ingress({ name: 'plain', host: 'plain.test', service: 'echo', annotations: { [`${NGINX}auth-url`]: authUrl, [`${NGINX}auth-response-headers`]: 'X-Auth-User, X-Auth-Email, X-Auth-Missing' } }),
        ingress({ name: 'signin', host: 'signin.test', service: 'echo', annotations: { [`${NGINX}auth-url`]: authUrl, [`${NGINX}auth-signin`]: 'https://sso.example/start' } }),
        ingress({ name: 'signin-rd', host: 'signin-rd.test', service: 'echo', annotations: { [`${NGINX}auth-url`]: authUrl, [`${NGINX}auth-signin`]: 'https://sso.example/start?rd=/home', [`${NGINX}auth-signin-redirect-param`]: 'rd' } }),
        ingress({ name: 'method', host: 'method.test', service: 'echo', annotations: { [`${NGINX}auth-url`]: authUrl, [`${NGINX}auth-method`]: 'POST', [`${NGINX}auth-request-redirect`]: '/after' } }),
        ingress({ name: 'cached', host: 'cached.test', service: 'echo', annotations: { [`${NGINX}auth-url`]: authUrl, [`${NGINX}auth-cache-key`]: '$http_authorization', [`${NGINX}auth-cache-duration`]: '200 1m' } }),
        ingress({ name: 'always', host: 'always.test', service: 'echo', annotations: { [`${NGINX}auth-url`]: authUrl, [`${NGINX}auth-always-set-cookie`]: 'true' } }),
        ingress({ name: 'dead', host: 'dead.test', service: 'echo', annotations: { [`${NGINX}auth-url`]: deadUrl } }),
        ingress({ name: 'templated', host: 'templated.test', service: 'echo', annotations: { [`${NGINX}auth-url`]: `http://127.0.70.2:${authPort}/for/$host?user=$arg_user&u=$escaped_request_uri` } }),
      ].join('---\n'),
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  const get = (host: string, o: Parameters<typeof send>[3] = {}, path = '/page?x=1') => send(portico.httpPort, host, path, o);
  const lastCall = () => calls[calls.length - 1]!;

  it('sends the client’s headers without the body, with ingress-nginx’s X-Original-* headers', async () => {
    const reply = await get('plain.test', { method: 'POST', body: 'secret body', headers: { 'x-verdict': 'allow', 'x-custom': 'kept', 'x-forwarded-proto': 'forged' } });
    expect(echoed(reply).bodyBytes).toBe(11);
    const call = lastCall();
    expect(call).toMatchObject({ method: 'POST', url: '/check?app=1', bodyBytes: 0 });
    expect(call.headers).toMatchObject({
      'host': new URL(authUrl).host, 'x-custom': 'kept', 'x-original-url': 'http://plain.test/page?x=1', 'x-original-method': 'POST',
      'x-sent-from': 'nginx-ingress-controller', 'x-real-ip': '127.0.0.1', 'x-forwarded-for': '127.0.0.1', 'x-auth-request-redirect': '/page?x=1',
    });
    expect(call.headers['content-length'] ?? '0').toBe('0');
    expect(call.headers['x-forwarded-proto']).toBeUndefined();
    expect(call.headers['x-request-id']).toBe(reply.headers['x-request-id']);
  });

  it('on 2xx copies auth-response-headers to the pod, replacing a client’s forged copy, and passes the Set-Cookie on', async () => {
    const reply = await get('plain.test', { headers: { 'x-verdict': 'allow', 'x-auth-user': 'mallory', 'x-auth-missing': 'forged' } });
    const pod = echoed(reply);
    expect(pod.headers['x-auth-user']).toBe('alice');
    expect(pod.headers['x-auth-email']).toBe('alice@example.com');
    expect(pod.headers['x-auth-missing']).toBeUndefined();
    expect(reply.headers['set-cookie']).toEqual(['session=abc; Path=/']);
  });

  it('answers 401 with the service’s WWW-Authenticate, 403 as 403, and anything else or no answer as 500', async () => {
    const login = await get('plain.test', { headers: { 'x-verdict': 'login' } });
    expect(login.status).toBe(401);
    expect(login.headers['www-authenticate']).toBe('Bearer realm="sso"');
    expect(login.headers['set-cookie']).toBeUndefined(); // only with auth-always-set-cookie
    expect((await get('plain.test', { headers: { 'x-verdict': 'forbidden' } })).status).toBe(403);
    expect((await get('plain.test', { headers: { 'x-verdict': 'broken' } })).status).toBe(500);
    expect((await get('dead.test')).status).toBe(500);
  });

  it('auth-always-set-cookie passes the Set-Cookie on a 401 too', async () => {
    expect((await get('always.test', { headers: { 'x-verdict': 'login' } })).headers['set-cookie']).toEqual(['tried=1']);
  });

  it('redirects a 401 to auth-signin with rd=, unless the URL already has the parameter', async () => {
    const reply = await get('signin.test', { headers: { 'x-verdict': 'login' } });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe(`https://sso.example/start?rd=http://signin.test${encodeURIComponent('/page?x=1')}`);
    expect((await get('signin-rd.test', { headers: { 'x-verdict': 'login' } })).headers.location).toBe('https://sso.example/start?rd=/home');
    expect((await get('signin.test', { headers: { 'x-verdict': 'forbidden' } })).status).toBe(403);
  });

  it('auth-method sends that method with X-Original-URI and X-Scheme; auth-request-redirect sets X-Auth-Request-Redirect', async () => {
    await get('method.test', { headers: { 'x-verdict': 'allow' } });
    expect(lastCall()).toMatchObject({ method: 'POST', headers: { 'x-original-uri': '/page?x=1', 'x-scheme': 'http', 'x-auth-request-redirect': '/after' } });
  });

  it('caches answers by auth-cache-key: the same key does not call the service twice', async () => {
    const before = calls.length;
    for (let i = 0; i < 3; i++) expect((await get('cached.test', { headers: { authorization: 'Bearer one' } })).status).toBe(200);
    expect(calls.length).toBe(before + 1);
    await get('cached.test', { headers: { authorization: 'Bearer two' } });
    expect(calls.length).toBe(before + 2);
  });

  it('fills nginx variables of the URL from the request', async () => {
    expect((await get('templated.test', {}, '/a/b?user=bob')).status).toBe(200);
    expect(lastCall().url).toBe(`/for/templated.test?user=bob&u=${encodeURIComponent('/a/b?user=bob')}`);
  });
});
