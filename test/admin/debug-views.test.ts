import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { describeTable } from '../../src/admin/describe-table.ts';
import { AdminServer, type DebugViews } from '../../src/admin/server.ts';
import { buildFixture } from '../helpers/build-fixture.ts';

const table = buildFixture('hosts').table;
const admin = (debugViews: DebugViews) => new AdminServer({ current: table, diagnostics: [], notReadyReason: () => undefined, detail: () => undefined }, debugViews);
const get = async (debugViews: DebugViews, url: string, o: { host?: string; remoteAddress?: string } = {}) =>
  (await admin(debugViews).answer('GET', url, { host: o.host ?? 'localhost:10254' }, o.remoteAddress ?? '127.0.0.1')).status;

describe('--debug-views (F9)', () => {
  it('on: the dashboard and /debug/* for everyone', async () => {
    expect(await get('on', '/debug/routes', { remoteAddress: '10.1.2.3', host: 'node.example:10254' })).toBe(200);
    expect(await get('on', '/', { remoteAddress: '10.1.2.3' })).toBe(200);
  });

  it('off: neither the dashboard nor /debug/*; probes still answer', async () => {
    for (const url of ['/', '/debug/routes', '/debug/diagnostics', '/debug/dashboard', '/?x=1']) expect(await get('off', url), url).toBe(404);
    expect(await get('off', '/healthz')).toBe(200);
    expect(await get('off', '/readyz')).toBe(200);
  });

  it('localhost: served to a local client naming this machine, refused to others and to DNS rebinding', async () => {
    expect(await get('localhost', '/debug/routes')).toBe(200);
    expect(await get('localhost', '/debug/routes', { host: '127.0.0.1:10254' })).toBe(200);
    expect(await get('localhost', '/debug/routes', { remoteAddress: '::1', host: '[::1]:10254' })).toBe(200);
    expect(await get('localhost', '/debug/routes', { remoteAddress: '10.1.2.3' })).toBe(403);
    expect(await get('localhost', '/', { remoteAddress: '10.1.2.3' })).toBe(403);
    // A page on attacker.example whose name now resolves to 127.0.0.1, in a browser on this machine.
    expect(await get('localhost', '/debug/routes', { host: 'attacker.example:10254' })).toBe(403);
    expect(await get('localhost', '/healthz', { remoteAddress: '10.1.2.3' })).toBe(200);
  });
});

describe('the admin listener', () => {
  it('answers GET and HEAD, refuses other methods and paths, and closes with a keep-alive connection idle', async () => {
    const server = admin('on');
    const port = await server.listen({ host: '127.0.0.1', port: 0 });
    const agent = new Agent({ keepAlive: true });
    const ask = (method: string, path: string) => new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, method, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      }).on('error', reject).end();
    });
    expect(await ask('GET', '/healthz')).toMatchObject({ status: 200, body: 'ok', headers: { 'content-type': 'text/plain; charset=utf-8' } });
    const routes = await ask('GET', '/debug/routes?x=1');
    expect([routes.status, routes.headers['content-type']]).toEqual([200, 'application/json; charset=utf-8']);
    expect(JSON.parse(routes.body)).toEqual(JSON.parse(JSON.stringify(describeTable(table))));
    const head = await ask('HEAD', '/readyz');
    expect([head.status, head.body, Number(head.headers['content-length'])]).toEqual([200, '', Buffer.byteLength(`ok (table generation ${table.generation})`)]);
    expect((await ask('POST', '/healthz')).status).toBe(404);
    expect((await ask('GET', '/nothing')).status).toBe(404);
    await server.close(); // the agent still holds an idle connection
    agent.destroy();
  });
});
