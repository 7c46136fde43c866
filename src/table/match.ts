import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayMatch, HostRoutes, Route, RoutingTable, ValueMatch } from './types.ts';

export interface RouteMatch {
  readonly route: Route;
  /** Capture groups of the path regex (regex mode, routes with `rewrite-target` only), for its $1…$9. */
  readonly groups: readonly (string | undefined)[] | undefined;
}

/** `Host` header → lookup key: lower case, port and trailing dot removed. */
export function hostKey(header: string | undefined): string {
  if (!header) return '';
  let end = header.length;
  if (header.charCodeAt(0) === 91 /* [ */) {
    end = header.indexOf(']') + 1 || end; // IPv6 literal: the port follows the bracket
  } else {
    const colon = header.indexOf(':');
    if (colon !== -1) end = colon;
  }
  if (header.charCodeAt(end - 1) === 46 /* . */) end--;
  const host = end === header.length ? header : header.slice(0, end);
  return host.toLowerCase();
}

/** Every host's routes once (a server-alias shares its host's), exact hosts first. */
export function allHostRoutes(table: RoutingTable): HostRoutes[] {
  const own = [...(table.gatewayByAddress?.values() ?? [])].flatMap((a) => [...a.exact.values(), ...a.wildcards.values(), ...(a.any ? [a.any] : [])]);
  return [...new Set([...table.exactHosts.values(), ...table.wildcardHosts.values(), ...(table.gatewayWildcardHosts?.values() ?? []), ...(table.anyHost ? [table.anyHost] : []), ...own])];
}

/**
 * Exact host, then a one-label wildcard, then the rules without host. A request to an address a
 * Gateway has of its own (`localAddress`) looks at that Gateway's hosts first.
 */
export function hostRoutes(table: RoutingTable, host: string, localAddress?: string): HostRoutes | undefined {
  if (table.gatewayByAddress !== undefined && localAddress !== undefined) {
    const own = table.gatewayByAddress.get(localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress);
    if (own) {
      const routes = own.exact.get(host) ?? deepWildcard(own.wildcards, host) ?? own.any;
      if (routes) return routes;
    }
  }
  const exact = table.exactHosts.get(host);
  if (exact) return exact;
  const dot = host.indexOf('.');
  if (dot > 0) {
    const wildcard = table.wildcardHosts.get(host.slice(dot + 1));
    if (wildcard) return wildcard;
    const deep = table.gatewayWildcardHosts && deepWildcard(table.gatewayWildcardHosts, host);
    if (deep) return deep;
  }
  return table.anyHost;
}

/** A Gateway API wildcard host covering `host` at any depth, the most specific first. */
function deepWildcard(wildcards: ReadonlyMap<string, HostRoutes>, host: string): HostRoutes | undefined {
  for (let at = host.indexOf('.'); at !== -1; at = host.indexOf('.', at + 1)) {
    const routes = wildcards.get(host.slice(at + 1));
    if (routes) return routes;
  }
  return undefined;
}

/**
 * Finds the route for a request. `path` is the normalised request path (no query).
 * The cost depends on the depth of the path, not on the number of routes: Exact and
 * Prefix are map lookups per path element, longest first.
 */
export function matchRoute(table: RoutingTable, host: string, path: string): RouteMatch | undefined {
  return matchPath(table, hostRoutes(table, host), path);
}

/** The path half of matchRoute, for callers that looked the host up already. */
export function matchPath(table: RoutingTable, routes: HostRoutes | undefined, path: string): RouteMatch | undefined {
  if (!routes) return table.defaultRoute && { route: table.defaultRoute, groups: undefined };

  if (routes.regexMode) {
    const index = routes.patterns ? routes.patterns.firstMatch(path) : -1;
    if (index !== -1) {
      const route = routes.regex[index]!;
      return { route, groups: route.options.rewrite ? routes.patterns!.groups(index, path) ?? undefined : undefined };
    }
  } else {
    // An Exact match is always the whole path, so it is the longest possible and wins ties with Prefix.
    const exact = routes.exact.get(path);
    if (exact) return { route: exact, groups: undefined };
    if (routes.prefix.size > 0) {
      // Prefix matches element-wise: try the path without trailing slashes, then each parent.
      let candidate = path;
      while (candidate.length > 1 && candidate.charCodeAt(candidate.length - 1) === 47) candidate = candidate.slice(0, -1);
      for (;;) {
        const route = routes.prefix.get(candidate);
        if (route) return { route, groups: undefined };
        if (candidate === '/') break;
        const slash = candidate.lastIndexOf('/');
        candidate = slash <= 0 ? '/' : candidate.slice(0, slash);
      }
    }
  }
  const fallback = routes.fallback ?? table.defaultRoute;
  return fallback && { route: fallback, groups: undefined };
}

/**
 * The route of a request whose path can be read several ways (`readings`: how other servers
 * read what is forwarded): 404 when nothing matches `path`, 400 when a reading would match
 * another route, so the pod could not be handed a path its route does not cover.
 */
export function matchReadings(table: RoutingTable, routes: HostRoutes | undefined, path: string, readings: readonly string[]): RouteMatch | 400 | 404 {
  const match = matchPath(table, routes, path);
  if (!match) return 404;
  for (const reading of readings) if (matchPath(table, routes, reading)?.route !== match.route) return 400;
  return match;
}

/** What a Gateway API match reads of a request besides its path. */
export interface RequestFacts {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/**
 * HTTPRoute matching: the first match, in the spec's order of precedence (build sorted them),
 * whose path, method, headers and query parameters all hold. `query` is the raw `?…` or ''.
 */
export function matchGateway(matches: readonly GatewayMatch[], req: RequestFacts, path: string, query: string): Route | undefined {
  let params: URLSearchParams | undefined;
  for (const m of matches) {
    if (!pathMatches(m.path, path) || (m.method !== undefined && m.method !== req.method)) continue;
    if (!m.headers.every((h) => valueMatches(h, req.headers[h.name]))) continue;
    if (m.queryParams.length > 0) {
      params ??= new URLSearchParams(query);
      // The first of repeated parameters, as the spec suggests.
      if (!m.queryParams.every((q) => valueMatches(q, params!.get(q.name) ?? undefined))) continue;
    }
    return m.route;
  }
  return undefined;
}

function pathMatches(p: GatewayMatch['path'], path: string): boolean {
  if (p.type === 'Exact') return path === p.value;
  if (p.type === 'RegularExpression') return p.regex.test(path);
  // PathPrefix: element-wise; build stored the value without a trailing slash ('' for '/').
  return p.value === '' || path === p.value || (path.startsWith(p.value) && path.charCodeAt(p.value.length) === 47);
}

function valueMatches(m: ValueMatch, value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  const text = Array.isArray(value) ? value.join(',') : value;
  return m.exact !== undefined ? text === m.exact : m.regex!.test(text);
}

/** matchGateway, refusing (400) a path another reading of which would match elsewhere, as matchReadings does. */
export function matchGatewayReadings(matches: readonly GatewayMatch[], req: RequestFacts, head: { readonly path: string; readonly query: string; readonly otherReadings: readonly string[] }): RouteMatch | 400 | 404 {
  const route = matchGateway(matches, req, head.path, head.query);
  if (!route) return 404;
  for (const reading of head.otherReadings) if (matchGateway(matches, req, reading, head.query) !== route) return 400;
  return { route, groups: undefined };
}
