// --access-log nginx against nginx itself: the same request through Debian's nginx, configured
// with ingress-nginx's upstreaminfo log_format, and through Portico gives the same line, byte for
// byte, once the values that must differ (times, sizes of the pod's answer, the pod's port) are
// masked. Query strings stay out unless --log-query; the JSON log takes log-format-upstream fields.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from './helpers/backends.ts';
import { send } from './helpers/http.ts';
import { INGRESS_CLASS, ingress, service } from './helpers/manifests.ts';
import { waitFor } from './helpers/portico.ts';
import { freePort } from './helpers/ports.ts';
import { PorticoCli } from './helpers/process.ts';

const UPSTREAMINFO = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id';

const backends = new BackendSet();
const portico = new PorticoCli();
const plain = new PorticoCli();
let dir: string;
let nginx: ChildProcess | undefined;
let nginxPort = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-accesslog-'));
  const echo = { address: '127.0.15.1', port: await backends.echo('echo', '127.0.15.1') };
  const refused = { address: '127.0.15.2', port: await backends.closedPort('127.0.15.2') };
  const manifests = join(dir, 'manifests');
  await mkdir(manifests);
  await writeFile(join(manifests, 'all.yaml'), [INGRESS_CLASS, service('echo', [echo]), ingress({ name: 'echo', host: 'echo.test', service: 'echo' }),
    service('refused', [refused]),
    ingress({ name: 'errors', host: 'errors.test', service: 'refused', annotations: { 'nginx.ingress.kubernetes.io/custom-http-errors': '502', 'nginx.ingress.kubernetes.io/default-backend': 'echo' } }),
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: portico-config}\ndata:\n  log-format-upstream: '{"ts": "$time_iso8601", "client": "$remote_addr", "req": "$request", "status": $status, "took": $request_time, "ua": "$http_user_agent", "upstream": "$proxy_upstream_name", "args": "$args"}'\n`].join('---\n'));
  nginxPort = await freePort();
  // What ingress-nginx renders for this route, as far as the log line is concerned.
  await writeFile(join(dir, 'nginx.conf'), `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  map $http_x_request_id $req_id { default $http_x_request_id; "" $request_id; }
  log_format upstreaminfo '${UPSTREAMINFO}';
  access_log ${dir}/access.log upstreaminfo;
  server {
    listen 127.0.0.1:${nginxPort};
    set $proxy_upstream_name "default-echo-80";
    set $proxy_alternative_upstream_name "";
    location / { proxy_pass http://127.0.15.1:${echo.port}; }
  }
}
`);
  nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  await Promise.all([
    portico.start(manifests, '--access-log', 'nginx', '--log-query'),
    plain.start(manifests, '--access-log', 'json', '--configmap', 'default/portico-config', '--workers', '2'), // lines written by worker threads
    waitFor(async () => (await send(nginxPort, 'echo.test', '/').catch(() => undefined))?.status === 200, 'nginx to answer'),
  ]);
});

afterAll(async () => {
  nginx?.kill('SIGTERM');
  await Promise.all([portico.stop(), plain.stop()]);
  await backends.close();
  await rm(dir, { recursive: true, force: true });
});

/** The fields that differ between any two proxies (when, how long, the pod's answer and port). */
function masked(line: string): string {
  const m = /^(.*) \[[^\]]+\] (".*") (\d+) \d+ (".*" ".*") (\d+) [\d.]+ (\[.*\] \[.*\]) [\d.]+:\d+ \d+ [\d.]+ (\d+ \S+)$/.exec(line.trimEnd());
  if (!m) throw new Error(`not an upstreaminfo line: ${line}`);
  return `${m[1]} [TIME] ${m[2]} ${m[3]} BODY ${m[4]} ${m[5]} TIME ${m[6]} ADDR LENGTH TIME ${m[7]}`;
}

describe('--access-log nginx', () => {
  it('writes the line ingress-nginx writes, escaping included', async () => {
    const headers = {
      'user-agent': 'curl/8.5 "quoted" \\ back\u00e9', 'referer': 'https://shop.example/cart?id=7',
      'authorization': `Basic ${Buffer.from('alice:secret').toString('base64')}`, 'x-request-id': 'log-compare-1',
    };
    await send(nginxPort, 'echo.test', '/search?q=a%20b&token=s3cret', { headers });
    await send(portico.httpPort, 'echo.test', '/search?q=a%20b&token=s3cret', { headers });
    await waitFor(async () => (await readFile(join(dir, 'access.log'), 'utf8')).includes('log-compare-1'), 'the nginx line');
    await waitFor(() => portico.lines.some((l) => l.endsWith(' log-compare-1')), 'the Portico line');
    const fromNginx = (await readFile(join(dir, 'access.log'), 'utf8')).split('\n').find((l) => l.endsWith(' log-compare-1'))!;
    const fromPortico = portico.lines.find((l) => l.endsWith(' log-compare-1'))!;
    expect(masked(fromPortico)).toBe(masked(fromNginx));
    expect(fromPortico).toMatch(/^127\.0\.0\.1 - alice \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/search\?q=a%20b&token=s3cret HTTP\/1\.1" 200 \d+ /);
  });

  it('writes "-" for what a request did not have, and upstream-default-backend when no rule matched', async () => {
    const reply = await send(portico.httpPort, 'nobody.test', '/', { headers: { 'x-request-id': 'log-compare-2' } });
    await waitFor(() => portico.lines.some((l) => l.endsWith(' log-compare-2')), 'the Portico line');
    const line = portico.lines.find((l) => l.endsWith(' log-compare-2'))!;
    expect(line).toMatch(/^127\.0\.0\.1 - - \[[^\]]+\] "GET \/ HTTP\/1\.1" 404 \d+ "-" "-" \d+ \d+\.\d{3} \[upstream-default-backend\] \[\] - - - - log-compare-2$/);
    // $body_bytes_sent of Portico's own page: what the client got; none for HEAD.
    expect(reply.body.length).toBeGreaterThan(0);
    expect(line).toContain(`" 404 ${Buffer.byteLength(reply.body)} "-"`);
    await send(portico.httpPort, 'nobody.test', '/', { method: 'HEAD', headers: { 'x-request-id': 'log-compare-3' } });
    await waitFor(() => portico.lines.some((l) => l.endsWith(' log-compare-3')), 'the HEAD line');
    expect(portico.lines.find((l) => l.endsWith(' log-compare-3'))).toContain('"HEAD / HTTP/1.1" 404 0 "-"');
  });

  it('counts the error backend’s page as the body sent (custom-http-errors)', async () => {
    const reply = await send(portico.httpPort, 'errors.test', '/', { headers: { 'x-request-id': 'log-compare-4' } });
    // The error backend answers with the status it chooses (ingress-nginx's default backend answers with X-Code); the echo pod says 200.
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ server: 'echo', headers: { 'x-code': '502' } });
    await waitFor(() => portico.lines.some((l) => l.endsWith(' log-compare-4')), 'the error page line');
    expect(portico.lines.find((l) => l.endsWith(' log-compare-4'))).toContain(`" 200 ${Buffer.byteLength(reply.body)} "-"`);
  });
});

describe('JSON access log with log-format-upstream', () => {
  it('uses the ConfigMap’s field names with typed values, and keeps the query out without --log-query', async () => {
    await send(plain.httpPort, 'echo.test', '/a?token=s3cret', { headers: { 'user-agent': 'probe/1' } });
    await waitFor(() => plain.lines.some((l) => l.includes('"ua":"probe/1"')), 'the JSON line');
    const line = JSON.parse(plain.lines.find((l) => l.includes('"ua":"probe/1"'))!) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual(['ts', 'client', 'req', 'status', 'took', 'ua', 'upstream', 'args']);
    expect(line).toMatchObject({ client: '127.0.0.1', req: 'GET /a HTTP/1.1', status: 200, ua: 'probe/1', upstream: 'default-echo-80', args: null });
    expect(typeof line['took']).toBe('number');
    // The operational log uses the same ISO time format.
    const operational = JSON.parse(plain.lines.find((l) => l.includes('"portico serving"'))!) as { time: string };
    expect(operational.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(line['ts']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});
