// Real workloads: kube-controller-manager turns a Deployment into ReplicaSets and Pods, the e2e
// node runs them in network namespaces and reports their readiness, and the EndpointSlice
// controller (not a test) writes the endpoints Portico routes to. Scaling and a rolling update
// are driven with kubectl, under a steady stream of requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvironment, type Environment } from './lib/environment.ts';
import { waitUntil } from './lib/exec.ts';
import { ingress, namespace } from './lib/kube.ts';
import { PorticoProcess } from './lib/portico.ts';
import { ECHO_IMAGE } from './lib/pod-runner.ts';
import { TrafficStream } from './lib/traffic.ts';

function deployment(replicas: number, version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: shop}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: echo}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: echo
          image: ${ECHO_IMAGE}:${version}
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
          lifecycle: {preStop: {sleep: {seconds: 1}}}
`;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: shop}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
`;

describe('workloads on a real controller manager', () => {
  let env: Environment;
  let portico: PorticoProcess;
  const kubectl = () => env.kubectl;
  /** The pods the echo backend says answered, over `n` requests. */
  const servers = async (n: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await kubectl().curl(portico.httpPort, 'shop.example.com', '/');
      expect(r.status).toBe(200);
      seen.add((JSON.parse(r.body) as { server: string }).server);
    }
    return seen;
  };
  /** The echo pods running and not being deleted. */
  const podNames = async (): Promise<Set<string>> => {
    const list = JSON.parse(await kubectl().kubectl('-n', 'shop', 'get', 'pods', '-l', 'app=echo', '-o', 'json')) as { items: { metadata: { name: string; deletionTimestamp?: string }; status: { phase?: string } }[] };
    return new Set(list.items.filter((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running').map((p) => p.metadata.name));
  };

  beforeAll(async () => {
    env = await startEnvironment(80, { workloads: true });
    portico = new PorticoProcess(env.dir, 'portico', ['--kubeconfig', env.cluster.porticoKubeconfig, '--publish-address', env.network.gateway, '--election-namespace', 'portico-system']);
    await portico.start();
    await env.kubectl.apply(namespace('shop'));
  }, 50 * 60_000);

  afterAll(async () => {
    await portico?.stop();
    await env?.tearDown();
    expect(env?.pods?.problems ?? []).toEqual([]);
  });

  it('routes to the pods of a Deployment through the EndpointSlices the controller writes', async () => {
    await kubectl().apply(deployment(2, 'v1') + '---\n' + SERVICE);
    await kubectl().apply(ingress('shop', 'shop', 'shop.example.com', 'echo'));
    await kubectl().kubectl('-n', 'shop', 'rollout', 'status', 'deployment/echo', '--timeout=60s');
    const slices = await kubectl().kubectl('-n', 'shop', 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=echo', '-o', 'jsonpath={.items[*].metadata.labels.endpointslice\\.kubernetes\\.io/managed-by}');
    expect(slices.trim()).toBe('endpointslice-controller.k8s.io');
    await waitUntil('both pods behind Portico', async () => (await servers(6)).size === 2, 30_000, 200);
    expect(await servers(6)).toEqual(await podNames());
  });

  it('shows a pod\'s output with kubectl logs, which the API server reads from the node as from a kubelet', async () => {
    const [pod] = [...await podNames()] as [string];
    expect(await kubectl().kubectl('-n', 'shop', 'logs', pod)).toBe(`${pod} serving on port 8080\n`);
    expect(await kubectl().kubectl('-n', 'shop', 'logs', pod, '--timestamps')).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+Z ${pod} serving on port 8080\\n$`));
    expect(await kubectl().kubectl('-n', 'shop', 'logs', pod, `--since-time=${new Date(Date.now() + 60_000).toISOString()}`)).toBe('');
  });

  it('follows kubectl scale up and down', async () => {
    await kubectl().kubectl('-n', 'shop', 'scale', 'deployment/echo', '--replicas=3');
    await kubectl().kubectl('-n', 'shop', 'rollout', 'status', 'deployment/echo', '--timeout=60s');
    await waitUntil('three pods behind Portico', async () => (await servers(9)).size === 3, 30_000, 200);
    await kubectl().kubectl('-n', 'shop', 'scale', 'deployment/echo', '--replicas=1');
    await waitUntil('one pod left', async () => (await podNames()).size === 1 && (await servers(4)).size === 1, 60_000, 200);
    expect(await servers(4)).toEqual(await podNames());
  });

  it('rolls a new version out under a steady stream of requests without a failed one', async () => {
    await kubectl().kubectl('-n', 'shop', 'scale', 'deployment/echo', '--replicas=2');
    await kubectl().kubectl('-n', 'shop', 'rollout', 'status', 'deployment/echo', '--timeout=60s');
    const before = await podNames();
    const traffic = new TrafficStream(portico.httpPort, 'shop.example.com', '/', 4, 90_000);
    await new Promise((r) => setTimeout(r, 500));
    await kubectl().apply(deployment(2, 'v2'));
    await kubectl().kubectl('-n', 'shop', 'rollout', 'status', 'deployment/echo', '--timeout=90s');
    const after = await podNames();
    await waitUntil('only the new pods answer', async () => {
      const seen = await servers(6);
      return [...seen].every((pod) => after.has(pod));
    }, 30_000, 200);
    const report = await traffic.stop();
    expect([...after].filter((pod) => before.has(pod))).toEqual([]);
    expect(report.failures).toEqual([]);
    expect(report.sent).toBeGreaterThan(100);
    // Both generations answered during the rollout.
    expect(Object.keys(report.servedBy).some((pod) => before.has(pod))).toBe(true);
    expect(Object.keys(report.servedBy).some((pod) => after.has(pod))).toBe(true);
  });
});
