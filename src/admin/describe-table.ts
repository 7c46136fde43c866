import { describeRouteOptions } from '../routing/annotations/index.ts';
import { allHostRoutes } from '../table/match.ts';
import type { Backend, HostRoutes, Route, RoutingTable } from '../table/types.ts';

/** The table as plain JSON for /debug/routes: what an operator needs to see why a request went where it did. */
export function describeTable(table: RoutingTable) {
  const hosts = allHostRoutes(table).map(describeHost);
  return {
    generation: table.generation,
    hosts,
    defaultBackend: table.defaultRoute ? describeRoute(table.defaultRoute) : null,
    backends: [...table.backends.values()].map(describeBackend),
  };
}

function describeHost(h: HostRoutes) {
  const routes = h.gateway ? h.gateway.map((m) => m.route) : h.regexMode ? h.regex : [...h.exact.values(), ...h.prefix.values()];
  return {
    host: h.host,
    regexMode: h.regexMode,
    appRoot: h.appRoot ?? null,
    paths: routes.map(describeRoute),
    fallback: h.fallback ? describeRoute(h.fallback) : null,
  };
}

function describeRoute(r: Route) {
  return {
    path: r.path,
    pathType: r.pathType,
    ingress: r.ingress,
    backend: r.backend.id,
    canary: r.choice.kind === 'canary' ? { backend: r.choice.canary.id, ingress: r.choice.ingress, ...r.choice.rules, headerPattern: r.choice.rules.headerPattern?.source ?? null } : null,
    steps: r.steps.map((s) => s.kind),
    options: describeRouteOptions(r.options),
  };
}

function describeBackend(b: Backend) {
  return {
    id: b.id,
    sessionAffinity: b.affinityTimeoutMs === undefined ? 'None' : { clientIP: { timeoutSeconds: b.affinityTimeoutMs / 1000 } },
    endpoints: b.endpoints.map((e) => ({ address: e.address, port: e.port, target: e.target ?? null })),
    unready: b.unready.map((e) => ({ address: e.address, port: e.port, target: e.target ?? null })),
  };
}
