// ingress-nginx's own dashboard and alerts against Portico, evaluated by a real Prometheus
// (Debian's package): every query of the official nginx.json dashboard returns data and every
// example alert of the chart's PrometheusRule fires when its condition is met. No cluster needed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSet } from '../test/helpers/backends.ts';
import { TestCA, tlsSecret } from '../test/helpers/certs.ts';
import { send } from '../test/helpers/http.ts';
import { INGRESS_CLASS, ingress, service } from '../test/helpers/manifests.ts';
import { waitFor } from '../test/helpers/portico.ts';
import { freePort } from '../test/helpers/ports.ts';
import { PorticoCli } from '../test/helpers/process.ts';
import { ALERTS, DASHBOARD, VARIABLES, withAllSelected } from './fixtures/ingress-nginx-queries.ts';

const backends = new BackendSet();
const portico = new PorticoCli();
let dir: string;
let prometheus: ChildProcess | undefined;
let prometheusUrl = '';

async function api<T>(path: string): Promise<T> {
  const r = await fetch(`${prometheusUrl}${path}`);
  const body = (await r.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
  return body.data;
}

const query = (expr: string) => api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);

const SECURE = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: secure}
spec:
  ingressClassName: portico
  tls: [{hosts: [secure.test], secretName: secure-tls}]
  rules: [{host: secure.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}}]
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-prometheus-'));
  const echo = { address: '127.0.14.1', port: await backends.echo('echo', '127.0.14.1') };
  const closed = { address: '127.0.14.2', port: await freePort() };
  // A certificate that expires tomorrow: the NGINXCertificateExpiry alert must fire.
  const ca = await TestCA.create();
  await writeFile(join(dir, 'app.yaml'), [INGRESS_CLASS, service('echo', [echo]), service('broken', [closed]), tlsSecret('secure-tls', await ca.issue(['secure.test'])),
    ingress({ name: 'shop', host: 'shop.test', service: 'echo' }), ingress({ name: 'broken', host: 'broken.test', service: 'broken' }), ingress({ name: 'lost', host: 'lost.test', service: 'missing' }), SECURE].join('---\n'));
  await portico.start(dir, '--access-log', 'off', '--https-port', '0');

  const promPort = await freePort();
  prometheusUrl = `http://127.0.0.1:${promPort}`;
  // The target carries the namespace Kubernetes service discovery would give it, so Prometheus
  // renames the metrics' own `namespace` to `exported_namespace`, as in a cluster.
  await writeFile(join(dir, 'prometheus.yml'), `global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [${join(dir, 'rules.yml')}]
scrape_configs:
  - job_name: portico
    static_configs: [{targets: ['127.0.0.1:${portico.adminPort}'], labels: {namespace: portico-system}}]
`);
  await writeFile(join(dir, 'rules.yml'), `groups:\n  - name: ingress-nginx-examples\n    rules:\n${ALERTS.map((a) => `      - alert: ${a.alert}\n        expr: ${JSON.stringify(a.expr)}\n        for: ${a.for}`).join('\n')}\n`);
  prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  await waitFor(async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.ok === true, 'Prometheus to be ready');

  // Traffic for a few scrapes: successes, 502s from a pod that refuses connections, 404s for
  // a host no Ingress names. Bounded: 8 s at most.
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    await Promise.all([
      send(portico.httpPort, 'shop.test', '/'), send(portico.httpPort, 'shop.test', '/cart', { method: 'POST', body: 'x'.repeat(500) }),
      send(portico.httpPort, 'broken.test', '/'), send(portico.httpPort, 'nobody.test', '/'),
    ]);
    await new Promise((r) => setTimeout(r, 50));
  }
  // Then an access guard Portico cannot read: that route fails closed, so the "reload" fails.
  await writeFile(join(dir, 'guarded.yaml'), ingress({ name: 'guarded', host: 'guarded.test', service: 'echo', annotations: { 'nginx.ingress.kubernetes.io/whitelist-source-range': '10.0.0.0/33' } }));
  await new Promise((r) => setTimeout(r, 3000));
}, 60_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await portico.stop();
  await backends.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ingress-nginx dashboard and alerts on a real Prometheus', () => {
  it('fills every template variable of nginx.json', async () => {
    for (const v of VARIABLES) {
      const values = await api<string[]>(`/api/v1/label/${v.label}/values?match[]=${encodeURIComponent(withAllSelected(v.match))}`);
      expect(values.filter((x) => x !== ''), `$${v.name}`).not.toEqual([]);
    }
    // The values operators pick from.
    expect(await api<string[]>(`/api/v1/label/exported_namespace/values?match[]=nginx_ingress_controller_requests`)).toContain('default');
    expect(await api<string[]>(`/api/v1/label/controller_class/values?match[]=nginx_ingress_controller_config_hash`)).toEqual(['portico.dev/ingress-controller']);
  });

  it('returns data for every panel of nginx.json', async () => {
    const empty: string[] = [];
    for (const q of DASHBOARD) if ((await query(withAllSelected(q.expr))).result.length === 0) empty.push(q.panel);
    expect(empty).toEqual([]);
  });

  it('reports the certificates, the failed reload and the errors as the panels show them', async () => {
    const expiry = await query(withAllSelected(DASHBOARD.find((q) => q.panel === 'Ingress Certificate Expiry')!.expr));
    const byHost = Object.fromEntries(expiry.result.map((r) => [r.metric['host'], Number(r.value[1])]));
    expect(byHost['secure.test']).toBeGreaterThan(0);
    expect(byHost['secure.test']).toBeLessThan(86_400);
    // The default certificate (here the generated one) is reported as host "_".
    expect(byHost['_']).toBeGreaterThan(300 * 86_400);
    expect(Number((await query('count(nginx_ingress_controller_config_last_reload_successful == 0)')).result[0]!.value[1])).toBe(1);
    const rate = Number((await query(withAllSelected(DASHBOARD.find((q) => q.panel === 'Controller Success Rate')!.expr))).result[0]!.value[1]);
    expect(rate).toBeGreaterThan(0.3);
    expect(rate).toBeLessThan(0.7);
    expect((await query('nginx_ingress_controller_orphan_ingress')).result.map((r) => `${r.metric['exported_namespace']}/${r.metric['ingress']} ${r.metric['type']}`)).toEqual(['default/lost no-service']);
  });

  it('fires every example alert of the chart’s PrometheusRule', async () => {
    await waitFor(async () => {
      const { alerts } = await api<{ alerts: { labels: { alertname: string }; state: string }[] }>('/api/v1/alerts');
      return ALERTS.every((a) => alerts.some((x) => x.labels.alertname === a.alert && (x.state === 'pending' || x.state === 'firing')));
    }, 'every alert to be pending or firing');
  });
});
