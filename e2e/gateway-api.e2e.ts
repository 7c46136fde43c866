// Gateway API on a real API server with the CRDs of the conformance module's version, pods run by
// the e2e node and EndpointSlices from the real controller: an HTTPRoute applied with kubectl is
// served, and Portico (the leader) writes GatewayClass, Gateway and HTTPRoute status.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvironment, type Environment } from './lib/environment.ts';
import { waitUntil } from './lib/exec.ts';
import { namespace } from './lib/kube.ts';
import { PorticoProcess } from './lib/portico.ts';
import { ECHO_IMAGE } from './lib/pod-runner.ts';
import { GATEWAY_CLASS } from '../test/helpers/manifests.ts';

const CRDS = ['gatewayclasses', 'gateways', 'httproutes', 'referencegrants'];

const GATEWAY = `${GATEWAY_CLASS}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: infra}
spec:
  gatewayClassName: portico
  listeners:
    - name: http
      protocol: HTTP
      port: 80
      allowedRoutes: {namespaces: {from: All}}
    - {name: mail, protocol: SMTP, port: 25}
`;

const APP = `apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
        - name: echo
          image: ${ECHO_IMAGE}:1
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: shop}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
`;

function route(name: string, backend: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: shop}
spec:
  parentRefs: [{name: web, namespace: infra}]
  hostnames: [${name}.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Route, value: ${name}}]}}]
      backendRefs: [{name: ${backend}, port: 80}]
`;
}

interface Conditioned { conditions?: { type: string; status: string; reason: string; observedGeneration?: number }[] }
const conditionsOf = (c: Conditioned | undefined) => Object.fromEntries((c?.conditions ?? []).map((x) => [x.type, `${x.status} ${x.reason}`]));

describe('Gateway API on a real API server', () => {
  let env: Environment;
  let portico: PorticoProcess;
  const kubectl = () => env.kubectl;
  const get = async <T>(...args: string[]): Promise<T> => JSON.parse(await kubectl().kubectl('get', ...args, '-o', 'json')) as T;

  beforeAll(async () => {
    env = await startEnvironment(81, { workloads: true });
    await kubectl().kubectl('apply', '--server-side', ...CRDS.flatMap((c) => ['-f', join(env.bin, 'gateway-api-crds', `gateway.networking.k8s.io_${c}.yaml`)]));
    for (const c of CRDS) await kubectl().kubectl('wait', '--for=condition=Established', `crd/${c}.gateway.networking.k8s.io`, '--timeout=60s');
    portico = new PorticoProcess(env.dir, 'portico', ['--kubeconfig', env.cluster.porticoKubeconfig, '--publish-address', env.network.gateway, '--election-namespace', 'portico-system']);
    await portico.start();
    await kubectl().apply(namespace('infra') + '---\n' + namespace('shop'));
    await kubectl().apply(GATEWAY);
    await kubectl().apply(APP);
    await kubectl().kubectl('-n', 'shop', 'rollout', 'status', 'deployment/echo', '--timeout=60s');
  }, 50 * 60_000);

  afterAll(async () => {
    await portico?.stop();
    await env?.tearDown();
  });

  it('serves an HTTPRoute moments after kubectl apply', async () => {
    const started = Date.now();
    await kubectl().apply(route('shop', 'echo'));
    await waitUntil('the HTTPRoute served', async () => (await kubectl().curl(portico.httpPort, 'shop.example.com', '/cart')).status === 200, 30_000, 10);
    const applyToFirst200Ms = Date.now() - started;
    console.log(`gateway api: kubectl apply of an HTTPRoute to its first 200: ${applyToFirst200Ms} ms`);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const echo = JSON.parse((await kubectl().curl(portico.httpPort, 'shop.example.com', '/cart?x=1')).body) as { server: string; url: string; headers: Record<string, string> };
      expect([echo.url, echo.headers['x-route']]).toEqual(['/cart?x=1', 'shop']);
      seen.add(echo.server);
    }
    expect(seen.size).toBe(2);
  });

  it('writes status as the leader: class accepted, gateway programmed with its listeners, route parents', async () => {
    await waitUntil('GatewayClass Accepted', async () => conditionsOf((await get<{ status?: Conditioned }>('gatewayclass', 'portico')).status)['Accepted'] === 'True Accepted', 30_000, 200);
    type GatewayStatus = Conditioned & { addresses?: { type: string; value: string }[]; listeners?: (Conditioned & { name: string; attachedRoutes: number })[] };
    await waitUntil('Gateway listeners with the route attached', async () => (await get<{ status?: GatewayStatus }>('-n', 'infra', 'gateway', 'web')).status?.listeners?.[0]?.attachedRoutes === 1, 30_000, 200);
    const gateway = (await get<{ metadata: { generation: number }; status: GatewayStatus }>('-n', 'infra', 'gateway', 'web'));
    // Accepted, but saying one of its listeners (SMTP) is not valid, as the spec asks.
    expect(conditionsOf(gateway.status)).toMatchObject({ Accepted: 'True ListenersNotValid', Programmed: 'True Programmed' });
    expect(gateway.status.conditions!.every((c) => c.observedGeneration === gateway.metadata.generation)).toBe(true);
    expect(gateway.status.addresses).toEqual([{ type: 'IPAddress', value: env.network.gateway }]);
    const [http, mail] = gateway.status.listeners!;
    expect(conditionsOf(http)).toMatchObject({ Accepted: 'True Accepted', Programmed: 'True Programmed', ResolvedRefs: 'True ResolvedRefs' });
    expect(conditionsOf(mail)).toMatchObject({ Accepted: 'False UnsupportedProtocol' });
    type RouteStatus = { parents?: (Conditioned & { controllerName: string; parentRef: { name: string } })[] };
    const shop = await get<{ status: RouteStatus }>('-n', 'shop', 'httproute', 'shop');
    expect(shop.status.parents!.map((p) => [p.controllerName, p.parentRef.name, conditionsOf(p)])).toEqual([
      ['portico.dev/gateway-controller', 'web', { Accepted: 'True Accepted', ResolvedRefs: 'True ResolvedRefs' }],
    ]);
  });

  it('answers 500 for a route whose backend does not exist, and says why in its status', async () => {
    await kubectl().apply(route('broken', 'nowhere'));
    await waitUntil('the broken route answers 500', async () => (await kubectl().curl(portico.httpPort, 'broken.example.com', '/')).status === 500, 30_000, 50);
    type RouteStatus = { parents?: Conditioned[] };
    await waitUntil('ResolvedRefs False BackendNotFound', async () =>
      conditionsOf((await get<{ status?: RouteStatus }>('-n', 'shop', 'httproute', 'broken')).status?.parents?.[0])['ResolvedRefs'] === 'False BackendNotFound', 30_000, 200);
    expect(await portico.log()).not.toMatch(/forbidden/i);
  });
});
