// The validating admission webhook: an AdmissionReview over HTTPS, decided from the same build
// diagnostics Portico serves with (blocking ones refuse, the rest come back as warnings).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Ingress } from '@kubernetes/client-node';
import { AdmissionWebhook, decide } from '../src/admission/webhook.ts';
import { buildRoutingTable } from '../src/routing/index.ts';
import { objectKey } from '../src/snapshot.ts';
import { CLASS, fixtureSnapshot } from './helpers/build-fixture.ts';
import { TestCA } from './helpers/certs.ts';

const snapshot = fixtureSnapshot('conflicting-paths');
let dir: string;
let webhook: AdmissionWebhook;
let port: number;
let ca: TestCA;

/** What Portico's controller does: build with the incoming Ingress added, keep its own diagnostics. */
function review(ingress: V1Ingress) {
  const key = objectKey(ingress.metadata?.namespace, ingress.metadata?.name ?? '');
  const incoming = { ...ingress, metadata: { ...ingress.metadata, creationTimestamp: new Date() } };
  const { diagnostics } = buildRoutingTable({ ...snapshot, ingresses: new Map(snapshot.ingresses).set(key, incoming) }, { ...CLASS, generation: 1 });
  return decide(diagnostics.filter((d) => d.object.kind === 'Ingress' && d.object.name === ingress.metadata?.name));
}

function ingressWith(name: string, host: string, annotations: Record<string, string> = {}, path = '/'): V1Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default', annotations },
    spec: { ingressClassName: 'portico', rules: [{ host, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: 'svc-a', port: { number: 80 } } } }] } }] },
  };
}

function post(body: unknown): Promise<{ status: number; json: { response: { uid: string; allowed: boolean; status?: { message: string }; warnings?: string[] } } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/validate', ca: ca.pem, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (d: Buffer) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: data.startsWith('{') ? JSON.parse(data) : data }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const reviewOf = (object: V1Ingress, uid = 'u-1') => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, kind: { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress' }, operation: 'CREATE', object } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-admission-'));
  ca = await TestCA.create();
  const issued = await ca.issue(['localhost']);
  await writeFile(join(dir, 'tls.crt'), issued.certPem);
  await writeFile(join(dir, 'tls.key'), issued.keyPem);
  webhook = new AdmissionWebhook({ listen: '127.0.0.1:0', certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }, review, pino({ level: 'silent' }));
  port = await webhook.listen();
});

afterAll(async () => {
  await webhook.close();
  await rm(dir, { recursive: true, force: true });
});

describe('admission webhook', () => {
  it('admits a good Ingress, echoing the request uid', async () => {
    const r = await post(reviewOf(ingressWith('fresh', 'fresh.example.com'), 'uid-42'));
    expect(r.status).toBe(200);
    expect(r.json.response).toEqual({ uid: 'uid-42', allowed: true });
  });

  it('refuses a snippet, an unreadable access guard and a path another Ingress has, with the diagnostic', async () => {
    const snippet = await post(reviewOf(ingressWith('snip', 'snip.example.com', { 'nginx.ingress.kubernetes.io/configuration-snippet': 'more_set_headers "X: y";' })));
    expect(snippet.json.response.allowed).toBe(false);
    expect(snippet.json.response.status!.message).toContain('RefusedSnippet: Ingress default/snip metadata.annotations[nginx.ingress.kubernetes.io/configuration-snippet]');
    const guard = await post(reviewOf(ingressWith('guard', 'guard.example.com', { 'nginx.ingress.kubernetes.io/whitelist-source-range': '10.0.0.0/33' })));
    expect(guard.json.response.status!.message).toContain('fail closed');
    const conflict = await post(reviewOf(ingressWith('late', 'app.example.com', {}, '/api')));
    expect(conflict.json.response.allowed).toBe(false);
    expect(conflict.json.response.status!.message).toMatch(/^PathConflict: Ingress default\/late .*is already defined by older Ingress/);
  });

  it('admits with warnings what only falls back to a default', async () => {
    const r = await post(reviewOf(ingressWith('slow', 'slow.example.com', { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '30s' })));
    expect(r.json.response.allowed).toBe(true);
    expect(r.json.response.warnings).toEqual([expect.stringContaining('InvalidAnnotation: Ingress default/slow metadata.annotations[nginx.ingress.kubernetes.io/proxy-read-timeout]: "30s"')]);
  });

  it('answers what is not an AdmissionReview with 400', async () => {
    expect((await post({ hello: 'world' })).status).toBe(400);
  });
});
