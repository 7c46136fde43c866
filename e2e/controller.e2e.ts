// Portico in controller mode against a real kube-apiserver and etcd, driven the way an
// operator drives it: kubectl apply / annotate, then curl -H 'Host: …' the node.
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startEnvironment, type Environment } from './lib/environment.ts';
import { run, waitUntil } from './lib/exec.ts';
import { ingress, namespace, Operator, serviceWithEndpoints, type Endpoint } from './lib/kube.ts';
import type { PodNetwork, Pod } from './lib/network.ts';
import { freePort, type TestCluster } from './lib/cluster.ts';
import { PorticoProcess } from './lib/portico.ts';
import { TestCA } from '../test/helpers/certs.ts';
import { TrafficStream } from './lib/traffic.ts';

const NGINX = 'nginx.ingress.kubernetes.io';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, unknown> = {};

describe('controller mode on a real API server', () => {
  let env: Environment;
  let dir: string;
  let network: PodNetwork;
  let cluster: TestCluster;
  let kubectl: Operator;
  let portico: PorticoProcess;
  const pods: Record<string, Pod> = {};
  const ep = (name: string, extra: Partial<Endpoint> = {}): Endpoint => ({ ip: pods[name]!.ip, port: pods[name]!.port, name, ...extra });
  const curl = (host: string, path = '/', ...extra: string[]) => kubectl.curl(portico.httpPort, host, path, ...extra);

  beforeAll(async () => {
    // The node runs the tomcat example's image as our echo backend (it answers on its containerPort).
    env = await startEnvironment(77, { workloads: true, images: { tomcat: (c) => [process.execPath, join(ROOT, 'e2e/lib/pod-server.ts'), '$(POD_NAME)', String(c.ports?.[0]?.containerPort ?? 8080)] } });
    ({ dir, network, cluster, kubectl } = env);
    for (const name of ['web-0', 'web-1', 'web-2']) pods[name] = await network.startPod(name);
    portico = new PorticoProcess(dir, 'portico', ['--kubeconfig', cluster.porticoKubeconfig, '--publish-address', network.gateway, '--election-namespace', 'portico-system', '--configmap', 'portico-system/portico-config']);
    await portico.start();
    await kubectl.apply(namespace('tomcat') + '---\n' + namespace('web') + '---\n' + namespace('other'));
    await kubectl.apply(serviceWithEndpoints('web', 'web', [ep('web-0')]));
  }, 50 * 60_000);

  afterAll(async () => {
    await writeFile(join(ROOT, 'e2e-results.json'), JSON.stringify(results, null, 2)).catch(() => {});
    console.log('e2e measurements:', JSON.stringify(results, null, 2));
    await portico?.stop();
    await env?.tearDown();
  });

  it('ships manifests the API server accepts (kubectl apply --dry-run=server -k deploy/)', async () => {
    const out = await kubectl.kubectl('apply', '--dry-run=server', '-k', join(ROOT, 'deploy'));
    expect(out).toContain('daemonset.apps/portico');
    expect(out).toContain('ingressclass.networking.k8s.io/portico');
    expect(out).toContain('clusterrole.rbac.authorization.k8s.io/portico');
    const withWebhook = await kubectl.kubectl('apply', '--dry-run=server', '-k', join(ROOT, 'deploy', 'admission'));
    expect(withWebhook).toContain('validatingwebhookconfiguration.admissionregistration.k8s.io/portico-admission');
    expect(withWebhook).toContain('service/portico-admission');
  });

  it('serves the classic tomcat Ingress with its annotations (the README\'s example: a Deployment of 2)', async () => {
    // examples/cluster/tomcat.yaml as a user applies it: the Deployment and Service first, then its Ingress.
    const documents = (await readFile(join(ROOT, 'examples/cluster/tomcat.yaml'), 'utf8')).split(/^---$/m);
    await kubectl.apply(documents.filter((d) => !/^kind: Ingress$/m.test(d)).join('---\n'), '-n', 'tomcat');
    await kubectl.kubectl('-n', 'tomcat', 'rollout', 'status', 'deployment/tomcat', '--timeout=60s');
    const started = Date.now();
    await kubectl.apply(documents.filter((d) => /^kind: Ingress$/m.test(d)).join('---\n'), '-n', 'tomcat');
    await waitUntil('tomcat route', async () => (await curl('tomcat.example.com', '/tomcat/manager?x=1')).status === 200, 30_000, 20);
    results['tomcatApplyToFirst200Ms'] = Date.now() - started;
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await curl('tomcat.example.com', '/TOMCAT/manager/html?x=1');
      expect(r.status).toBe(200);
      const echo = JSON.parse(r.body);
      expect(echo.url).toBe('/?x=1');
      expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
      seen.add(echo.server);
    }
    const running = JSON.parse(await kubectl.kubectl('-n', 'tomcat', 'get', 'pods', '-l', 'app=tomcat', '-o', 'json')) as { items: { metadata: { name: string } }[] };
    expect([...seen].sort()).toEqual(running.items.map((p) => p.metadata.name).sort());
    expect(seen.size).toBe(2);
    const body = join(dir, 'body');
    await writeFile(body, Buffer.alloc(11 * 1024 * 1024, 97));
    expect((await curl('tomcat.example.com', '/tomcat/upload', '--data-binary', `@${body}`)).status).toBe(413);
    await writeFile(body, Buffer.alloc(9 * 1024 * 1024, 97));
    const ok = await curl('tomcat.example.com', '/tomcat/upload', '--data-binary', `@${body}`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).bodyBytes).toBe(9 * 1024 * 1024);
    expect((await curl('nothing.example.com')).status).toBe(404);
  });

  it('lets every client see the 413 of an upload just over the limit, and refuses a fragment (no reset, no bypass)', async () => {
    await kubectl.apply(ingress('web', 'upload', 'upload.example.com', 'web'));
    await waitUntil('upload route', async () => (await curl('upload.example.com')).status === 200, 20_000, 20);
    const body = join(dir, 'just-over');
    await writeFile(body, Buffer.alloc(1024 * 1024 + 1, 97));
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await curl('upload.example.com', '/', '--data-binary', `@${body}`)).status);
    for (let i = 0; i < 15; i++) statuses.push((await curl('upload.example.com', '/', '--data-binary', `@${body}`, '-H', 'Expect:')).status);
    for (let i = 0; i < 15; i++) {
      statuses.push(await new Promise<number>((resolve) => {
        const req = request({ host: '127.0.0.1', port: portico.httpPort, method: 'POST', path: '/', headers: { host: 'upload.example.com' }, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(-1));
        req.end(Buffer.alloc(1024 * 1024 + 1));
      }));
    }
    expect(statuses).toEqual(Array(45).fill(413));
    expect((await curl('upload.example.com', '/', '--request-target', '/admin#/../x')).status).toBe(400);
  });

  it('serves the debug views to local clients only by default in controller mode', async () => {
    expect((await fetch(`http://127.0.0.1:${portico.adminPort}/debug/routes`)).status).toBe(200);
    const rebinding = await kubectl.curl(portico.adminPort, 'attacker.example', '/debug/routes');
    expect(rebinding.status).toBe(403);
    expect((await kubectl.curl(portico.adminPort, 'attacker.example', '/metrics')).status).toBe(200);
  });

  it('writes the address to Ingress status', async () => {
    await waitUntil('status.loadBalancer', async () =>
      (await kubectl.kubectl('get', 'ingress', 'tomcat', '-n', 'tomcat', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).trim() === network.gateway, 20_000, 200);
  });

  it('applies an annotation changed with kubectl annotate', async () => {
    await kubectl.kubectl('annotate', 'ingress', 'tomcat', '-n', 'tomcat', `${NGINX}/rewrite-target=/manager/$1`, '--overwrite');
    await kubectl.kubectl('patch', 'ingress', 'tomcat', '-n', 'tomcat', '--type=json', '-p', '[{"op":"replace","path":"/spec/rules/0/http/paths/0/path","value":"/tomcat/(.*)"}]');
    await waitUntil('the new rewrite', async () => JSON.parse((await curl('tomcat.example.com', '/tomcat/status?x=1')).body).url === '/manager/status?x=1', 20_000, 20);
  });

  it('ignores an Ingress of another class, even with a status written by nobody', async () => {
    await kubectl.apply(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
`);
    await kubectl.apply(ingress('other', 'theirs', 'theirs.example.com', 'web', { className: 'nginx' }));
    await kubectl.apply(serviceWithEndpoints('other', 'web', [ep('web-2')]));
    // A marker Ingress applied after it proves Portico has seen both.
    await kubectl.apply(ingress('other', 'marker', 'marker.example.com', 'web'));
    await waitUntil('marker route', async () => (await curl('marker.example.com')).status === 200, 20_000, 20);
    expect((await curl('theirs.example.com')).status).toBe(404);
    await waitUntil('marker status', async () => (await kubectl.kubectl('get', 'ingress', 'marker', '-n', 'other', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).trim() !== '', 20_000, 200);
    expect((await kubectl.kubectl('get', 'ingress', 'theirs', '-n', 'other', '-o', 'jsonpath={.status.loadBalancer.ingress}')).trim()).toBe('');
    // An Ingress that moves to another class stops being served and loses the status we wrote.
    await kubectl.kubectl('patch', 'ingress', 'marker', '-n', 'other', '--type=merge', '-p', '{"spec":{"ingressClassName":"nginx"}}');
    await waitUntil('marker status cleared', async () => (await kubectl.kubectl('get', 'ingress', 'marker', '-n', 'other', '-o', 'jsonpath={.status.loadBalancer.ingress}')).trim() === '', 20_000, 200);
    expect((await curl('marker.example.com')).status).toBe(404);
  });

  it('reports a bad annotation as a Warning Event, once, and keeps the route serving', async () => {
    await kubectl.apply(ingress('web', 'bad', 'bad.example.com', 'web', { annotations: { [`${NGINX}/proxy-body-size`]: '8mb' } }));
    await waitUntil('bad route', async () => (await curl('bad.example.com')).status === 200, 20_000, 20);
    const events = async () => JSON.parse(await kubectl.kubectl('get', 'events', '-n', 'web', '--field-selector', 'involvedObject.name=bad', '-o', 'json')).items as { reason: string; type: string; message: string }[];
    await waitUntil('the Warning Event', async () => (await events()).some((e) => e.reason === 'InvalidAnnotation'), 20_000, 200);
    const table = await kubectl.kubectl('get', 'events', '-n', 'web');
    expect(table).toMatch(/Warning\s+InvalidAnnotation\s+ingress\/bad/);
    // More changes (rebuilds) while the problem stays: no new Event.
    await kubectl.kubectl('annotate', 'ingress', 'bad', '-n', 'web', 'touch=1');
    await kubectl.kubectl('annotate', 'ingress', 'bad', '-n', 'web', 'touch=2', '--overwrite');
    await new Promise((r) => setTimeout(r, 1000));
    const invalid = (await events()).filter((e) => e.reason === 'InvalidAnnotation');
    expect(invalid).toHaveLength(1);
    expect(invalid[0]!.type).toBe('Warning');
    expect(invalid[0]!.message).toContain('proxy-body-size');
  });

  it('refuses a bad Ingress at kubectl apply through the admission webhook, and warns about the rest', async () => {
    // A second replica serves the webhook (TLS from a certificate for localhost); the webhook
    // configuration reaches it by URL and is scoped to one namespace, so other tests are untouched.
    const ca = await TestCA.create();
    const issued = await ca.issue(['localhost']);
    await writeFile(join(dir, 'webhook.crt'), issued.certPem);
    await writeFile(join(dir, 'webhook.key'), issued.keyPem);
    const webhookPort = await freePort();
    const admission = new PorticoProcess(dir, 'portico-admission', ['--kubeconfig', cluster.porticoKubeconfig, '--update-status=false', '--election-namespace', 'portico-system', '--election-id', 'portico-admission-e2e',
      '--validating-webhook', `127.0.0.1:${webhookPort}`, '--validating-webhook-certificate', join(dir, 'webhook.crt'), '--validating-webhook-key', join(dir, 'webhook.key')]);
    await admission.start();
    try {
      await kubectl.apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: admission, labels: {portico-admission: "on"}}\n`);
      await kubectl.apply(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: portico-admission-e2e}
webhooks:
  - name: validate.ingress.portico.dev
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: Fail
    namespaceSelector: {matchLabels: {portico-admission: "on"}}
    rules: [{apiGroups: ["networking.k8s.io"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["ingresses"]}]
    matchConditions: [{name: portico-class, expression: "!has(object.spec.ingressClassName) || object.spec.ingressClassName == 'portico'"}]
    clientConfig: {url: "https://localhost:${webhookPort}/validate", caBundle: "${Buffer.from(ca.pem).toString('base64')}"}
`);
      await kubectl.apply(serviceWithEndpoints('admission', 'web', [ep('web-0')]));
      await kubectl.apply(ingress('admission', 'first', 'admission.example.com', 'web'));
      // The same host and path again: refused, with the diagnostic Portico would have logged.
      const conflict = await kubectl.apply(ingress('admission', 'second', 'admission.example.com', 'web')).then(() => 'admitted', (err: Error) => err.message);
      expect(conflict).toContain('admission webhook "validate.ingress.portico.dev" denied the request');
      expect(conflict).toContain('PathConflict: Ingress admission/second spec.rules[0].http.paths[0].path: host "admission.example.com" path "/" (Prefix) is already defined by older Ingress admission/first');
      const snippet = await kubectl.apply(ingress('admission', 'snippet', 'snippet.example.com', 'web', { annotations: { [`${NGINX}/configuration-snippet`]: 'deny all;' } })).then(() => 'admitted', (err: Error) => err.message);
      expect(snippet).toContain('RefusedSnippet');
      expect((await kubectl.kubectl('get', 'ingress', '-n', 'admission', '-o', 'name')).trim()).toBe('ingress.networking.k8s.io/first');
      // A value that only falls back to a default is admitted; kubectl prints the warning.
      const warned = await run('kubectl', ['--kubeconfig', cluster.adminKubeconfig, 'apply', '-f', '-'], { input: ingress('admission', 'slow', 'slow.example.com', 'web', { annotations: { [`${NGINX}/proxy-read-timeout`]: '30s' } }), withStderr: true });
      expect(warned).toContain('ingress.networking.k8s.io/slow created');
      expect(warned).toMatch(/Warning: InvalidAnnotation: Ingress admission\/slow metadata.annotations\[nginx.ingress.kubernetes.io\/proxy-read-timeout\]: "30s" is not a positive whole number of seconds/);
      // Another class is not ours to judge.
      await kubectl.apply(ingress('admission', 'theirs', 'admission.example.com', 'web', { className: 'nginx' }));
    } finally {
      await kubectl.kubectl('delete', 'validatingwebhookconfiguration', 'portico-admission-e2e', '--ignore-not-found');
      await admission.stop();
    }
  });

  it('reports what moving from ingress-nginx changes, read from the cluster (portico migrate-check)', async () => {
    const out = await run(process.execPath, [fileURLToPath(new URL('../src/cli.ts', import.meta.url)), 'migrate-check', '--kubeconfig', cluster.adminKubeconfig, '--output', 'json']);
    const report = JSON.parse(out) as { ingresses: { ingress: string; class: string; annotations: { key: string; verdict: string }[] }[] };
    const tomcat = report.ingresses.find((i) => i.ingress === 'tomcat/tomcat')!;
    expect(tomcat.class).toBe('ours');
    expect(tomcat.annotations.find((a) => a.key === `${NGINX}/use-regex`)!.verdict).toBe('supported');
    expect(report.ingresses.find((i) => i.ingress === 'other/theirs')!.class).toBe('change');
    expect(report.ingresses.find((i) => i.ingress === 'web/bad')!.annotations.find((a) => a.key === `${NGINX}/proxy-body-size`)!.verdict).toBe('invalid');
  });

  it('applies the controller ConfigMap live, and reports its unsupported keys as Events on it', async () => {
    const configMap = (data: Record<string, string>) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: portico-config, namespace: portico-system}\ndata:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
    const body = join(dir, 'two-kib');
    await writeFile(body, Buffer.alloc(2048, 97));
    await kubectl.apply(configMap({ 'proxy-body-size': '1k', 'enable-brotli': 'true' }));
    await waitUntil('the ConfigMap body limit', async () => (await curl('upload.example.com', '/', '--data-binary', `@${body}`)).status === 413, 20_000, 50);
    const events = async () => JSON.parse(await kubectl.kubectl('get', 'events', '-n', 'portico-system', '--field-selector', 'involvedObject.kind=ConfigMap,involvedObject.name=portico-config', '-o', 'json')).items as { reason: string; message: string }[];
    await waitUntil('the Event on the ConfigMap', async () => (await events()).some((e) => e.reason === 'UnsupportedConfigKey' && e.message.includes('data[enable-brotli]')), 20_000, 200);
    // A bad value keeps the one in use, and says so.
    await kubectl.apply(configMap({ 'proxy-body-size': 'lots', 'enable-brotli': 'true' }));
    await waitUntil('the Event for the bad value', async () => (await events()).some((e) => e.reason === 'InvalidConfigValue' && e.message.includes('keeping the previous value "1k"')), 20_000, 200);
    expect((await curl('upload.example.com', '/', '--data-binary', `@${body}`)).status).toBe(413);
    await kubectl.kubectl('delete', 'configmap', 'portico-config', '-n', 'portico-system');
    await waitUntil('the built-in default again', async () => (await curl('upload.example.com', '/', '--data-binary', `@${body}`)).status === 200, 20_000, 50);
  });

  it('writes the load balancer addresses of --publish-service to Ingress status', async () => {
    // A second controller with a class of its own, so the two never write the same Ingresses.
    await kubectl.apply(`apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: portico-lb}\nspec: {controller: portico.dev/lb}\n`);
    await kubectl.apply(`apiVersion: v1\nkind: Service\nmetadata: {name: portico-lb, namespace: portico-system}\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n`);
    await kubectl.kubectl('patch', 'service', 'portico-lb', '-n', 'portico-system', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"},{"hostname":"lb.example.net"}]}}}');
    const lb = new PorticoProcess(dir, 'portico-lb', ['--kubeconfig', cluster.porticoKubeconfig, '--election-namespace', 'portico-system', '--election-id', 'portico-lb',
      '--ingress-class', 'portico-lb', '--controller-class', 'portico.dev/lb', '--publish-service', 'portico-system/portico-lb']);
    await lb.start();
    try {
      await kubectl.apply(ingress('web', 'behind-lb', 'lb.example.com', 'web', { className: 'portico-lb' }));
      const status = () => kubectl.kubectl('get', 'ingress', 'behind-lb', '-n', 'web', '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip} {.status.loadBalancer.ingress[*].hostname}');
      await waitUntil('the load balancer in status', async () => (await status()).trim() === '203.0.113.10 lb.example.net', 30_000, 200);
    } finally {
      await lb.stop();
    }
  });

  it('enforces basic auth, an allow list and a canary applied with kubectl', async () => {
    await kubectl.apply(namespace('policy'));
    await kubectl.apply(serviceWithEndpoints('policy', 'stable', [ep('web-0')]) + '---\n' + serviceWithEndpoints('policy', 'next', [ep('web-2')]));
    const htpasswd = (await run('openssl', ['passwd', '-apr1', 's3cret'])).trim();
    await kubectl.apply(`apiVersion: v1\nkind: Secret\nmetadata: {name: htpasswd, namespace: policy}\ntype: Opaque\nstringData:\n  auth: ${JSON.stringify(`admin:${htpasswd}\n`)}\n`);
    await kubectl.apply(ingress('policy', 'private', 'private.example.com', 'stable', { annotations: {
      [`${NGINX}/auth-type`]: 'basic', [`${NGINX}/auth-secret`]: 'htpasswd', [`${NGINX}/auth-realm`]: 'Staff only',
    } }));
    await waitUntil('private route', async () => (await curl('private.example.com')).status === 401, 20_000, 20);
    const ok = await curl('private.example.com', '/', '-u', 'admin:s3cret');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).headers.authorization).toBeUndefined();
    expect((await curl('private.example.com', '/', '-u', 'admin:wrong')).status).toBe(401);
    expect(await kubectl.curlHeaders(portico.httpPort, 'private.example.com')).toMatch(/www-authenticate: Basic realm="Staff only"/i);

    await kubectl.apply(ingress('policy', 'office', 'office.example.com', 'stable', { annotations: { [`${NGINX}/whitelist-source-range`]: '10.0.0.0/8' } }));
    await waitUntil('office route', async () => (await curl('office.example.com')).status === 403, 20_000, 20);
    await kubectl.kubectl('annotate', 'ingress', 'office', '-n', 'policy', `${NGINX}/whitelist-source-range=10.0.0.0/8,127.0.0.1`, '--overwrite');
    await waitUntil('office allows the node', async () => (await curl('office.example.com')).status === 200, 20_000, 20);

    await kubectl.apply(ingress('policy', 'shop', 'shop.example.com', 'stable'));
    await kubectl.apply(ingress('policy', 'shop-canary', 'shop.example.com', 'next', { annotations: { [`${NGINX}/canary`]: 'true', [`${NGINX}/canary-by-header`]: 'X-Canary' } }));
    const server = async (...extra: string[]) => JSON.parse((await curl('shop.example.com', '/', ...extra)).body).server as string;
    await waitUntil('the canary', async () => (await curl('shop.example.com', '/', '-H', 'X-Canary: always')).body.includes('web-2'), 20_000, 20);
    expect(await server()).toBe('web-0');
    expect(await server('-H', 'X-Canary: never')).toBe('web-0');
    await kubectl.kubectl('annotate', 'ingress', 'shop-canary', '-n', 'policy', `${NGINX}/canary-weight=100`);
    await waitUntil('weight 100', async () => (await server()) === 'web-2', 20_000, 20);
    expect(await server('-H', 'X-Canary: never')).toBe('web-0');
  });

  it('adds and removes endpoints under a steady stream of requests without a failed request', async () => {
    await kubectl.apply(ingress('web', 'web', 'web.example.com', 'web'));
    await waitUntil('web route', async () => (await curl('web.example.com')).status === 200, 20_000, 20);
    const traffic = new TrafficStream(portico.httpPort, 'web.example.com', '/');
    await new Promise((r) => setTimeout(r, 500));
    const addedAt = traffic.elapsed();
    await kubectl.apply(serviceWithEndpoints('web', 'web', [ep('web-0'), ep('web-1')]));
    await waitUntil('traffic on web-1', () => traffic.report.servedBy['web-1'] !== undefined, 20_000, 5);
    results['endpointSliceChangeToTrafficMs'] = traffic.report.firstSeenAt['web-1']! - addedAt;
    // web-0 goes away as a pod does: terminating first (still serving what it has), then gone.
    await kubectl.apply(serviceWithEndpoints('web', 'web', [ep('web-0', { ready: false, serving: true, terminating: true }), ep('web-1')]));
    await new Promise((r) => setTimeout(r, 700));
    await kubectl.apply(serviceWithEndpoints('web', 'web', [ep('web-1')]));
    await new Promise((r) => setTimeout(r, 700));
    const before = { ...traffic.report.servedBy };
    await new Promise((r) => setTimeout(r, 500));
    const report = await traffic.stop();
    results['churnRequests'] = report.sent;
    results['churnFailedRequests'] = report.failed;
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.servedBy['web-0']).toBe(before['web-0']); // no new requests once it was terminating and gone
    expect(report.servedBy['web-1']).toBeGreaterThan(before['web-1'] ?? 0);
  });

  it('routes a new Ingress within moments of kubectl apply (20 tries)', async () => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = Date.now();
      await kubectl.apply(ingress('web', `fresh-${i}`, `fresh-${i}.example.com`, 'web'));
      await waitUntil(`fresh-${i}`, async () => (await curl(`fresh-${i}.example.com`)).status === 200, 20_000, 5);
      times.push(Date.now() - started);
    }
    results['applyToFirst200Ms'] = { median: median(times), max: Math.max(...times), all: times };
    expect(times).toHaveLength(20);
  });

  it('keeps serving while the API server is down, says so, and catches up when it returns', async () => {
    const traffic = new TrafficStream(portico.httpPort, 'web.example.com', '/');
    await new Promise((r) => setTimeout(r, 300));
    await cluster.stopApiServer();
    await waitUntil('/readyz to report the outage', async () => (await portico.readyz()).text.includes('API server unreachable'), 30_000, 200);
    const during = await portico.readyz();
    expect(during.status).toBe(200); // the data plane works: do not take the node out of rotation
    await new Promise((r) => setTimeout(r, 1000));
    await cluster.startApiServer();
    await waitUntil('/readyz to recover', async () => !(await portico.readyz()).text.includes('unreachable'), 60_000, 200);
    const report = await traffic.stop();
    results['apiRestartRequests'] = report.sent;
    results['apiRestartFailedRequests'] = report.failed;
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    await kubectl.apply(ingress('web', 'after-restart', 'after-restart.example.com', 'web'));
    await waitUntil('a change after the restart', async () => (await curl('after-restart.example.com')).status === 200, 30_000, 20);
  });
});
