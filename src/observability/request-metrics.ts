import { Counter, Gauge, type Registry } from 'prom-client';
import type { Backend, Route } from '../table/types.ts';
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

/**
 * What the data plane counts: ingress-nginx's request metrics with its names and labels (so
 * existing dashboards and alerts keep working), connections and upstream failures. Each worker
 * thread has its own, in its own registry; the instance's /metrics sums them. Labelled children
 * are cached per route, status and method, so a request costs a map lookup, not a label-string build.
 */
export class RequestMetrics implements RequestObserver {
  private readonly requests: LabelledCounter;
  private readonly duration: LabelledHistogram;
  private readonly response: LabelledHistogram;
  private readonly connect: LabelledHistogram;
  private readonly header: LabelledHistogram;
  private readonly requestSize: LabelledHistogram;
  private readonly responseSize: LabelledHistogram;
  private readonly children = new WeakMap<Route, Map<string, Children>>();
  private readonly unmatched = new Map<string, Children>();
  private readonly upstreamFailures: Counter;
  private readonly retries: Counter;
  private readonly ejections: Counter;
  private connections = 0;
  private accepted = 0;
  private inFlight = 0;

  constructor(registry: Registry) {
    const registers = [registry];
    const metrics = this;
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
      registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
    }
    const p = 'portico_';
    this.upstreamFailures = new Counter({ name: `${p}upstream_failures_total`, help: 'Failed attempts to an endpoint, by kind', labelNames: ['kind'], registers });
    this.ejections = new Counter({ name: `${p}endpoint_ejections_total`, help: 'Endpoints taken out of rotation by passive health', registers });
    this.retries = new Counter({ name: `${p}upstream_retries_total`, help: 'Attempts on another endpoint after a failed one', registers });
    new Gauge({ name: `${p}client_connections_active`, help: 'Open client connections', registers, collect() { this.set(metrics.connections); } });
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
}

const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** ingress-nginx's upstream name, `namespace-service-port`: the value of the `canary` label. */
function upstreamName(b: Backend): string {
  return `${b.namespace}-${b.service}-${b.port}`;
}
