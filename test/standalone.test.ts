// Standalone mode end to end: the manifest directory is the source of truth, watched live.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { echoed, send } from './helpers/http.ts';
import { ingress, service } from './helpers/manifests.ts';
import { startPortico, waitFor, type RunningPortico } from './helpers/portico.ts';

describe('standalone mode', () => {
  const backends = new BackendSet();
  let portico: RunningPortico;
  let one: { address: string; port: number };
  let two: { address: string; port: number };
  let slowStarted = false;
  let releaseSlow: () => void = () => {};
  const admin = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${portico.adminPort}${path}`);
    return { status: r.status, text: await r.text() };
  };

  beforeAll(async () => {
    one = { address: '127.0.8.1', port: await backends.echo('one', '127.0.8.1') };
    two = { address: '127.0.8.2', port: await backends.echo('two', '127.0.8.2') };
    const slow = { address: '127.0.8.3', port: await backends.http('127.0.8.3', (_req, res) => {
      slowStarted = true;
      releaseSlow = () => res.end('slow done');
      res.writeHead(200);
    }) };
    portico = await startPortico({
      'svc.yaml': `${service('one', [one])}---\n${service('two', [two])}---\n${service('slow', [slow])}`,
      'app.yaml': ingress({ name: 'app', host: 'app.test', service: 'one' }),
      'slow.yaml': ingress({ name: 'slow', host: 'slow.test', service: 'slow' }),
    });
  });

  afterAll(async () => {
    await portico?.stop();
    await backends.close();
  });

  it('is ready and serves the table on the admin port', async () => {
    expect((await admin('/healthz')).status).toBe(200);
    const ready = await admin('/readyz');
    expect(ready.status).toBe(200);
    const routes = JSON.parse((await admin('/debug/routes')).text);
    const app = routes.hosts.find((h: { host: string }) => h.host === 'app.test');
    expect(app.paths[0]).toMatchObject({ path: '/', pathType: 'Prefix', ingress: 'default/app', backend: 'default/one:80' });
    expect(routes.backends.find((b: { id: string }) => b.id === 'default/one:80').endpoints).toEqual([{ address: one.address, port: one.port, target: `one-${one.address}-${one.port}` }]);
  });

  it('applies a changed Ingress without a restart', async () => {
    expect(echoed(await send(portico.httpPort, 'app.test', '/')).server).toBe('one');
    await portico.apply('app.yaml', ingress({ name: 'app', host: 'app.test', service: 'two' }));
    expect(echoed(await send(portico.httpPort, 'app.test', '/')).server).toBe('two');
  });

  it('serves a new file and forgets a removed one', async () => {
    await portico.apply('new.yaml', ingress({ name: 'new', host: 'new.test', service: 'one' }));
    expect(echoed(await send(portico.httpPort, 'new.test', '/')).server).toBe('one');
    const before = portico.app.current!.generation;
    await rm(join(portico.dir, 'new.yaml'));
    await waitFor(() => portico.app.current!.generation > before, 'reload after removal');
    expect((await send(portico.httpPort, 'new.test', '/')).status).toBe(404);
  });

  it('keeps the last good version of a file that stops parsing, and reports it', async () => {
    await portico.apply('app.yaml', 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: app\n  oops: [\n');
    expect(echoed(await send(portico.httpPort, 'app.test', '/')).server).toBe('two');
    const diagnostics = JSON.parse((await admin('/debug/diagnostics')).text);
    expect(diagnostics).toContainEqual(expect.objectContaining({ code: 'ManifestParseError', object: expect.objectContaining({ name: 'app.yaml#0' }) }));
  });

  it('skips a malformed object, keeps its last good version and everything else serving', async () => {
    await portico.apply('app.yaml', `${ingress({ name: 'app', host: 'app.test', service: 'one' })}---\n${ingress({ name: 'other', host: 'other.test', service: 'one' })}`);
    expect(echoed(await send(portico.httpPort, 'app.test', '/')).server).toBe('one');
    // rules must be a list: the Ingress is malformed now, its previous version stays.
    await portico.apply('app.yaml', `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: app}\nspec: {rules: "app.test"}\n---\n${ingress({ name: 'other', host: 'other.test', service: 'two' })}`);
    expect(echoed(await send(portico.httpPort, 'app.test', '/')).server).toBe('one');
    expect(echoed(await send(portico.httpPort, 'other.test', '/')).server).toBe('two');
    const diagnostics = JSON.parse((await admin('/debug/diagnostics')).text);
    expect(diagnostics).toContainEqual(expect.objectContaining({ code: 'MalformedObject', field: 'spec.rules', object: expect.objectContaining({ name: 'app.yaml#0 (Ingress app)' }) }));
  });

  it('lets a request in flight finish with the table it started with', async () => {
    const inFlight = send(portico.httpPort, 'slow.test', '/');
    await waitFor(() => slowStarted, 'the slow request to reach its pod');
    await portico.apply('slow.yaml', '# slow.test removed\n');
    expect((await send(portico.httpPort, 'slow.test', '/')).status).toBe(404);
    releaseSlow();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.body).toBe('slow done');
  });

  it('reports an invalid annotation and keeps the route serving with the default', async () => {
    await portico.apply('app.yaml', ingress({ name: 'app', host: 'app.test', service: 'one', annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '8mb' } }));
    expect((await send(portico.httpPort, 'app.test', '/', { method: 'POST', body: Buffer.alloc(512 * 1024) })).status).toBe(200);
    expect((await send(portico.httpPort, 'app.test', '/', { method: 'POST', body: Buffer.alloc(1024 * 1024 + 1) })).status).toBe(413);
    const diagnostics = JSON.parse((await admin('/debug/diagnostics')).text);
    expect(diagnostics).toContainEqual(expect.objectContaining({
      code: 'InvalidAnnotation',
      objectName: 'Ingress default/app',
      field: 'metadata.annotations[nginx.ingress.kubernetes.io/proxy-body-size]',
    }));
  });
});
