import RE2 from 're2';
import type { V1LabelSelector } from '@kubernetes/client-node';
import type { Diagnostic, ObjectRef } from '../../diagnostics.ts';
import { GATEWAY_GROUP, type Gateway, type GatewayClass, type ParentReference, type HTTPBackendRef, type HTTPHeaderModifier, type HTTPPathModifier, type HTTPRoute, type HTTPRouteFilter, type HTTPRouteMatch, type HTTPRouteRule, type Listener } from '../../gateway-api.ts';
import { objectKey, type ObjectSnapshot } from '../../snapshot.ts';
import { STEP_ORDER, type GatewayCorsPolicy, type GatewayHeaderChange, type GatewayModify, type GatewayPathChange, type GatewayRedirect, type RequestStep } from '../../table/steps.ts';
import { MAX_TIMER_MS, type Backend, type BackendChoice, type GatewayMatch, type PathType, type RequestMirror, type Route, type RouteOptions, type TlsCertificate, type ValueMatch } from '../../table/types.ts';
import { readTlsSecret } from '../tls.ts';
import { DEFAULT_ROUTE_OPTIONS } from '../annotations/index.ts';
import type { BackendResolver } from '../backends.ts';

/** Listener protocols Portico serves HTTPRoutes on: HTTP on its HTTP listener, HTTPS (terminated) on its HTTPS one. */
const ROUTE_PROTOCOLS = new Set(['HTTP', 'HTTPS']);
const FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror', 'CORS']);
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
/** The Gateway API features Portico implements, as the conformance suite names them (sorted, as the spec asks). */
const SUPPORTED_FEATURES: readonly string[] = [
  'Gateway', 'GatewayAddressEmpty', 'GatewayStaticAddresses', 'HTTPRoute', 'HTTPRoute303RedirectStatusCode', 'HTTPRoute307RedirectStatusCode', 'HTTPRoute308RedirectStatusCode',
  'HTTPRouteBackendProtocolWebSocket', 'HTTPRouteBackendRequestHeaderModification', 'HTTPRouteBackendTimeout', 'HTTPRouteCORS',
  'HTTPRouteHostRewrite', 'HTTPRouteMethodMatching', 'HTTPRouteNamedRouteRule', 'HTTPRoutePathRedirect', 'HTTPRoutePathRewrite',
  'HTTPRoutePortRedirect', 'HTTPRouteQueryParamMatching', 'HTTPRouteRequestMirror', 'HTTPRouteRequestMultipleMirrors',
  'HTTPRouteRequestPercentageMirror', 'HTTPRouteRequestTimeout', 'HTTPRouteResponseHeaderModification',
  'HTTPRouteSchemeRedirect', 'ReferenceGrant',
];
/** Gateway API routes are not ingress-nginx's: no HTTPS redirect, HSTS or body limit unless a filter says so. */
const GATEWAY_OPTIONS: RouteOptions = { ...DEFAULT_ROUTE_OPTIONS, sslRedirect: false, hsts: false, bodyLimit: Infinity };

export interface GatewayOptions {
  /** GatewayClass `spec.controllerName` served. */
  readonly controllerName: string;
  /**
   * `--gateway-addresses`: node addresses Portico gives Gateways, one each, oldest Gateway first,
   * so Gateways whose routes overlap are told apart by the address a request came to. Gateways
   * beyond the list (or all, without one) share every address Portico listens on.
   */
  readonly addresses?: readonly string[] | undefined;
}

/** What the HTTPRoutes attached to our Gateways contribute to the table: matches per host, in precedence order. */
export interface GatewayRoutes {
  /** Matches by host, for Gateways served on every address. */
  readonly hosts: ReadonlyMap<string, readonly GatewayMatch[]>;
  /** Matches by host, for Gateways with an address of their own, by that address. */
  readonly byAddress: ReadonlyMap<string, ReadonlyMap<string, readonly GatewayMatch[]>>;
  /** Certificates of HTTPS listeners: by listener hostname, and one for listeners without a hostname. */
  readonly tls: ReadonlyMap<string, TlsCertificate>;
  readonly defaultCertificate: TlsCertificate | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** What the leader writes to the objects' status (pure data; the controller adds the addresses). */
  readonly status: GatewayStatuses;
}

/** A condition as the Gateway API writes it, without times (the writer adds them when it changes). */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

export interface GatewayStatuses {
  /** GatewayClasses of our controller, by name, with the features Portico supports (status.supportedFeatures). */
  readonly classes: ReadonlyMap<string, { readonly generation: number; readonly conditions: readonly Condition[]; readonly supportedFeatures: readonly string[] }>;
  /** Our Gateways, by `namespace/name`; `address` when the Gateway has one of its own. */
  readonly gateways: ReadonlyMap<string, { readonly generation: number; readonly conditions: readonly Condition[]; readonly listeners: readonly ListenerStatus[]; readonly address: string | undefined }>;
  /** HTTPRoutes naming one of our Gateways, by `namespace/name`: one entry per such parentRef. */
  readonly routes: ReadonlyMap<string, { readonly generation: number; readonly parents: readonly RouteParentStatus[] }>;
}

export interface ListenerStatus {
  readonly name: string;
  readonly attachedRoutes: number;
  readonly supportedKinds: readonly { readonly group: string; readonly kind: string }[];
  readonly conditions: readonly Condition[];
}

export interface RouteParentStatus {
  readonly parentRef: ParentReference;
  readonly conditions: readonly Condition[];
}

interface AttachedListener {
  readonly gateway: Gateway;
  readonly listener: Listener;
}

interface Ranked {
  readonly match: GatewayMatch;
  /** Sort key parts, in the spec's order of precedence. */
  readonly exact: boolean;
  readonly pathLength: number;
  readonly regex: boolean;
  readonly method: boolean;
  readonly headers: number;
  readonly queryParams: number;
  readonly created: string;
  readonly key: string;
  readonly rule: number;
  readonly index: number;
}

/**
 * The HTTPRoute processor: GatewayClasses of our controller, their Gateways' HTTP and HTTPS
 * listeners, and the HTTPRoutes those listeners accept, read into compiled matches per host.
 * Pure, like the rest of build: the same snapshot gives the same matches and diagnostics.
 */
export function buildGatewayRoutes(snapshot: ObjectSnapshot, resolver: BackendResolver, options: GatewayOptions): GatewayRoutes {
  const diagnostics: Diagnostic[] = [];
  const ours = [...snapshot.gatewayClasses.values()].filter((c) => c.spec.controllerName === options.controllerName);
  const classes = new Set(ours.map((c) => c.metadata.name!));
  const gateways = new Map([...snapshot.gateways].filter(([, g]) => classes.has(g.spec.gatewayClassName)));
  const { addressOf, addressProblems } = assignAddresses(gateways, options.addresses ?? [], diagnostics);
  const attached = new Map<Listener, number>();
  const listenerProblems = new Map<Listener, Condition>();
  const tls = new Map<string, TlsCertificate>();
  let defaultCertificate: TlsCertificate | undefined;
  for (const [key, g] of gateways) {
    const gref: ObjectRef = { kind: 'Gateway', namespace: g.metadata.namespace, name: g.metadata.name! };
    g.spec.listeners.forEach((l, i) => {
      attached.set(l, 0);
      if (!ROUTE_PROTOCOLS.has(l.protocol)) diagnostics.push({ severity: 'Warning', code: 'UnsupportedGatewayFeature', object: gref, field: `spec.listeners[${i}].protocol`, message: `listener ${l.name} of ${key}: protocol ${l.protocol} is not served (HTTP and HTTPS only)` });
      const unsupported = (l.allowedRoutes?.kinds ?? []).filter((k) => (k.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || k.kind !== 'HTTPRoute');
      if (unsupported.length > 0) {
        listenerProblems.set(l, condition('ResolvedRefs', false, 'InvalidRouteKinds', `route kinds ${unsupported.map((k) => k.kind).join(', ')} are not served (HTTPRoute only)`));
      }
      if (l.protocol !== 'HTTPS') return;
      const certificate = listenerCertificate(l, g, snapshot, gref, `spec.listeners[${i}].tls`, diagnostics);
      if (typeof certificate !== 'string') {
        if (l.hostname) tls.set(l.hostname.toLowerCase(), certificate);
        else defaultCertificate ??= certificate;
      } else {
        listenerProblems.set(l, condition('ResolvedRefs', false, certificate, `listener ${l.name}: no usable certificate`));
      }
    });
  }
  const routeStatus = new Map<string, { generation: number; parents: RouteParentStatus[] }>();
  /** By address ('' for Gateways served on every address), then by host. */
  const ranked = new Map<string, Map<string, Ranked[]>>();
  const seen = new Set<string>();
  for (const [key, route] of snapshot.httpRoutes) {
    const ref: ObjectRef = { kind: 'HTTPRoute', namespace: route.metadata.namespace, name: route.metadata.name! };
    const parents = attachedListeners(route, gateways, snapshot, ref, diagnostics);
    if (parents.length === 0) continue;
    const refs: RefProblem[] = [];
    const status = { generation: route.metadata.generation ?? 0, parents: [] as RouteParentStatus[] };
    routeStatus.set(key, status);
    const listeners: (AttachedListener & { readonly hostnames: ReadonlySet<string> })[] = [];
    for (const parent of parents) {
      let reason = parent.reason;
      // A route attaches to (and counts in attachedRoutes of) the listeners it shares a hostname with.
      const sharing = parent.listeners.map((l) => ({ ...l, hostnames: effectiveHostnames(route, [l]) })).filter((l) => l.hostnames.size > 0);
      if (!reason && sharing.length === 0) reason = { reason: 'NoMatchingListenerHostname', message: 'no hostname of the route matches a hostname of the listeners' };
      if (!reason) {
        for (const l of sharing) {
          if (!addressProblems.has(l.gateway)) listeners.push(l); // a Gateway without its address is not served
          attached.set(l.listener, (attached.get(l.listener) ?? 0) + 1);
        }
      }
      status.parents.push({ parentRef: parent.ref, conditions: [
        reason ? condition('Accepted', false, reason.reason, reason.message) : condition('Accepted', true, 'Accepted', 'the route is attached'),
        // Filled in below, once the rules' references are read.
        condition('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved'),
      ] });
    }
    // The hostnames it is served on, per address its Gateways are served on.
    const byAddress = new Map<string, Set<string>>();
    for (const l of listeners) {
      const address = addressOf.get(l.gateway) ?? '';
      const names = byAddress.get(address) ?? new Set<string>();
      for (const h of l.hostnames) names.add(h);
      byAddress.set(address, names);
    }
    if (listeners.length === 0) {
      diagnostics.push({ severity: 'Warning', code: 'InvalidRouteParent', object: ref, field: 'spec.hostnames', message: 'no hostname of this route matches a hostname of the listeners it attaches to; not served' });
      continue;
    }
    (route.spec.rules ?? [{}]).forEach((rule, r) => {
      const compiled = compileRule(route, rule, r, ref, resolver, snapshot, diagnostics, refs);
      for (const [address, hostnames] of byAddress) {
        let hosts = ranked.get(address);
        if (!hosts) ranked.set(address, (hosts = new Map()));
        for (const host of hostnames) {
          for (const entry of compiled) {
            const id = `${address}\n${host}\n${key}\n${r}\n${entry.index}`;
            if (seen.has(id)) continue; // the same route through two listeners of one host
            seen.add(id);
            let list = hosts.get(host);
            if (!list) hosts.set(host, (list = []));
            list.push(entry);
          }
        }
      }
    });
    if (refs.length > 0) {
      const resolved = condition('ResolvedRefs', false, refs[0]!.reason, refs.map((p) => p.message).join('; '));
      for (const parent of status.parents) (parent.conditions as Condition[])[1] = resolved;
    }
  }
  const sorted = (byHost: Map<string, Ranked[]>) => new Map([...byHost].map(([host, list]) => [host, list.sort(byPrecedence).map((e) => e.match)] as const));
  const hosts = sorted(ranked.get('') ?? new Map());
  const byAddress = new Map([...ranked].filter(([address]) => address !== '').map(([address, byHost]) => [address, sorted(byHost)] as const));
  return { hosts, byAddress, tls, defaultCertificate, diagnostics, status: statuses(ours, gateways, addressOf, addressProblems, attached, listenerProblems, routeStatus) };
}

/**
 * An HTTPS listener's certificate: its first certificateRef, a kubernetes.io/tls Secret in the
 * Gateway's namespace or granted to it by a ReferenceGrant. Otherwise the reason, as the spec
 * names it for the listener's ResolvedRefs condition.
 */
function listenerCertificate(l: Listener, g: Gateway, snapshot: ObjectSnapshot, ref: ObjectRef, field: string, diagnostics: Diagnostic[]): TlsCertificate | 'InvalidCertificateRef' | 'RefNotPermitted' {
  const cert = l.tls?.certificateRefs?.[0];
  const warn = (message: string) => diagnostics.push({ severity: 'Warning', code: 'InvalidTLSSecret', object: ref, field, message: `listener ${l.name}: ${message}` });
  if ((l.tls?.mode ?? 'Terminate') !== 'Terminate' || !cert) {
    warn(l.tls?.mode === 'Passthrough' ? 'TLS passthrough is not supported' : 'an HTTPS listener needs a certificateRef');
    return 'InvalidCertificateRef';
  }
  if ((cert.group ?? '') !== '' || (cert.kind ?? 'Secret') !== 'Secret') {
    warn(`certificateRef kind ${cert.kind} is not a Secret`);
    return 'InvalidCertificateRef';
  }
  const namespace = cert.namespace ?? g.metadata.namespace!;
  if (namespace !== g.metadata.namespace && !grantedTo(snapshot, 'Gateway', g.metadata.namespace!, namespace, '', 'Secret', cert.name)) {
    warn(`Secret ${namespace}/${cert.name} is in another namespace and no ReferenceGrant there allows it`);
    return 'RefNotPermitted';
  }
  const read = readTlsSecret(snapshot.secrets.get(objectKey(namespace, cert.name)), objectKey(namespace, cert.name));
  if (typeof read === 'string') {
    warn(read);
    return 'InvalidCertificateRef';
  }
  return read;
}

/** A reference of a route that did not resolve: the first one sets ResolvedRefs False (the spec's reasons). */
interface RefProblem {
  readonly reason: 'BackendNotFound' | 'RefNotPermitted' | 'InvalidKind' | 'UnsupportedValue';
  readonly message: string;
}

function condition(type: string, ok: boolean, reason: string, message: string): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message };
}

/**
 * Node addresses for Gateways (`--gateway-addresses`), oldest Gateway first, so a new Gateway never
 * takes an older one's. A Gateway asking for an address (`spec.addresses`, type IPAddress) gets it
 * when it is on the list and not taken; one asking for none, or for an IPAddress without a value,
 * takes the next free one. Other address types are not supported (Accepted: False), and an
 * address Portico cannot give leaves the Gateway unprogrammed (AddressNotUsable).
 */
function assignAddresses(gateways: ReadonlyMap<string, Gateway>, pool: readonly string[], diagnostics: Diagnostic[]): { addressOf: Map<Gateway, string>; addressProblems: Map<Gateway, Condition> } {
  const addressOf = new Map<Gateway, string>();
  const addressProblems = new Map<Gateway, Condition>();
  const taken = new Set<string>();
  const oldestFirst = [...gateways].sort(([ka, a], [kb, b]) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) || ka.localeCompare(kb));
  const problem = (g: Gateway, key: string, c: Condition) => {
    addressProblems.set(g, c);
    diagnostics.push({ severity: 'Warning', code: 'UnsupportedGatewayFeature', object: { kind: 'Gateway', namespace: g.metadata.namespace, name: g.metadata.name! }, field: 'spec.addresses', message: `${key}: ${c.message}; the Gateway is not served` });
  };
  for (const [key, g] of oldestFirst) {
    const requested = g.spec.addresses ?? [];
    const unsupported = requested.find((a) => (a.type ?? 'IPAddress') !== 'IPAddress');
    if (unsupported) {
      problem(g, key, condition('Accepted', false, 'UnsupportedAddress', `address type ${unsupported.type} is not supported (IPAddress only)`));
      continue;
    }
    const named = requested.filter((a) => a.value).map((a) => a.value!);
    if (named.length === 0) {
      const free = pool.find((a) => !taken.has(a));
      if (free !== undefined) {
        addressOf.set(g, free);
        taken.add(free);
      }
      continue;
    }
    const wanted = named[0]!;
    if (named.length > 1 || !pool.includes(wanted) || taken.has(wanted)) {
      problem(g, key, condition('Programmed', false, 'AddressNotUsable', named.length > 1
        ? 'Portico gives a Gateway one address'
        : `${wanted} is ${pool.includes(wanted) ? 'taken by an older Gateway' : 'not one of the addresses Portico was given (--gateway-addresses)'}`));
      continue;
    }
    addressOf.set(g, wanted);
    taken.add(wanted);
  }
  return { addressOf, addressProblems };
}

function statuses(ours: readonly GatewayClass[], gateways: ReadonlyMap<string, Gateway>, addressOf: ReadonlyMap<Gateway, string>, addressProblems: ReadonlyMap<Gateway, Condition>, attached: ReadonlyMap<Listener, number>, problems: ReadonlyMap<Listener, Condition>, routes: Map<string, { generation: number; parents: RouteParentStatus[] }>): GatewayStatuses {
  const classes = new Map(ours.map((c) => [c.metadata.name!, { generation: c.metadata.generation ?? 0, conditions: [condition('Accepted', true, 'Accepted', 'handled by Portico')], supportedFeatures: SUPPORTED_FEATURES }]));
  const byGateway = new Map([...gateways].map(([key, g]) => {
    const listeners = g.spec.listeners.map((l): ListenerStatus => {
      const served = ROUTE_PROTOCOLS.has(l.protocol);
      const problem = problems.get(l);
      const kinds = l.allowedRoutes?.kinds;
      const supportsRoutes = served && (!kinds || kinds.length === 0 || kinds.some((k) => (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && k.kind === 'HTTPRoute'));
      return {
        name: l.name, attachedRoutes: attached.get(l) ?? 0,
        supportedKinds: supportsRoutes ? [{ group: GATEWAY_GROUP, kind: 'HTTPRoute' }] : [],
        conditions: !served
          ? [condition('Accepted', false, 'UnsupportedProtocol', `protocol ${l.protocol} is not served (HTTP and HTTPS only)`), condition('Programmed', false, 'Invalid', 'listener not served'), condition('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved'), condition('Conflicted', false, 'NoConflicts', 'no conflicts')]
          : problem
            ? [condition('Accepted', true, 'Accepted', 'listener accepted'),
              // A listener still routes HTTPRoutes when only some of its route kinds are unknown; a missing certificate stops it.
              problem.reason === 'InvalidRouteKinds' && supportsRoutes ? condition('Programmed', true, 'Programmed', 'listener served') : condition('Programmed', false, 'Invalid', problem.message),
              problem, condition('Conflicted', false, 'NoConflicts', 'no conflicts')]
            : [condition('Accepted', true, 'Accepted', 'listener accepted'), condition('Programmed', true, 'Programmed', 'listener served'), condition('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved'), condition('Conflicted', false, 'NoConflicts', 'no conflicts')],
      };
    });
    // The spec's reasons: a Gateway with no valid listener is not accepted; one with some is, saying so.
    const valid = listeners.filter((l) => l.conditions.some((c) => c.type === 'Accepted' && c.status === 'True')).length;
    const programmed = listeners.some((l) => l.conditions.some((c) => c.type === 'Programmed' && c.status === 'True'));
    const addressProblem = addressProblems.get(g);
    const accepted = addressProblem?.type === 'Accepted' ? addressProblem
      : valid === listeners.length ? condition('Accepted', true, 'Accepted', 'accepted by Portico')
        : condition('Accepted', valid > 0, 'ListenersNotValid', `${listeners.length - valid} of ${listeners.length} listeners are not valid`);
    const conditions = [
      accepted,
      addressProblem ? (addressProblem.type === 'Programmed' ? addressProblem : condition('Programmed', false, 'Invalid', 'the Gateway is not accepted'))
        : programmed ? condition('Programmed', true, 'Programmed', 'served by Portico') : condition('Programmed', false, 'Invalid', 'no listener is served'),
    ];
    return [key, { generation: g.metadata.generation ?? 0, conditions, listeners, address: addressOf.get(g) }] as const;
  }));
  return { classes, gateways: byGateway, routes };
}

/** One parentRef of a route naming one of our Gateways: the listeners that take the route, or why none does. */
interface Parent {
  readonly ref: ParentReference;
  readonly listeners: readonly AttachedListener[];
  readonly reason: { readonly reason: string; readonly message: string } | undefined;
}

/** The route's parentRefs that name our Gateways, each with the listeners that accept it. */
function attachedListeners(route: HTTPRoute, gateways: ReadonlyMap<string, Gateway>, snapshot: ObjectSnapshot, ref: ObjectRef, diagnostics: Diagnostic[]): Parent[] {
  const out: Parent[] = [];
  const namespace = route.metadata.namespace!;
  (route.spec.parentRefs ?? []).forEach((parent, i) => {
    if ((parent.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (parent.kind ?? 'Gateway') !== 'Gateway') return;
    const gateway = gateways.get(objectKey(parent.namespace ?? namespace, parent.name));
    if (!gateway) return; // another controller's Gateway, or none: not ours to report
    const field = `spec.parentRefs[${i}]`;
    const name = objectKey(gateway.metadata.namespace, gateway.metadata.name!);
    const candidates = gateway.spec.listeners.filter((l) => ROUTE_PROTOCOLS.has(l.protocol)
      && (parent.sectionName === undefined || l.name === parent.sectionName) && (parent.port === undefined || l.port === parent.port));
    if (candidates.length === 0) {
      const message = `Gateway ${name} has no HTTP or HTTPS listener${parent.sectionName ? ` named ${parent.sectionName}` : ''}${parent.port ? ` on port ${parent.port}` : ''}`;
      diagnostics.push({ severity: 'Warning', code: 'InvalidRouteParent', object: ref, field, message });
      out.push({ ref: parent, listeners: [], reason: { reason: 'NoMatchingParent', message } });
      return;
    }
    const allowed = candidates.filter((l) => allows(l, gateway, namespace, snapshot));
    if (allowed.length === 0) {
      const message = `no listener of Gateway ${name} allows HTTPRoutes from namespace ${namespace}`;
      diagnostics.push({ severity: 'Warning', code: 'InvalidRouteParent', object: ref, field, message });
      out.push({ ref: parent, listeners: [], reason: { reason: 'NotAllowedByListeners', message } });
      return;
    }
    out.push({ ref: parent, listeners: allowed.map((listener) => ({ gateway, listener })), reason: undefined });
  });
  return out;
}

/** allowedRoutes: the route's kind, and its namespace (Same by default, All, or those a label selector picks). */
function allows(listener: Listener, gateway: Gateway, routeNamespace: string, snapshot: ObjectSnapshot): boolean {
  const kinds = listener.allowedRoutes?.kinds;
  if (kinds && kinds.length > 0 && !kinds.some((k) => (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && k.kind === 'HTTPRoute')) return false;
  const namespaces = listener.allowedRoutes?.namespaces;
  const from = namespaces?.from ?? 'Same';
  if (from === 'Selector') return selects(namespaces?.selector, snapshot.namespaces.get(routeNamespace)?.metadata?.labels ?? {});
  return from === 'All' || (from === 'Same' && gateway.metadata.namespace === routeNamespace);
}

/** A Kubernetes label selector: every matchLabels pair and matchExpression holds (an empty selector selects all). */
function selects(selector: V1LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const value = labels[e.key];
    const ok = e.operator === 'In' ? value !== undefined && (e.values ?? []).includes(value)
      : e.operator === 'NotIn' ? value === undefined || !(e.values ?? []).includes(value)
        : e.operator === 'Exists' ? value !== undefined
          : e.operator === 'DoesNotExist' ? value === undefined : false;
    if (!ok) return false;
  }
  return true;
}

/**
 * The hostnames a route is served on: the intersection of its hostnames with each listener's
 * (a `*.example.com` on either side matches names under it, and the more specific one is kept);
 * `*` when neither names any.
 */
function effectiveHostnames(route: HTTPRoute, listeners: readonly AttachedListener[]): Set<string> {
  const out = new Set<string>();
  const names = (route.spec.hostnames ?? []).map((h) => h.toLowerCase());
  for (const { listener } of listeners) {
    const l = listener.hostname?.toLowerCase();
    if (names.length === 0) {
      out.add(l ?? '*');
      continue;
    }
    for (const h of names) {
      if (l === undefined || h === l || covers(l, h)) out.add(h);
      else if (covers(h, l)) out.add(l);
    }
  }
  return out;
}

/** Whether wildcard `pattern` (`*.example.com`) covers `name` (which may itself be a wildcard). */
function covers(pattern: string, name: string): boolean {
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1); // `.example.com`
  return name.length > suffix.length && name.endsWith(suffix) && !(name.startsWith('*.') && name.length - 1 <= suffix.length);
}

function compileRule(route: HTTPRoute, rule: HTTPRouteRule, r: number, ref: ObjectRef, resolver: BackendResolver, snapshot: ObjectSnapshot, diagnostics: Diagnostic[], refs: RefProblem[]): Ranked[] {
  const field = `spec.rules[${r}]`;
  const namespace = route.metadata.namespace!;
  const routeKey = objectKey(namespace, route.metadata.name!);
  let unsupported = false;
  for (const [i, f] of (rule.filters ?? []).entries()) {
    if (!FILTERS.has(f.type)) {
      unsupported = true;
      diagnostics.push({ severity: 'Warning', code: 'UnsupportedGatewayFeature', object: ref, field: `${field}.filters[${i}]`, message: `filter ${f.type} is not supported; the rule answers 500 rather than skip it` });
    }
  }
  const redirectFilter = rule.filters?.find((f) => f.type === 'RequestRedirect')?.requestRedirect;
  const choice = unsupported ? UNRESOLVED : redirectFilter ? undefined : backendChoice(rule.backendRefs ?? [], namespace, ref, `${field}.backendRefs`, resolver, snapshot, diagnostics, refs);
  const main = (choice?.kind === 'weighted' ? choice.backends.find((b) => b.backend)?.backend : undefined) ?? placeholder(namespace);
  const options = timeoutOptions(rule.timeouts, ref, `${field}.timeouts`, diagnostics);
  const mirrors = unsupported || redirectFilter ? undefined : requestMirrors(rule.filters ?? [], namespace, ref, `${field}.filters`, resolver, snapshot, diagnostics, refs);
  const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
  const out: Ranked[] = [];
  matches.forEach((m, index) => {
    const path = compilePath(m, ref, `${field}.matches[${index}].path`, diagnostics);
    if (!path) return;
    const headers = compileValues(m.headers, true, ref, `${field}.matches[${index}].headers`, diagnostics);
    const queryParams = compileValues(m.queryParams, false, ref, `${field}.matches[${index}].queryParams`, diagnostics);
    if (!headers || !queryParams) return;
    const matched = path.type === 'PathPrefix' ? path.value || '/' : path.value;
    const steps = stepsOf(rule.filters ?? [], path.type === 'PathPrefix' ? matched : undefined, redirectFilter);
    const pathType: PathType = path.type === 'Exact' ? 'Exact' : path.type === 'PathPrefix' ? 'Prefix' : 'ImplementationSpecific';
    const built: Route = { ingress: routeKey, host: '', path: path.type === 'PathPrefix' ? matched : path.value, pathType, backend: main, choice: choice ?? { kind: 'single' }, options, steps, ...(mirrors ? { mirrors } : {}) };
    const method = m.method?.toUpperCase();
    out.push({
      match: { route: built, path, method, headers, queryParams },
      exact: path.type === 'Exact', regex: path.type === 'RegularExpression', pathLength: path.value.length,
      method: method !== undefined, headers: headers.length, queryParams: queryParams.length,
      created: String(route.metadata.creationTimestamp ?? ''), key: routeKey, rule: r, index,
    });
  });
  return out;
}

const UNRESOLVED: BackendChoice = { kind: 'weighted', backends: [{ backend: undefined, weight: 1 }], total: 1 };

/** A route's backendRefs by weight: Services only; a missing one, or one in another namespace without a ReferenceGrant, answers 500 for its share. */
function backendChoice(backendRefs: readonly HTTPBackendRef[], namespace: string, ref: ObjectRef, field: string, resolver: BackendResolver, snapshot: ObjectSnapshot, diagnostics: Diagnostic[], refs: RefProblem[]): BackendChoice {
  if (backendRefs.length === 0) return UNRESOLVED; // no backend at all: 500, as the spec says
  const backends = backendRefs.map((b, i) => {
    const weight = b.weight ?? 1;
    const at = `${field}[${i}]`;
    const unsupported = (b.filters ?? []).findIndex((f) => f.type !== 'RequestHeaderModifier');
    if (unsupported >= 0) {
      diagnostics.push({ severity: 'Warning', code: 'UnsupportedGatewayFeature', object: ref, field: `${at}.filters[${unsupported}]`, message: `filter ${b.filters![unsupported]!.type} on a backendRef is not supported (RequestHeaderModifier is); its share of requests gets 500` });
      refs.push({ reason: 'UnsupportedValue', message: `${at}: backendRef filter ${b.filters![unsupported]!.type} is not supported` });
      return { backend: undefined, weight };
    }
    const backend = resolveBackendRef(b, namespace, ref, at, 'its share of requests gets 500', resolver, snapshot, diagnostics, refs);
    const requestHeaders = headerChange(b.filters?.find((f) => f.type === 'RequestHeaderModifier')?.requestHeaderModifier);
    return backend && requestHeaders ? { backend, weight, requestHeaders } : { backend, weight };
  });
  return { kind: 'weighted', backends, total: backends.reduce((n, b) => n + b.weight, 0) };
}

/** A rule's RequestMirror filters; one whose backend does not resolve is reported and left out (the rule still serves). */
function requestMirrors(filters: readonly HTTPRouteFilter[], namespace: string, ref: ObjectRef, field: string, resolver: BackendResolver, snapshot: ObjectSnapshot, diagnostics: Diagnostic[], refs: RefProblem[]): RequestMirror[] | undefined {
  const mirrors: RequestMirror[] = [];
  filters.forEach((f, i) => {
    if (f.type !== 'RequestMirror' || !f.requestMirror) return;
    const at = `${field}[${i}].requestMirror`;
    const { backendRef, percent, fraction } = f.requestMirror;
    const backend = resolveBackendRef(backendRef, namespace, ref, `${at}.backendRef`, 'no request is mirrored to it', resolver, snapshot, diagnostics, refs);
    if (!backend) return;
    const share = percent ?? (fraction ? (100 * fraction.numerator) / (fraction.denominator ?? 100) : 100);
    if (!(share >= 0 && share <= 100)) {
      diagnostics.push({ severity: 'Warning', code: 'InvalidBackend', object: ref, field: at, message: `a mirrored share of ${share}% is not between 0 and 100; no request is mirrored` });
      return;
    }
    mirrors.push({ backend, percent: share });
  });
  return mirrors.length > 0 ? mirrors : undefined;
}

/** One backendRef as a Service's Backend, or undefined (reported, with the spec's ResolvedRefs reason) when it cannot be used. */
function resolveBackendRef(b: HTTPBackendRef, namespace: string, ref: ObjectRef, at: string, consequence: string, resolver: BackendResolver, snapshot: ObjectSnapshot, diagnostics: Diagnostic[], refs: RefProblem[]): Backend | undefined {
  if ((b.group ?? '') !== '' || (b.kind ?? 'Service') !== 'Service') {
    diagnostics.push({ severity: 'Warning', code: 'InvalidBackend', object: ref, field: at, message: `backendRef kind ${b.group ? `${b.group}/` : ''}${b.kind} is not supported (Services only); ${consequence}` });
    refs.push({ reason: 'InvalidKind', message: `${at}: kind ${b.kind} is not supported` });
    return undefined;
  }
  const target = b.namespace ?? namespace;
  if (target !== namespace && !grantedTo(snapshot, 'HTTPRoute', namespace, target, '', 'Service', b.name)) {
    diagnostics.push({ severity: 'Warning', code: 'RefNotPermitted', object: ref, field: at, message: `Service ${target}/${b.name} is in another namespace and no ReferenceGrant there allows it; ${consequence}` });
    refs.push({ reason: 'RefNotPermitted', message: `${at}: Service ${target}/${b.name} is not granted to this namespace` });
    return undefined;
  }
  if (!snapshot.services.has(objectKey(target, b.name))) {
    diagnostics.push({ severity: 'Warning', code: 'ServiceNotFound', object: ref, field: at, message: `Service ${target}/${b.name} not found; ${consequence}` });
    refs.push({ reason: 'BackendNotFound', message: `${at}: Service ${target}/${b.name} not found` });
    return undefined;
  }
  if (b.port === undefined) {
    diagnostics.push({ severity: 'Warning', code: 'ServicePortNotFound', object: ref, field: `${at}.port`, message: `backendRef to Service ${target}/${b.name} names no port; ${consequence}` });
    refs.push({ reason: 'UnsupportedValue', message: `${at}: no port` });
    return undefined;
  }
  return resolver.resolve(target, { name: b.name, port: { number: b.port } }, false, ref, at, diagnostics);
}

/** A ReferenceGrant in `target` lets objects of `fromKind` in `from` refer to this object (or to every one of its kind). */
function grantedTo(snapshot: ObjectSnapshot, fromKind: string, from: string, target: string, toGroup: string, toKind: string, name: string): boolean {
  for (const grant of snapshot.referenceGrants.values()) {
    if (grant.metadata.namespace !== target) continue;
    const fromOk = grant.spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === fromKind && f.namespace === from);
    const toOk = grant.spec.to.some((t) => (t.group ?? '') === toGroup && t.kind === toKind && (t.name === undefined || t.name === name));
    if (fromOk && toOk) return true;
  }
  return false;
}

/** The Backend a route reports in metrics when it forwards nowhere (a redirect, or no backend). */
function placeholder(namespace: string): Backend {
  return { id: '', namespace, service: '', port: '', endpoints: [], unready: [], affinityTimeoutMs: undefined };
}

function compilePath(m: HTTPRouteMatch, ref: ObjectRef, field: string, diagnostics: Diagnostic[]): GatewayMatch['path'] | undefined {
  const type = m.path?.type ?? 'PathPrefix';
  const value = m.path?.value ?? '/';
  if (!value.startsWith('/')) {
    diagnostics.push({ severity: 'Warning', code: 'InvalidRouteMatch', object: ref, field, message: `path "${value}" does not start with /; match skipped` });
    return undefined;
  }
  if (type === 'Exact') return { type, value };
  if (type === 'PathPrefix') return { type, value: value.replace(/\/+$/, '') };
  const regex = anchored(value, ref, field, diagnostics);
  return regex && { type: 'RegularExpression', value, regex };
}

function compileValues(list: readonly { type?: string; name: string; value: string }[] | undefined, header: boolean, ref: ObjectRef, field: string, diagnostics: Diagnostic[]): ValueMatch[] | undefined {
  const out: ValueMatch[] = [];
  const names = new Set<string>();
  for (const [i, v] of (list ?? []).entries()) {
    const name = header ? v.name.toLowerCase() : v.name;
    if (names.has(name)) continue; // the spec: a repeated name's first entry counts
    names.add(name);
    if ((v.type ?? 'Exact') === 'Exact') {
      out.push({ name, exact: v.value, regex: undefined });
      continue;
    }
    const regex = anchored(v.value, ref, `${field}[${i}].value`, diagnostics);
    if (!regex) return undefined;
    out.push({ name, exact: undefined, regex });
  }
  return out;
}

/** RE2, matching the whole value. */
function anchored(source: string, ref: ObjectRef, field: string, diagnostics: Diagnostic[]): RE2 | undefined {
  try {
    new RE2(source);
    return new RE2(`^(?:${source})$`);
  } catch (err) {
    diagnostics.push({ severity: 'Warning', code: 'InvalidRouteMatch', object: ref, field, message: `"${source}" is not a regular expression RE2 accepts (${(err as Error).message}); match skipped` });
    return undefined;
  }
}

/** The rule's filters as request steps; `prefix` is what a ReplacePrefixMatch replaces. */
function stepsOf(filters: readonly HTTPRouteFilter[], prefix: string | undefined, redirect: HTTPRouteFilter['requestRedirect']): RequestStep[] {
  const steps: RequestStep[] = [];
  if (redirect) {
    const r: GatewayRedirect = {
      scheme: redirect.scheme, hostname: redirect.hostname, port: redirect.port,
      path: pathChange(redirect.path, prefix), code: REDIRECT_CODES.has(redirect.statusCode ?? 302) ? redirect.statusCode ?? 302 : 302,
    };
    steps.push({ kind: 'gateway-redirect', redirect: r });
  }
  const cors = filters.find((f) => f.type === 'CORS')?.cors;
  if (cors) steps.push({ kind: 'gateway-cors', policy: corsPolicy(cors) });
  const request = headerChange(filters.find((f) => f.type === 'RequestHeaderModifier')?.requestHeaderModifier);
  const response = headerChange(filters.find((f) => f.type === 'ResponseHeaderModifier')?.responseHeaderModifier);
  const rewrite = filters.find((f) => f.type === 'URLRewrite')?.urlRewrite;
  if (request || response || rewrite) {
    const modify: GatewayModify = { request, response, hostname: rewrite?.hostname, path: pathChange(rewrite?.path, prefix) };
    steps.push({ kind: 'gateway-modify', modify });
  }
  return steps.sort((a, b) => STEP_ORDER.indexOf(a.kind) - STEP_ORDER.indexOf(b.kind));
}

/** The CORS filter's lists as the data plane reads them; the spec's default max age is 5 s. */
function corsPolicy(cors: NonNullable<HTTPRouteFilter['cors']>): GatewayCorsPolicy {
  const origins = (cors.allowOrigins ?? []).map((o) => o.toLowerCase());
  const wildcards = origins.map((o) => /^([a-z][a-z0-9+.-]*:\/\/)\*(\..+)$/.exec(o)).filter((m) => m !== null);
  return {
    anyOrigin: origins.includes('*'),
    origins: new Set(origins.filter((o) => !o.includes('*'))),
    wildcardOrigins: wildcards.map((m) => ({ scheme: m[1]!, suffix: m[2]! })),
    allowMethods: headerList(cors.allowMethods),
    allowHeaders: headerList(cors.allowHeaders),
    exposeHeaders: headerList(cors.exposeHeaders),
    allowCredentials: cors.allowCredentials ?? false,
    maxAge: String(cors.maxAge ?? 5),
  };
}

/** A CORS list as its header value: `*` alone when it holds `*` (the spec allows it only alone). */
function headerList(list: readonly string[] | undefined): string {
  return list?.includes('*') ? '*' : (list ?? []).join(', ');
}

function pathChange(m: HTTPPathModifier | undefined, prefix: string | undefined): GatewayPathChange | undefined {
  if (!m) return undefined;
  if (m.type === 'ReplaceFullPath') return { type: 'full', path: m.replaceFullPath ?? '/' };
  // ReplacePrefixMatch needs a PathPrefix match; on another it replaces nothing.
  return prefix === undefined ? undefined : { type: 'prefix', matched: prefix.replace(/\/$/, ''), replacement: m.replacePrefixMatch ?? '/' };
}

function headerChange(m: HTTPHeaderModifier | undefined): GatewayHeaderChange | undefined {
  if (!m) return undefined;
  const pairs = (list: { name: string; value: string }[] | undefined) => (list ?? []).map((h) => [h.name.toLowerCase(), h.value] as const);
  return { set: pairs(m.set), add: pairs(m.add), remove: (m.remove ?? []).map((n) => n.toLowerCase()) };
}

/**
 * A rule's `timeouts`: how long Portico waits for the pod's answer (and between its reads, and to
 * send it the body), the shorter of `request` and `backendRequest`. With `request` set, a timed-out
 * attempt is not retried on another endpoint, so the wait stays within what the route allows.
 * `0s` is no timeout; a value the spec's format does not allow is reported and ignored.
 */
function timeoutOptions(timeouts: HTTPRouteRule['timeouts'], ref: ObjectRef, field: string, diagnostics: Diagnostic[]): RouteOptions {
  if (!timeouts) return GATEWAY_OPTIONS;
  const read = (name: 'request' | 'backendRequest'): number | undefined => {
    const text = timeouts[name];
    if (text === undefined) return undefined;
    const ms = durationMs(text);
    if (ms === undefined) diagnostics.push({ severity: 'Warning', code: 'InvalidTimeout', object: ref, field: `${field}.${name}`, message: `"${text}" is not a Gateway API duration (like 500ms, 10s, 1m30s); no timeout of Portico's own applies` });
    return ms;
  };
  const request = read('request');
  const backendRequest = read('backendRequest');
  if (request === undefined && backendRequest === undefined) return GATEWAY_OPTIONS;
  const timeoutMs = Math.min(request ?? MAX_TIMER_MS, backendRequest ?? MAX_TIMER_MS);
  const nextUpstream = request === undefined ? GATEWAY_OPTIONS.nextUpstream : { ...GATEWAY_OPTIONS.nextUpstream, onTimeout: false };
  return { ...GATEWAY_OPTIONS, readTimeoutMs: timeoutMs, sendTimeoutMs: timeoutMs, nextUpstream };
}

/** Gateway API durations (`10s`, `1m30s`, `500ms`, `1h`: up to four number-unit pairs); `0s`, no timeout, is the longest timer. */
function durationMs(text: string): number | undefined {
  if (!/^(?:\d{1,5}(?:h|m|s|ms)){1,4}$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|h|m|s)/g)) total += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  return total === 0 ? MAX_TIMER_MS : Math.min(total, MAX_TIMER_MS);
}

/** The spec's precedence: Exact, then the longest path, then method, header and query matches; then the oldest route, its name, rule and match order. */
function byPrecedence(a: Ranked, b: Ranked): number {
  return Number(b.exact) - Number(a.exact)
    || b.pathLength - a.pathLength
    || Number(a.regex) - Number(b.regex)
    || Number(b.method) - Number(a.method)
    || b.headers - a.headers
    || b.queryParams - a.queryParams
    || (a.created < b.created ? -1 : a.created > b.created ? 1 : 0)
    || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    || a.rule - b.rule
    || a.index - b.index;
}
