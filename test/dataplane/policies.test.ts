// Access lists, CORS, rate limits and basic auth, observed from outside: real listeners, real
// backends, clients on distinct 127.0.x.y source addresses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../../src/dataplane/server.ts';
import { BackendSet } from '../helpers/backends.ts';
import { echoed, send } from '../helpers/http.ts';
import { ingress, service } from '../helpers/manifests.ts';
import { startPortico, type RunningPortico } from '../helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const PASSWORD = 's3cret:pass';
/** One user per hash scheme, all for PASSWORD; made by glibc crypt(3), OpenSSL and Python's hashlib, not by the code under test. */
const HASHES: Record<string, string> = {
  bcrypt: '$2b$05$abcdefghijklmnopqrstuuKqhJSfTIYV1SkiVqP0GjQATd/vnrS1a',
  bcrypt2y: '$2y$05$abcdefghijklmnopqrstuuKqhJSfTIYV1SkiVqP0GjQATd/vnrS1a',
  apr1: '$apr1$abcdefgh$cm8CW/mEh/.kO0zK.m3f1/',
  md5: '$1$abcdefgh$AdcCe5dxWKTZn41DuYdfB/',
  sha256: '$5$rounds=5000$abcdefghijkl$mjj8HF2PLbjYno2eaNvS3waNEq9sRxhRV8XZJkS2idD',
  sha512: '$6$abcdefghijkl$slFhMl2nRBzyRYconE1z4MM58pSDH3ZVBFFtWF4HuBeg/0XkpAcWq/m7MiY0HoElfSFFdcT91TPItrc5qpCNC1',
  sha: '{SHA}lKsjh5LDiBR3NhWqPUFUPO8CGyk=',
  ssha: '{SSHA}cfpB0N4x+yrOy+DNXUps2W1ehZhzYWx0MTIzNA==',
  plain: `{PLAIN}${PASSWORD}`,
  des: 'abEajeHyBzxW.',
};
const basic = (user: string, password = PASSWORD) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

function secret(name: string, data: Record<string, string>): string {
  return `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}}\ntype: Opaque\nstringData:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
}

describe('request policies', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let slowStarted = 0;
  const get = (host: string, o: Parameters<typeof send>[3] = {}, path = '/') => send(portico.httpPort, host, path, o);

  beforeAll(async () => {
    const echo = { address: '127.0.30.1', port: await backends.echo('echo', '127.0.30.1') };
    const slow = { address: '127.0.30.2', port: await backends.http('127.0.30.2', (_req, res) => {
      slowStarted++;
      setTimeout(() => res.end('slow'), 400);
    }) };
    const htpasswd = `# users\n${Object.entries(HASHES).map(([user, hash]) => `${user}:${hash}`).join('\n')}\nbroken:$9$nope\n`;
    portico = await startPortico({
      'apps.yaml': [
        service('echo', [echo]), service('slow', [slow]),
        secret('htpasswd', { auth: htpasswd }),
        secret('users', { alice: HASHES.apr1!, bob: HASHES.bcrypt! }),
        ingress({ name: 'allow', host: 'allow.test', service: 'echo', annotations: { [`${NGINX}whitelist-source-range`]: '127.0.20.0/24, 10.0.0.1' } }),
        ingress({ name: 'allow-new', host: 'allow-new.test', service: 'echo', annotations: { [`${NGINX}whitelist-source-range`]: '10.0.0.0/8', [`${NGINX}allowlist-source-range`]: '127.0.20.0/24' } }),
        ingress({ name: 'deny', host: 'deny.test', service: 'echo', annotations: { [`${NGINX}denylist-source-range`]: '127.0.22.0/24' } }),
        ingress({ name: 'both', host: 'both.test', service: 'echo', annotations: { [`${NGINX}whitelist-source-range`]: '127.0.0.0/8', [`${NGINX}denylist-source-range`]: '127.0.22.7' } }),
        ingress({ name: 'cors-any', host: 'cors-any.test', service: 'echo', annotations: { [`${NGINX}enable-cors`]: 'true' } }),
        ingress({ name: 'cors-list', host: 'cors-list.test', service: 'echo', annotations: {
          [`${NGINX}enable-cors`]: 'true', [`${NGINX}cors-allow-origin`]: 'https://app.example.com, https://*.example.org:8443',
          [`${NGINX}cors-allow-credentials`]: 'false', [`${NGINX}cors-expose-headers`]: 'X-Total', [`${NGINX}cors-max-age`]: '600', [`${NGINX}cors-allow-methods`]: 'GET, POST',
        } }),
        ingress({ name: 'cors-guarded', host: 'cors-guarded.test', service: 'echo', annotations: {
          [`${NGINX}enable-cors`]: 'true', [`${NGINX}auth-type`]: 'basic', [`${NGINX}auth-secret`]: 'htpasswd', [`${NGINX}whitelist-source-range`]: '10.0.0.0/8',
        } }),
        ingress({ name: 'rps', host: 'rps.test', service: 'echo', annotations: { [`${NGINX}limit-rps`]: '1', [`${NGINX}limit-burst-multiplier`]: '2', [`${NGINX}limit-whitelist`]: '127.0.41.0/24' } }),
        ingress({ name: 'connections', host: 'connections.test', service: 'slow', annotations: { [`${NGINX}limit-connections`]: '1' } }),
        ingress({ name: 'basic', host: 'basic.test', service: 'echo', annotations: { [`${NGINX}auth-type`]: 'basic', [`${NGINX}auth-secret`]: 'htpasswd', [`${NGINX}auth-realm`]: 'Staff "only"' } }),
        ingress({ name: 'basic-map', host: 'basic-map.test', service: 'echo', annotations: { [`${NGINX}auth-type`]: 'basic', [`${NGINX}auth-secret`]: 'default/users', [`${NGINX}auth-secret-type`]: 'auth-map' } }),
      ].join('---\n'),
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  describe('allow and deny lists', () => {
    it('answers 403 to clients outside the allow list and forwards the others', async () => {
      expect(echoed(await get('allow.test', { localAddress: '127.0.20.5' })).server).toBe('echo');
      expect((await get('allow.test', { localAddress: '127.0.21.5' })).status).toBe(403);
      expect((await get('allow.test', { localAddress: '127.0.0.1' })).status).toBe(403);
    });

    it('prefers allowlist-source-range over its old name', async () => {
      expect((await get('allow-new.test', { localAddress: '127.0.20.9' })).status).toBe(200);
    });

    it('answers 403 inside the deny list, and the deny list wins over the allow list', async () => {
      expect((await get('deny.test', { localAddress: '127.0.22.1' })).status).toBe(403);
      expect((await get('deny.test', { localAddress: '127.0.23.1' })).status).toBe(200);
      expect((await get('both.test', { localAddress: '127.0.22.7' })).status).toBe(403);
      expect((await get('both.test', { localAddress: '127.0.22.8' })).status).toBe(200);
    });
  });

  describe('CORS', () => {
    it('with origin *, puts the headers on every response, Origin or not', async () => {
      const reply = await get('cors-any.test');
      expect(reply.status).toBe(200);
      expect(reply.headers).toMatchObject({
        'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true', 'access-control-max-age': '1728000',
        'access-control-allow-methods': 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
        'access-control-allow-headers': 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
      });
      expect(reply.headers['access-control-expose-headers']).toBeUndefined();
    });

    it('answers every OPTIONS request as a preflight, 204, without the pod', async () => {
      const reply = await get('cors-any.test', { method: 'OPTIONS', headers: { origin: 'https://anything.example' } });
      expect(reply.status).toBe(204);
      expect(reply.body).toBe('');
      expect(reply.headers).toMatchObject({ 'access-control-allow-origin': '*', 'content-type': 'text/plain charset=UTF-8' });
    });

    it('with a list, echoes a matching Origin (one-label wildcards, case-insensitive) and says nothing to others', async () => {
      const exact = await get('cors-list.test', { headers: { origin: 'https://APP.example.com' } });
      expect(exact.headers).toMatchObject({ 'access-control-allow-origin': 'https://APP.example.com', 'access-control-expose-headers': 'X-Total', 'access-control-max-age': '600', 'access-control-allow-methods': 'GET, POST' });
      expect(exact.headers['access-control-allow-credentials']).toBeUndefined();
      expect((await get('cors-list.test', { headers: { origin: 'https://api.example.org:8443' } })).headers['access-control-allow-origin']).toBe('https://api.example.org:8443');
      for (const origin of ['https://a.b.example.org:8443', 'https://api.example.org', 'http://app.example.com', 'https://app.example.com.evil.test']) {
        const reply = await get('cors-list.test', { headers: { origin } });
        expect(reply.status).toBe(200);
        expect(reply.headers['access-control-allow-origin'], origin).toBeUndefined();
      }
      // An OPTIONS request from an origin not listed is no preflight: the pod answers it.
      expect(echoed(await get('cors-list.test', { method: 'OPTIONS', headers: { origin: 'https://evil.test' } })).method).toBe('OPTIONS');
    });

    it('answers preflights before allow lists and auth, as nginx’s rewrite phase does; other requests still meet them', async () => {
      expect((await get('cors-guarded.test', { method: 'OPTIONS' })).status).toBe(204);
      const refused = await get('cors-guarded.test');
      expect(refused.status).toBe(403);
      expect(refused.headers['access-control-allow-origin']).toBe('*');
    });
  });

  describe('rate limits', () => {
    it('lets the burst through at once (nodelay), then answers 503; other clients have their own budget', async () => {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await get('rps.test', { localAddress: '127.0.40.1' })).status);
      // rate 1/s, burst 1 × 2: the first request plus two in excess pass, then the bucket is full.
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses.slice(3)).toContain(503);
      expect((await get('rps.test', { localAddress: '127.0.40.2' })).status).toBe(200);
    });

    it('never limits limit-whitelist addresses', async () => {
      for (let i = 0; i < 10; i++) expect((await get('rps.test', { localAddress: '127.0.41.9' })).status).toBe(200);
    });

    it('limit-connections: a second request while one is in progress gets 503, and the slot is given back', async () => {
      const first = get('connections.test', { localAddress: '127.0.42.1' });
      await new Promise((r) => setTimeout(r, 150));
      expect(slowStarted).toBe(1);
      expect((await get('connections.test', { localAddress: '127.0.42.1' })).status).toBe(503);
      expect((await get('connections.test', { localAddress: '127.0.42.2' })).status).toBe(200);
      expect((await first).status).toBe(200);
      expect((await get('connections.test', { localAddress: '127.0.42.1' })).status).toBe(200);
    });
  });

  describe('basic auth', () => {
    it.each(Object.keys(HASHES))('accepts the password of a %s hash and does not forward Authorization', async (user) => {
      const pod = echoed(await get('basic.test', { headers: basic(user) }));
      expect(pod.headers.authorization).toBeUndefined();
      expect((await get('basic.test', { headers: basic(user, 'wrong') })).status).toBe(401);
    });

    it('answers 401 with the realm to clients without credentials, unknown users and broken lines', async () => {
      const reply = await get('basic.test');
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Basic realm="Staff \\"only\\""');
      expect((await get('basic.test', { headers: basic('nobody') })).status).toBe(401);
      expect((await get('basic.test', { headers: basic('broken') })).status).toBe(401);
      expect((await get('basic.test', { headers: { authorization: 'Bearer x' } })).status).toBe(401);
    });

    it('reads auth-map Secrets (one key per user) named namespace/name', async () => {
      expect((await get('basic-map.test', { headers: basic('alice') })).status).toBe(200);
      expect((await get('basic-map.test', { headers: basic('bob') })).status).toBe(200);
      expect((await get('basic-map.test', { headers: basic('bob', 'nope') })).status).toBe(401);
    });

    it('reports the broken htpasswd line on the Secret', async () => {
      const diagnostics = await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/diagnostics`)).json() as { code: string; object: { name: string }; field: string }[];
      expect(diagnostics).toContainEqual(expect.objectContaining({ code: 'InvalidAuthSecret', object: expect.objectContaining({ name: 'htpasswd' }), field: 'data[auth] line 12' }));
    });
  });
});

describe.each(ENGINES)('CORS headers through the %s engine', (engine) => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  beforeAll(async () => {
    const pod = { address: '127.0.31.1', port: await backends.http('127.0.31.1', (_req, res) => {
      res.writeHead(200, { 'access-control-allow-origin': 'https://evil.example' });
      res.end('pod');
    }) };
    portico = await startPortico({ 'cors.yaml': [service('pod', [pod]), ingress({ name: 'c', host: 'c.test', service: 'pod', annotations: { [`${NGINX}enable-cors`]: 'true' } })].join('---\n') }, engine);
  });
  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });
  it('replace the pod’s', async () => {
    const reply = await send(portico.httpPort, 'c.test', '/');
    expect(reply.body).toBe('pod');
    expect(reply.headers['access-control-allow-origin']).toBe('*');
  });
});
