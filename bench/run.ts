// Portico against nginx (Debian's), same routes, same backend, one run, as ratios.
//
//   npm run bench                  # all cases, 10 s each
//   npm run bench -- --seconds 5   # shorter
//   npm run bench -- --only policy # only the policy-route case (CORS + allow list + rate limit)
//
// Needs wrk and nginx (apt-get install wrk nginx-light). Each proxy runs as one process
// (nginx: worker_processes 1) so CPU per request compares like with like; wrk and the
// backend (also nginx, serving static bodies) share the other core. Portico runs from dist/
// (`npm run bench` builds it first), as the image runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { chmod, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BuildCache, buildRoutingTable } from '../src/routing/index.ts';
import { parseManifest, snapshotOf } from '../src/sources/manifests.ts';
import { generateSelfSigned } from '../src/dataplane/tls.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' }, only: { type: 'string' } } });
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const CLK_TCK = 100; // Linux USER_HZ
const BACKEND_PORT = 18700;
const NGINX_PORT = 18701;
const PORTICO_PORT = 18702;
const PORTICO_ADMIN = 18703;
const SINK_PORT = 18704;
const FLOOR_PORT = 18705;
const FLOOR_FORWARDED_PORT = 18706;
const NGINX_TLS_PORT = 18711;
/** nginx with two workers, beside Portico with two. */
const NGINX2_PORT = 18721;
const NGINX2_TLS_PORT = 18722;
const PORTICO_TLS_PORT = 18712;
const HOST = 'bench.example.com';
/** Node flags Portico runs with in the image and in `npm start` (see the Dockerfile). */
const PORTICO_NODE_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'];
/** Portico as the image runs it: compiled. */
const PORTICO_CLI = 'dist/cli.js';
/** The fixed request rate at which both proxies' latency is compared (well within either's capacity). */
const FIXED_RATE = 5000;
/**
 * Idle RSS is read this long after start: once the manifest parser thread has been let go (5 s
 * idle) and V8's memory reducer has given back the start-up's pages (8 s after, about 11 s in).
 */
const IDLE_AFTER_MS = 15_000;
/** The same route with CORS, an allow list and a rate limit that never trips: what the request steps cost. */
const POLICY_HOST = 'policy.example.com';

interface Result {
  rps: number;
  p50ms: number;
  p99ms: number;
  cpuUsPerReq: number;
  rssMiB: number;
  errors: number;
}

try {
  await readFile(PORTICO_CLI);
} catch {
  throw new Error(`${PORTICO_CLI} is missing: run \`npm run build\` first (\`npm run bench\` does)`);
}
const dir = await mkdtemp(join(tmpdir(), 'portico-bench-'));
await chmod(dir, 0o755); // nginx workers run as an unprivileged user and must read the bodies
const children: ChildProcess[] = [];
// SIGTERM: nginx's master then stops its workers (SIGKILL would orphan them on the port).
process.on('exit', () => children.forEach((c) => c.kill('SIGTERM')));

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  children.push(child);
  return child;
}

async function waitForPort(port: number, host = HOST, timeoutMs = 10_000): Promise<void> {
  for (let i = 0; i < timeoutMs / 50; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/1k`, { headers: { 'x-host': host } });
      if (r.status < 500) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not come up`);
}

async function cpuTicks(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
  }
  return ticks;
}

async function rssKiB(pids: number[]): Promise<number> {
  let kib = 0;
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    kib += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return kib;
}

async function childPids(pid: number): Promise<number[]> {
  try {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim();
    return children ? children.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

function ms(v: string): number {
  const m = /([\d.]+)(us|ms|s|m)/.exec(v);
  if (!m) throw new Error(`wrk printed a latency I cannot read: ${v}`);
  return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[m[2]!]!;
}

interface WrkOptions {
  https?: boolean;
  close?: boolean;
  host?: string;
  /** Requests per second over all connections, each connection pausing between requests (wrk's `delay`). */
  rate?: number;
}

async function wrk(port: number, path: string, script?: string, o: WrkOptions = {}): Promise<{ requests: number; rps: number; p50ms: number; p99ms: number; errors: number }> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-H', `Host: ${o.host ?? HOST}`];
  if (o.close) args.push('-H', 'Connection: close'); // a new connection, so a new TLS handshake, per request
  if (o.rate) args.push('-s', await rateScript(o.rate));
  else if (script) args.push('-s', script);
  args.push(`${o.https ? 'https' : 'http'}://127.0.0.1:${port}${path}`);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args);
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d));
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
  if (process.env['BENCH_DEBUG']) console.error(out);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errorsMatch = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50ms: ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "0ms"),
    p99ms: ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "0ms"),
    errors: Number(errorsMatch?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/**
 * A wrk script holding the load at `rate` requests per second: each connection waits a random
 * 0–2× its share of the interval before its next request (random, so the connections do not move
 * in step). Latency at a rate both proxies sustain is what clients see; at saturation a
 * closed-loop client's latency is only connections ÷ throughput.
 */
async function rateScript(rate: number): Promise<string> {
  const file = join(dir, `rate-${rate}.lua`);
  const intervalMs = (CONNECTIONS / rate) * 1000;
  await writeFile(file, `math.randomseed(${rate})\nfunction delay()\n  return math.random() * ${2 * intervalMs}\nend\n`);
  return file;
}

/** Polls until `host` answers 200 on `port`: the table with that host is live. */
async function waitForHost(port: number, host: string, timeoutMs: number): Promise<void> {
  const status = () => new Promise<number>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/1k', headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
  for (const started = performance.now(); performance.now() - started < timeoutMs;) {
    if (await status() === 200) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${host} did not answer 200 on port ${port}`);
}

/** A benchmark of the wrong answer measures nothing: check the proxy answers 200 first. */
async function expect200(port: number, path: string, o: WrkOptions): Promise<void> {
  const status = await new Promise<string>((resolve, reject) => {
    const child = spawn('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${o.host ?? HOST}`, ...(path === '/post' ? ['--data-binary', 'x'] : []), `${o.https ? 'https' : 'http'}://127.0.0.1:${port}${path}`]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
  if (status !== '200') throw new Error(`port ${port} answered ${status} for ${path}, not 200: fix the benchmark setup`);
}

/** Each figure's median over several runs of one case (RSS: the last run's). */
function medianResult(runs: readonly Result[]): Result {
  const median = (pick: (r: Result) => number): number => runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  return {
    rps: median((r) => r.rps), p50ms: median((r) => r.p50ms), p99ms: median((r) => r.p99ms), cpuUsPerReq: median((r) => r.cpuUsPerReq),
    rssMiB: runs[runs.length - 1]!.rssMiB, errors: runs.reduce((sum, r) => sum + r.errors, 0),
  };
}

async function measure(pids: number[], port: number, path: string, script?: string, o: WrkOptions = {}, warm = true): Promise<Result> {
  await expect200(port, path, o);
  if (warm) await wrk(port, path, script, o); // warm-up at full length: JIT, pools, caches
  const before = await cpuTicks(pids);
  const r = await wrk(port, path, script, o);
  const after = await cpuTicks(pids);
  return {
    rps: r.rps,
    p50ms: r.p50ms,
    p99ms: r.p99ms,
    cpuUsPerReq: ((after - before) / CLK_TCK) * 1e6 / Math.max(1, r.requests),
    rssMiB: (await rssKiB(pids)) / 1024,
    errors: r.errors,
  };
}

// --- backend: nginx serving static bodies, accepting POSTs -----------------------------
const www = join(dir, 'www');
await mkdir(www);
await writeFile(join(www, '1k'), Buffer.alloc(1024, 97));
await writeFile(join(www, '1m'), Buffer.alloc(1024 * 1024, 97));
const post = join(dir, 'post.lua');
// One ECDSA P-256 certificate for both proxies' HTTPS listeners.
const certificate = await generateSelfSigned('bench.example.com');
await writeFile(join(dir, 'tls.crt'), certificate.certPem);
await writeFile(join(dir, 'tls.key'), certificate.keyPem);
await writeFile(post, 'wrk.method = "POST"\nwrk.body = string.rep("a", 1048576)\nwrk.headers["Content-Type"] = "application/octet-stream"\n');

function nginxConf(name: string, body: string, workers = 1): string {
  return `worker_processes ${workers};
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/${name}-body;
  proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fcgi;
  uwsgi_temp_path ${dir}/${name}-uwsgi;
  scgi_temp_path ${dir}/${name}-scgi;
  keepalive_requests 100000;
${body}
}
`;
}

await writeFile(join(dir, 'backend.conf'), nginxConf('backend', `
  server {
    listen 127.0.0.1:${BACKEND_PORT} reuseport;
    root ${www};
    client_max_body_size 0;
  }`));
start('nginx', ['-c', join(dir, 'backend.conf'), '-g', 'daemon off;']);
// POST bodies go to a sink that reads the whole body before answering. (nginx's `return`
// answers before reading, which makes a streaming proxy close the client connection.)
start(process.execPath, ['-e', `require('http').createServer((q, s) => { q.resume(); q.on('end', () => s.end('ok')); }).listen(${SINK_PORT}, '127.0.0.1')`]);

// --- nginx as the proxy: what ingress-nginx renders for a plain route ----------------------
function proxyConf(name: string, port: number, tlsPort: number, workers: number): string {
  return nginxConf(name, `
  upstream backend { server 127.0.0.1:${BACKEND_PORT}; keepalive 320; }
  upstream sink { server 127.0.0.1:${SINK_PORT}; keepalive 320; }
  server {
    listen 127.0.0.1:${port};
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${dir}/tls.crt;
    ssl_certificate_key ${dir}/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    server_name ${HOST};
    # ingress-nginx's keep-alive-requests default, which Portico applies too.
    keepalive_requests 1000;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Request-ID $request_id;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_pass http://backend;
    }
    location = /post {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://sink;
    }
  }`, workers);
}
await writeFile(join(dir, 'proxy.conf'), proxyConf('proxy', NGINX_PORT, NGINX_TLS_PORT, 1));
const nginxMaster = start('nginx', ['-c', join(dir, 'proxy.conf'), '-g', 'daemon off;']);

// --- Portico, standalone, on the same route ------------------------------------------------
/** A selector-less Service with one EndpointSlice on 127.0.0.1:port (no endpoints controller here). */
function serviceOn(name: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{port: ${port}}]
endpoints: [{addresses: ["127.0.0.1"]}]`;
}

function manifests(ingresses: number): string {
  const docs = [`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portico}
spec: {controller: portico.dev/ingress-controller}`, serviceOn('backend', BACKEND_PORT), serviceOn('sink', SINK_PORT), `apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata: {name: bench-tls}
stringData:
  tls.crt: ${JSON.stringify(certificate.certPem)}
  tls.key: ${JSON.stringify(certificate.keyPem)}`];
  docs.push(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: policy
  annotations:
    nginx.ingress.kubernetes.io/enable-cors: "true"
    nginx.ingress.kubernetes.io/whitelist-source-range: "10.0.0.0/8, 127.0.0.1/32"
    nginx.ingress.kubernetes.io/limit-rps: "100000000"
spec:
  ingressClassName: portico
  rules: [{host: ${POLICY_HOST}, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}]}}]`);
  for (let i = 0; i < ingresses; i++) {
    const host = i === 0 ? HOST : `app-${i}.example.com`;
    docs.push(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app-${i}, annotations: {nginx.ingress.kubernetes.io/proxy-body-size: "0", nginx.ingress.kubernetes.io/ssl-redirect: "false"}}
spec:
  ingressClassName: portico
  tls: [{hosts: [${host}], secretName: bench-tls}]
  rules: [{host: ${host}, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}, {path: /post, pathType: Exact, backend: {service: {name: sink, port: {number: 80}}}}, {path: /api/v${i % 7}, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}]}}]`);
  }
  return docs.join('\n---\n') + '\n';
}

/** One worker unless `flags` say otherwise (the last `--workers` wins), as nginx runs one worker here. */
async function startPortico(ingresses: number, ...flags: string[]): Promise<ChildProcess> {
  const m = join(dir, `manifests-${ingresses}`);
  await mkdir(m, { recursive: true });
  await writeFile(join(m, 'all.yaml'), manifests(ingresses));
  const child = start(process.execPath, [...PORTICO_NODE_FLAGS, PORTICO_CLI, 'serve', '--manifests', m, '--listen-address', '127.0.0.1', '--http-port', String(PORTICO_PORT), '--https-port', String(PORTICO_TLS_PORT), '--admin-port', String(PORTICO_ADMIN), '--workers', '1', ...flags], { ...process.env, PORTICO_LOG_LEVEL: 'warn' });
  // Reading and building 10,000 Ingresses takes seconds; the build time is measured separately.
  await waitForPort(PORTICO_PORT, HOST, 120_000);
  return child;
}

await waitForPort(BACKEND_PORT);
await waitForPort(NGINX_PORT);
const nginxPids = [nginxMaster.pid!, ...(await childPids(nginxMaster.pid!))];

/**
 * The request steps' cost: the same 1 KiB route with and without CORS + an allow list + a rate
 * limit, in one Portico process. Runs on this VM vary by ±25%, so after a warm-up of each the
 * two alternate in six adjacent pairs (ABBA order) and the median of the pairs' ratios is reported.
 */
async function policyRatio(pid: number): Promise<{ plain: number; policy: number; ratio: number }> {
  const plain: number[] = [];
  const policy: number[] = [];
  const ratios: number[] = [];
  const once = async (host: string, warm: boolean) => (await measure([pid], PORTICO_PORT, '/1k', undefined, { host }, warm)).cpuUsPerReq;
  await once(HOST, true);
  await once(POLICY_HOST, true);
  for (let i = 0; i < 6; i++) {
    // ABBA: each pair's order alternates, so a drift over time does not favour either side.
    let a: number;
    let b: number;
    if (i % 2 === 0) {
      a = await once(HOST, false);
      b = await once(POLICY_HOST, false);
    } else {
      b = await once(POLICY_HOST, false);
      a = await once(HOST, false);
    }
    plain.push(a);
    policy.push(b);
    ratios.push(b / a);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return { plain: median(plain), policy: median(policy), ratio: median(ratios) };
}

if (values.only === 'policy') {
  const p = await startPortico(1);
  const r = await policyRatio(p.pid!);
  console.log(`\nPolicy route (CORS + allow list + rate limit) vs plain route, 1 KiB GET, one Portico: ${r.policy.toFixed(1)} vs ${r.plain.toFixed(1)} µs/req = ${r.ratio.toFixed(3)}×`);
  for (const c of children) c.kill();
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
}

const cases: [string, string, string | undefined, WrkOptions][] = [
  ['1 KiB GET, keep-alive', '/1k', undefined, {}],
  [`1 KiB GET, keep-alive, ${FIXED_RATE} req/s`, '/1k', undefined, { rate: FIXED_RATE }],
  ['1 MiB GET', '/1m', undefined, {}],
  ['1 MiB POST', '/post', post, {}],
  ['1 KiB GET over HTTPS, keep-alive', '/1k', undefined, { https: true }],
  ['TLS handshake per request (1 KiB GET, Connection: close)', '/1k', undefined, { https: true, close: true }],
];
const rows: { name: string; nginx: Result; portico: Result }[] = [];
const nginxIdleMiB = (await rssKiB(nginxPids)) / 1024;
let portico = await startPortico(1);
await new Promise((r) => setTimeout(r, IDLE_AFTER_MS));
const porticoIdleMiB = (await rssKiB([portico.pid!])) / 1024;

/**
 * The two proxies on one case: a warm-up of each, then PAIRS pairs in ABBA order (a drift of
 * this VM's speed favours neither), each figure the median of its runs.
 */
const PAIRS = 3;
async function pair(path: string, script: string | undefined, o: WrkOptions): Promise<{ nginx: Result; portico: Result }> {
  const nginxPort = o.https ? NGINX_TLS_PORT : NGINX_PORT;
  const porticoPort = o.https ? PORTICO_TLS_PORT : PORTICO_PORT;
  const n: Result[] = [await measure(nginxPids, nginxPort, path, script, o)];
  const p: Result[] = [await measure([portico.pid!], porticoPort, path, script, o)];
  for (let i = 1; i < PAIRS; i++) {
    if (i % 2 === 1) {
      p.push(await measure([portico.pid!], porticoPort, path, script, o, false));
      n.push(await measure(nginxPids, nginxPort, path, script, o, false));
    } else {
      n.push(await measure(nginxPids, nginxPort, path, script, o, false));
      p.push(await measure([portico.pid!], porticoPort, path, script, o, false));
    }
  }
  return { nginx: medianResult(n), portico: medianResult(p) };
}
for (const [name, path, script, o] of cases) {
  // The headline case and its latency at a fixed rate in pairs; the others once each.
  if (path === '/1k' && !o.https) {
    rows.push({ name, ...await pair(path, script, o) });
    continue;
  }
  const n = await measure(nginxPids, o.https ? NGINX_TLS_PORT : NGINX_PORT, path, script, o);
  const p = await measure([portico.pid!], o.https ? PORTICO_TLS_PORT : PORTICO_PORT, path, script, o);
  rows.push({ name, nginx: n, portico: p });
}
const oneIngress = rows[0]!.portico;
const policy = await policyRatio(portico.pid!);
portico.kill();
await new Promise((r) => portico.once('exit', r));

// Two worker threads on the same port (the kernel spreads the connections), defaults on.
portico = await startPortico(1, '--workers', '2');
const twoWorkers = await measure([portico.pid!], PORTICO_PORT, '/1k');
portico.kill();
await new Promise((r) => portico.once('exit', r));
await writeFile(join(dir, 'proxy2.conf'), proxyConf('proxy2', NGINX2_PORT, NGINX2_TLS_PORT, 2));
const nginx2 = start('nginx', ['-c', join(dir, 'proxy2.conf'), '-g', 'daemon off;']);
await waitForPort(NGINX2_PORT);
const twoNginx = await measure([nginx2.pid!, ...(await childPids(nginx2.pid!))], NGINX2_PORT, '/1k');
nginx2.kill('SIGTERM');

// The platform's floor beside Portico with metrics and the access log off, on the 1 KiB case: a
// bare undici proxy (no routing, no policy), and one that also sends the headers the bench's nginx
// sets. The three in rotation, PAIRS rounds, each figure a median.
portico = await startPortico(1, '--metrics', 'false', '--access-log', 'off');
const floorArgs = ['bench/undici-floor.ts', `http://127.0.0.1:${BACKEND_PORT}`];
const floors = [start(process.execPath, [...PORTICO_NODE_FLAGS, ...floorArgs, String(FLOOR_PORT)]), start(process.execPath, [...PORTICO_NODE_FLAGS, ...floorArgs, String(FLOOR_FORWARDED_PORT), '--forwarded'])];
await waitForPort(FLOOR_PORT);
await waitForPort(FLOOR_FORWARDED_PORT);
const rotation: [number[], number][] = [[[floors[0]!.pid!], FLOOR_PORT], [[floors[1]!.pid!], FLOOR_FORWARDED_PORT], [[portico.pid!], PORTICO_PORT]];
const rotated: Result[][] = rotation.map(() => []);
for (let round = 0; round < PAIRS; round++) {
  const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
  for (const i of order) rotated[i]!.push(await measure(rotation[i]![0], rotation[i]![1], '/1k', undefined, {}, round === 0));
}
const [floor, floorForwarded, bare] = rotated.map(medianResult) as [Result, Result, Result];
for (const floorProcess of floors) floorProcess.kill();
portico.kill();
await new Promise((r) => portico.once('exit', r));

// 10,000 Ingresses: build time in-process, then throughput to one of them.
const text = manifests(10_000);
const parsed = parseManifest(text, 'all.yaml');
const snapshot = snapshotOf(parsed.objects);
const t0 = performance.now();
const built = buildRoutingTable(snapshot, { controllerName: 'portico.dev/ingress-controller', ingressClass: 'portico', generation: 1 });
const buildMs = performance.now() - t0;
// One Ingress changed (a new host), built as the pipeline builds: with the caches of the builds before.
const classOptions = { controllerName: 'portico.dev/ingress-controller', ingressClass: 'portico', generation: 1, cache: new BuildCache() };
buildRoutingTable(snapshot, classOptions);
const changeMs: number[] = [];
for (let i = 1; i <= 21; i++) {
  const ingresses = new Map(snapshot.ingresses);
  const changed = structuredClone(ingresses.get(`default/app-${i}`)!);
  changed.spec!.rules![0]!.host = `changed-${i}.example.com`;
  ingresses.set(`default/app-${i}`, changed);
  const t = performance.now();
  const rebuilt = buildRoutingTable({ ...snapshot, ingresses }, classOptions);
  changeMs.push(performance.now() - t);
  if (!rebuilt.table.exactHosts.has(`changed-${i}.example.com`)) throw new Error('the changed Ingress is not in the rebuilt table');
}
const changeMedianMs = [...changeMs].sort((a, b) => a - b)[Math.floor(changeMs.length / 2)]!;
// The same 10,000 Ingresses as 10,000 files: from process start until the last file's host answers 200.
const filesDir = join(dir, 'manifests-files');
await mkdir(filesDir);
const [common, ingressDocs] = manifests(10_000).split('\n---\n').reduce<[string[], string[]]>((acc, doc) => (acc[/^kind: Ingress$/m.test(doc) && !/name: policy/.test(doc) ? 1 : 0].push(doc), acc), [[], []]);
await writeFile(join(filesDir, '_common.yaml'), common.join('\n---\n') + '\n');
for (let i = 0; i < ingressDocs.length; i += 256) {
  // In batches: ten thousand files open at once could meet the descriptor limit.
  await Promise.all(ingressDocs.slice(i, i + 256).map((doc, j) => writeFile(join(filesDir, `ingress-${i + j}.yaml`), doc + '\n')));
}
const filesStarted = performance.now();
const fromFiles = start(process.execPath, [...PORTICO_NODE_FLAGS, PORTICO_CLI, 'serve', '--manifests', filesDir, '--listen-address', '127.0.0.1', '--http-port', String(PORTICO_PORT), '--https-port', String(PORTICO_TLS_PORT), '--admin-port', String(PORTICO_ADMIN), '--workers', '1'], { ...process.env, PORTICO_LOG_LEVEL: 'warn' });
// The last file's host: every file was read.
await waitForHost(PORTICO_PORT, `app-${ingressDocs.length - 1}.example.com`, 120_000);
const filesReadyMs = performance.now() - filesStarted;
fromFiles.kill();
await new Promise((r) => fromFiles.once('exit', r));
portico = await startPortico(10_000);
await new Promise((r) => setTimeout(r, IDLE_AFTER_MS));
const bigIdleMiB = (await rssKiB([portico.pid!])) / 1024;
const big = await measure([portico.pid!], PORTICO_PORT, '/1k');
portico.kill();

// --- report ----------------------------------------------------------------------------
const f = (n: number, d = 1) => n.toFixed(d);
console.log(`\nPortico (from dist/, ${PORTICO_NODE_FLAGS.join(' ')}) vs nginx ${SECONDS}s per run, ${CONNECTIONS} connections, wrk -t1; one proxy process each; ` +
  `1 KiB cases: medians of ${PAIRS} runs each, in ABBA order\n`);
console.log('| case | proxy | req/s | p50 ms | p99 ms | CPU µs/req | RSS MiB | errors |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  for (const [who, x] of [['nginx', r.nginx], ['portico', r.portico]] as const) {
    console.log(`| ${r.name} | ${who} | ${f(x.rps, 0)} | ${f(x.p50ms, 2)} | ${f(x.p99ms, 2)} | ${f(x.cpuUsPerReq)} | ${f(x.rssMiB)} | ${x.errors} |`);
  }
}
console.log('\n| case | CPU/req ratio (portico/nginx) | throughput ratio | p99 ratio |');
console.log('|---|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.name} | ${f(r.portico.cpuUsPerReq / r.nginx.cpuUsPerReq, 2)}× | ${f(r.portico.rps / r.nginx.rps, 2)}× | ${f(r.portico.p99ms / r.nginx.p99ms, 2)}× |`);
}
console.log(`\nBare undici proxy (no routing, no policy), 1 KiB GET: ${f(floor.rps, 0)} req/s, ${f(floor.cpuUsPerReq)} µs/req ` +
  `(${f(floor.cpuUsPerReq / rows[0]!.nginx.cpuUsPerReq, 2)}× nginx); sending nginx's forwarded headers too: ${f(floorForwarded.cpuUsPerReq)} µs/req ` +
  `(${f(floorForwarded.cpuUsPerReq / rows[0]!.nginx.cpuUsPerReq, 2)}× nginx). Portico with metrics and log off, in rotation with both: ${f(bare.cpuUsPerReq)} µs/req ` +
  `(${f(bare.cpuUsPerReq / floor.cpuUsPerReq, 2)}× the bare floor, ${f(bare.cpuUsPerReq / floorForwarded.cpuUsPerReq, 2)}× the forwarding one, ${f(bare.cpuUsPerReq / rows[0]!.nginx.cpuUsPerReq, 2)}× nginx).`);
console.log(`\nPolicy route (CORS + allow list + rate limit) vs plain route, 1 KiB GET, same process: ${f(policy.policy)} vs ${f(policy.plain)} µs/req = ${f(policy.ratio, 3)}×`);
console.log(`\nMetrics + JSON access log (the defaults), 1 KiB GET: ${f(oneIngress.cpuUsPerReq)} µs/req with, ${f(bare.cpuUsPerReq)} µs/req without ` +
  `(${f(oneIngress.cpuUsPerReq / bare.cpuUsPerReq, 2)}×; ${f(bare.rps, 0)} req/s without).`);
console.log(`\n--workers 2 (one nginx worker beside it), 1 KiB GET: ${f(twoWorkers.rps, 0)} req/s, ${f(twoWorkers.cpuUsPerReq)} µs/req ` +
  `(${f(twoWorkers.cpuUsPerReq / oneIngress.cpuUsPerReq, 2)}× one worker's), p99 ${f(twoWorkers.p99ms, 2)} ms, RSS ${f(twoWorkers.rssMiB)} MiB, errors ${twoWorkers.errors}`);
console.log(`\n--workers 2 against nginx with 2 workers, 1 KiB GET: ${f(twoWorkers.rps, 0)} vs ${f(twoNginx.rps, 0)} req/s (${f(twoWorkers.rps / twoNginx.rps, 2)}× throughput), ` +
  `CPU ${f(twoWorkers.cpuUsPerReq / twoNginx.cpuUsPerReq, 2)}× nginx's per request, p50 ${f(twoWorkers.p50ms, 2)} vs ${f(twoNginx.p50ms, 2)} ms, p99 ${f(twoWorkers.p99ms, 2)} vs ${f(twoNginx.p99ms, 2)} ms, RSS ${f(twoWorkers.rssMiB)} vs ${f(twoNginx.rssMiB)} MiB`);
console.log(`\nRSS idle (one Ingress, one worker, ${IDLE_AFTER_MS / 1000} s after start): Portico ${f(porticoIdleMiB)} MiB, nginx ${f(nginxIdleMiB)} MiB; under the 1 KiB load: ${f(oneIngress.rssMiB)} vs ${f(rows[0]!.nginx.rssMiB)} MiB`);
console.log(`\n10,000 Ingresses, one changed: build ${f(changeMedianMs, 0)} ms (median of ${changeMs.length}, with the pipeline's caches) vs ${f(buildMs, 0)} ms from scratch; ` +
  `10,000 files: the last file's host answers ${f(filesReadyMs, 0)} ms after the process started`);
console.log(`\n10,000 Ingresses (${built.table.exactHosts.size} hosts, ${parsed.objects.length} objects): build ${f(buildMs, 0)} ms; ` +
  `1 KiB GET ${f(big.rps, 0)} req/s vs ${f(oneIngress.rps, 0)} with one Ingress (${f(big.rps / oneIngress.rps, 2)}×), ` +
  `CPU ${f(big.cpuUsPerReq)} vs ${f(oneIngress.cpuUsPerReq)} µs/req, RSS ${f(bigIdleMiB)} MiB idle and ${f(big.rssMiB)} MiB under that load, errors ${big.errors}`);

for (const c of children) c.kill();
await rm(dir, { recursive: true, force: true });
process.exit(0);
