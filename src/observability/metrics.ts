import { allHostRoutes } from '../table/match.ts';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Diagnostic } from '../diagnostics.ts';
import type { RoutingTable } from '../table/types.ts';
import { RequestMetrics, UNMATCHED } from './request-metrics.ts';

export { UNMATCHED };

export interface MetricsIdentity {
  controllerNamespace: string;
  controllerClass: string;
  controllerPod: string;
}

/** A registry labelled like ingress-nginx's (namespace, class, pod): the instance's, or a worker's. */
export function labelledRegistry(identity: MetricsIdentity): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ controller_namespace: identity.controllerNamespace, controller_class: identity.controllerClass, controller_pod: identity.controllerPod });
  return registry;
}

/** What a worker thread's registry holds, as prom-client's JSON: summed into the instance's scrape. */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The instance's Prometheus metrics: builds, the table, certificates, the process and
 * ingress-nginx's controller gauges (config reloads, leader election, orphan Ingresses), plus
 * the request metrics, either its own (`requests`, when this thread serves) or the sum of its
 * worker threads' (`workers`), so one scrape reports the instance's totals.
 */
export class Metrics {
  readonly registry: Registry;
  /** Set when the data plane runs on this thread. */
  readonly requests: RequestMetrics | undefined;
  private readonly builds: Counter;
  private readonly buildDuration: Histogram;
  private readonly lastBuild: Gauge;
  private readonly tableSize: Gauge;
  private readonly readyEndpoints: Gauge;
  private readonly diagnostics: Gauge;
  private readonly certificateExpiry: Gauge;
  private readonly informerSynced: Gauge;
  private readonly reloadSuccessful: Gauge;
  private readonly reloadTimestamp: Gauge;
  private readonly configHash: Gauge;
  private readonly reloads: Counter;
  private readonly reloadErrors: Counter;
  private readonly sslExpireTime: Gauge;
  private readonly orphanIngress: Gauge;

  /** Worker threads' metrics, read at scrape time; undefined when the data plane runs on this thread. */
  workers: (() => Promise<WorkerMetrics[]>) | undefined;

  constructor(identity: MetricsIdentity, options: { serving: boolean } = { serving: true }) {
    this.registry = labelledRegistry(identity);
    const registers = [this.registry];
    const metrics = this;
    collectDefaultMetrics({ register: this.registry });
    this.requests = options.serving ? new RequestMetrics(this.registry) : undefined;
    const n = 'nginx_ingress_controller_';
    const p = 'portico_';
    this.builds = new Counter({ name: `${p}table_builds_total`, help: 'Routing table builds', registers });
    this.buildDuration = new Histogram({ name: `${p}table_build_duration_seconds`, help: 'Time to build a routing table from a snapshot', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    this.lastBuild = new Gauge({ name: `${p}table_last_success_timestamp_seconds`, help: 'When the live routing table was swapped in', registers });
    this.tableSize = new Gauge({ name: `${p}table_entries`, help: 'Hosts, routes and backends in the live routing table', labelNames: ['kind'], registers });
    this.readyEndpoints = new Gauge({ name: `${p}backend_ready_endpoints`, help: 'Ready endpoints per backend (namespace/service:port)', labelNames: ['backend'], registers });
    this.diagnostics = new Gauge({ name: `${p}diagnostics`, help: 'Current build diagnostics, by code', labelNames: ['code'], registers });
    this.certificateExpiry = new Gauge({ name: `${p}certificate_expiry_timestamp_seconds`, help: 'When the certificate served for a TLS host expires', labelNames: ['host', 'secret'], registers });
    // What ingress-nginx's dashboard and example alerts query, under its names. A table build is
    // Portico's reload.
    this.reloadSuccessful = new Gauge({ name: `${n}config_last_reload_successful`, help: 'Whether the last configuration reload attempt was successful', registers });
    this.reloadTimestamp = new Gauge({ name: `${n}config_last_reload_successful_timestamp_seconds`, help: 'Timestamp of the last successful configuration reload', registers });
    this.configHash = new Gauge({ name: `${n}config_hash`, help: 'Running configuration hash actually running', registers });
    this.reloads = new Counter({ name: `${n}success`, help: 'Cumulative number of Ingress controller reload operations', registers });
    this.reloadErrors = new Counter({ name: `${n}errors`, help: 'Cumulative number of Ingress controller errors during reload operations', registers });
    this.sslExpireTime = new Gauge({ name: `${n}ssl_expire_time_seconds`, help: 'Number of seconds since 1970 to the SSL Certificate expire (host "_": the default certificate)', labelNames: ['host', 'secret_name'], registers,
      collect: () => {
        const fallback = this.defaultCertificate?.();
        if (fallback) this.sslExpireTime.set({ host: UNMATCHED, secret_name: fallback.secret }, fallback.notAfterSeconds);
      } });
    this.orphanIngress = new Gauge({ name: `${n}orphan_ingress`, help: 'Gauge reporting status of orphaned ingress rules (type: no-service, no-endpoint)', labelNames: ['namespace', 'ingress', 'type'], registers });
    new Gauge({ name: `${n}nginx_process_resident_memory_bytes`, help: 'Number of bytes of memory in use (the Portico process)', registers, collect() { this.set(process.memoryUsage.rss()); } });
    new Gauge({ name: `${n}nginx_process_cpu_seconds_total`, help: 'Cpu usage in seconds (the Portico process)', registers,
      collect() {
        const { user, system } = process.cpuUsage();
        this.set((user + system) / 1e6);
      } });
    new Gauge({ name: `${n}nginx_process_num_procs`, help: 'Number of processes', registers, collect() { this.set(1); } });
    new Gauge({ name: `${n}leader_election_status`, help: 'Gauge reporting status of the leader election, 0 indicates follower, 1 indicates leader', labelNames: ['name'], registers,
      collect() {
        const election = metrics.leaderElection?.() ?? { name: 'standalone', leader: true };
        this.reset();
        this.set({ name: election.name }, election.leader ? 1 : 0);
      } });
    this.informerSynced = new Gauge({ name: `${p}informer_synced`, help: '1 when the list+watch of a kind is established, 0 while it fails', labelNames: ['kind'], registers,
      collect: () => {
        for (const [kind, ok] of this.informerStates?.() ?? []) this.informerSynced.set({ kind }, ok ? 1 : 0);
      } });
  }

  tableBuilt(seconds: number, table: RoutingTable, diagnostics: readonly Diagnostic[]): void {
    this.builds.inc();
    // Failed while a diagnostic takes a path out of service (what the admission webhook refuses) or a
    // manifest could not be read: the last good version of it serves, as nginx keeps its old config.
    const successful = !diagnostics.some((d) => d.blocks === true || d.code === 'ManifestParseError');
    this.reloadSuccessful.set(successful ? 1 : 0);
    if (successful) {
      this.reloads.inc();
      this.reloadTimestamp.setToCurrentTime();
    } else {
      this.reloadErrors.inc();
    }
    this.configHash.set(tableHash(table));
    this.orphanIngress.reset();
    for (const [key, type] of orphans(table, diagnostics)) {
      const [namespace = '', ingress = ''] = key.split('/');
      this.orphanIngress.set({ namespace, ingress, type }, 1);
    }
    this.buildDuration.observe(seconds);
    this.lastBuild.setToCurrentTime();
    let routes = 0;
    const hosts = allHostRoutes(table);
    for (const h of hosts) routes += h.regexMode ? h.regex.length : h.exact.size + h.prefix.size;
    this.tableSize.set({ kind: 'hosts' }, hosts.length);
    this.tableSize.set({ kind: 'routes' }, routes);
    this.tableSize.set({ kind: 'backends' }, table.backends.size);
    this.readyEndpoints.reset();
    for (const b of table.backends.values()) this.readyEndpoints.set({ backend: b.id }, b.endpoints.length);
    this.diagnostics.reset();
    const counts = new Map<string, number>();
    for (const d of diagnostics) counts.set(d.code, (counts.get(d.code) ?? 0) + 1);
    for (const [code, count] of counts) this.diagnostics.set({ code }, count);
    this.certificateExpiry.reset();
    this.sslExpireTime.reset();
    for (const [host, cert] of table.tlsHosts) {
      if (!cert) continue;
      this.certificateExpiry.set({ host, secret: cert.secret }, Date.parse(cert.notAfter) / 1000);
      this.sslExpireTime.set({ host, secret_name: cert.secret }, Date.parse(cert.notAfter) / 1000);
    }
  }

  /** The certificate served to clients no Ingress certificate matches (the generated one has no Secret), read at scrape time. */
  defaultCertificate: (() => { secret: string; notAfterSeconds: number } | undefined) | undefined;

  /** Controller mode: the Lease and whether this instance holds it, read at scrape time; standalone leads alone. */
  leaderElection: (() => { name: string; leader: boolean }) | undefined;

  /** Controller mode: where the informers' state comes from, read at scrape time. */
  informerStates: (() => Iterable<[string, boolean]>) | undefined;

  /** Requests answered since start, and those answered 5xx: this thread's and every worker's (the dashboard's rates). */
  async requestTotals(): Promise<{ requests: number; errors: number }> {
    const name = 'nginx_ingress_controller_requests';
    const own = await this.registry.getSingleMetric(name)?.get();
    const workers = this.workers ? (await this.workers()).map((w) => w.find((m) => m.name === name)) : [];
    let requests = 0;
    let errors = 0;
    for (const metric of [own, ...workers]) {
      for (const { value, labels } of metric?.values ?? []) {
        requests += value;
        if (String(labels['status']).startsWith('5')) errors += value;
      }
    }
    return { requests, errors };
  }

  async text(): Promise<string> {
    if (!this.workers) return this.registry.metrics();
    const [own, ...workers] = await Promise.all([this.registry.getMetricsAsJSON(), ...(await this.workers())]);
    return AggregatorRegistry.aggregate([own as WorkerMetrics, ...workers]).metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * ingress-nginx's orphan_ingress: Ingresses with a path whose Service does not exist
 * (no-service) or has no ready endpoint (no-endpoint), by `namespace/name`.
 */
function orphans(table: RoutingTable, diagnostics: readonly Diagnostic[]): Map<string, 'no-service' | 'no-endpoint'> {
  const out = new Map<string, 'no-service' | 'no-endpoint'>();
  for (const d of diagnostics) {
    if (d.code === 'ServiceNotFound' && d.object.kind === 'Ingress') out.set(`${d.object.namespace}/${d.object.name}`, 'no-service');
  }
  for (const h of allHostRoutes(table)) {
    for (const r of [...h.exact.values(), ...h.prefix.values(), ...h.regex]) {
      if (r.ingress && r.backend.endpoints.length === 0 && !out.has(r.ingress)) out.set(r.ingress, 'no-endpoint');
    }
  }
  return out;
}

/**
 * A number that changes when what Portico serves changes (ingress-nginx's config_hash): FNV-1a
 * over hosts, paths, backends, their endpoints and the certificates, as a float like nginx's.
 */
function tableHash(table: RoutingTable): number {
  let hash = 0x811c9dc5;
  const add = (text: string): void => {
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  };
  for (const h of allHostRoutes(table)) {
    add(h.host);
    for (const r of [...h.exact.values(), ...h.prefix.values(), ...h.regex]) add(`${r.pathType}${r.path}${r.backend.id}`);
  }
  for (const b of table.backends.values()) for (const e of b.endpoints) add(e.key);
  for (const [host, cert] of table.tlsHosts) add(`${host}${cert?.fingerprint ?? ''}`);
  add(JSON.stringify(table.settings));
  return hash;
}
