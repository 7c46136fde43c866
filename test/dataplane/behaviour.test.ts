// The data plane's observable behaviour, run against every forwarding engine we ship:
// real listeners, real backends on 127.0.0.x, and a client that sets Host like curl -H.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../../src/dataplane/server.ts';
import { BackendSet } from '../helpers/backends.ts';
import { echoed, send } from '../helpers/http.ts';
import { ingress, service } from '../helpers/manifests.ts';
import { startPortico, type RunningPortico } from '../helpers/portico.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

// Every engine on one thread, and the default engine on two worker threads: the same answers.
const VARIANTS = [...ENGINES.map((engine) => ({ engine, workers: 1 })), { engine: 'undici' as const, workers: 2 }];

describe.each(VARIANTS)('data plane with the $engine engine on $workers worker(s)', ({ engine, workers }) => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let resetSeen = 0;
  let slowBodyStarted = false;
  const get = (host: string, path = '/', o: Parameters<typeof send>[3] = {}) => send(portico.httpPort, host, path, o);

  beforeAll(async () => {
    const rr = await Promise.all(['127.0.1.1', '127.0.1.2', '127.0.1.3'].map(async (a, i) => ({ address: a, port: await backends.echo(`rr-${i}`, a) })));
    const sticky = await Promise.all(['127.0.2.1', '127.0.2.2'].map(async (a, i) => ({ address: a, port: await backends.echo(`sticky-${i}`, a) })));
    const alive = { address: '127.0.3.1', port: await backends.echo('alive', '127.0.3.1') };
    const refused = { address: '127.0.3.2', port: await backends.closedPort('127.0.3.2') };
    const reset = { address: '127.0.4.1', port: await backends.resetAfterRequest('127.0.4.1', () => resetSeen++) };
    const afterReset = { address: '127.0.4.2', port: await backends.echo('after-reset', '127.0.4.2') };
    const hanging = { address: '127.0.5.1', port: await backends.http('127.0.5.1', () => { /* never answers */ }) };
    const slowBody = { address: '127.0.5.2', port: await backends.http('127.0.5.2', (_req, res) => {
      slowBodyStarted = true;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part\n'); // and then nothing: the read timeout cuts the connection
    }) };
    const blackhole = { address: '127.0.5.3', port: await backends.blackhole('127.0.5.3') };
    // Takes the request head, then never reads the body: its socket buffers fill up.
    const notReading = { address: '127.0.5.4', port: await backends.http('127.0.5.4', (req) => req.socket.pause()) };
    const echo = { address: '127.0.6.1', port: await backends.echo('echo', '127.0.6.1') };
    const big = { address: '127.0.6.2', port: await backends.http('127.0.6.2', (req, res) => {
      const size = Number(new URL(req.url!, 'http://x').searchParams.get('bytes') ?? 0);
      res.writeHead(200, { 'content-length': size, server: 'backend/1.0', 'x-served-by': 'big' });
      res.end(Buffer.alloc(size, 97));
    }) };
    const upgrade = { address: '127.0.6.3', port: await backends.http('127.0.6.3', () => {}) };
    const failing = { address: '127.0.7.1', port: await backends.http('127.0.7.1', (_q, res) => { res.writeHead(503); res.end('busy'); }) };
    const healthy = { address: '127.0.7.2', port: await backends.echo('healthy', '127.0.7.2') };

    portico = await startPortico({
      'rr.yaml': `${service('rr', rr)}---\n${ingress({ name: 'rr', host: 'rr.test', service: 'rr' })}`,
      'sticky.yaml': `${service('sticky', sticky, { affinitySeconds: 60 })}---\n${ingress({ name: 'sticky', host: 'sticky.test', service: 'sticky' })}`,
      'retry.yaml': `${service('flaky', [refused, alive])}---\n${ingress({ name: 'retry', host: 'retry.test', service: 'flaky' })}`,
      'reset.yaml': `${service('reset', [reset, afterReset])}---\n${ingress({ name: 'reset', host: 'reset.test', service: 'reset' })}`,
      'dead.yaml': `${service('dead', [refused])}---\n${ingress({ name: 'dead', host: 'dead.test', service: 'dead' })}`,
      'empty.yaml': `${service('empty', [{ ...alive, ready: false }])}---\n${ingress({ name: 'empty', host: 'empty.test', service: 'empty' })}`,
      'timeouts.yaml': `${service('hanging', [hanging])}---\n${service('not-reading', [notReading])}---\n${
        ingress({ name: 'send-timeout', host: 'send.test', service: 'not-reading', annotations: { [`${NGINX}proxy-send-timeout`]: '1', [`${NGINX}proxy-body-size`]: '0' } })}---\n${service('slow-body', [slowBody])}---\n${service('blackhole', [blackhole])}---\n${
        ingress({ name: 'read-timeout', host: 'hang.test', service: 'hanging', annotations: { [`${NGINX}proxy-read-timeout`]: '1' } })}---\n${
        ingress({ name: 'slow-body', host: 'slow-body.test', service: 'slow-body', annotations: { [`${NGINX}proxy-read-timeout`]: '1' } })}---\n${
        ingress({ name: 'connect-timeout', host: 'blackhole.test', service: 'blackhole', annotations: { [`${NGINX}proxy-connect-timeout`]: '1' } })}`,
      'echo.yaml': `${service('echo', [echo])}---\n${service('big', [big])}---\n${service('upgrade', [upgrade])}---\n${
        ingress({ name: 'echo', host: 'echo.test', service: 'echo', annotations: { [`${NGINX}proxy-body-size`]: '1k' } })}---\n${
        ingress({ name: 'unlimited', host: 'unlimited.test', service: 'echo', annotations: { [`${NGINX}proxy-body-size`]: '0' } })}---\n${
        ingress({ name: 'big', host: 'big.test', service: 'big' })}---\n${
        ingress({ name: 'vhost', host: 'vhost.test', service: 'echo', annotations: { [`${NGINX}upstream-vhost`]: 'internal.svc' } })}---\n${
        ingress({ name: 'upgrade', host: 'ws.test', service: 'upgrade' })}---\n${
        ingress({ name: 'rewrite', host: 'rewrite.test', path: '/api(/|$)(.*)', pathType: 'ImplementationSpecific', service: 'echo', annotations: { [`${NGINX}rewrite-target`]: '/v2/$2', [`${NGINX}x-forwarded-prefix`]: '/api' } })}---\n${
        ingress({ name: 'redirect', host: 'moved.test', service: 'echo', annotations: { [`${NGINX}permanent-redirect`]: 'https://new.test/landing', [`${NGINX}permanent-redirect-code`]: '308' } })}---\n${
        ingress({ name: 'temporal', host: 'temp.test', service: 'echo', annotations: { [`${NGINX}temporal-redirect`]: 'https://new.test/', [`${NGINX}permanent-redirect`]: 'https://ignored.test/' } })}---\n${
        ingress({ name: 'approot', host: 'approot.test', service: 'echo', annotations: { [`${NGINX}app-root`]: '/start' } })}---\n${
        ingress({ name: 'redos', host: 'redos.test', path: '/(a+)+b', pathType: 'ImplementationSpecific', service: 'echo', annotations: { [`${NGINX}use-regex`]: 'true' } })}`,
      'status-retry.yaml': `${service('status', [failing, healthy])}---\n${
        ingress({ name: 'status-retry', host: 'status-retry.test', service: 'status', annotations: { [`${NGINX}proxy-next-upstream`]: 'error timeout http_503' } })}---\n${
        ingress({ name: 'status-plain', host: 'status-plain.test', service: 'status', annotations: { [`${NGINX}proxy-next-upstream`]: 'error timeout' } })}`,
    }, engine, { workers });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  it('answers 404 for a host no rule matches', async () => {
    const r = await get('unknown.test');
    expect(r.status).toBe(404);
    expect(r.body).toContain('404 Not Found');
  });

  it('spreads requests round robin over the ready endpoints', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const who = echoed(await get('rr.test')).server;
      counts[who] = (counts[who] ?? 0) + 1;
    }
    // One round for the instance, whichever worker serves each request.
    expect(counts).toEqual({ 'rr-0': 10, 'rr-1': 10, 'rr-2': 10 });
  });

  it('pins a client address to one endpoint with sessionAffinity: ClientIP', async () => {
    // Each request on a new connection: with several workers, each client meets more than one of
    // them. The pin is a hash of the address, so 16 clients all on one of 2 endpoints has odds of 2^-15.
    const pinned = await Promise.all(Array.from({ length: 16 }, (_, i) => `127.0.0.${11 + i}`).map(async (client) => {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add(echoed(await get('sticky.test', '/', { localAddress: client })).server);
      return [...seen];
    }));
    for (const endpoints of pinned) expect(endpoints).toHaveLength(1);
    expect(new Set(pinned.map((e) => e[0])).size).toBe(2);
  });

  it('answers 503 when the Service has no ready endpoint', async () => {
    expect((await get('empty.test')).status).toBe(503);
  });

  it('answers 502 when every endpoint refuses the connection', async () => {
    expect((await get('dead.test')).status).toBe(502);
  });

  it('retries the next endpoint when one refuses, for GET and for a POST that was never sent', async () => {
    for (let i = 0; i < 6; i++) expect(echoed(await get('retry.test')).server).toBe('alive');
    for (let i = 0; i < 4; i++) expect(echoed(await get('retry.test', '/', { method: 'POST', body: 'x' })).server).toBe('alive');
  });

  it('never retries a POST once it was sent, then takes the resetting endpoint out of rotation', async () => {
    // Round robin starts on the resetting endpoint: the POST reached it, so it is not retried.
    expect((await get('reset.test', '/', { method: 'POST', body: 'once' })).status).toBe(502);
    // Passive health: that endpoint is out for its back-off, so nothing reaches it any more.
    for (let i = 0; i < 3; i++) expect(echoed(await get('reset.test', '/', { method: 'POST', body: 'again' })).server).toBe('after-reset');
    for (let i = 0; i < 3; i++) expect(echoed(await get('reset.test')).server).toBe('after-reset');
    expect(resetSeen).toBe(1);
  });

  it('retries on an upstream status listed in proxy-next-upstream, and passes it through otherwise', async () => {
    for (let i = 0; i < 4; i++) expect(echoed(await get('status-retry.test')).server).toBe('healthy');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get('status-plain.test')).status);
    expect(statuses.sort()).toEqual([200, 200, 503, 503]);
  });

  // The four timeouts wait a second each on hosts of their own: they wait together.
  it.concurrent('answers 504 when the pod does not answer within proxy-read-timeout', async () => {
    const r = await get('hang.test');
    expect(r.status).toBe(504);
  });

  it.concurrent('closes the connection when the read timeout expires mid-body', async () => {
    await expect(get('slow-body.test')).rejects.toThrow();
    expect(slowBodyStarted).toBe(true);
  });

  it.concurrent('answers 504 when the connection is not established within proxy-connect-timeout', async () => {
    expect((await get('blackhole.test')).status).toBe(504);
  });

  it.concurrent('answers 504 when the pod accepts no body data within proxy-send-timeout', async () => {
    async function* endless() {
      for (let i = 0; i < 1024; i++) yield Buffer.alloc(64 * 1024); // 64 MiB, far more than socket buffers hold
    }
    const r = await get('send.test', '/', { method: 'PUT', body: endless() });
    expect(r.status).toBe(504);
  });

  it('refuses a body over proxy-body-size by Content-Length before reading it (413)', async () => {
    const r = await get('echo.test', '/', { method: 'POST', body: Buffer.alloc(2048) });
    expect(r.status).toBe(413);
    expect(r.headers['connection']).toBe('close');
  });

  it('counts a chunked body while streaming and refuses it past the limit (413)', async () => {
    async function* chunks() {
      for (let i = 0; i < 4; i++) yield Buffer.alloc(512);
    }
    const r = await get('echo.test', '/', { method: 'POST', body: chunks() });
    expect(r.status).toBe(413);
    const ok = await get('echo.test', '/', { method: 'POST', body: Buffer.alloc(1000) });
    expect(echoed(ok).bodyBytes).toBe(1000);
  });

  it('streams large bodies both ways when proxy-body-size is 0', async () => {
    async function* chunks() {
      for (let i = 0; i < 80; i++) yield Buffer.alloc(64 * 1024, i);
    }
    expect(echoed(await get('unlimited.test', '/', { method: 'PUT', body: chunks() })).bodyBytes).toBe(80 * 64 * 1024);
    const r = await get('big.test', '/?bytes=5242880');
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(5 * 1024 * 1024);
    expect(r.headers['server']).toBeUndefined(); // the backend's Server header is hidden, as ingress-nginx does
    expect(r.headers['x-served-by']).toBe('big');
  });

  it('sends the forwarded headers, drops hop-by-hop ones and keeps the query string', async () => {
    const r = await get('echo.test:8080', '/a/b?x=1&y=%20', {
      headers: { 'connection': 'keep-alive, x-hop', 'x-hop': 'drop me', 'proxy': 'http://evil', 'x-forwarded-for': '6.6.6.6', 'x-end-to-end': 'keep', 'x_underscore': 'drop' },
    });
    const e = echoed(r);
    expect(e.url).toBe('/a/b?x=1&y=%20');
    expect(e.headers['host']).toBe('echo.test:8080');
    expect(e.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(e.headers['x-original-forwarded-for']).toBe('6.6.6.6');
    expect(e.headers['x-real-ip']).toBe('127.0.0.1');
    expect(e.headers['x-forwarded-host']).toBe('echo.test:8080');
    expect(e.headers['x-forwarded-port']).toBe(String(portico.httpPort));
    expect(e.headers['x-forwarded-proto']).toBe('http');
    expect(e.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(e.headers['x-end-to-end']).toBe('keep');
    expect(e.headers['x-hop']).toBeUndefined();
    expect(e.headers['proxy']).toBeUndefined();
    expect(e.headers['x_underscore']).toBeUndefined();
  });

  it('keeps an incoming X-Request-ID', async () => {
    expect(echoed(await get('echo.test', '/', { headers: { 'x-request-id': 'abc-123' } })).headers['x-request-id']).toBe('abc-123');
  });

  it('sends the upstream-vhost as Host', async () => {
    const e = echoed(await get('vhost.test'));
    expect(e.headers['host']).toBe('internal.svc');
    expect(e.headers['x-forwarded-host']).toBe('vhost.test');
  });

  it('rewrites the path with capture groups, keeps the query and sets X-Forwarded-Prefix', async () => {
    const e = echoed(await get('rewrite.test', '/API/users/7?full=1'));
    expect(e.url).toBe('/v2/users/7?full=1');
    expect(e.headers['x-forwarded-prefix']).toBe('/api');
    expect(echoed(await get('rewrite.test', '/api')).url).toBe('/v2/');
  });

  it('answers permanent-redirect, temporal-redirect (which wins) and app-root', async () => {
    const p = await get('moved.test', '/anything?q=1');
    expect(p.status).toBe(308);
    expect(p.headers['location']).toBe('https://new.test/landing');
    const t = await get('temp.test');
    expect(t.status).toBe(302);
    expect(t.headers['location']).toBe('https://new.test/');
    const a = await get('approot.test');
    expect(a.status).toBe(302);
    expect(a.headers['location']).toBe('http://approot.test/start');
    expect(echoed(await get('approot.test', '/start')).url).toBe('/start');
  });

  it('runs user regexes in linear time: a catastrophic pattern does not stall other requests', async () => {
    // With a backtracking engine, (a+)+b against 5000 a's would not finish in this test's lifetime.
    const [evil, normal] = await Promise.all([get('redos.test', `/${'a'.repeat(5000)}`), get('echo.test')]);
    expect(evil.status).toBe(404);
    expect(normal.status).toBe(200);
  });

  it('tunnels WebSocket upgrades to the pod', async () => {
    // A minimal upgrade-capable pod: answers 101 and echoes bytes back, upper-cased.
    const { port } = portico.app.current!.backends.get('default/upgrade:80')!.endpoints[0]!;
    backends.serverOn(port).on('upgrade', (req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-saw-host: ${req.headers.host}\r\n\r\n`);
      socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
    });
    const client = connect(portico.httpPort, '127.0.0.1');
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      client.on('error', reject);
      setTimeout(() => reject(new Error(`no upper-cased echo within 10 s; the client received: ${JSON.stringify(received.join(''))}`)), 10_000).unref();
      client.on('data', (d: Buffer) => {
        received.push(d.toString());
        const all = received.join('');
        if (all.includes('\r\n\r\n') && !all.includes('HELLO')) client.write('hello');
        if (all.includes('HELLO')) resolve();
      });
      client.write('GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    });
    client.destroy();
    const all = received.join('');
    expect(all).toMatch(/^HTTP\/1.1 101/);
    expect(all).toContain('x-saw-host: ws.test');
    expect(all).toContain('HELLO');
  });
});
