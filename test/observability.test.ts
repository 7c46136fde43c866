// What an operator sees: Prometheus metrics with ingress-nginx's names and labels, the access
// log, and one request id across the log, the pod and the response.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessLog } from '../src/observability/access-log.ts';
import { BackendSet } from './helpers/backends.ts';
import { echoed, send } from './helpers/http.ts';
import { INGRESS_CLASS, ingress, service } from './helpers/manifests.ts';
import { waitFor } from './helpers/portico.ts';
import { PorticoCli } from './helpers/process.ts';

describe('metrics, access log and request ids', () => {
  const backends = new BackendSet();
  const portico = new PorticoCli();
  let dir: string;
  const metrics = async () => (await fetch(`http://127.0.0.1:${portico.adminPort}/metrics`)).text();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-obs-'));
    const echo = { address: '127.0.10.1', port: await backends.echo('echo', '127.0.10.1') };
    const dead = { address: '127.0.10.2', port: await backends.closedPort('127.0.10.2') };
    await writeFile(join(dir, 'all.yaml'), [INGRESS_CLASS, service('echo', [echo]), service('dead', [dead]),
      ingress({ name: 'app', host: 'app.test', path: '/api', service: 'echo' }), ingress({ name: 'down', host: 'down.test', service: 'dead' })].join('---\n'));
    await portico.start(dir);
  });

  afterAll(async () => {
    await portico.stop();
    await backends.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts requests with ingress-nginx names and labels, the Ingress path not the request path', async () => {
    for (let i = 0; i < 3; i++) expect((await send(portico.httpPort, 'app.test', `/api/users/${i}?q=${i}`)).status).toBe(200);
    const text = await metrics();
    expect(text).toMatch(/nginx_ingress_controller_requests\{[^}]*status="200",method="GET",host="app.test",path="\/api",namespace="default",ingress="app",service="echo",canary=""[^}]*\} 3/);
    expect(text).toMatch(/nginx_ingress_controller_request_duration_seconds_bucket\{le="0.005",[^}]*ingress="app"/);
    expect(text).toMatch(/nginx_ingress_controller_response_duration_seconds_count\{[^}]*ingress="app"[^}]*\} 3/);
    expect(text).toMatch(/nginx_ingress_controller_connect_duration_seconds_count\{[^}]*\} 3/);
    expect(text).toMatch(/nginx_ingress_controller_request_size_bucket\{le="10",/);
    expect(text).toMatch(/nginx_ingress_controller_response_size_count\{[^}]*ingress="app"[^}]*\} 3/);
    expect(text).not.toContain('/api/users');
  });

  it('counts unmatched requests under a fixed label, never the raw host or URL', async () => {
    for (const host of ['random-1.test', 'random-2.test']) expect((await send(portico.httpPort, host, '/secret/path')).status).toBe(404);
    const text = await metrics();
    expect(text).toMatch(/nginx_ingress_controller_requests\{[^}]*status="404",method="GET",host="_",path="_"[^}]*\} 2/);
    expect(text).not.toContain('random-1.test');
    expect(text).not.toContain('/secret/path');
  });

  it('exports Portico\'s own metrics: builds, table size, ready endpoints, upstream failures', async () => {
    expect((await send(portico.httpPort, 'down.test', '/')).status).toBe(502);
    const text = await metrics();
    expect(text).toMatch(/portico_table_builds_total\{[^}]*\} [1-9]/);
    expect(text).toMatch(/portico_table_entries\{kind="hosts"[^}]*\} 2/);
    expect(text).toMatch(/portico_backend_ready_endpoints\{backend="default\/echo:80"[^}]*\} 1/);
    expect(text).toMatch(/portico_upstream_failures_total\{kind="refused"[^}]*\} 1/);
    expect(text).toMatch(/portico_client_connections_active/);
    expect(text).toMatch(/process_cpu_seconds_total/);
  });

  it('writes one JSON access log line per request, with the request id the pod and the client saw', async () => {
    const r = await send(portico.httpPort, 'app.test', '/api/log-me?x=1', { method: 'POST', body: 'hello' });
    const requestId = r.headers['x-request-id'] as string;
    expect(requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(echoed(r).headers['x-request-id']).toBe(requestId);
    await waitFor(() => portico.accessLog().some((l) => l['request_id'] === requestId), 'the access log line');
    const line = portico.accessLog().find((l) => l['request_id'] === requestId)!;
    expect(line).toMatchObject({
      // Without --log-query, the query string (tokens, often) stays out of the log.
      client: '127.0.0.1', method: 'POST', host: 'app.test', path: '/api/log-me', status: 200,
      upstream_status: 200, namespace: 'default', ingress: 'app', service: 'echo', retries: 0,
    });
    expect(line['upstream']).toMatch(/^127\.0\.10\.1:\d+$/);
    expect(line['bytes_in']).toBeGreaterThan(5);
    expect(line['bytes_out']).toBeGreaterThan(100);
    expect(typeof line['duration_ms']).toBe('number');
    expect(typeof line['time']).toBe('string');
  });

  it('keeps a request id the client sent, everywhere', async () => {
    const r = await send(portico.httpPort, 'app.test', '/api', { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(r.headers['x-request-id']).toBe('trace-abc-123');
    expect(echoed(r).headers['x-request-id']).toBe('trace-abc-123');
    await waitFor(() => portico.accessLog().some((l) => l['request_id'] === 'trace-abc-123'), 'the access log line');
  });
});

describe('text access log', () => {
  it('escapes what the client sent, so a request id or a path cannot forge fields (F19)', () => {
    const lines: string[] = [];
    const log = new AccessLog('text', { logQuery: true }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
    log.write({
      time: 0, requestId: 'id" 200 0 0ms - - forged', clientAddress: '127.0.0.1', method: 'GET', host: 'app.test', path: '/a"b\\c é',
      status: 404, bytesIn: 0, bytesOut: 0, durationMs: 1, route: undefined, upstream: undefined, retries: 0,
    });
    expect(lines).toEqual(['127.0.0.1 - [1970-01-01T00:00:00.000Z] "GET app.test/a\\x22b\\x5cc\\x20\\xe9" 404 0 1ms - - id\\x22\\x20200\\x200\\x200ms\\x20-\\x20-\\x20forged -\n']);
  });
});
