import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { daemon, run, stopProcess, waitUntil } from './exec.ts';

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * A real etcd and kube-apiserver on 127.0.0.1, started the way controller-runtime's
 * envtest does: certificates from openssl, an admin kubeconfig, and a static token for the
 * user Portico runs as (bound to the ClusterRole we ship, so RBAC is tested too).
 */
export class TestCluster {
  readonly dir: string;
  readonly bin: string;
  /** The address the API server advertises: the pod bridge's, so it points at this machine. */
  readonly advertiseAddress: string;
  apiPort = 0;
  etcdPort = 0;
  adminKubeconfig = '';
  porticoKubeconfig = '';
  private etcd: ChildProcess | undefined;
  private apiserver: ChildProcess | undefined;
  private controllerManager: ChildProcess | undefined;

  constructor(dir: string, bin: string, advertiseAddress: string) {
    this.dir = dir;
    this.bin = bin;
    this.advertiseAddress = advertiseAddress;
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.makeCertificates();
    this.etcdPort = await freePort();
    this.apiPort = await freePort();
    await this.startEtcd();
    await this.startApiServer();
    this.adminKubeconfig = await this.kubeconfig('admin', ['--client-certificate', join(this.dir, 'admin.crt'), '--client-key', join(this.dir, 'admin.key')]);
    this.porticoKubeconfig = await this.kubeconfig('portico', ['--token', 'e2e-portico-token']);
  }

  private async makeCertificates(): Promise<void> {
    const d = this.dir;
    const ssl = (...args: string[]) => run('openssl', args);
    await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=portico-e2e-ca', '-keyout', `${d}/ca.key`, '-out', `${d}/ca.crt`);
    await writeFile(`${d}/server.ext`, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,IP:${this.advertiseAddress},DNS:kubernetes.default.svc\n`);
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kube-apiserver', '-keyout', `${d}/apiserver.key`, '-out', `${d}/apiserver.csr`);
    await ssl('x509', '-req', '-in', `${d}/apiserver.csr`, '-CA', `${d}/ca.crt`, '-CAkey', `${d}/ca.key`, '-CAcreateserial', '-days', '30', '-extfile', `${d}/server.ext`, '-out', `${d}/apiserver.crt`);
    await writeFile(`${d}/client.ext`, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/O=system:masters/CN=e2e-admin', '-keyout', `${d}/admin.key`, '-out', `${d}/admin.csr`);
    await ssl('x509', '-req', '-in', `${d}/admin.csr`, '-CA', `${d}/ca.crt`, '-CAkey', `${d}/ca.key`, '-CAcreateserial', '-days', '30', '-extfile', `${d}/client.ext`, '-out', `${d}/admin.crt`);
    await ssl('genrsa', '-out', `${d}/sa.key`, '2048');
    // Portico's user has no groups: only the ClusterRole and Role we ship grant it anything.
    await writeFile(`${d}/tokens.csv`, 'e2e-portico-token,e2e-portico,uid-portico\n');
  }

  private async startEtcd(): Promise<void> {
    this.etcd = daemon(join(this.bin, 'etcd'), [
      '--data-dir', join(this.dir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${this.etcdPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${this.etcdPort}`,
      '--listen-peer-urls', 'http://127.0.0.1:0',
      '--unsafe-no-fsync', '--log-level', 'warn',
    ], join(this.dir, 'etcd.log'));
    await waitUntil('etcd', async () => (await fetch(`http://127.0.0.1:${this.etcdPort}/health`)).ok, 30_000, 200);
  }

  /** Starts (or restarts) the API server on the same port and storage. */
  async startApiServer(): Promise<void> {
    const d = this.dir;
    this.apiserver = daemon(join(this.bin, 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
      '--bind-address=127.0.0.1', `--secure-port=${this.apiPort}`, `--advertise-address=${this.advertiseAddress}`,
      `--cert-dir=${d}/certs`, `--tls-cert-file=${d}/apiserver.crt`, `--tls-private-key-file=${d}/apiserver.key`,
      `--client-ca-file=${d}/ca.crt`, `--token-auth-file=${d}/tokens.csv`, '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${d}/sa.key`, `--service-account-signing-key-file=${d}/sa.key`,
      '--service-cluster-ip-range=10.0.0.0/24', '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true', '--v=1',
    ], join(d, 'apiserver.log'));
    const ca = join(d, 'ca.crt');
    await waitUntil('kube-apiserver /readyz', async () => {
      const out = await run('curl', ['-fsS', '--cacert', ca, `https://127.0.0.1:${this.apiPort}/readyz`]);
      return out.trim() === 'ok';
    }, 120_000, 250);
  }

  /**
   * kube-controller-manager with the controllers workloads need: Deployments make ReplicaSets make
   * Pods, Services get their EndpointSlices from the pods' readiness, namespaces and owned objects
   * are cleaned up. No node lifecycle controller: the e2e node sends no heartbeats.
   */
  async startControllerManager(): Promise<void> {
    const d = this.dir;
    const controllers = ['deployment-controller', 'replicaset-controller', 'endpoints-controller', 'endpointslice-controller', 'endpointslice-mirroring-controller',
      'namespace-controller', 'garbage-collector-controller', 'serviceaccount-controller', 'serviceaccount-token-controller'];
    this.controllerManager = daemon(join(this.bin, 'kube-controller-manager'), [
      `--kubeconfig=${this.adminKubeconfig}`, `--controllers=${controllers.join(',')}`,
      `--service-account-private-key-file=${d}/sa.key`, `--root-ca-file=${d}/ca.crt`,
      '--leader-elect=false', '--secure-port=0', '--concurrent-deployment-syncs=2', '--v=1',
    ], join(d, 'controller-manager.log'));
    // Its serviceaccount controller makes every namespace's `default` ServiceAccount: proof it runs.
    await waitUntil('kube-controller-manager (the default ServiceAccount)', async () =>
      (await run('kubectl', ['--kubeconfig', this.adminKubeconfig, 'get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name'])).trim() === 'serviceaccount/default', 60_000, 250);
  }

  async stopApiServer(): Promise<void> {
    await stopProcess(this.apiserver);
    this.apiserver = undefined;
  }

  private async kubeconfig(user: string, credentials: string[]): Promise<string> {
    const file = join(this.dir, `${user}.kubeconfig`);
    const k = (...args: string[]) => run('kubectl', ['--kubeconfig', file, 'config', ...args]);
    await k('set-cluster', 'e2e', `--server=https://127.0.0.1:${this.apiPort}`, `--certificate-authority=${join(this.dir, 'ca.crt')}`, '--embed-certs=true');
    await k('set-credentials', user, ...credentials, ...(credentials[0] === '--token' ? [] : ['--embed-certs=true']));
    await k('set-context', 'e2e', '--cluster=e2e', `--user=${user}`);
    await k('use-context', 'e2e');
    return file;
  }

  async stop(): Promise<void> {
    await stopProcess(this.controllerManager);
    await stopProcess(this.apiserver);
    await stopProcess(this.etcd);
  }
}
