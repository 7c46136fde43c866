import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCluster } from './cluster.ts';
import { run } from './exec.ts';
import { Operator } from './kube.ts';
import { PodNetwork } from './network.ts';
import { PodRunner, type ImageCommand } from './pod-runner.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Environment {
  dir: string;
  bin: string;
  network: PodNetwork;
  cluster: TestCluster;
  kubectl: Operator;
  /** With `workloads`: the node that runs pods (kube-controller-manager runs too). */
  pods: PodRunner | undefined;
  tearDown(): Promise<void>;
}

/**
 * A fresh API server with what we ship installed (`kubectl apply -k deploy/acme`: deploy/ plus
 * the ACME CRD and its Secret access) and the user Portico runs as bound to the shipped
 * ClusterRoles and Role, plus a pod network; with `workloads`, kube-controller-manager and a
 * node that runs pods (Deployments work, EndpointSlices come from pod readiness). Each e2e
 * file gets its own (`subnet` keeps their bridges and pod addresses apart).
 */
export async function startEnvironment(subnet: number, o: { workloads?: boolean; images?: Record<string, ImageCommand> } = {}): Promise<Environment> {
  const bin = (await run('bash', [join(ROOT, 'e2e/build-binaries.sh')], { timeoutMs: 45 * 60_000 })).trim().split('\n').pop()!;
  const dir = await mkdtemp(join(tmpdir(), 'portico-e2e-'));
  const network = new PodNetwork(dir, subnet, `ptc${subnet}`);
  await network.setUp();
  const cluster = new TestCluster(join(dir, 'cluster'), bin, network.gateway);
  await cluster.start();
  const kubectl = new Operator(cluster.adminKubeconfig);
  await kubectl.kubectl('apply', '-k', join(ROOT, 'deploy/acme'));
  await kubectl.kubectl('wait', '--for=condition=Established', 'crd/acmeissuers.portico.dev', '--timeout=60s');
  await kubectl.apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: portico-e2e-user}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: portico}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: e2e-portico}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: portico-e2e-user-acme}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: portico-acme}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: e2e-portico}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: portico-e2e-user, namespace: portico-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: portico-leader-election}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: e2e-portico}]
`);
  let pods: PodRunner | undefined;
  if (o.workloads) {
    await cluster.startControllerManager();
    pods = new PodRunner(cluster.adminKubeconfig, network, dir, o.images);
    await pods.start();
  }
  return {
    dir, bin, network, cluster, kubectl, pods,
    async tearDown() {
      await pods?.stop();
      await cluster.stop();
      await network.tearDown();
    },
  };
}
