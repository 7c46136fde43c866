// Findings of the security review, each reproduced as an attacker or a careless operator would
// send it, asserting what the client gets and what the pod receives.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from '../helpers/backends.ts';
import { echoed, exchange, send, statusOf } from '../helpers/http.ts';
import { ingress, service } from '../helpers/manifests.ts';
import { startPortico, type RunningPortico } from '../helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const run = promisify(execFile);

describe('request-targets that could make the matcher and the pod disagree', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let app: FastifyInstance;
  /** Every path the fastify pod routed, as fastify read it. */
  const podSaw: string[] = [];
  const raw = (target: string, host = 'demo.test', extra = ''): Promise<string> =>
    exchange(portico.httpPort, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);

  beforeAll(async () => {
    // The pod of the review: a fastify app that also serves /admin, which the Ingress does not route.
    app = Fastify();
    app.addHook('onRequest', async (req) => void podSaw.push(req.routeOptions.url ?? `unrouted ${req.url}`));
    app.get('/public/*', async () => 'PUBLIC');
    app.get('/admin', async () => 'ADMIN-ONLY');
    app.get('/admin/*', async () => 'ADMIN-ONLY');
    await app.listen({ host: '127.0.9.1', port: 0 });
    const fastifyPort = (app.server.address() as { port: number }).port;
    const a = { address: '127.0.9.2', port: await backends.echo('A', '127.0.9.2') };
    const b = { address: '127.0.9.3', port: await backends.echo('B', '127.0.9.3') };
    portico = await startPortico({
      'demo.yaml': `${service('fastify', [{ address: '127.0.9.1', port: fastifyPort }])}---\n${ingress({ name: 'demo', host: 'demo.test', path: '/public', service: 'fastify' })}`,
      // The review's table: /public → A, /admin → B, Exact /admin/login → A.
      'split.yaml': `${service('a', [a])}---\n${service('b', [b])}---\n${ingress({ name: 'public', host: 'split.test', path: '/public', service: 'a' })}---\n${
        ingress({ name: 'admin', host: 'split.test', path: '/admin', service: 'b' })}---\n${ingress({ name: 'login', host: 'split.test', path: '/admin/login', pathType: 'Exact', service: 'a' })}`,
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await app?.close();
    await backends.close();
  });

  it('answers 400 to a request-target with a fragment (F1), and the pod never sees /admin', async () => {
    for (const target of ['/admin#/../public/x', '/admin/x#/../../public', '/public/x#frag']) {
      expect(statusOf(await raw(target))).toBe(400);
    }
    expect(podSaw.filter((p) => p.startsWith('/admin'))).toEqual([]);
  });

  it('routes an absolute-form target by its authority and forwards the origin form only (F2)', async () => {
    // The authority names another host than Host: refused rather than guessed.
    expect(statusOf(await raw('http://public/admin'))).toBe(400);
    // Authority and Host agree: routed, and the pod gets /public/x, never the absolute URI.
    const ok = await raw('http://demo.test/public/x');
    expect(statusOf(ok)).toBe(200);
    expect(ok).toContain('PUBLIC');
    expect(podSaw.at(-1)).toBe('/public/*');
    // /admin is not routed on demo.test, however the target is spelled.
    expect(statusOf(await raw('http://demo.test/admin'))).toBe(404);
    expect(statusOf(await raw('HTTP://DEMO.TEST:80/admin'))).toBe(404);
    expect(podSaw.filter((p) => p.startsWith('/admin'))).toEqual([]);
  });

  it.each([
    // Encoded dot segments: nginx's reading is /public/x, a router that does not decode reads /admin/….
    ['/admin/%2e%2e/public/x', 400],
    // Tomcat drops ;parameters before resolving dot segments: /admin for it, /public/..;/admin for nginx.
    ['/public/..;/admin', 400],
    // Literal dot segments: nginx resolves them (→ /admin), Express does not (→ /public).
    ['/public/../admin', 400],
    // Merged slashes decide Exact /admin/login for nginx, Prefix /admin for a raw reading.
    ['/admin//login', 400],
    // Readings that differ in spelling but not in route are served.
    ['/public/%7Euser/a%20b', 'A'],
    ['/admin/./panel', 'B'],
    ['/admin/login;jsessionid=1', 400], // Tomcat reads Exact /admin/login (A), nginx Prefix /admin (B)
    ['/public/x;jsessionid=1', 'A'],
    ['/public/a%2Fb', 'A'],
  ])('%s → %s', async (target, expected) => {
    const reply = await raw(target, 'split.test');
    if (typeof expected === 'number') expect(statusOf(reply)).toBe(expected);
    else expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).server).toBe(expected);
  });

  it('never lets the fastify pod serve /admin through a host that routes only /public', async () => {
    const targets = ['/public/../admin', '/public/%2e%2e/admin', '/public/..%2fadmin', '/public/.%2e/admin', '/public/..;/admin', '/public/..\\admin',
      '//admin', '/%61dmin', '/public%2F..%2Fadmin', '/public/%2e%2e%2fadmin', '/public/x/../../admin', '/public/%252e%252e/admin'];
    for (const target of targets) {
      const reply = await raw(target);
      expect(reply, target).not.toContain('ADMIN-ONLY');
    }
    expect(podSaw.filter((p) => p.startsWith('/admin'))).toEqual([]);
  });

  it('answers 400 to a second Host, 501 to a Transfer-Encoding other than chunked, 400 to %00 (F13)', async () => {
    expect(statusOf(await raw('/public/x', 'demo.test', 'Host: other.test\r\n'))).toBe(400);
    expect(statusOf(await raw('/public/x', 'demo.test', 'Host: demo.test\r\n'))).toBe(400);
    const te = await exchange(portico.httpPort, 'POST /public/x HTTP/1.1\r\nHost: demo.test\r\nTransfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    expect(statusOf(te)).toBe(501);
    expect(statusOf(await raw('/public/x%00'))).toBe(400);
    expect(statusOf(await raw('/public/x', 'demo.test:@evil.example'))).toBe(400);
  });
});

describe('upgrades and fail-closed routes', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let upgradesSeen = 0;
  const upgrade = (host: string, o: { method?: string; upgrade?: string } = {}): Promise<string> => exchange(portico.httpPort,
    `${o.method ?? 'GET'} /chat HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade, close\r\nUpgrade: ${o.upgrade ?? 'websocket'}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n`, 1000);
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${portico.adminPort}/metrics`)).text();

  beforeAll(async () => {
    const echo = { address: '127.0.9.10', port: await backends.echo('echo', '127.0.9.10') };
    const pod = await backends.echo('ws', '127.0.9.11');
    backends.serverOn(pod).on('upgrade', (_req, socket) => {
      upgradesSeen++;
      socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    });
    const ws = { address: '127.0.9.11', port: pod };
    const guarded = (name: string, annotations: Record<string, string>) => ingress({ name, host: `${name}.test`, service: 'echo', annotations });
    portico = await startPortico({
      'apps.yaml': [service('echo', [echo]), service('ws', [ws]),
        ingress({ name: 'open', host: 'open.test', service: 'echo' }),
        ingress({ name: 'ws', host: 'ws.test', service: 'ws' }),
        ingress({ name: 'forced', host: 'forced.test', service: 'ws', annotations: { [`${NGINX}force-ssl-redirect`]: 'true' } }),
        ingress({ name: 'moved', host: 'moved.test', service: 'ws', annotations: { [`${NGINX}permanent-redirect`]: 'https://new.test/' } }),
        ingress({ name: 'root', host: 'root.test', service: 'ws', annotations: { [`${NGINX}app-root`]: '/app' } }),
        guarded('auth-url', { [`${NGINX}auth-url`]: 'auth.example/check' }),
        guarded('basic', { [`${NGINX}auth-type`]: 'basic', [`${NGINX}auth-secret`]: 'htpasswd' }),
        guarded('allowlist', { [`${NGINX}whitelist-source-range`]: '10.0.0.0/33' }),
        guarded('denylist', { [`${NGINX}denylist-source-range`]: '127.0.0.0/8,localhost' }),
        guarded('mtls', { [`${NGINX}auth-tls-secret`]: 'default/ca' }),
        ingress({ name: 'guarded-ws', host: 'guarded-ws.test', service: 'ws', annotations: { [`${NGINX}auth-tls-secret`]: 'default/ca' } }),
      ].join('---\n'),
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  it('sends WebSocket upgrades through the same redirects as ordinary requests (F4)', async () => {
    expect(statusOf(await upgrade('ws.test'))).toBe(101);
    expect(upgradesSeen).toBe(1);
    const forced = await upgrade('forced.test');
    expect(statusOf(forced)).toBe(308);
    expect(forced).toMatch(/location: https:\/\/forced\.test:\d+\/chat/);
    expect(statusOf(await upgrade('moved.test'))).toBe(301);
    expect(upgradesSeen).toBe(1);
  });

  it('answers an Upgrade other than websocket, or a POST upgrade, as an ordinary request, and counts it (F14)', async () => {
    for (const o of [{ upgrade: 'h2c' }, { upgrade: 'foo' }, { method: 'POST' }]) {
      const reply = await upgrade('open.test', o);
      expect(statusOf(reply)).toBe(200);
      const pod = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
      expect(pod.headers.upgrade).toBeUndefined();
    }
    expect(await metrics()).toMatch(/nginx_ingress_controller_requests\{[^}]*status="200",method="GET",host="open\.test"[^}]*\} 2/);
  });

  it.each(['auth-url', 'basic', 'allowlist', 'denylist', 'mtls'])('fails closed: %s.test answers 503 while its annotation is not enforced or unusable', async (name) => {
    expect((await send(portico.httpPort, `${name}.test`, '/')).status).toBe(503);
    expect((await send(portico.httpPort, `${name}.test`, '/', { method: 'POST', body: 'x' })).status).toBe(503);
  });

  it('keeps other routes of the same backend serving, and says why in /debug', async () => {
    expect(echoed(await send(portico.httpPort, 'open.test', '/')).server).toBe('echo');
    const diagnostics = await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/diagnostics`)).json() as { field: string; message: string }[];
    expect(diagnostics).toContainEqual(expect.objectContaining({ field: `metadata.annotations[${NGINX}auth-url]`, message: expect.stringContaining('answers 503') }));
    const routes = await (await fetch(`http://127.0.0.1:${portico.adminPort}/debug/routes`)).json() as { hosts: { host: string; paths: { options: { denyReason: string | null } }[] }[] };
    expect(routes.hosts.find((h) => h.host === 'basic.test')!.paths[0]!.options.denyReason).toContain(`${NGINX}auth-secret`);
    expect(routes.hosts.find((h) => h.host === 'open.test')!.paths[0]!.options.denyReason).toBeNull();
  });

  it('fails closed for upgrades too', async () => {
    expect(statusOf(await upgrade('guarded-ws.test'))).toBe(503);
    expect(upgradesSeen).toBe(1);
  });
});

describe('answers before the body is read reach the client (lingering close)', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  const limit = 1024 * 1024;
  const sizes = [limit + 1, 2 * limit, 8 * limit, 32 * limit];

  beforeAll(async () => {
    const echo = { address: '127.0.9.20', port: await backends.echo('echo', '127.0.9.20') };
    portico = await startPortico({
      'body.yaml': [service('echo', [echo]),
        ingress({ name: 'upload', host: 'upload.test', service: 'echo' }),
        ingress({ name: 'moved', host: 'moved.test', service: 'echo', annotations: { [`${NGINX}permanent-redirect`]: 'https://new.test/' } }),
      ].join('---\n'),
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  it('Node\'s client sees every 413 (Content-Length over the limit) and every redirect, never a reset', async () => {
    for (let round = 0; round < 5; round++) {
      for (const size of sizes) {
        const r = await send(portico.httpPort, 'upload.test', '/', { method: 'POST', body: Buffer.alloc(size) });
        expect(r.status, `${size} bytes, round ${round}`).toBe(413);
      }
      expect((await send(portico.httpPort, 'moved.test', '/', { method: 'POST', body: Buffer.alloc(2 * limit) })).status).toBe(301);
    }
  }, 60_000);

  it('a client that reads only after sending its whole body still gets the 413 and the redirect', async () => {
    // Without a lingering close the kernel resets the connection under this client's writes and
    // the status is lost every time (EPIPE), on loopback too.
    const uploadThenRead = (host: string, size: number): Promise<string> => new Promise((resolve) => {
      const socket = connect(portico.httpPort, '127.0.0.1');
      socket.pause();
      let data = '';
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
      socket.on('data', (d: Buffer) => (data += d));
      socket.on('end', () => resolve(data));
      socket.write(`POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${size}\r\n\r\n`);
      socket.write(Buffer.alloc(size), () => socket.resume());
    });
    for (const size of sizes) expect(statusOf(await uploadThenRead('upload.test', size)), `${size} bytes`).toBe(413);
    expect(statusOf(await uploadThenRead('moved.test', 8 * limit))).toBe(301);
  });

  it('Node\'s client sees the 413 of a chunked body refused while streaming', async () => {
    async function* chunks() {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024);
    }
    for (let round = 0; round < 5; round++) expect((await send(portico.httpPort, 'upload.test', '/', { method: 'PUT', body: chunks() })).status).toBe(413);
  });

  it('curl sees every 413, with and without Expect: 100-continue, and for chunked uploads', async () => {
    const curl = async (size: number, ...args: string[]): Promise<string> => {
      const { stdout } = await run('sh', ['-c', `head -c ${size} /dev/zero | curl -sS -o /dev/null -w '%{http_code}' -H 'Host: upload.test' --data-binary @- ${args.join(' ')} http://127.0.0.1:${portico.httpPort}/`]);
      return stdout;
    };
    for (let round = 0; round < 3; round++) {
      for (const size of sizes) {
        expect(await curl(size), `${size} bytes`).toBe('413');
        expect(await curl(size, "-H 'Expect:'"), `${size} bytes, no Expect`).toBe('413');
      }
      expect(await curl(8 * limit, "-H 'Transfer-Encoding: chunked'")).toBe('413');
    }
  }, 60_000);
});
