// Instructions per proxied request, counted by valgrind's callgrind: unlike CPU time on a
// shared VM, the count repeats to within a percent, so a change to the request path can be
// judged from one run of each side.
//
//   npm run build && node bench/instructions.ts                 # Portico with defaults
//   node bench/instructions.ts --target bare                    # metrics and access log off
//   node bench/instructions.ts --target floor                   # bench/undici-floor.ts
//   node bench/instructions.ts --target floor-forwarded --top 40
//
// Needs valgrind (apt-get install valgrind). The target runs under callgrind with
// instrumentation off while it warms up (--warm requests: V8 compiles what is hot), then on for
// --requests requests over 10 keep-alive connections. It prints the target's main thread's
// instructions per request (the thread that serves: compiler and GC helper threads vary with
// timing) and its costliest functions, JavaScript ones named from V8's perf map.
//
// The count is user space only: the kernel's share of a request (the system calls) is not in it,
// so the ratio to another proxy's count is larger than the ratio of CPU times.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({ options: {
  target: { type: 'string', default: 'portico' }, requests: { type: 'string', default: '4000' }, warm: { type: 'string', default: '15000' }, top: { type: 'string', default: '25' },
} });
const REQUESTS = Number(values.requests);
const HOST = 'bench.example.com';
const NODE_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'];
const PORT = 18740;

const dir = await mkdtemp(join(tmpdir(), 'portico-instructions-'));
const backend: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(1024, 97)));
await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
const backendPort = (backend.address() as AddressInfo).port;
await writeFile(join(dir, 'all.yaml'), `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portico}
spec: {controller: portico.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: backend}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-1, labels: {kubernetes.io/service-name: backend}}
addressType: IPv4
ports: [{port: ${backendPort}}]
endpoints: [{addresses: ["127.0.0.1"]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app, annotations: {nginx.ingress.kubernetes.io/proxy-body-size: "0", nginx.ingress.kubernetes.io/ssl-redirect: "false"}}
spec:
  ingressClassName: portico
  rules: [{host: ${HOST}, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}]}}]
`);

const portico = ['dist/cli.js', 'serve', '--manifests', dir, '--listen-address', '127.0.0.1', '--http-port', String(PORT), '--https-port', 'off', '--admin-port', String(PORT + 1), '--workers', '1', '--shutdown-delay', '0'];
const floor = ['bench/undici-floor.ts', `http://127.0.0.1:${backendPort}`, String(PORT)];
const targets: Record<string, string[]> = {
  'portico': portico,
  'bare': [...portico, '--metrics', 'false', '--access-log', 'off'],
  'floor': floor,
  'floor-forwarded': [...floor, '--forwarded'],
};
const args = targets[values.target];
if (!args) throw new Error(`--target: one of ${Object.keys(targets).join(', ')}`);

const out = join(dir, 'callgrind.out');
const child: ChildProcess = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${out}`,
  process.execPath, '--perf-basic-prof', ...NODE_FLAGS, ...args], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, PORTICO_LOG_LEVEL: 'warn' } });
const pool = new Pool(`http://127.0.0.1:${PORT}`, { connections: 10, pipelining: 1 });

async function load(count: number): Promise<void> {
  let left = count;
  const worker = async (): Promise<void> => {
    while (left-- > 0) {
      const r = await pool.request({ path: '/1k', method: 'GET', headers: { host: HOST, 'user-agent': 'instructions/1', accept: '*/*' } });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`the target answered ${r.statusCode}, not 200`);
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
}

function control(...flags: string[]): void {
  const r = spawnSync('callgrind_control', [...flags, String(child.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`callgrind_control ${flags.join(' ')}: ${r.stderr}`);
}

try {
  for (let i = 0; ; i++) {
    try {
      await load(1);
      break;
    } catch (err) {
      if (i > 600) throw err; // valgrind starts Node slowly
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await load(Number(values.warm));
  control('-i', 'on');
  await load(REQUESTS);
  control('-i', 'off');
  control('-d');
  const dumps = (await readdir(dir)).filter((f) => f.startsWith('callgrind.out') && f.endsWith('-01'));
  const main = dumps.find((f) => f.includes('.1-01')) ?? dumps[0];
  if (!main) throw new Error('callgrind wrote no dump of the main thread');
  const perfMap = await readFile(`/tmp/perf-${child.pid}.map`, 'utf8').catch(() => '');
  report(await readFile(join(dir, main), 'utf8'), perfMap);
} finally {
  child.kill('SIGKILL');
  await pool.close();
  backend.close();
  await rm(dir, { recursive: true, force: true });
  await rm(`/tmp/perf-${child.pid}.map`, { force: true });
}

/** Totals and self cost per function of one callgrind dump; JIT code named through the perf map. */
function report(dump: string, perfMap: string): void {
  const ranges = perfMap.split('\n').flatMap((line) => {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    return m ? [[parseInt(m[1]!, 16), parseInt(m[2]!, 16), m[3]!] as const] : [];
  }).sort((a, b) => a[0] - b[0]);
  const nameOf = (fn: string): string => {
    const a = /^0x([0-9a-f]+)$/.exec(fn);
    if (!a) return fn;
    const address = parseInt(a[1]!, 16);
    let lo = 0;
    let hi = ranges.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid]![0] <= address) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    const r = ranges[found];
    return r && address < r[0] + r[1] ? r[2].replace(/^JS:[*~^+]?'?/, '') : 'JIT code';
  };
  const names = new Map<string, string>();
  const self = new Map<string, number>();
  let current: string | undefined;
  let callCost = false;
  let total = 0;
  for (const line of dump.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^fn=\((\d+)\)(?: (.*))?$/.exec(line))) {
      if (m[2]) names.set(m[1]!, m[2]);
      current = names.get(m[1]!);
      callCost = false;
    } else if ((m = /^cfn=\((\d+)\) (.*)$/.exec(line))) {
      names.set(m[1]!, m[2]!);
    } else if (line.startsWith('calls=')) {
      callCost = true; // the next cost line is the call's inclusive cost
    } else if ((m = /^[+-]?(?:\d+|\*)? ?(\d+)$/.exec(line))) {
      if (callCost) {
        callCost = false;
      } else if (current) {
        const cost = Number(m[1]);
        self.set(current, (self.get(current) ?? 0) + cost);
        total += cost;
      }
    }
  }
  const byName = new Map<string, number>();
  for (const [fn, cost] of self) {
    const name = nameOf(fn).replace(/ file:\/\/\S*\/(dist|node_modules|bench)\//, ' $1/');
    byName.set(name, (byName.get(name) ?? 0) + cost);
  }
  console.log(`${values.target}: ${Math.round(total / REQUESTS)} instructions per request on the main thread (${REQUESTS} requests)\n`);
  for (const [name, cost] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${String(Math.round(cost / REQUESTS)).padStart(8)}  ${name.slice(0, 130)}`);
  }
}
