import { AdminServer, type DebugViews } from './admin/server.ts';
import type { ClassSelection } from './routing/ingress-class.ts';
import { DataPlane, type EngineName } from './dataplane/server.ts';
import type { EndpointStats } from './dataplane/endpoint-health.ts';
import { trustCertificates } from './dataplane/tls.ts';
import { WorkerPool, type ChallengeSource } from './workers/pool.ts';
import type { ServerSettings } from './table/server-settings.ts';
import { AccessLog, type AccessLogFormat } from './observability/access-log.ts';
import { Metrics } from './observability/metrics.ts';
import { requestObserver } from './observability/observer.ts';
import { hostname } from 'node:os';
import type { Logger } from './log.ts';
import type { ChallengeAnswers } from './dataplane/request-handler.ts';
import type { RoutingTable } from './table/types.ts';
import { Pipeline } from './pipeline.ts';

export interface RuntimeOptions extends ClassSelection {
  listenAddress: string;
  httpPort: number;
  /** undefined: no HTTPS listener. */
  httpsPort: number | undefined;
  adminPort: number;
  /** The admin server's own bind address (probes and Prometheus reach it there). */
  adminAddress: string;
  debugViews: DebugViews;
  engine: EngineName;
  /** ingress-nginx's server settings as the flags change them; the controller ConfigMap goes over them. */
  serverDefaults: ServerSettings;
  /** `--configmap`: `namespace/name` of the controller ConfigMap. */
  configMap: string | undefined;
  /** `namespace/name` of a TLS Secret for clients no Ingress certificate matches. */
  defaultCertificate: string | undefined;
  /** `namespace/name` of the Service answering unmatched requests and custom errors. */
  defaultBackendService: string | undefined;
  /** Prometheus metrics on the admin port's /metrics. */
  metrics: boolean;
  accessLog: AccessLogFormat;
  /** `--log-query`: query strings in the access log. */
  logQuery: boolean;
  /** `--workers`: data-plane threads; 1 serves on the main thread. */
  workers: number;
  /** `--extra-ca-certs`: CA certificates (PEM) trusted besides the default store, on the main thread (ACME, the API server). */
  extraCaCertificates: readonly string[];
  /** `--gateway-addresses`: node addresses given to Gateways, one each (controller mode). */
  gatewayAddresses?: readonly string[] | undefined;
}

export interface Readiness {
  /** Why Portico is not ready yet, or undefined once it is. */
  notReadyReason(): string | undefined;
  /** Something an operator should know while ready (e.g. serving the last table without an API server). */
  detail(): string | undefined;
}

/** The data plane on this thread or on worker threads: what the pipeline swaps tables into. */
type Serving = DataPlane | WorkerPool;

const NO_TRAFFIC: EndpointStats = { ejected: false, ejectedForMs: 0, requests: 0, errorRate: 0 };

/**
 * What both modes share: the pipeline, the data plane and the admin server. Sources differ.
 * With `workers` above 1 the data plane runs on that many threads and this one keeps the rest.
 */
export class Runtime {
  readonly serving: Serving;
  readonly pipeline: Pipeline;
  readonly metrics: Metrics | undefined;
  private shuttingDown = false;
  private readonly admin: AdminServer;
  private readonly options: RuntimeOptions;

  private readonly log: Logger;

  constructor(options: RuntimeOptions, log: Logger, readiness: Readiness, challenges?: ChallengeSource & ChallengeAnswers) {
    this.options = options;
    this.log = log;
    const identity = { controllerNamespace: process.env['POD_NAMESPACE'] ?? 'default', controllerClass: options.controllerName, controllerPod: process.env['POD_NAME'] ?? hostname() };
    const threaded = options.workers > 1;
    trustCertificates(options.extraCaCertificates);
    this.metrics = options.metrics ? new Metrics(identity, { serving: !threaded }) : undefined;
    let serving: Serving;
    if (threaded) {
      const pool = new WorkerPool({
        workers: options.workers, host: options.listenAddress, httpPort: options.httpPort, httpsPort: options.httpsPort, engine: options.engine,
        listener: options.serverDefaults.listener, metrics: options.metrics ? identity : undefined, accessLog: options.accessLog, logQuery: options.logQuery,
      }, log, challenges);
      if (this.metrics) this.metrics.workers = () => pool.workerMetrics();
      serving = pool;
    } else {
      const accessLog = options.accessLog === 'off' ? undefined
        : new AccessLog(options.accessLog, { logQuery: options.logQuery, fields: () => serving.current?.settings.accessLogFields });
      serving = new DataPlane({
        host: options.listenAddress, port: options.httpPort, httpsPort: options.httpsPort, engine: options.engine, challenges,
        listener: options.serverDefaults.listener,
        observer: requestObserver(this.metrics?.requests, accessLog),
      });
    }
    this.serving = serving;
    this.pipeline = new Pipeline(options, (t) => serving.swap(t), log, this.metrics);
    const defaultCertificate = () => (serving instanceof WorkerPool ? serving.fallbackExpiry : serving.tls?.fallbackExpiry);
    if (this.metrics) this.metrics.defaultCertificate = defaultCertificate;
    const pipeline = this.pipeline;
    this.admin = new AdminServer({
      get current() { return serving.current; },
      get diagnostics() { return pipeline.diagnostics; },
      notReadyReason: () => (this.shuttingDown ? 'shutting down' : undefined) ?? readiness.notReadyReason() ?? (serving.current ? undefined : 'no routing table yet'),
      detail: () => readiness.detail(),
      metrics: this.metrics,
      defaultCertificate,
      endpointHealth: async () => {
        if (!(serving instanceof WorkerPool)) return (endpoint) => serving.balancer.health.stats(endpoint);
        const stats = await serving.endpointStats();
        return (endpoint) => stats.get(endpoint) ?? NO_TRAFFIC;
      },
    }, options.debugViews);
  }

  /** The table being served (each worker has its own copy of it). */
  get current(): RoutingTable | undefined {
    return this.serving.current;
  }

  async listen(): Promise<{ httpPort: number; httpsPort: number | undefined; adminPort: number }> {
    const { httpPort, httpsPort, generatedCertificate } = await this.serving.listen();
    if (httpsPort !== undefined && generatedCertificate) {
      this.log.warn(this.options.defaultCertificate
        ? `--default-ssl-certificate ${this.options.defaultCertificate} is not usable (yet): serving a generated self-signed certificate to clients no Ingress certificate matches`
        : 'no --default-ssl-certificate: serving a generated self-signed certificate to clients no Ingress certificate matches');
    }
    const adminPort = await this.admin.listen({ host: this.options.adminAddress, port: this.options.adminPort });
    return { httpPort, httpsPort, adminPort };
  }

  /**
   * SIGTERM: /readyz fails at once; the listeners keep serving for `delayMs` so load balancers
   * notice, then stop accepting and give requests in flight up to `graceMs` to finish.
   */
  async shutdown(delayMs: number, graceMs: number): Promise<void> {
    this.shuttingDown = true;
    this.log.info({ delayMs, graceMs }, 'shutting down: not ready; draining after the delay');
    await new Promise((r) => setTimeout(r, delayMs));
    this.log.info({ graceMs }, 'draining: no new connections; requests in flight may finish');
    await this.serving.drain(graceMs);
    await this.admin.close();
  }

  async close(): Promise<void> {
    await this.admin.close();
    await this.serving.close();
  }
}
