import type { V1Ingress } from '@kubernetes/client-node';
import type { ObjectSnapshot } from '../snapshot.ts';
import type { BackendChoice, BuildResult, HostRoutes, Route, TlsCertificate } from '../table/types.ts';
import { DEFAULT_ROUTE_OPTIONS, DEFAULT_STEPS, NGINX_PREFIX } from './annotations/index.ts';
import { BackendResolver } from './backends.ts';
import type { Diagnostic, ObjectRef } from '../diagnostics.ts';
import { IngressClassFilter, type ClassSelection } from './ingress-class.ts';
import { normalisePrefix } from '../table/paths.ts';
import type { RegexCache } from './regex.ts';
import { BuildCache, sameItems, type HostEntry, type IngressEntry, type TlsHosts } from './build-cache.ts';
import { ANY_HOST, SINGLE, contributionOf, type CanaryCandidate, type Candidate, type HostParts, type IngressContribution, type RuleContribution } from './ingress-contribution.ts';
import { INGRESS_NGINX_SERVER_SETTINGS, parseControllerConfig, type ControllerConfig } from './config-map/index.ts';
import type { ServerSettings } from '../table/server-settings.ts';
import { readTlsSecret } from './tls.ts';
import { buildGatewayRoutes, type GatewayStatuses } from './gateway/index.ts';
import { GATEWAY_CONTROLLER } from '../gateway-api.ts';
import type { AddressHosts, GatewayMatch } from '../table/types.ts';

export { BuildCache } from './build-cache.ts';

export interface BuildOptions extends ClassSelection {
  readonly generation: number;
  /** `namespace/name` of the Secret served to TLS clients no Ingress certificate matches. */
  readonly defaultCertificate?: string | undefined;
  /** `namespace/name` of the Service (first port) for unmatched requests and custom errors. */
  readonly defaultBackendService?: string | undefined;
  /** What the previous builds kept (the pipeline's); a fresh one, kept nowhere, when absent. */
  readonly cache?: BuildCache;
  /** `--configmap`: `namespace/name` of the controller ConfigMap. */
  readonly configMap?: string | undefined;
  /** The server settings before the ConfigMap: ingress-nginx's, as the flags changed them. */
  readonly serverDefaults?: ServerSettings;
  /** The previous build's reading of the ConfigMap: a bad value keeps the value in use there. */
  readonly previousConfig?: ControllerConfig | undefined;
  /** GatewayClass `spec.controllerName` served (default portico.dev/gateway-controller). */
  readonly gatewayControllerName?: string;
  /** `--gateway-addresses`: node addresses given to Gateways, one each, oldest first. */
  readonly gatewayAddresses?: readonly string[] | undefined;
}

/** The rules of several Ingresses for one host, gathered oldest Ingress first. */
class HostDraft implements HostParts {
  readonly candidates: Candidate[] = [];
  readonly canaries: CanaryCandidate[] = [];
  /** `server-alias` names, with the Ingress that asked (first claim wins). */
  readonly aliases: { alias: string; ref: ObjectRef }[] = [];
  fromToWww = false;
  fallback: Route | undefined;
  appRoot: string | undefined;

  add(rule: RuleContribution, ref: ObjectRef | undefined): void {
    this.fallback ??= rule.fallback;
    this.appRoot ??= rule.appRoot;
    if (ref) for (const alias of rule.aliases) this.aliases.push({ alias, ref });
    this.fromToWww ||= rule.fromToWww;
    for (const c of rule.candidates) this.candidates.push(c);
    for (const c of rule.canaries) this.canaries.push(c);
  }
}

/**
 * The pure heart of Portico: Kubernetes objects in, routing table and diagnostics out.
 * No I/O, no clock, no randomness; the same snapshot always builds the same table. Each
 * Ingress is read on its own into a contribution; the contributions, oldest Ingress first,
 * are then put together host by host (first claim wins a path, a host's fallback, a TLS host).
 */
export function buildRoutingTable(snapshot: ObjectSnapshot, options: BuildOptions): BuildResult & { readonly config: ControllerConfig; readonly gatewayStatus: GatewayStatuses | undefined } {
  const cache = options.cache ?? new BuildCache();
  const read = parseControllerConfig(options.configMap === undefined ? undefined : snapshot.configMaps.get(options.configMap), options.configMap, options.serverDefaults ?? INGRESS_NGINX_SERVER_SETTINGS, options.previousConfig);
  const config = read.config;
  const diagnostics: Diagnostic[] = [...read.diagnostics];
  const classes = new IngressClassFilter(snapshot, options);
  const resolver = new BackendResolver(snapshot, cache.resolutions);
  // A host named by one rule is that rule until a second one names it too.
  const hosts = new Map<string, RuleContribution | HostDraft>();
  let aliasing = false;
  let defaultRoute: Route | undefined;

  const contributions: IngressContribution[] = [];
  const tls = new TlsHostsBuilder(cache.tls);
  for (const entry of oldestFirst(snapshot.ingresses, cache)) {
    const { ingress, ref } = entry;
    if (!classes.isOurs(ingress)) {
      if (classes.namesMissingClass(ingress)) {
        diagnostics.push({ severity: 'Warning', code: 'IngressClassNotFound', object: ref, field: 'spec.ingressClassName', message: `IngressClass "${options.ingressClass}" does not exist or is not for controller ${options.controllerName}; Ingress ignored` });
      }
      continue;
    }
    const parsed = cache.annotations.parse(ingress, ref, ref.namespace!, snapshot, config);
    let contribution = entry.contribution;
    if (!contribution || !stillCurrent(contribution, parsed, resolver, snapshot)) {
      contribution = entry.contribution = contributionOf(ingress, ref, parsed, resolver, snapshot);
    }
    contributions.push(contribution);
    for (const d of contribution.diagnostics) diagnostics.push(d);
    tls.add(contribution);

    const ingressDefault = contribution.defaultRoute;
    if (ingressDefault) {
      if (!defaultRoute) {
        defaultRoute = ingressDefault;
      } else if (defaultRoute.backend.id !== ingressDefault.backend.id) {
        diagnostics.push({ severity: 'Warning', code: 'DefaultBackendConflict', object: ref, field: 'spec.defaultBackend', message: `the default backend of older Ingress ${defaultRoute.ingress} is used for unmatched hosts` });
      }
    }
    for (const rule of contribution.rules) {
      const present = hosts.get(rule.host);
      const aliases = rule.aliases.length > 0 || rule.fromToWww;
      if (present === undefined && !aliases) {
        hosts.set(rule.host, rule);
        continue;
      }
      let draft: HostDraft;
      if (present instanceof HostDraft) {
        draft = present;
      } else {
        draft = new HostDraft();
        if (present) draft.add(present, undefined); // a lone rule has no aliases
        hosts.set(rule.host, draft);
      }
      aliasing ||= aliases;
      draft.add(rule, ref);
    }
  }

  const sharedHosts = new Map<string, HostEntry>();
  const exactHosts = new Map<string, HostRoutes>();
  const wildcardHosts = new Map<string, HostRoutes>();
  let anyHost: HostRoutes | undefined;
  for (const [host, parts] of hosts) {
    const entry = hostEntry(host, parts, cache);
    if (parts instanceof HostDraft && !entry.routes.regexMode) sharedHosts.set(host, entry);
    for (const d of entry.diagnostics) diagnostics.push(d);
    // Only canaries named this host: nothing to serve, and no reason to shadow the rules without host.
    if (parts.candidates.length === 0 && parts.fallback === undefined && parts.appRoot === undefined) continue;
    if (host === ANY_HOST) anyHost = entry.routes;
    else if (host.startsWith('*.')) wildcardHosts.set(host.slice(2), entry.routes);
    else exactHosts.set(host, entry.routes);
  }
  cache.sharedHosts = sharedHosts;
  if (aliasing) addAliasesAndWwwRedirects(hosts, exactHosts, diagnostics);
  let gatewayStatus: GatewayStatuses | undefined;
  const gatewayWildcardHosts = new Map<string, HostRoutes>();
  const gatewayByAddress = new Map<string, AddressHosts>();
  let gatewayTls: ReadonlyMap<string, TlsCertificate> | undefined;
  let gatewayDefaultCertificate: TlsCertificate | undefined;
  if (snapshot.gatewayClasses.size > 0) {
    const gateway = buildGatewayRoutes(snapshot, resolver, { controllerName: options.gatewayControllerName ?? GATEWAY_CONTROLLER, addresses: options.gatewayAddresses });
    for (const [address, hosts] of gateway.byAddress) {
      const own = { exact: new Map<string, HostRoutes>(), wildcards: new Map<string, HostRoutes>(), any: undefined as HostRoutes | undefined };
      own.any = addGatewayHosts(hosts, own.exact, new Map(), own.wildcards, undefined, diagnostics);
      gatewayByAddress.set(address, own);
    }
    for (const d of gateway.diagnostics) diagnostics.push(d);
    anyHost = addGatewayHosts(gateway.hosts, exactHosts, wildcardHosts, gatewayWildcardHosts, anyHost, diagnostics);
    gatewayStatus = gateway.status;
    gatewayTls = gateway.tls;
    gatewayDefaultCertificate = gateway.defaultCertificate;
  }
  for (const d of tls.diagnostics) diagnostics.push(d);
  cache.tls = tls.result(contributions);
  let defaultCertificate;
  if (options.defaultCertificate) {
    const result = readTlsSecret(snapshot.secrets.get(options.defaultCertificate), options.defaultCertificate);
    if (typeof result === 'string') {
      const [namespace, name = ''] = options.defaultCertificate.split('/');
      diagnostics.push({ severity: 'Warning', code: 'InvalidTLSSecret', object: { kind: 'Secret', namespace, name }, message: `--default-ssl-certificate: ${result}; serving the generated self-signed certificate instead` });
    } else {
      defaultCertificate = result;
    }
  }
  let errorBackend;
  if (options.defaultBackendService) {
    const [namespace = '', name = ''] = options.defaultBackendService.split('/');
    errorBackend = resolver.resolveFirstPort(namespace, name, { kind: 'Service', namespace, name }, '--default-backend-service', diagnostics);
    // Requests no rule matches go to it, unless an Ingress's spec.defaultBackend takes them.
    defaultRoute ??= { ingress: '', host: ANY_HOST, path: '/', pathType: 'Prefix', backend: errorBackend, choice: SINGLE, options: DEFAULT_ROUTE_OPTIONS, steps: DEFAULT_STEPS };
  }
  cache.resolutions = resolver.resolutions;
  cache.regexes.sweep();
  return {
    table: {
      generation: options.generation, exactHosts, wildcardHosts, anyHost, defaultRoute, backends: resolver.backends, errorBackend, settings: config.settings.server,
      gatewayWildcardHosts: gatewayWildcardHosts.size > 0 ? gatewayWildcardHosts : undefined,
      gatewayByAddress: gatewayByAddress.size > 0 ? gatewayByAddress : undefined,
      // HTTPS listeners' certificates join the Ingresses' (which win a host both name) and stand in for the default one.
      tlsHosts: gatewayTls && gatewayTls.size > 0 ? new Map([...gatewayTls, ...cache.tls.map]) : cache.tls.map,
      defaultCertificate: defaultCertificate ?? gatewayDefaultCertificate,
    },
    diagnostics,
    config,
    gatewayStatus,
  };
}

/** Whether a contribution from an earlier build is what this build would make of its Ingress. */
function stillCurrent(c: IngressContribution, parsed: IngressContribution['parsed'], resolver: BackendResolver, snapshot: ObjectSnapshot): boolean {
  if (c.parsed !== parsed) return false;
  for (const backend of c.backends) if (!resolver.isCurrent(backend)) return false;
  for (const { key, found } of c.secretsRead) if (snapshot.secrets.get(key) !== found) return false;
  return true;
}

/** A host's routes: the last build's when it was built from the same parts (regex hosts are built each time, from cached regexes). */
function hostEntry(host: string, parts: HostParts, cache: BuildCache): HostEntry {
  const last = parts instanceof HostDraft ? cache.sharedHosts.get(host) : cache.loneHosts.get(parts);
  if (last && (last.parts === parts || sameParts(last.parts, parts))) return last;
  const diagnostics: Diagnostic[] = [];
  const routes = buildHost(host, parts, cache.regexes, diagnostics);
  const entry = { parts, routes, diagnostics };
  // A lone rule's host is kept by the rule (a reused contribution keeps its rules); shared hosts by name, below.
  if (!(parts instanceof HostDraft) && !routes.regexMode) cache.loneHosts.set(parts, entry);
  return entry;
}

function sameParts(a: HostParts, b: HostParts): boolean {
  return a.fallback === b.fallback && a.appRoot === b.appRoot && sameItems(a.candidates, b.candidates) && sameItems(a.canaries, b.canaries);
}

/**
 * TLS hosts: the oldest Ingress wins a host. The last build's map when every entry is the
 * same as then (the usual case after a change that does not touch TLS).
 */
class TlsHostsBuilder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly last: TlsHosts | undefined;
  private same: boolean;
  private count = 0;

  constructor(last: TlsHosts | undefined) {
    this.last = last;
    this.same = last !== undefined;
  }

  /** The next contribution, oldest first. */
  add(c: IngressContribution): void {
    for (const d of c.tlsDiagnostics) this.diagnostics.push(d);
    if (!this.same) return;
    const entries = this.last!.entries;
    for (const entry of c.tlsHosts) {
      const was = entries[this.count++];
      if (was === undefined || was.host !== entry.host || was.certificate !== entry.certificate) {
        this.same = false;
        return;
      }
    }
  }

  result(contributions: readonly IngressContribution[]): TlsHosts {
    if (this.same && this.count === this.last!.entries.length) return this.last!;
    const entries = contributions.flatMap((c) => c.tlsHosts);
    const map = new Map<string, TlsCertificate | undefined>();
    for (const { host, certificate } of entries) if (!map.has(host)) map.set(host, certificate);
    return { entries, map };
  }
}

/**
 * Regex paths per host beyond which more are refused: each costs memory and build time, and a
 * host with this many is surely generated by mistake. Requests stay cheap up to the limit
 * (RE2.Set, a thousand paths per automaton).
 */
export const MAX_REGEX_PATHS_PER_HOST = 10_000;

/** Orders one host's paths: first claim wins a path (Ingresses come oldest first), then index them for the matcher. */
function buildHost(host: string, d: HostParts, regexes: RegexCache, diagnostics: Diagnostic[]): HostRoutes {
  // ingress-nginx: use-regex or rewrite-target on any Ingress of a host puts every path of the host in regex mode.
  const regexMode = d.candidates.some((c) => c.regexMode);
  const claimed = new Map<string, Candidate>();
  const exact = new Map<string, Route>();
  const prefix = new Map<string, Route>();
  const regex: Route[] = [];
  const overLimit = new Map<string, { ref: ObjectRef; field: string; count: number }>();
  const canaries = canariesByPath(host, d, diagnostics);

  for (const c of d.candidates) {
    const route: Route = { ingress: c.ingress, host, path: c.path, pathType: c.pathType, backend: c.backend, choice: canaries.get(`${c.pathType}:${c.path}`) ?? SINGLE, options: c.options, steps: c.steps };
    const invalid = (message: string): void => {
      diagnostics.push({ severity: 'Warning', code: 'InvalidPath', object: c.ref, field: `${c.field}.path`, message: `"${c.path}" ${message}; path ignored`, blocks: true });
    };
    if (!regexMode && !c.path.startsWith('/')) {
      invalid('must start with /');
      continue;
    }
    // Prefix /foo and /foo/ are two paths (the longer wins both /foo and /foo/), so the claim is on the path as written.
    const key = regexMode ? `${c.pathType}:${c.path}` : c.pathType === 'Exact' ? `Exact:${c.path}` : `Prefix:${c.path}`;
    const owner = claimed.get(key);
    if (owner) {
      diagnostics.push({ severity: 'Warning', code: 'PathConflict', object: c.ref, field: `${c.field}.path`, message: `host "${host}" path "${c.path}" (${c.pathType}) is already defined by older Ingress ${owner.ingress}; this path is ignored`, blocks: true });
      continue;
    }
    if (regexMode) {
      if (regex.length >= MAX_REGEX_PATHS_PER_HOST) {
        const over = overLimit.get(c.ingress) ?? { ref: c.ref, field: `${c.field}.path`, count: 0 };
        over.count++;
        overLimit.set(c.ingress, over);
        continue;
      }
      const problem = regexes.problem(c.path);
      if (problem !== undefined) {
        invalid(problem);
        continue;
      }
      regex.push(route);
    } else if (c.pathType === 'Exact') {
      exact.set(c.path, route);
    } else {
      const normalised = normalisePrefix(c.path);
      const other = prefix.get(normalised);
      if (!other || other.path.length < c.path.length) prefix.set(normalised, route);
    }
    claimed.set(key, c);
  }
  for (const over of overLimit.values()) {
    diagnostics.push({ severity: 'Warning', code: 'InvalidPath', object: over.ref, field: over.field, message: `host "${host}" has more than ${MAX_REGEX_PATHS_PER_HOST} regex paths: ${over.count} paths of this Ingress (this one and later ones) are ignored` });
  }
  // nginx orders regex locations by path length, longest first, ties by path string descending.
  regex.sort((a, b) => b.path.length - a.path.length || (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
  const patterns = regex.length > 0 ? regexes.patternSet(regex.map((r) => r.path)) : undefined;
  return { host, regexMode, exact, prefix, regex, patterns, fallback: d.fallback, appRoot: d.appRoot, redirectTo: undefined };
}

/**
 * `server-alias`: the alias answers with its host's routes (never over a host a rule names);
 * `from-to-www-redirect`: the name with `www.` added or removed redirects to the host, unless
 * a rule or an alias names it.
 */
function addAliasesAndWwwRedirects(hosts: ReadonlyMap<string, HostParts>, exactHosts: Map<string, HostRoutes>, diagnostics: Diagnostic[]): void {
  const aliasOwner = new Map<string, string>();
  // Only rules of named hosts may have aliases, and a lone rule has none: those hosts are drafts.
  const drafts = [...hosts].filter((entry): entry is [string, HostDraft] => entry[1] instanceof HostDraft);
  for (const [host, d] of drafts) {
    const routes = exactHosts.get(host);
    if (!routes) continue;
    for (const { alias, ref } of d.aliases) {
      // A host a rule names (in the map, and not by an alias).
      const ruled = exactHosts.has(alias) && !aliasOwner.has(alias);
      const owner = ruled ? `a rule of host "${alias}"` : aliasOwner.has(alias) && aliasOwner.get(alias) !== host ? `an alias of host "${aliasOwner.get(alias)}"` : undefined;
      if (owner) {
        diagnostics.push({ severity: 'Warning', code: 'InvalidHost', object: ref, field: `metadata.annotations[${NGINX_PREFIX}server-alias]`, message: `"${alias}" is already ${owner}; alias ignored` });
        continue;
      }
      aliasOwner.set(alias, host);
      exactHosts.set(alias, routes);
    }
  }
  for (const [host, d] of drafts) {
    if (!d.fromToWww || !exactHosts.has(host)) continue;
    const other = host.startsWith('www.') ? host.slice(4) : `www.${host}`;
    if (exactHosts.has(other)) continue;
    exactHosts.set(other, { host: other, regexMode: false, exact: new Map(), prefix: new Map(), regex: [], patterns: undefined, fallback: undefined, appRoot: undefined, redirectTo: host });
  }
}

type CanaryChoice = Extract<BackendChoice, { kind: 'canary' }>;
const NO_CANARIES: ReadonlyMap<string, CanaryChoice> = new Map();

/**
 * The canary of each path (keyed by path type and path as the main Ingress writes them): one
 * per path, the oldest, as ingress-nginx allows. A canary for a path no Ingress serves is reported.
 */
function canariesByPath(host: string, d: HostParts, diagnostics: Diagnostic[]): ReadonlyMap<string, CanaryChoice> {
  if (d.canaries.length === 0) return NO_CANARIES;
  const main = new Set(d.candidates.map((c) => `${c.pathType}:${c.path}`));
  const byPath = new Map<string, CanaryChoice>();
  for (const c of d.canaries) {
    const key = `${c.pathType}:${c.path}`;
    const field = `${c.field}.path`;
    const existing = byPath.get(key);
    if (existing) {
      diagnostics.push({ severity: 'Warning', code: 'PathConflict', object: c.ref, field, message: `host "${host}" path "${c.path}" already has the canary of older Ingress ${existing.ingress} (one canary per path); this canary is ignored` });
    } else if (!main.has(key)) {
      diagnostics.push({ severity: 'Warning', code: 'InvalidBackend', object: c.ref, field, message: `no other Ingress serves host "${host}" path "${c.path}" (${c.pathType}); a canary needs one, so this path is ignored` });
    } else {
      byPath.set(key, { kind: 'canary', canary: c.backend, rules: c.rules, ingress: c.ingress, balancing: c.balancing });
    }
  }
  return byPath;
}

/**
 * Ingresses oldest first (creation time, then `namespace/name`). Keys are computed once per
 * Ingress object; when every Ingress has the place it had in the last build's order (the same
 * Ingresses, some of them changed objects), that order is filled in again without a sort.
 */
function oldestFirst(ingresses: ReadonlyMap<string, V1Ingress>, cache: BuildCache): IngressEntry[] {
  const keyed: IngressEntry[] = [];
  const last = cache.order;
  let reordered: IngressEntry[] | undefined = last && last.entries.length === ingresses.size ? new Array<IngressEntry>(ingresses.size) : undefined;
  for (const ingress of ingresses.values()) {
    let key = cache.ingresses.get(ingress);
    if (!key) {
      const t = ingress.metadata?.creationTimestamp;
      const ref = refOf(ingress);
      key = { ingress, ref, time: t ? new Date(t).getTime() : 0, id: `${ref.namespace}/${ref.name}`, contribution: undefined };
      cache.ingresses.set(ingress, key);
    }
    keyed.push(key);
    if (reordered) {
      const at = last!.positions.get(key.id);
      if (at === undefined || last!.entries[at]!.time !== key.time) reordered = undefined;
      else reordered[at] = key;
    }
  }
  if (reordered) {
    cache.order = { entries: reordered, positions: last!.positions };
    return reordered;
  }
  keyed.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  cache.order = { entries: keyed, positions: new Map(keyed.map((e, i) => [e.id, i])) };
  return keyed;
}

function refOf(ingress: V1Ingress): ObjectRef {
  return { kind: 'Ingress', namespace: ingress.metadata?.namespace ?? 'default', name: ingress.metadata?.name ?? '' };
}

/**
 * HTTPRoute hosts join the table beside the Ingress ones. A host both claim stays the Ingresses'
 * (they were Portico's first); the HTTPRoutes' matches for it are reported and left out.
 */
function addGatewayHosts(gatewayHosts: ReadonlyMap<string, readonly GatewayMatch[]>, exactHosts: Map<string, HostRoutes>, wildcardHosts: Map<string, HostRoutes>, deepWildcards: Map<string, HostRoutes>, anyHost: HostRoutes | undefined, diagnostics: Diagnostic[]): HostRoutes | undefined {
  for (const [host, matches] of gatewayHosts) {
    const wildcard = host.startsWith('*.');
    const map = wildcard ? deepWildcards : exactHosts;
    const key = wildcard ? host.slice(2) : host;
    const present = host === ANY_HOST ? anyHost : wildcard ? wildcardHosts.get(key) : map.get(key);
    if (present) {
      for (const name of new Set(matches.map((m) => m.route.ingress))) {
        const [namespace, routeName = ''] = name.split('/');
        diagnostics.push({ severity: 'Warning', code: 'HostConflict', object: { kind: 'HTTPRoute', namespace, name: routeName }, field: 'spec.hostnames', message: `host ${host} is served by Ingress ${present.regex[0]?.ingress ?? [...present.exact.values(), ...present.prefix.values()][0]?.ingress ?? ''}; this route's rules for it are not` });
      }
      continue;
    }
    const routes: HostRoutes = { host, regexMode: false, exact: new Map(), prefix: new Map(), regex: [], patterns: undefined, fallback: undefined, appRoot: undefined, redirectTo: undefined, gateway: matches };
    if (host === ANY_HOST) anyHost = routes;
    else map.set(key, routes);
  }
  return anyHost;
}
