import type { V1Ingress, V1IngressBackend } from '@kubernetes/client-node';
import type { ObjectSnapshot } from '../snapshot.ts';
import type { Backend, BackendChoice, Balancing, BuildResult, CanaryRules, HostRoutes, PathType, Route, RouteOptions } from '../table/types.ts';
import { DEFAULT_ROUTE_OPTIONS, DEFAULT_STEPS, NGINX_PREFIX, PORTICO_PREFIX, settingsIgnoredOnCanary } from './annotations/index.ts';
import type { RequestStep } from '../table/steps.ts';
import { BackendResolver } from './backends.ts';
import type { Diagnostic, ObjectRef } from '../diagnostics.ts';
import { IngressClassFilter, type ClassSelection } from './ingress-class.ts';
import { normalisePrefix } from '../table/paths.ts';
import { RegexCache } from './regex.ts';
import { AnnotationCache } from './annotation-cache.ts';
import { INGRESS_NGINX_SERVER_SETTINGS, parseControllerConfig, type ControllerConfig } from './config-map/index.ts';
import type { ServerSettings } from '../table/server-settings.ts';
import { buildTlsHosts, readTlsSecret } from './tls.ts';

export interface BuildOptions extends ClassSelection {
  readonly generation: number;
  /** `namespace/name` of the Secret served to TLS clients no Ingress certificate matches. */
  readonly defaultCertificate?: string | undefined;
  /** `namespace/name` of the Service (first port) for unmatched requests and custom errors. */
  readonly defaultBackendService?: string | undefined;
  /** Compiled regexes kept from the previous build (the pipeline's); a fresh one when absent. */
  readonly regexCache?: RegexCache;
  /** Parsed annotations kept from the previous build (the pipeline's); a fresh one when absent. */
  readonly annotationCache?: AnnotationCache;
  /** `--configmap`: `namespace/name` of the controller ConfigMap. */
  readonly configMap?: string | undefined;
  /** The server settings before the ConfigMap: ingress-nginx's, as the flags changed them. */
  readonly serverDefaults?: ServerSettings;
  /** The previous build's reading of the ConfigMap: a bad value keeps the value in use there. */
  readonly previousConfig?: ControllerConfig | undefined;
}

/** Rules without a host are grouped under this key. */
const ANY_HOST = '*';
const PATH_TYPES = new Set<string>(['Exact', 'Prefix', 'ImplementationSpecific']);
// RFC 1123 labels, as the API server validates `spec.rules[].host`; a wildcard is only a leading `*.`.
const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A path of one Ingress as written, with its backend. */
interface IngressPath {
  ingress: string;
  ref: ObjectRef;
  field: string;
  path: string;
  pathType: PathType;
  backend: Backend;
}

/** A path of an ordinary Ingress, before the host's mode (regex or not) is known. */
interface Candidate extends IngressPath {
  options: RouteOptions;
  steps: readonly RequestStep[];
  regexMode: boolean;
}

/** A path of a canary Ingress: an alternative backend for the same path of another Ingress. */
interface CanaryCandidate extends IngressPath {
  rules: CanaryRules;
  balancing: Balancing;
}

interface HostDraft {
  candidates: Candidate[];
  canaries: CanaryCandidate[];
  /** `server-alias` names, with the Ingress that asked (first claim wins). */
  aliases: { alias: string; ref: ObjectRef }[];
  fromToWww: boolean;
  fallback: Route | undefined;
  appRoot: string | undefined;
}

/**
 * The pure heart of Portico: Kubernetes objects in, routing table and diagnostics out.
 * No I/O, no clock, no randomness; the same snapshot always builds the same table.
 */
export function buildRoutingTable(snapshot: ObjectSnapshot, options: BuildOptions): BuildResult & { readonly config: ControllerConfig } {
  const read = parseControllerConfig(options.configMap === undefined ? undefined : snapshot.configMaps.get(options.configMap), options.configMap, options.serverDefaults ?? INGRESS_NGINX_SERVER_SETTINGS, options.previousConfig);
  const config = read.config;
  const diagnostics: Diagnostic[] = [...read.diagnostics];
  const classes = new IngressClassFilter(snapshot, options);
  const resolver = new BackendResolver(snapshot);
  const hosts = new Map<string, HostDraft>();
  const annotationCache = options.annotationCache ?? new AnnotationCache();
  let defaultRoute: Route | undefined;
  let defaultRouteOwner: string | undefined;

  const draft = (host: string): HostDraft => {
    let d = hosts.get(host);
    if (!d) hosts.set(host, (d = { candidates: [], canaries: [], aliases: [], fromToWww: false, fallback: undefined, appRoot: undefined }));
    return d;
  };

  const ours: V1Ingress[] = [];
  for (const ingress of oldestFirst(snapshot.ingresses.values())) {
    if (!classes.isOurs(ingress)) {
      if (classes.namesMissingClass(ingress)) {
        diagnostics.push({ severity: 'Warning', code: 'IngressClassNotFound', object: refOf(ingress), field: 'spec.ingressClassName', message: `IngressClass "${options.ingressClass}" does not exist or is not for controller ${options.controllerName}; Ingress ignored` });
      }
      continue;
    }
    ours.push(ingress);
    const ref = refOf(ingress);
    const name = `${ref.namespace}/${ref.name}`;
    const namespace = ref.namespace!;
    const annotations = annotationCache.parse(ingress, ref, namespace, snapshot, config);
    diagnostics.push(...annotations.diagnostics);
    const canary = annotations.backend.canary;
    if (canary) {
      const ignored = settingsIgnoredOnCanary(ingress.metadata?.annotations);
      if (ignored.length > 0) diagnostics.push({ severity: 'Warning', code: 'InvalidAnnotation', object: ref, field: 'metadata.annotations', message: `a canary Ingress takes its settings from the Ingress it is a canary for: ${ignored.join(', ')} ignored` });
    }

    const resolveBackend = (b: V1IngressBackend | undefined, field: string): Backend | undefined => {
      if (!b?.service?.name) {
        diagnostics.push({ severity: 'Warning', code: 'InvalidBackend', object: ref, field, message: b?.resource ? 'resource backends are not supported; path ignored' : 'backend has no service; path ignored' });
        return undefined;
      }
      return resolver.resolve(namespace, b.service, annotations.backend.serviceUpstream, ref, `${field}.service`, diagnostics);
    };
    // default-backend: its Service's first port, resolved once for every path of the Ingress.
    const defaultBackendService = annotations.backend.defaultBackendService;
    const defaultBackendKey = `${PORTICO_PREFIX}default-backend` in (ingress.metadata?.annotations ?? {}) ? `${PORTICO_PREFIX}default-backend` : `${NGINX_PREFIX}default-backend`;
    const routeOptions: RouteOptions = defaultBackendService === undefined ? annotations.route
      : { ...annotations.route, defaultBackend: resolver.resolveFirstPort(namespace, defaultBackendService, ref, `metadata.annotations[${defaultBackendKey}]`, diagnostics) };

    let ingressDefault: Route | undefined;
    if (ingress.spec?.defaultBackend && !canary) {
      const backend = resolveBackend(ingress.spec.defaultBackend, 'spec.defaultBackend');
      if (backend) {
        ingressDefault = { ingress: name, host: ANY_HOST, path: '/', pathType: 'Prefix', backend, choice: SINGLE, options: routeOptions, steps: annotations.steps };
        if (!defaultRoute) {
          defaultRoute = ingressDefault;
          defaultRouteOwner = name;
        } else if (defaultRoute.backend.id !== backend.id) {
          diagnostics.push({ severity: 'Warning', code: 'DefaultBackendConflict', object: ref, field: 'spec.defaultBackend', message: `the default backend of older Ingress ${defaultRouteOwner} is used for unmatched hosts` });
        }
      }
    }

    (ingress.spec?.rules ?? []).forEach((rule, ruleIndex) => {
      const ruleField = `spec.rules[${ruleIndex}]`;
      const host = (rule.host ?? '').toLowerCase() || ANY_HOST;
      if (host !== ANY_HOST && !HOST.test(host)) {
        diagnostics.push({ severity: 'Warning', code: 'InvalidHost', object: ref, field: `${ruleField}.host`, message: `"${rule.host}" is not a valid host name or one-label wildcard (*.example.com); rule ignored` });
        return;
      }
      const d = draft(host);
      if (ingressDefault && !d.fallback) d.fallback = { ...ingressDefault, host };
      if (!canary) d.appRoot ??= annotations.host.appRoot;
      if (host !== ANY_HOST && !host.startsWith('*.') && !canary) {
        for (const alias of annotations.host.serverAliases) d.aliases.push({ alias, ref });
        d.fromToWww ||= annotations.host.fromToWwwRedirect;
      }
      (rule.http?.paths ?? []).forEach((p, pathIndex) => {
        const field = `${ruleField}.http.paths[${pathIndex}]`;
        const pathType = (p.pathType ?? 'ImplementationSpecific') as PathType;
        if (!PATH_TYPES.has(pathType)) {
          diagnostics.push({ severity: 'Warning', code: 'InvalidPath', object: ref, field: `${field}.pathType`, message: `"${pathType}" is not Exact, Prefix or ImplementationSpecific; path ignored` });
          return;
        }
        const backend = resolveBackend(p.backend, `${field}.backend`);
        if (!backend) return;
        if (canary) {
          const { affinity, upstreamHash, loadBalance } = annotations.route;
          d.canaries.push({ ingress: name, ref, field, path: p.path || '/', pathType, backend, rules: canary, balancing: { affinity, upstreamHash, loadBalance } });
          return;
        }
        d.candidates.push({ ingress: name, ref, field, path: p.path || '/', pathType, backend, options: routeOptions, steps: annotations.steps, regexMode: annotations.host.regexMode });
      });
    });
  }

  const regexes = options.regexCache ?? new RegexCache();
  const exactHosts = new Map<string, HostRoutes>();
  const wildcardHosts = new Map<string, HostRoutes>();
  let anyHost: HostRoutes | undefined;
  for (const [host, d] of hosts) {
    const routes = buildHost(host, d, regexes, diagnostics);
    // Only canaries named this host: nothing to serve, and no reason to shadow the rules without host.
    if (d.candidates.length === 0 && !d.fallback && d.appRoot === undefined) continue;
    if (host === ANY_HOST) anyHost = routes;
    else if (host.startsWith('*.')) wildcardHosts.set(host.slice(2), routes);
    else exactHosts.set(host, routes);
  }
  addAliasesAndWwwRedirects(hosts, exactHosts, diagnostics);
  const tlsHosts = buildTlsHosts(ours, snapshot, refOf, diagnostics);
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
  let errorBackend: Backend | undefined;
  if (options.defaultBackendService) {
    const [namespace = '', name = ''] = options.defaultBackendService.split('/');
    errorBackend = resolver.resolveFirstPort(namespace, name, { kind: 'Service', namespace, name }, '--default-backend-service', diagnostics);
    // Requests no rule matches go to it, unless an Ingress's spec.defaultBackend takes them.
    defaultRoute ??= { ingress: '', host: ANY_HOST, path: '/', pathType: 'Prefix', backend: errorBackend, choice: SINGLE, options: DEFAULT_ROUTE_OPTIONS, steps: DEFAULT_STEPS };
  }
  regexes.sweep();
  return {
    table: { generation: options.generation, exactHosts, wildcardHosts, anyHost, defaultRoute, backends: resolver.backends, tlsHosts, defaultCertificate, errorBackend, settings: config.settings.server },
    diagnostics,
    config,
  };
}

/**
 * Regex paths per host beyond which more are refused: each costs memory and build time, and a
 * host with this many is surely generated by mistake. Requests stay cheap up to the limit
 * (RE2.Set, a thousand paths per automaton).
 */
export const MAX_REGEX_PATHS_PER_HOST = 10_000;

/** Orders one host's paths: first claim wins a path (Ingresses come oldest first), then index them for the matcher. */
function buildHost(host: string, d: HostDraft, regexes: RegexCache, diagnostics: Diagnostic[]): HostRoutes {
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
function addAliasesAndWwwRedirects(drafts: ReadonlyMap<string, HostDraft>, exactHosts: Map<string, HostRoutes>, diagnostics: Diagnostic[]): void {
  const ruled = new Set(exactHosts.keys());
  const aliasOwner = new Map<string, string>();
  for (const [host, d] of drafts) {
    const routes = exactHosts.get(host);
    if (!routes) continue;
    for (const { alias, ref } of d.aliases) {
      const owner = ruled.has(alias) ? `a rule of host "${alias}"` : aliasOwner.has(alias) && aliasOwner.get(alias) !== host ? `an alias of host "${aliasOwner.get(alias)}"` : undefined;
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

const SINGLE: BackendChoice = Object.freeze({ kind: 'single' });

type CanaryChoice = Extract<BackendChoice, { kind: 'canary' }>;

/**
 * The canary of each path (keyed by path type and path as the main Ingress writes them): one
 * per path, the oldest, as ingress-nginx allows. A canary for a path no Ingress serves is reported.
 */
function canariesByPath(host: string, d: HostDraft, diagnostics: Diagnostic[]): Map<string, CanaryChoice> {
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

function oldestFirst(ingresses: Iterable<V1Ingress>): V1Ingress[] {
  // Keys computed once per Ingress, not once per comparison: a sort compares n·log n times.
  const keyed = [...ingresses].map((ingress) => {
    const t = ingress.metadata?.creationTimestamp;
    return { ingress, time: t ? new Date(t).getTime() : 0, id: `${ingress.metadata?.namespace}/${ingress.metadata?.name}` };
  });
  keyed.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return keyed.map((k) => k.ingress);
}

function refOf(ingress: V1Ingress): ObjectRef {
  return { kind: 'Ingress', namespace: ingress.metadata?.namespace ?? 'default', name: ingress.metadata?.name ?? '' };
}
