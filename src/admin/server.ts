import Fastify, { type FastifyInstance } from 'fastify';
import type { Diagnostic } from '../diagnostics.ts';
import { formatObject } from '../diagnostics.ts';
import { describeTable } from './describe-table.ts';
import type { RoutingTable } from '../table/types.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { EndpointStats } from '../dataplane/endpoint-health.ts';
import { DASHBOARD_HTML, dashboardData } from './dashboard.ts';

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

/** The admin server on port 10254 (ingress-nginx's, so probes and dashboards carry over). */
export function createAdminServer(state: AdminState, debugViews: DebugViews = 'on'): FastifyInstance {
  const app = Fastify({ logger: false });

  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route !== '/' && !route?.startsWith('/debug/')) return;
    if (debugViews === 'off') return reply.code(404).send('debug views are off (--debug-views off)');
    if (debugViews === 'localhost' && !(LOOPBACK_ADDRESS.test(req.socket.remoteAddress ?? '') && LOOPBACK_HOST.test(req.headers.host ?? ''))) {
      return reply.code(403).send('debug views are served to localhost only (--debug-views localhost); use kubectl port-forward');
    }
  });

  app.get('/healthz', async () => 'ok');

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'").send(DASHBOARD_HTML));

  const noHealth = (): EndpointStats => ({ ejected: false, ejectedForMs: 0, requests: 0, errorRate: 0 });
  app.get('/debug/dashboard', async () => dashboardData(state.current, state.diagnostics, (await state.endpointHealth?.()) ?? noHealth));

  app.get('/readyz', async (_req, reply) => {
    const reason = state.notReadyReason();
    if (reason !== undefined) return reply.code(503).send(`not ready: ${reason}`);
    const detail = state.detail();
    return `ok (table generation ${state.current?.generation})${detail ? `; ${detail}` : ''}`;
  });

  app.get('/debug/routes', async (_req, reply) => {
    const table = state.current;
    if (!table) return reply.code(503).send({ error: 'no routing table yet' });
    return describeTable(table);
  });

  app.get('/metrics', async (_req, reply) => {
    if (!state.metrics) return reply.code(404).send('metrics are off (--metrics false)');
    return reply.type(state.metrics.contentType).send(await state.metrics.text());
  });

  app.get('/debug/diagnostics', async () =>
    state.diagnostics.map((d) => ({ ...d, objectName: formatObject(d.object) })));

  return app;
}
