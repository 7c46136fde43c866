import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Diagnostic } from '../diagnostics.ts';
import { formatObject } from '../diagnostics.ts';
import { describeTable } from './describe-table.ts';
import type { RoutingTable } from '../table/types.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { EndpointStats } from '../dataplane/endpoint-health.ts';
import { DASHBOARD_HTML, dashboardData } from './dashboard.ts';
import { VERSION } from '../version.ts';

/** What the admin server reads; the app owns it. */
export interface AdminState {
  readonly current: RoutingTable | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** Why Portico is not ready yet, or undefined once the first complete table is live. */
  notReadyReason(): string | undefined;
  /** Said alongside a ready answer: something degraded that does not stop traffic. */
  detail(): string | undefined;
  readonly metrics?: Metrics | undefined;
  /** Passive health per endpoint (`address:port`), asked for each dashboard read (worker threads answer asynchronously). */
  readonly endpointHealth?: (() => Promise<(endpoint: string) => EndpointStats>) | undefined;
  /** The default certificate the HTTPS listener serves, for the dashboard; undefined without HTTPS. */
  readonly defaultCertificate?: (() => { secret: string; notAfterSeconds: number } | undefined) | undefined;
}

/**
 * Who may see the dashboard and /debug/*, which show pod addresses and Secret names: everyone,
 * nobody, or clients on this machine that also name it in Host (so a DNS-rebinding page cannot).
 * Probes and /metrics are always served.
 */
export type DebugViews = 'on' | 'off' | 'localhost';
export const DEBUG_VIEWS: readonly DebugViews[] = ['on', 'off', 'localhost'];

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;
const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i;
const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** One admin answer, before it is written (so it can be checked without a socket). */
export interface AdminAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The admin server on port 10254 (ingress-nginx's, so probes and dashboards carry over). */
export class AdminServer {
  private readonly state: AdminState;
  private readonly debugViews: DebugViews;
  /**
   * Plain node:http: seven read-only routes do not need a framework, and one was ~25 MB of
   * every instance's memory.
   */
  private readonly server: Server;

  constructor(state: AdminState, debugViews: DebugViews = 'on') {
    this.state = state;
    this.debugViews = debugViews;
    this.server = createServer((req, res) => {
      this.answer(req.method ?? 'GET', req.url ?? '/', req.headers, req.socket.remoteAddress).then(
        (a) => {
          res.writeHead(a.status, { ...a.headers, 'content-length': Buffer.byteLength(a.body) });
          res.end(req.method === 'HEAD' ? undefined : a.body);
        },
        () => res.writeHead(500, { 'content-type': TEXT }).end('internal error'),
      );
    });
  }

  /** What a request gets: `url` as sent (its query is ignored), from `remoteAddress`. */
  async answer(method: string, url: string, headers: IncomingHttpHeaders, remoteAddress: string | undefined): Promise<AdminAnswer> {
    const path = url.split('?', 1)[0]!;
    const route = method === 'GET' || method === 'HEAD' ? this.routes[path] : undefined;
    if (!route) return text(404, `${method} ${path} not found`);
    if (path === '/' || path.startsWith('/debug/')) {
      if (this.debugViews === 'off') return text(404, 'debug views are off (--debug-views off)');
      if (this.debugViews === 'localhost' && !(LOOPBACK_ADDRESS.test(remoteAddress ?? '') && LOOPBACK_HOST.test(headers.host ?? ''))) {
        return text(403, 'debug views are served to localhost only (--debug-views localhost); use kubectl port-forward');
      }
    }
    return route();
  }

  private readonly routes: Readonly<Record<string, () => AdminAnswer | Promise<AdminAnswer>>> = {
    '/healthz': () => text(200, 'ok'),
    '/readyz': () => {
      const reason = this.state.notReadyReason();
      if (reason !== undefined) return text(503, `not ready: ${reason}`);
      const detail = this.state.detail();
      return text(200, `ok (table generation ${this.state.current?.generation})${detail ? `; ${detail}` : ''}`);
    },
    '/metrics': async () => {
      const metrics = this.state.metrics;
      if (!metrics) return text(404, 'metrics are off (--metrics false)');
      return { status: 200, headers: { 'content-type': metrics.contentType }, body: await metrics.text() };
    },
    '/': () => ({
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" },
      body: DASHBOARD_HTML,
    }),
    '/debug/dashboard': async () => {
      const [health, totals] = await Promise.all([this.state.endpointHealth?.(), this.state.metrics?.requestTotals()]);
      return json(200, dashboardData(this.state.current, this.state.diagnostics, {
        version: VERSION, uptimeSeconds: process.uptime(), health: health ?? noHealth, defaultCertificate: this.state.defaultCertificate?.(), totals,
      }));
    },
    '/debug/routes': () => {
      const table = this.state.current;
      return table ? json(200, describeTable(table)) : json(503, { error: 'no routing table yet' });
    },
    '/debug/diagnostics': () => json(200, this.state.diagnostics.map((d) => ({ ...d, objectName: formatObject(d.object) }))),
  };

  listen(o: { host: string; port: number }): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(o.port, o.host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting; idle keep-alive connections (a Prometheus scraper's) are closed, requests in flight finish. */
  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    return closed;
  }
}

const noHealth = (): EndpointStats => ({ ejected: false, ejectedForMs: 0, requests: 0, errorRate: 0 });

function text(status: number, body: string): AdminAnswer {
  return { status, headers: { 'content-type': TEXT }, body };
}

function json(status: number, value: unknown): AdminAnswer {
  return { status, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(value) };
}
