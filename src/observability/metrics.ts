import { allHostRoutes } from '../table/match.ts';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Diagnostic } from '../diagnostics.ts';
import type { Backend, Route, RoutingTable } from '../table/types.ts';
import type { RequestObserver, RequestRecord } from './request-record.ts';
import { LabelledCounter, LabelledHistogram, type CounterSeries, type HistogramSeries } from './series.ts';

// ingress-nginx's buckets (internal/ingress/metric/collectors/socket.go): Prometheus' default
// time buckets, and linear size buckets 10…100.
const TIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZE_BUCKETS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
const REQUEST_LABELS = ['status', 'method', 'host', 'path', 'namespace', 'ingress', 'service', 'canary'] as const;
/** Unmatched requests are counted under this host and path, never the raw values (bounded cardinality). */
export const UNMATCHED = '_';

interface Children {
  requests: CounterSeries;
  duration: HistogramSeries;
  response: HistogramSeries;
  connect: HistogramSeries;
  header: HistogramSeries;
  requestSize: HistogramSeries;
  responseSize: HistogramSeries;
}

export interface MetricsIdentity {
  controllerNamespace: string;
  controllerClass: string;
  controllerPod: string;
}

/**
 * Prometheus metrics: ingress-nginx's request metrics with its names and labels (so existing
 * dashboards and alerts keep working) and Portico's own. Labelled children are cached per
 * route, status and method, so a request costs a map lookup, not a label-string build.
 */
export class Metrics implements RequestObserver {
  readonly registry = new Registry();
  private readonly requests: LabelledCounter;
  private readonly duration: LabelledHistogram;
  private readonly response: LabelledHistogram;
  private readonly connect: LabelledHistogram;
  private readonly header: LabelledHistogram;
  private readonly requestSize: LabelledHistogram;
  private readonly responseSize: LabelledHistogram;
  private readonly children = new WeakMap<Route, Map<string, Children>>();
  private readonly unmatched = new Map<string, Children>();
  private readonly builds: Counter;
  private readonly buildDuration: Histogram;
  private readonly lastBuild: Gauge;
  private readonly tableSize: Gauge;
  private readonly readyEndpoints: Gauge;
  private readonly upstreamFailures: Counter;
  private readonly retries: Counter;
  private readonly ejections: Counter;
  private readonly activeConnections: Gauge;
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
  private connections = 0;
  private accepted = 0;
  private inFlight = 0;

  constructor(identity: MetricsIdentity) {
    const registers = [this.registry];
    const metrics = this;
    this.registry.setDefaultLabels({ controller_namespace: identity.controllerNamespace, controller_class: identity.controllerClass, controller_pod: identity.controllerPod });
    collectDefaultMetrics({ register: this.registry });
    const n = 'nginx_ingress_controller_';
    const labelNames = [...REQUEST_LABELS];
    this.requests = new LabelledCounter(`${n}requests`, 'The total number of client requests', labelNames);
    this.duration = new LabelledHistogram(`${n}request_duration_seconds`, 'The request processing time in seconds', labelNames, TIME_BUCKETS);
    this.response = new LabelledHistogram(`${n}response_duration_seconds`, 'The time spent on receiving the response from the upstream server in seconds', labelNames, TIME_BUCKETS);
    this.connect = new LabelledHistogram(`${n}connect_duration_seconds`, 'The time spent on establishing a connection with the upstream server', labelNames, TIME_BUCKETS);
    this.header = new LabelledHistogram(`${n}header_duration_seconds`, 'The time spent on receiving the first header from the upstream server', labelNames, TIME_BUCKETS);
    this.requestSize = new LabelledHistogram(`${n}request_size`, 'The request length (including request line, header, and request body)', labelNames, SIZE_BUCKETS);
    this.responseSize = new LabelledHistogram(`${n}response_size`, 'The response length (including request line, header, and request body)', labelNames, SIZE_BUCKETS);
    for (const m of [this.requests, this.duration, this.response, this.connect, this.header, this.requestSize, this.responseSize]) {
      this.registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
    }

    const p = 'portico_';
    this.builds = new Counter({ name: `${p}table_builds_total`, help: 'Routing table builds', registers });
    this.buildDuration = new Histogram({ name: `${p}table_build_duration_seconds`, help: 'Time to build a routing table from a snapshot', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    this.lastBuild = new Gauge({ name: `${p}table_last_success_timestamp_seconds`, help: 'When the live routing table was swapped in', registers });
    this.tableSize = new Gauge({ name: `${p}table_entries`, help: 'Hosts, routes and backends in the live routing table', labelNames: ['kind'], registers });
    this.readyEndpoints = new Gauge({ name: `${p}backend_ready_endpoints`, help: 'Ready endpoints per backend (namespace/service:port)', labelNames: ['backend'], registers });
    this.upstreamFailures = new Counter({ name: `${p}upstream_failures_total`, help: 'Failed attempts to an endpoint, by kind', labelNames: ['kind'], registers });
    this.ejections = new Counter({ name: `${p}endpoint_ejections_total`, help: 'Endpoints taken out of rotation by passive health', registers });
    this.retries = new Counter({ name: `${p}upstream_retries_total`, help: 'Attempts on another endpoint after a failed one', registers });
    this.activeConnections = new Gauge({ name: `${p}client_connections_active`, help: 'Open client connections', registers, collect: () => this.activeConnections.set(this.connections) });
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
    new Gauge({ name: `${n}nginx_process_connections`, help: 'Current number of client connections with state {active, writing, waiting}', labelNames: ['state'], registers,
      collect() {
        this.set({ state: 'active' }, metrics.connections);
        this.set({ state: 'writing' }, metrics.inFlight);
        this.set({ state: 'waiting' }, Math.max(0, metrics.connections - metrics.inFlight));
      } });
    new Gauge({ name: `${n}nginx_process_connections_total`, help: 'Total number of connections with state {accepted, handled}', labelNames: ['state'], registers,
      collect() {
        this.set({ state: 'accepted' }, metrics.accepted);
        this.set({ state: 'handled' }, metrics.accepted);
      } });
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

  requestDone(r: RequestRecord): void {
    this.inFlight--;
    const c = this.childrenFor(r);
    c.requests.inc();
    c.duration.observe(r.durationMs / 1000);
    c.requestSize.observe(r.bytesIn);
    c.responseSize.observe(r.bytesOut);
    const u = r.upstream;
    if (u) {
      c.response.observe(u.responseMs / 1000);
      c.connect.observe(u.connectMs / 1000);
      if (u.headerMs !== undefined) c.header.observe(u.headerMs / 1000);
    }
    if (r.retries > 0) this.retries.inc(r.retries);
  }

  upstreamFailed(kind: string): void {
    this.upstreamFailures.labels(kind).inc();
  }

  endpointEjected(): void {
    this.ejections.inc();
  }

  connectionOpened(): void {
    this.connections++;
    this.accepted++;
  }

  requestStarted(): void {
    this.inFlight++;
  }

  connectionClosed(): void {
    this.connections--;
  }

  private childrenFor(r: RequestRecord): Children {
    const key = r.canary ? `${r.status} ${r.method} canary` : `${r.status} ${r.method}`;
    const route = r.route;
    let byKey: Map<string, Children>;
    if (route) {
      byKey = this.children.get(route) ?? new Map();
      if (byKey.size === 0) this.children.set(route, byKey);
    } else {
      byKey = this.unmatched;
    }
    let c = byKey.get(key);
    if (!c) {
      // Only standard methods become label values; anything else is one bucket.
      const method = STANDARD_METHODS.has(r.method) ? r.method : 'OTHER';
      const labels = route
        ? [String(r.status), method, route.host, route.path, route.backend.namespace, route.ingress.slice(route.ingress.indexOf('/') + 1), route.backend.service, r.canary ? upstreamName(r.canary) : '']
        : [String(r.status), method, UNMATCHED, UNMATCHED, '', '', '', ''];
      c = {
        requests: this.requests.child(labels), duration: this.duration.child(labels), response: this.response.child(labels),
        connect: this.connect.child(labels), header: this.header.child(labels),
        requestSize: this.requestSize.child(labels), responseSize: this.responseSize.child(labels),
      };
      byKey.set(key, c);
    }
    return c;
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

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

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

/** ingress-nginx's upstream name, `namespace-service-port`: the value of the `canary` label. */
function upstreamName(b: Backend): string {
  return `${b.namespace}-${b.service}-${b.port}`;
}
