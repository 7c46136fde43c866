import { describe, expect, it } from 'vitest';
import { createAdminServer, type DebugViews } from '../../src/admin/server.ts';
import { buildFixture } from '../helpers/build-fixture.ts';

const table = buildFixture('hosts').table;
const admin = (debugViews: DebugViews) => createAdminServer({ current: table, diagnostics: [], notReadyReason: () => undefined, detail: () => undefined }, debugViews);
const get = async (debugViews: DebugViews, url: string, o: { host?: string; remoteAddress?: string } = {}) =>
  (await admin(debugViews).inject({ method: 'GET', url, remoteAddress: o.remoteAddress ?? '127.0.0.1', headers: { host: o.host ?? 'localhost:10254' } })).statusCode;

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
