// Safe operations, with Portico as its own process: graceful shutdown on SIGTERM and limits
// against abusive clients. (No leak when clients abort by the thousand: e2e/abort-soak.e2e.ts.)
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { send } from './helpers/http.ts';
import { INGRESS_CLASS, ingress, service } from './helpers/manifests.ts';
import { waitFor } from './helpers/portico.ts';
import { metric, PorticoCli } from './helpers/process.ts';

const backends = new BackendSet();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-ops-'));
  const echo = { address: '127.0.11.1', port: await backends.echo('echo', '127.0.11.1') };
  const slow = { address: '127.0.11.2', port: await backends.http('127.0.11.2', (_req, res) => setTimeout(() => res.end('slow done'), 1500)) };
  await writeFile(join(dir, 'all.yaml'), [INGRESS_CLASS, service('echo', [echo]), service('slow', [slow]),
    ingress({ name: 'echo', host: 'echo.test', service: 'echo' }), ingress({ name: 'slow', host: 'slow.test', service: 'slow' })].join('---\n'));
});

afterAll(async () => {
  await backends.close();
  await rm(dir, { recursive: true, force: true });
});


describe('graceful shutdown on SIGTERM', () => {
  // Each kind of connection Portico holds when the drain begins, checked one by one: the only
  // connections a client may lose are those the kernel had not yet handed to Portico when the
  // listener closed (refused or reset by the kernel, exactly as with nginx), so the stream of new
  // connections stops before then instead of racing the close.
  it('fails /readyz at once, serves through the delay, answers connections open at the drain, never resets one, exits 0', async () => {
    const portico = new PorticoCli();
    await portico.start(dir, '--access-log', 'off', '--shutdown-delay', '1.5', '--shutdown-grace', '5');
    const outcomes: string[] = [];
    const okAfterSigterm: number[] = [];
    let sigtermAt = 0;
    // An idle keep-alive connection: closed cleanly (no reset) when the drain begins.
    const idle = await new Promise<Socket>((resolve) => {
      const socket = connect(portico.httpPort, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: echo.test\r\n\r\n'));
      socket.once('data', () => resolve(socket));
    });
    const idleClosed = new Promise<string>((resolve) => {
      idle.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      idle.on('close', () => resolve('closed'));
    });
    const inFlight = send(portico.httpPort, 'slow.test', '/');
    await new Promise((r) => setTimeout(r, 100));
    sigtermAt = Date.now();
    const exited = portico.stop('SIGTERM');
    // New connections during the delay, for the first second of its 1.5.
    const stream = (async () => {
      while (Date.now() - sigtermAt < 1000) {
        try {
          const r = await send(portico.httpPort, 'echo.test', '/');
          outcomes.push(String(r.status));
          if (r.status === 200) okAfterSigterm.push(Date.now() - sigtermAt);
        } catch (err) {
          outcomes.push((err as NodeJS.ErrnoException).code ?? (err as Error).message);
        }
      }
    })();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${portico.adminPort}/readyz`)).status === 503, '/readyz to fail');
    // Connected during the delay; its request is written only once the drain has begun.
    const fresh = connect(portico.httpPort, '127.0.0.1');
    await new Promise((r) => fresh.once('connect', r));
    await stream;
    await waitFor(() => portico.lines.some((l) => l.includes('draining: no new connections')), 'the drain to begin');
    const freshReply = await new Promise<string>((resolve) => {
      let data = '';
      fresh.on('data', (d: Buffer) => (data += d));
      fresh.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
      fresh.on('close', () => resolve(data));
      fresh.write('GET / HTTP/1.1\r\nHost: echo.test\r\n\r\n');
    });
    expect(freshReply).toMatch(/^HTTP\/1.1 200/);
    expect(freshReply.toLowerCase()).toContain('connection: close');
    expect(await idleClosed).toBe('closed');
    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(slow.body).toBe('slow done');
    expect(await exited).toBe(0);
    await expect(send(portico.httpPort, 'echo.test', '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(outcomes.filter((o) => o !== '200')).toEqual([]);
    expect(okAfterSigterm.some((ms) => ms > 700)).toBe(true); // still serving during the delay
  }, 20_000);
});

describe('limits against abusive clients', () => {
  const portico = new PorticoCli();
  beforeAll(() => portico.start(dir, '--access-log', 'off', '--max-header-size', '4096', '--client-header-timeout', '1', '--max-connections', '20'));
  afterAll(() => portico.stop());

  const raw = (write: string): Promise<{ data: string; socket: Socket }> => new Promise((resolve) => {
    const socket = connect(portico.httpPort, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => (data += d));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ data, socket }));
    socket.write(write);
  });

  it('answers 431 to request headers larger than --max-header-size', async () => {
    const r = await send(portico.httpPort, 'echo.test', '/', { headers: { 'x-big': 'a'.repeat(8000) } });
    expect(r.status).toBe(431);
  });

  it('answers 408 and closes a connection whose headers do not arrive within --client-header-timeout (slow-loris)', async () => {
    const started = Date.now();
    const { data } = await raw('GET / HTTP/1.1\r\nHost: echo.test\r\nX-Slow: ');
    expect(data).toMatch(/^HTTP\/1.1 408/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('refuses connections beyond --max-connections and serves again once they close', async () => {
    const held: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = connect(portico.httpPort, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      held.push(s);
    }
    await waitFor(async () => (await metric(portico.adminPort, 'portico_client_connections_active')) === 20, '20 open connections');
    const extra = connect(portico.httpPort, '127.0.0.1');
    const closed = await new Promise<boolean>((resolve) => {
      extra.on('error', () => {});
      extra.once('close', () => resolve(true));
      extra.write('GET / HTTP/1.1\r\nHost: echo.test\r\n\r\n');
    });
    expect(closed).toBe(true);
    held.forEach((s) => s.destroy());
    await waitFor(async () => (await metric(portico.adminPort, 'portico_client_connections_active')) === 0, 'connections to close');
    expect((await send(portico.httpPort, 'echo.test', '/')).status).toBe(200);
  });
});
