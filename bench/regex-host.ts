// What one regex-heavy host costs the others (security review F8).
//
//   node bench/regex-host.ts                    # 50,000 regex paths declared, 10 s per phase
//   node bench/regex-host.ts --paths 10000 --seconds 5
//
// Portico runs standalone as its own process with two hosts: regex.test, one Ingress with
// --paths use-regex paths, and other.test, a plain Prefix route. other.test is measured with a
// closed loop of 10 keep-alive clients, first alone, then while regex.test gets --rate
// requests per second for paths no regex matches (the most expensive request for that host).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startEchoBackend } from '../examples/echo-backend.ts';

const { values } = parseArgs({ options: { paths: { type: 'string', default: '50000' }, seconds: { type: 'string', default: '10' }, rate: { type: 'string', default: '200' } } });
const PATHS = Number(values.paths);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

const dir = await mkdtemp(join(tmpdir(), 'portico-regex-bench-'));
const backend = await startEchoBackend('echo', '127.0.0.1');
const endpoints = `apiVersion: v1
kind: Service
metadata: {name: echo}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: ${backend.port}}]
endpoints: [{addresses: ["127.0.0.1"]}]
`;
const backendRef = 'backend: {service: {name: echo, port: {number: 80}}}';
const regexPaths = Array.from({ length: PATHS }, (_, i) => `      - {path: "/api/v${i}/(users|items)/[0-9]+", pathType: ImplementationSpecific, ${backendRef}}`).join('\n');
await writeFile(join(dir, 'all.yaml'), `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portico}
spec: {controller: portico.dev/ingress-controller}
---
${endpoints}---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other}
spec:
  ingressClassName: portico
  rules: [{host: other.test, http: {paths: [{path: /, pathType: Prefix, ${backendRef}}]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: regex, annotations: {nginx.ingress.kubernetes.io/use-regex: "true"}}
spec:
  ingressClassName: portico
  rules:
  - host: regex.test
    http:
      paths:
${regexPaths}
`);

const started = performance.now();
const portico = spawn(process.execPath, [CLI, 'serve', '--manifests', dir, '--listen-address', '127.0.0.1', '--http-port', '18801', '--https-port', 'off', '--admin-port', '18802', '--access-log', 'off'], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => portico.kill('SIGKILL'));
let log = '';
portico.stdout!.on('data', (d: Buffer) => (log += d));
while (!log.includes('"portico serving"')) await new Promise((r) => setTimeout(r, 50));
const buildMs = [...log.matchAll(/"buildMs":([\d.]+)/g)].map((m) => m[1]).join(', ');
const routes = await (await fetch('http://127.0.0.1:18802/debug/routes')).json() as { hosts: { host: string; paths: unknown[] }[] };
const served = routes.hosts.find((h) => h.host === 'regex.test')?.paths.length;
const rssMiB = async (): Promise<string> => {
  const metrics = await (await fetch('http://127.0.0.1:18802/metrics')).text();
  const mib = (name: string): number => Math.round(Number(new RegExp(`^${name}\\S* (\\S+)`, 'm').exec(metrics)?.[1]) / 2 ** 20);
  return `${mib('process_resident_memory_bytes')} MiB (main thread heap ${mib('nodejs_heap_size_used_bytes')} MiB)`;
};
console.log(`${PATHS} regex paths declared, ${served} served: ready after ${Math.round(performance.now() - started)} ms, build ${buildMs} ms, RSS ${await rssMiB()}`);

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
function get(host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    request({ host: '127.0.0.1', port: 18801, path, headers: { host }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t));
    }).on('error', reject).end();
  });
}

async function measureOther(withLoad: boolean): Promise<{ p50: number; p99: number; max: number; count: number; regexSent: number }> {
  const latencies: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  let regexSent = 0;
  const load = withLoad ? setInterval(() => {
    for (let i = 0; i < RATE / 100; i++) {
      regexSent++;
      void get('regex.test', `/nomatch/${regexSent}/x`);
    }
  }, 10) : undefined;
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (performance.now() < until) latencies.push(await get('other.test', '/'));
  }));
  clearInterval(load);
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(latencies[Math.floor(q * (latencies.length - 1))]! * 100) / 100;
  return { p50: at(0.5), p99: at(0.99), max: at(1), count: latencies.length, regexSent };
}

const alone = await measureOther(false);
const loaded = await measureOther(true);
console.log(`other.test alone:                          p50 ${alone.p50} ms, p99 ${alone.p99} ms, max ${alone.max} ms (${alone.count} requests)`);
console.log(`other.test with ${RATE} req/s to regex.test: p50 ${loaded.p50} ms, p99 ${loaded.p99} ms, max ${loaded.max} ms (${loaded.count} requests; ${loaded.regexSent} to regex.test)`);

/** Portico's CPU time per request, from its own process_cpu_seconds_total, over a closed loop of 10 clients. */
async function cpuPerRequest(host: string, path: (i: number) => string): Promise<number> {
  const cpu = async (): Promise<number> => Number(/^process_cpu_seconds_total\S* (\S+)/m.exec(await (await fetch('http://127.0.0.1:18802/metrics')).text())?.[1]);
  const before = await cpu();
  let count = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (performance.now() < until) await get(host, path(count++));
  }));
  return Math.round(((await cpu()) - before) / count * 1e6);
}
console.log(`CPU per request: other.test ${await cpuPerRequest('other.test', () => '/')} µs, unmatched on regex.test ${await cpuPerRequest('regex.test', (i) => `/nomatch/${i}/x`)} µs, matched on regex.test ${await cpuPerRequest('regex.test', (i) => `/api/v${i % 10_000}/users/${i}`)} µs; RSS ${await rssMiB()}`);

// A reload of that file (one path changed): parsed on the parser thread, built on the data
// plane's; other.test's worst latency while it happens.
{
  const generation = async (): Promise<number> => ((await (await fetch('http://127.0.0.1:18802/debug/routes')).json()) as { generation: number }).generation;
  const before = await generation();
  const file = join(dir, 'all.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace('/api/v0/', '/api/v0-changed/'));
  const changed = performance.now();
  const latencies: number[] = [];
  let live = false;
  const watcher = (async () => {
    while (!live) {
      live = (await generation()) > before;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (!live) latencies.push(await get('other.test', '/'));
  }));
  await watcher;
  latencies.sort((a, b) => a - b);
  console.log(`reload of the ${PATHS}-path file: live after ${Math.round(performance.now() - changed)} ms; other.test meanwhile p99 ${Math.round(latencies[Math.floor(0.99 * (latencies.length - 1))]! * 100) / 100} ms, max ${Math.round(latencies.at(-1)! * 100) / 100} ms (${latencies.length} requests)`);
}
agent.destroy();
portico.kill('SIGTERM');
backend.server.close();
await rm(dir, { recursive: true, force: true });
