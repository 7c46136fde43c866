import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ApiException, CoreV1Api, KubeConfig, ListWatch, Watch, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { stopProcess } from './exec.ts';
import { generateSelfSigned } from '../../src/dataplane/tls.ts';
import type { PodNetwork, Sandbox } from './network.ts';

/** What runs for a container image: a command (argv) given the container's resolved environment. */
export type ImageCommand = (container: V1Container, env: Record<string, string>) => string[];

/** Our echo backend, for any image named `portico.dev/e2e-echo[:tag]`: it listens on the first containerPort. */
export const ECHO_IMAGE = 'portico.dev/e2e-echo';

interface Running {
  pod: V1Pod;
  sandbox: Sandbox;
  processes: ChildProcess[];
  ready: boolean;
  stopping: boolean;
  started: number;
  /** Its volumes are written and its containers started: only then can it be Ready. */
  containersStarted?: boolean;
  /** Set by the first event of the pod's deletion. */
  terminating?: Promise<void>;
}

/**
 * The node of the e2e cluster, as a kubelet would be one: it registers a Node, binds pending
 * pods to it (there is no scheduler), and for each pod starts its containers' images, mapped to
 * local executables, inside a network namespace on the pod bridge; it runs the readiness probes
 * and writes the pod's status (podIP, phase, Ready). A pod being deleted is stopped, its
 * namespace removed, and the object deleted, as the kubelet does after the grace period.
 */
export class PodRunner {
  static readonly NODE = 'e2e-node';
  private readonly core: CoreV1Api;
  private readonly informer: ListWatch<V1Pod>;
  private readonly running = new Map<string, Running>();
  private readonly starting = new Set<string>();
  private readonly network: PodNetwork;
  private readonly images: Map<string, ImageCommand>;
  private readonly logDir: string;
  private probeTimer: NodeJS.Timeout | undefined;
  /** The kubelet's API, as much of it as `kubectl logs` (the API server's pods/log) needs. */
  private kubelet: HttpsServer | undefined;
  /** Errors seen while running pods (an unmapped image, a failed status write), for the test to show. */
  readonly problems: string[] = [];

  constructor(kubeconfig: string, network: PodNetwork, logDir: string, images: Record<string, ImageCommand> = {}) {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    this.core = kc.makeApiClient(CoreV1Api);
    this.network = network;
    this.logDir = logDir;
    const echo: ImageCommand = (c) => [process.execPath, join(import.meta.dirname, 'pod-server.ts'), '$(POD_NAME)', String(c.ports?.[0]?.containerPort ?? 8080)];
    this.images = new Map([[ECHO_IMAGE, echo], ...Object.entries(images)]);
    this.informer = new ListWatch<V1Pod>('/api/v1/pods', new Watch(kc), () => this.core.listPodForAllNamespaces(), false);
    for (const event of ['add', 'update'] as const) this.informer.on(event, (pod) => void this.reconcile(pod).catch((err) => this.problem(pod, err)));
    this.informer.on('delete', (pod) => void this.stop(key(pod)));
  }

  async start(): Promise<void> {
    // The API server reaches the kubelet at the Node's address and port, by TLS it does not verify
    // (it has no --kubelet-certificate-authority), to read a container's log.
    const { certPem, keyPem } = await generateSelfSigned(PodRunner.NODE);
    this.kubelet = createHttpsServer({ cert: certPem, key: keyPem }, (req, res) => void this.serveLog(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => this.kubelet!.listen(0, this.network.gateway, resolve));
    const status = {
      addresses: [{ type: 'InternalIP', address: this.network.gateway }],
      daemonEndpoints: { kubeletEndpoint: { Port: (this.kubelet.address() as AddressInfo).port } },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() }],
    };
    await this.core.createNode({ body: { metadata: { name: PodRunner.NODE, labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': PodRunner.NODE } }, status } }).catch(async (err: unknown) => {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
      const node = await this.core.readNode({ name: PodRunner.NODE });
      await this.core.replaceNodeStatus({ name: PodRunner.NODE, body: { ...node, status: { ...node.status, ...status } } });
    });
    await this.informer.start();
    // Readiness probes, every 250 ms: a pod is Ready once its probe answers.
    this.probeTimer = setInterval(() => void this.probeAll(), 250);
  }

  async stop(podKey?: string): Promise<void> {
    if (podKey === undefined) {
      clearInterval(this.probeTimer);
      this.kubelet?.closeAllConnections();
      this.kubelet?.close();
      await this.informer.stop();
      await Promise.all([...this.running.keys()].map((k) => this.stopPod(k)));
      return;
    }
    await this.stopPod(podKey);
  }

  private async reconcile(pod: V1Pod): Promise<void> {
    const k = key(pod);
    if (pod.metadata?.deletionTimestamp) {
      const entry = this.running.get(k);
      // preStop `sleep` first (the usual way to let load balancers see the endpoint go), then
      // SIGTERM; every event for the pod meanwhile waits for the same termination.
      if (entry) {
        entry.terminating ??= (async () => {
          const sleep = Math.max(0, ...pod.spec!.containers.map((c) => Number(c.lifecycle?.preStop?.sleep?.seconds ?? 0)));
          await new Promise((r) => setTimeout(r, sleep * 1000));
          await this.stopPod(k);
        })();
        await entry.terminating;
      }
      // The kubelet's last word: the pod is gone once its containers are.
      await this.core.deleteNamespacedPod({ name: pod.metadata.name!, namespace: pod.metadata.namespace!, gracePeriodSeconds: 0 }).catch(() => {});
      return;
    }
    if (!pod.spec?.nodeName) {
      await this.core.createNamespacedBinding({ namespace: pod.metadata!.namespace!, body: { metadata: { name: pod.metadata!.name! }, target: { kind: 'Node', name: PodRunner.NODE } } }).catch((err: unknown) => {
        if (!(err instanceof ApiException && err.code === 409)) throw err;
      });
      return;
    }
    if (pod.spec.nodeName !== PodRunner.NODE || this.running.has(k) || this.starting.has(k)) return;
    this.starting.add(k); // events come faster than a sandbox is made
    let sandbox: Sandbox;
    try {
      sandbox = await this.network.sandbox(`${pod.metadata!.namespace}-${pod.metadata!.name}`);
    } finally {
      this.starting.delete(k);
    }
    const entry: Running = { pod, sandbox, processes: [], ready: false, stopping: false, started: Date.now() };
    this.running.set(k, entry);
    const volumes = await this.materialize(pod);
    for (const container of pod.spec.containers) {
      const image = container.image ?? '';
      const command = this.images.get(image.replace(/[:@].*$/, ''));
      if (!command) {
        this.problem(pod, `no local executable for image ${image}`);
        continue;
      }
      // The pod's processes share this machine's file system: a volume's mount path is a
      // directory of the pod's own, named in place of the path in its environment and arguments.
      const mounts = (container.volumeMounts ?? []).filter((m) => volumes.has(m.name)).map((m) => [m.mountPath, volumes.get(m.name)!] as const);
      const relocate = (text: string) => mounts.reduce((t, [from, to]) => t.split(from).join(to), text);
      const env = Object.fromEntries(Object.entries(environment(pod, container, sandbox.ip)).map(([k, v]) => [k, relocate(v)]));
      const argv = command(container, env).map((a) => relocate(expand(a, env)));
      // restartPolicy Always, as the kubelet: a container that exits is started again after a pause.
      const start = (slot: number): void => {
        const child = this.network.exec(sandbox, argv, env, this.logFile(pod.metadata!.namespace!, pod.metadata!.name!, container.name), 'cri');
        entry.processes[slot] = child;
        child.once('exit', () => {
          setTimeout(() => {
            if (!entry.stopping && this.running.get(k) === entry) start(slot);
          }, 1000).unref();
        });
      };
      start(entry.processes.length);
    }
    entry.started = Date.now();
    entry.containersStarted = true;
    await this.writeStatus(entry, entry.ready);
  }

  private logFile(namespace: string, pod: string, container: string): string {
    return join(this.logDir, `pod-${namespace}-${pod}-${container}.log`);
  }

  /**
   * The kubelet's `GET /containerLogs/{namespace}/{pod}/{container}` with `sinceTime`,
   * `sinceSeconds`, `tailLines` and `timestamps`: the container's lines, kept (across restarts)
   * in the CRI format, the time and stream taken off unless asked for.
   */
  private async serveLog(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const parts = /^\/containerLogs\/([a-z0-9.-]+)\/([a-z0-9.-]+)\/([a-z0-9.-]+)$/.exec(url.pathname);
    const text = parts ? await readFile(this.logFile(parts[1]!, parts[2]!, parts[3]!), 'utf8').catch(() => undefined) : undefined;
    if (text === undefined) {
      res.writeHead(404).end('no such container log\n');
      return;
    }
    const q = url.searchParams;
    const since = q.has('sinceTime') ? Date.parse(q.get('sinceTime')!) : q.has('sinceSeconds') ? Date.now() - Number(q.get('sinceSeconds')) * 1000 : -Infinity;
    let lines = text.split('\n').filter((l) => l !== '').map((l) => /^(\S+) (?:stdout|stderr) [FP] (.*)$/.exec(l)).filter((m) => m !== null && Date.parse(m[1]!) >= since) as RegExpExecArray[];
    if (q.has('tailLines')) lines = lines.slice(-Number(q.get('tailLines')));
    const timestamps = q.get('timestamps') === 'true';
    res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.map((m) => `${timestamps ? `${m[1]} ` : ''}${m[2]}\n`).join(''));
  }

  /** Secret and ConfigMap volumes written out as files, one directory per volume. */
  private async materialize(pod: V1Pod): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const namespace = pod.metadata!.namespace!;
    for (const volume of pod.spec?.volumes ?? []) {
      let data: Record<string, string> | undefined;
      let items = volume.secret?.items ?? volume.configMap?.items;
      // As the kubelet does, the containers wait (up to a minute here) for a volume's Secret or ConfigMap to exist.
      for (let waited = 0; waited < 60_000 && (volume.secret?.secretName || volume.configMap?.name); waited += 500) {
        if (volume.secret?.secretName) {
          const secret = await this.core.readNamespacedSecret({ name: volume.secret.secretName, namespace }).catch(() => undefined);
          data = secret && Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('binary')]));
        } else {
          data = (await this.core.readNamespacedConfigMap({ name: volume.configMap!.name!, namespace }).catch(() => undefined))?.data;
        }
        if (data || volume.secret?.optional || volume.configMap?.optional) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      if (!data) continue;
      items ??= Object.keys(data).map((key) => ({ key, path: key }));
      const dir = join(this.logDir, 'volumes', `${namespace}-${pod.metadata!.name}`, volume.name);
      await mkdir(dir, { recursive: true });
      for (const item of items) if (data[item.key] !== undefined) await writeFile(join(dir, item.path), data[item.key]!, 'binary');
      out.set(volume.name, dir);
    }
    return out;
  }

  private async probeAll(): Promise<void> {
    for (const entry of this.running.values()) {
      if (entry.ready || entry.stopping) continue;
      if (await probe(entry)) {
        entry.ready = true;
        await this.writeStatus(entry, true).catch((err) => this.problem(entry.pod, err));
      }
    }
  }

  private async writeStatus(entry: Running, ready: boolean): Promise<void> {
    const { name, namespace } = entry.pod.metadata as { name: string; namespace: string };
    const now = new Date();
    const condition = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastTransitionTime: now });
    for (let attempt = 0; attempt < 5; attempt++) {
      const pod = await this.core.readNamespacedPod({ name, namespace });
      pod.status = {
        ...pod.status,
        phase: 'Running', hostIP: this.network.gateway, hostIPs: [{ ip: this.network.gateway }], podIP: entry.sandbox.ip, podIPs: [{ ip: entry.sandbox.ip }],
        startTime: pod.status?.startTime ?? now,
        conditions: [condition('PodScheduled', true), condition('Initialized', true), condition('ContainersReady', ready), condition('Ready', ready)],
        containerStatuses: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image ?? '', imageID: '', ready, restartCount: 0, started: true, state: { running: { startedAt: now } } })),
      };
      try {
        await this.core.replaceNamespacedPodStatus({ name, namespace, body: pod });
        return;
      } catch (err) {
        if (!(err instanceof ApiException && err.code === 409)) throw err;
      }
    }
  }

  private async stopPod(k: string): Promise<void> {
    const entry = this.running.get(k);
    if (!entry || entry.stopping) return;
    entry.stopping = true;
    await Promise.all(entry.processes.map((p) => stopProcess(p)));
    await this.network.removeSandbox(entry.sandbox);
    this.running.delete(k);
  }

  private problem(pod: V1Pod, err: unknown): void {
    this.problems.push(`${key(pod)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const key = (pod: V1Pod): string => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

/** The container's environment as the kubelet makes it: values, and fieldRefs to the pod. */
function environment(pod: V1Pod, container: V1Container, podIP: string): Record<string, string> {
  const fields: Record<string, string> = {
    'metadata.name': pod.metadata?.name ?? '', 'metadata.namespace': pod.metadata?.namespace ?? '', 'metadata.uid': pod.metadata?.uid ?? '',
    'spec.nodeName': PodRunner.NODE, 'spec.serviceAccountName': pod.spec?.serviceAccountName ?? 'default', 'status.podIP': podIP, 'status.hostIP': '',
  };
  const env: Record<string, string> = { POD_NAME: pod.metadata?.name ?? '' };
  for (const e of container.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    env[e.name] = e.value !== undefined ? expand(e.value, env) : path !== undefined ? fields[path] ?? '' : '';
  }
  return env;
}

/** `$(VAR)` as the kubelet expands it in args and values; unknown references stay as written. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\((\w+)\)/g, (whole, name: string) => env[name] ?? whole);
}

/**
 * The first container's readiness probe (httpGet or tcpSocket). Without one, as the kubelet
 * does, the pod is Ready once its processes run (here: half a second after they started).
 */
async function probe(entry: Running): Promise<boolean> {
  const container = entry.pod.spec!.containers[0]!;
  if (!entry.containersStarted) return false;
  if (!container.readinessProbe) return Date.now() - entry.started > 500 && entry.processes.every((p) => p.exitCode === null);
  const http = container.readinessProbe?.httpGet;
  const named = http?.port ?? container.readinessProbe?.tcpSocket?.port ?? container.ports?.[0]?.containerPort ?? 8080;
  const port = Number.isInteger(Number(named)) ? Number(named) : container.ports?.find((p) => p.name === named)?.containerPort;
  try {
    const r = await fetch(`http://${entry.sandbox.ip}:${port}${http?.path ?? '/'}`, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return http ? r.status >= 200 && r.status < 400 : true;
  } catch {
    return false;
  }
}
