import { allHostRoutes } from '../table/match.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { formatObject } from '../diagnostics.ts';
import type { EndpointStats } from '../dataplane/endpoint-health.ts';
import { DEFAULT_ROUTE_OPTIONS, describeRouteOptions } from '../routing/annotations/index.ts';
import { MAX_TIMER_MS, type Backend, type Endpoint, type HostRoutes, type Route, type RoutingTable } from '../table/types.ts';

export { DASHBOARD_HTML } from './dashboard-page.ts';

/** What the dashboard shows besides the table; the runtime fills it in per read. */
export interface DashboardContext {
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly health: (endpoint: string) => EndpointStats;
  /** The default certificate served ('' secret: the one generated at start); undefined without HTTPS. */
  readonly defaultCertificate: { readonly secret: string; readonly notAfterSeconds: number } | undefined;
  /** Requests answered since start, and those answered 5xx (every worker's); undefined with metrics off. */
  readonly totals: { readonly requests: number; readonly errors: number } | undefined;
}

/** Options with columns of their own on a host's page; the rest are listed when not the default. */
const OWN_COLUMNS = new Set(['denyReason', 'connectTimeoutMs', 'sendTimeoutMs', 'readTimeoutMs', 'bodyLimit', 'redirect', 'sslRedirect', 'forceSslRedirect', 'hsts']);
/** ingress-nginx's defaults as the page shows them, made on first use (they never change). */
let defaultOptionsText: Record<string, string> | undefined;

/** What the dashboard page polls: the table as an operator reads it, with live endpoint health. */
export function dashboardData(table: RoutingTable | undefined, diagnostics: readonly Diagnostic[], context: DashboardContext) {
  const endpoint = (e: Endpoint, ready: boolean) => {
    const s = context.health(e.key);
    return { address: e.key, pod: e.target ?? null, ready, ejected: s.ejected, requests: s.requests, errorRate: s.errorRate };
  };
  const defaultCertificate = context.defaultCertificate && { secret: context.defaultCertificate.secret || null, notAfter: new Date(context.defaultCertificate.notAfterSeconds * 1000).toISOString() };
  return {
    version: context.version,
    uptimeSeconds: Math.round(context.uptimeSeconds),
    totals: context.totals ?? null,
    generation: table?.generation ?? null,
    hosts: table ? allHostRoutes(table).map((h) => describeHost(h, table)) : [],
    backends: table ? [...table.backends.values()].map((b: Backend) => ({
      id: b.id,
      endpoints: [...b.endpoints.map((e) => endpoint(e, true)), ...b.unready.map((e) => endpoint(e, false))],
    })) : [],
    diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, object: formatObject(d.object), field: d.field ?? null, message: d.message })),
    certificates: table ? [...table.tlsHosts].map(([host, c]) => ({ host, secret: c?.secret ?? null, notAfter: c?.notAfter ?? null, usable: c !== undefined })) : [],
    defaultCertificate: defaultCertificate ?? null,
  };
}

function describeHost(h: HostRoutes, table: RoutingTable) {
  const routes = h.gateway ? h.gateway.map((m) => m.route) : h.regexMode ? h.regex : [...h.exact.values(), ...h.prefix.values()];
  return {
    host: h.host,
    regexMode: h.regexMode,
    tls: table.tlsHosts.has(h.host),
    appRoot: h.appRoot ?? null,
    routes: [...routes, ...(h.fallback ? [h.fallback] : [])].map((r) => describeRoute(r, r === h.fallback)),
  };
}

/** A route as its host's page lists it: where requests go, and every option that is not ingress-nginx's default. */
function describeRoute(r: Route, fallback: boolean) {
  const o = r.options;
  const described = describeRouteOptions(o);
  defaultOptionsText ??= Object.fromEntries(Object.entries(describeRouteOptions(DEFAULT_ROUTE_OPTIONS)).map(([k, v]) => [k, optionText(v)]));
  const changed: Record<string, string> = {};
  for (const [key, value] of Object.entries(described)) {
    const text = optionText(value);
    if (!OWN_COLUMNS.has(key) && text !== defaultOptionsText[key]) changed[key] = text;
  }
  // What an HTTPRoute rule does beyond one backend: its weights, filters and mirrors.
  const choice = r.choice;
  if (choice.kind === 'weighted' && (choice.backends.length > 1 || choice.backends.some((b) => !b.backend || b.requestHeaders))) {
    changed['backends'] = choice.backends.map((b) => `${b.backend?.id ?? '(unresolved: 500)'} ×${b.weight}${b.requestHeaders ? ' (headers modified)' : ''}`).join(', ');
  }
  const filters = r.steps.filter((s) => s.kind.startsWith('gateway-')).map((s) => s.kind.slice('gateway-'.length));
  if (filters.length > 0) changed['filters'] = filters.join(', ');
  if (r.mirrors) changed['mirrors'] = r.mirrors.map((m) => `${m.backend.id} ${m.percent}%`).join(', ');
  return {
    path: fallback ? '(default backend)' : r.path,
    pathType: fallback ? null : r.pathType,
    ingress: r.ingress,
    to: o.denyReason !== undefined ? { kind: 'deny', text: o.denyReason }
      : o.redirect ? { kind: 'redirect', text: `${o.redirect.code} → ${o.redirect.url}` }
      : { kind: 'backend', text: r.backend.id, canary: r.choice.kind === 'canary' ? r.choice.canary.id : null },
    timeouts: `${seconds(o.connectTimeoutMs)} / ${seconds(o.sendTimeoutMs)} / ${seconds(o.readTimeoutMs)} s`,
    bodyLimit: o.bodyLimit === Infinity ? 'unlimited' : sizeText(o.bodyLimit),
    https: [o.forceSslRedirect ? 'force-ssl-redirect' : o.sslRedirect ? 'ssl-redirect' : 'no redirect', o.hsts ? 'HSTS' : 'no HSTS'].join(', '),
    options: changed,
  };
}

/** A timeout in seconds; the longest a timer holds (an HTTPRoute's `0s`) reads as none. */
function seconds(ms: number): string {
  return ms >= MAX_TIMER_MS ? 'none' : String(ms / 1000);
}

function optionText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function sizeText(bytes: number): string {
  for (const [unit, size] of [['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}
