// The Helm chart with a real helm (built from its Go module) and a real API server: lint and
// template for each controller.kind and service.type, the schema refusing bad values, deploy/
// equal to the chart's rendering, and `helm install` followed by the tomcat Ingress served
// through a Portico started exactly as the installed DaemonSet would start it, under the
// ServiceAccount and RBAC the chart created.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startEnvironment, type Environment } from './lib/environment.ts';
import { daemon, run, stopProcess, waitUntil } from './lib/exec.ts';
import { ingress, namespace, serviceWithEndpoints } from './lib/kube.ts';
import { freePort } from './lib/cluster.ts';

const CHART = join(ROOT, 'charts/portico');
const CLI = join(ROOT, 'src/cli.ts');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
interface Container { args: string[]; env: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[]; livenessProbe: Record<string, unknown>; readinessProbe: Record<string, unknown> }
interface PodSpec { hostNetwork?: boolean; nodeSelector?: Record<string, string>; containers: Container[]; volumes?: { name: string }[] }
type Workload = K8sObject & { spec: { replicas?: number; template: { spec: PodSpec } } };
interface Rule { apiGroups: string[]; resources: string[]; verbs: string[] }

describe('Helm chart', () => {
  let bin: string;
  const helm = (...args: string[]) => run(join(bin, 'helm'), args, { timeoutMs: 120_000 });
  const template = async (...set: string[]): Promise<K8sObject[]> =>
    (loadAll(await helm('template', 'portico', CHART, '--namespace', 'portico-system', ...set.flatMap((s) => ['--set', s]))) as (K8sObject | null)[]).filter((o): o is K8sObject => !!o);
  const counts = (objects: K8sObject[]) => Object.fromEntries([...new Set(objects.map((o) => o.kind))].sort().map((k) => [k, objects.filter((o) => o.kind === k).length]));
  const workload = (objects: K8sObject[]) => objects.find((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment') as Workload;
  const secretWriters = (objects: K8sObject[]) => objects.filter((o) => (o.kind === 'ClusterRole' || o.kind === 'Role')
    && ((o['rules'] ?? []) as Rule[]).some((r) => r.resources.includes('secrets') && r.verbs.some((v) => v !== 'get' && v !== 'list' && v !== 'watch'))).map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  const rendered: Record<string, Record<string, number>> = {};

  beforeAll(async () => {
    bin = (await run('bash', [join(ROOT, 'e2e/build-binaries.sh')], { timeoutMs: 45 * 60_000 })).trim().split('\n').pop()!;
  }, 50 * 60_000);

  afterAll(() => {
    console.log('chart: rendered objects per mode', JSON.stringify(rendered, null, 2));
  });

  it('lints clean with the default values and every kind and Service type', async () => {
    expect(await helm('lint', '--strict', CHART)).toContain('0 chart(s) failed');
    for (const kind of ['DaemonSet', 'Deployment']) {
      for (const type of ['LoadBalancer', 'NodePort', 'ClusterIP']) {
        const sets = [`controller.kind=${kind}`, 'controller.hostNetwork=false', 'controller.service.enabled=true', `controller.service.type=${type}`];
        expect(await helm('lint', '--strict', CHART, ...sets.flatMap((s) => ['--set', s]))).toContain('0 chart(s) failed');
      }
    }
  });

  it('renders a least-privilege DaemonSet on the host network by default', async () => {
    const objects = await template();
    rendered['default (DaemonSet, hostNetwork)'] = counts(objects);
    expect(counts(objects)).toEqual({ ClusterRole: 1, ClusterRoleBinding: 1, ConfigMap: 1, DaemonSet: 1, IngressClass: 1, Role: 1, RoleBinding: 1, ServiceAccount: 1 });
    expect(secretWriters(objects)).toEqual([]);
    const ds = workload(objects);
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    const c = pod.containers[0]!;
    expect(c.args).toEqual(expect.arrayContaining(['controller', '--acme=false', '--configmap=$(POD_NAMESPACE)/portico', '--ingress-class=portico']));
    expect(Object.fromEntries(c.env.map((e) => [e.name, e.valueFrom?.fieldRef.fieldPath]))).toEqual({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', NODE_NAME: 'spec.nodeName' });
    // ingress-nginx's probe timings.
    expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 10254 }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 5 });
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 10254 }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 });
  });

  it('renders a Deployment behind each Service type, with a PDB and the Service published to Ingress status', async () => {
    for (const type of ['LoadBalancer', 'NodePort', 'ClusterIP']) {
      const objects = await template('controller.kind=Deployment', 'controller.hostNetwork=false', 'controller.service.enabled=true', `controller.service.type=${type}`, ...(type === 'ClusterIP' ? [] : ['controller.service.externalTrafficPolicy=Local']));
      rendered[`Deployment, Service ${type}`] = counts(objects);
      const deployment = workload(objects);
      expect(deployment.kind).toBe('Deployment');
      expect(deployment.spec.replicas).toBe(2);
      expect(deployment.spec.template.spec.hostNetwork).toBeUndefined();
      expect(deployment.spec.template.spec.containers[0]!.args).toContain('--publish-service=$(POD_NAMESPACE)/portico');
      const service = objects.find((o) => o.kind === 'Service') as K8sObject & { spec: { type: string; externalTrafficPolicy?: string; ports: { name: string; targetPort: string }[] } };
      expect(service.spec.type).toBe(type);
      expect(service.spec.externalTrafficPolicy).toBe(type === 'ClusterIP' ? undefined : 'Local');
      expect(service.spec.ports.map((p) => `${p.name}->${p.targetPort}`)).toEqual(['http->http', 'https->https']);
      expect(objects.find((o) => o.kind === 'PodDisruptionBudget')).toMatchObject({ spec: { minAvailable: 1 } });
    }
    for (const type of ['LoadBalancer', 'NodePort', 'ClusterIP']) {
      rendered[`DaemonSet, Service ${type}`] = counts(await template('controller.service.enabled=true', `controller.service.type=${type}`));
    }
    // One replica: a PDB of minAvailable 1 would block every drain.
    expect((await template('controller.kind=Deployment', 'controller.replicaCount=1')).some((o) => o.kind === 'PodDisruptionBudget')).toBe(false);
  });

  it('grants Secret writes only with acme.enabled, per namespace when told which', async () => {
    const everywhere = await template('acme.enabled=true');
    rendered['acme.enabled'] = counts(everywhere);
    expect(everywhere.some((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === 'acmeissuers.portico.dev')).toBe(true);
    expect(secretWriters(everywhere)).toEqual(['ClusterRole /portico-acme']);
    expect(workload(everywhere).spec.template.spec.containers[0]!.args).not.toContain('--acme=false');
    const scoped = await template('acme.enabled=true', 'acme.secretNamespaces={team-a,team-b}');
    expect(secretWriters(scoped).sort()).toEqual(['Role portico-system/portico-acme-secrets', 'Role team-a/portico-acme-secrets', 'Role team-b/portico-acme-secrets']);
    // The CRD the chart installs is the repository's.
    expect(await readFile(join(CHART, 'files/acmeissuer-crd.yaml'), 'utf8')).toBe(await readFile(join(ROOT, 'crds/acmeissuer.yaml'), 'utf8'));
  });

  it('wires the admission webhook to a certificate it makes, and a ServiceMonitor to the admin port', async () => {
    const objects = await template('controller.admissionWebhooks.enabled=true', 'controller.metrics.serviceMonitor.enabled=true');
    rendered['admissionWebhooks + serviceMonitor'] = counts(objects);
    const secret = objects.find((o) => o.kind === 'Secret') as K8sObject & { data: Record<string, string> };
    const webhook = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as K8sObject & { webhooks: { clientConfig: { caBundle: string; service: { name: string } } }[] };
    expect(webhook.webhooks[0]!.clientConfig.caBundle).toBe(secret.data['ca.crt']);
    expect(webhook.webhooks[0]!.clientConfig.service.name).toBe(secret.metadata.name);
    const { X509Certificate } = await import('node:crypto');
    const served = new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64'));
    expect(served.subjectAltName).toContain('DNS:portico-admission.portico-system.svc');
    expect(served.verify(new X509Certificate(Buffer.from(secret.data['ca.crt']!, 'base64')).publicKey)).toBe(true);
    const pod = workload(objects).spec.template.spec;
    expect(pod.containers[0]!.args).toEqual(expect.arrayContaining(['--validating-webhook=:8443', '--validating-webhook-certificate=/etc/portico/admission/tls.crt']));
    expect(pod.volumes?.map((v) => v.name)).toEqual(['admission-certificate']);
    expect(objects.find((o) => o.kind === 'ServiceMonitor')).toMatchObject({ spec: { endpoints: [{ port: 'metrics', path: '/metrics' }] } });
    expect(objects.find((o) => o.kind === 'Service' && o.metadata.name === 'portico-metrics')).toMatchObject({ spec: { ports: [{ name: 'metrics', targetPort: 'admin' }] } });
  });

  it('renders a GatewayClass for Portico when asked (the Gateway API CRDs come first)', async () => {
    expect((await template()).some((o) => o.kind === 'GatewayClass')).toBe(false);
    const objects = await template('controller.gatewayClassResource.enabled=true');
    rendered['gatewayClassResource.enabled'] = counts(objects);
    expect(objects.find((o) => o.kind === 'GatewayClass')).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1', metadata: { name: 'portico' }, spec: { controllerName: 'portico.dev/gateway-controller' } });
  });

  it('refuses bad values at install time, naming them', async () => {
    const refused = (...set: string[]) => template(...set).then(() => 'rendered', (err: Error) => err.message);
    expect(await refused('controller.kind=StatefulSet')).toMatch(/'\/controller\/kind': value must be one of 'DaemonSet', 'Deployment'/);
    expect(await refused('controller.service.type=Ingress')).toMatch(/'\/controller\/service\/type': value must be one of/);
    expect(await refused('controller.replicas=3')).toMatch(/'\/controller': additional properties 'replicas' not allowed/);
    expect(await refused('controller.admin.port=99999')).toMatch(/'\/controller\/admin\/port': maximum/);
  });

  it('is what deploy/ holds (charts/render-deploy.sh)', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'portico-deploy-'));
    await run('bash', [join(ROOT, 'charts/render-deploy.sh')], { env: { ...process.env, HELM: join(bin, 'helm'), DEPLOY_DIR: fresh } });
    for (const file of ['base/portico.yaml', 'acme/portico.yaml']) {
      expect(await readFile(join(ROOT, 'deploy', file), 'utf8'), `deploy/${file} differs from the chart: run charts/render-deploy.sh`).toBe(await readFile(join(fresh, file), 'utf8'));
    }
  });
});

describe('helm install on a real API server', () => {
  let env: Environment;
  let portico: ReturnType<typeof daemon> | undefined;
  let log = '';

  beforeAll(async () => {
    env = await startEnvironment(79);
  }, 50 * 60_000);

  afterAll(async () => {
    await stopProcess(portico);
    await env?.tearDown();
  });

  it('installs, and the Portico it describes serves the tomcat Ingress under the chart\'s own ServiceAccount', async () => {
    const { bin, cluster, kubectl, network, dir } = env;
    // Another release beside deploy/'s: its own names, class and namespace.
    const values = ['controller.ingressClassResource.name=edge', 'controller.ingressClassResource.controllerValue=portico.dev/edge', 'controller.electionID=edge-leader', 'controller.extraArgs.shutdown-delay=0s'];
    const installed = await run(join(bin, 'helm'), ['install', 'edge', CHART, '--namespace', 'edge-system', '--create-namespace', '--kubeconfig', cluster.adminKubeconfig, '--wait=false', ...values.flatMap((v) => ['--set', v])], { timeoutMs: 120_000 });
    expect(installed).toContain('STATUS: deployed');
    const ds = JSON.parse(await kubectl.kubectl('-n', 'edge-system', 'get', 'daemonset', 'edge-portico', '-o', 'json')) as Workload;
    const container = ds.spec.template.spec.containers[0]!;

    // The container as the kubelet would start it: the downward API's values, $(VAR) expanded.
    // Only where it listens changes (free ports on loopback, and that address for Ingress
    // status, as there is no node), and it reaches the API server with a token of the
    // ServiceAccount the chart made, so the chart's RBAC is what it runs with.
    const pod = { 'metadata.name': 'edge-portico-e2e', 'metadata.namespace': 'edge-system', 'spec.nodeName': 'e2e-node' } as Record<string, string>;
    const envVars = Object.fromEntries(container.env.map((e) => [e.name, e.value ?? pod[e.valueFrom!.fieldRef.fieldPath]!]));
    const ports = { http: await freePort(), https: await freePort(), admin: await freePort() };
    const args = container.args.map((a) => a.replace(/\$\((\w+)\)/g, (_, name: string) => envVars[name]!)).map((a) =>
      a.startsWith('--http-port=') ? `--http-port=${ports.http}` : a.startsWith('--https-port=') ? `--https-port=${ports.https}` : a.startsWith('--admin-port=') ? `--admin-port=${ports.admin}` : a);
    expect(args).toEqual(expect.arrayContaining(['controller', '--configmap=edge-system/edge-portico', '--ingress-class=edge', '--acme=false', '--shutdown-delay=0s']));
    const token = (await kubectl.kubectl('-n', 'edge-system', 'create', 'token', 'edge-portico')).trim();
    const kubeconfig = join(dir, 'edge.kubeconfig');
    await run('cp', [cluster.porticoKubeconfig, kubeconfig]);
    await run('kubectl', ['--kubeconfig', kubeconfig, 'config', 'set-credentials', 'portico', `--token=${token}`]);
    const logFile = join(dir, 'edge-portico.log');
    portico = daemon(process.execPath, [CLI, ...args, '--listen-address', '127.0.0.1', '--publish-status-address', '127.0.0.1', '--kubeconfig', kubeconfig], logFile, { ...process.env, ...envVars });
    await waitUntil('edge portico /readyz', async () => (await fetch(`http://127.0.0.1:${ports.admin}/readyz`).catch(() => undefined))?.ok === true, 60_000, 100);

    const tomcat = await network.startPod('edge-tomcat');
    await kubectl.apply(namespace('edge-apps'));
    await kubectl.apply(serviceWithEndpoints('edge-apps', 'tomcat', [{ ip: tomcat.ip, port: tomcat.port, name: 'edge-tomcat' }]));
    await kubectl.apply(ingress('edge-apps', 'tomcat', 'tomcat.example.com', 'tomcat', {
      className: 'edge', path: '/tomcat/.*', pathType: 'ImplementationSpecific',
      annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true', 'nginx.ingress.kubernetes.io/rewrite-target': '/' },
    }));
    await waitUntil('tomcat through the installed Portico', async () => (await kubectl.curl(ports.http, 'tomcat.example.com', '/tomcat/manager?x=1')).status === 200, 30_000, 50);
    const echoed = JSON.parse((await kubectl.curl(ports.http, 'tomcat.example.com', '/tomcat/manager?x=1')).body) as { server: string; url: string };
    expect(echoed).toMatchObject({ server: 'edge-tomcat', url: '/?x=1' });
    // The chart's RBAC is enough for what the leader writes: the Ingress status.
    await waitUntil('Ingress status', async () => (await kubectl.kubectl('-n', 'edge-apps', 'get', 'ingress', 'tomcat', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')) === '127.0.0.1', 30_000, 100);
    log = await readFile(logFile, 'utf8');
    expect(log).toContain('ACME off');
    expect(log).not.toMatch(/watch failed|forbidden/i);
  });
});
