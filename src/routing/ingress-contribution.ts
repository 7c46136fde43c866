import type { V1Ingress, V1IngressBackend, V1Secret } from '@kubernetes/client-node';
import type { Diagnostic, ObjectRef } from '../diagnostics.ts';
import type { ObjectSnapshot } from '../snapshot.ts';
import { objectKey } from '../snapshot.ts';
import type { Backend, BackendChoice, Balancing, CanaryRules, PathType, Route, RouteOptions, TlsCertificate } from '../table/types.ts';
import type { RequestStep } from '../table/steps.ts';
import { NGINX_PREFIX, PORTICO_PREFIX, settingsIgnoredOnCanary, type ParsedAnnotations } from './annotations/index.ts';
import type { BackendResolver } from './backends.ts';
import { readTlsSecret } from './tls.ts';

/** Rules without a host are grouped under this key. */
export const ANY_HOST = '*';
export const SINGLE: BackendChoice = Object.freeze({ kind: 'single' });
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
export interface Candidate extends IngressPath {
  options: RouteOptions;
  steps: readonly RequestStep[];
  regexMode: boolean;
}

/** A path of a canary Ingress: an alternative backend for the same path of another Ingress. */
export interface CanaryCandidate extends IngressPath {
  rules: CanaryRules;
  balancing: Balancing;
}

/** What a host's routes are built from: one rule (most hosts), or every rule naming it, oldest Ingress first. */
export interface HostParts {
  readonly candidates: readonly Candidate[];
  readonly canaries: readonly CanaryCandidate[];
  /** The `spec.defaultBackend` of the oldest Ingress with one naming this host. */
  readonly fallback: Route | undefined;
  readonly appRoot: string | undefined;
}

/** What one rule of an Ingress adds to its host. */
export interface RuleContribution extends HostParts {
  readonly host: string;
  /** `server-alias` names (named hosts of ordinary Ingresses only). */
  readonly aliases: readonly string[];
  readonly fromToWww: boolean;
}

/**
 * Everything one Ingress adds to the table, read without looking at any other Ingress: its
 * routes per rule, its default backend, its TLS hosts and its own diagnostics. Which of these
 * win (the oldest Ingress claims a path, a host's fallback, a TLS host) is decided when the
 * contributions are put together. Kept between builds while what it read is unchanged.
 */
export interface IngressContribution {
  /** The parsed annotations it was made from. */
  readonly parsed: ParsedAnnotations;
  /** Every backend it resolved, to tell whether they are still what the snapshot resolves to. */
  readonly backends: readonly Backend[];
  /** The Secrets its TLS entries read, and what was found. */
  readonly secretsRead: readonly { readonly key: string; readonly found: V1Secret | undefined }[];
  readonly diagnostics: readonly Diagnostic[];
  /** `spec.defaultBackend` of an ordinary Ingress, as a route for any host. */
  readonly defaultRoute: Route | undefined;
  readonly rules: readonly RuleContribution[];
  /** `spec.tls[]` hosts (lower case) in order, with the certificate to serve or none (the default one). */
  readonly tlsHosts: readonly { readonly host: string; readonly certificate: TlsCertificate | undefined }[];
  readonly tlsDiagnostics: readonly Diagnostic[];
}

/** The contribution of one Ingress of ours, `parsed` being its annotations as this build reads them. */
export function contributionOf(ingress: V1Ingress, ref: ObjectRef, parsed: ParsedAnnotations, resolver: BackendResolver, snapshot: ObjectSnapshot): IngressContribution {
  const name = `${ref.namespace}/${ref.name}`;
  const namespace = ref.namespace!;
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  const backends: Backend[] = [];
  const canary = parsed.backend.canary;
  if (canary) {
    const ignored = settingsIgnoredOnCanary(ingress.metadata?.annotations);
    if (ignored.length > 0) diagnostics.push({ severity: 'Warning', code: 'InvalidAnnotation', object: ref, field: 'metadata.annotations', message: `a canary Ingress takes its settings from the Ingress it is a canary for: ${ignored.join(', ')} ignored` });
  }
  const resolved = (backend: Backend): Backend => {
    if (!backends.includes(backend)) backends.push(backend);
    return backend;
  };
  const resolveBackend = (b: V1IngressBackend | undefined, field: string): Backend | undefined => {
    if (!b?.service?.name) {
      diagnostics.push({ severity: 'Warning', code: 'InvalidBackend', object: ref, field, message: b?.resource ? 'resource backends are not supported; path ignored' : 'backend has no service; path ignored' });
      return undefined;
    }
    return resolved(resolver.resolve(namespace, b.service, parsed.backend.serviceUpstream, ref, `${field}.service`, diagnostics));
  };
  // default-backend: its Service's first port, resolved once for every path of the Ingress.
  const defaultBackendService = parsed.backend.defaultBackendService;
  const defaultBackendKey = `${PORTICO_PREFIX}default-backend` in (ingress.metadata?.annotations ?? {}) ? `${PORTICO_PREFIX}default-backend` : `${NGINX_PREFIX}default-backend`;
  const routeOptions: RouteOptions = defaultBackendService === undefined ? parsed.route
    : { ...parsed.route, defaultBackend: resolved(resolver.resolveFirstPort(namespace, defaultBackendService, ref, `metadata.annotations[${defaultBackendKey}]`, diagnostics)) };

  let defaultRoute: Route | undefined;
  if (ingress.spec?.defaultBackend && !canary) {
    const backend = resolveBackend(ingress.spec.defaultBackend, 'spec.defaultBackend');
    if (backend) defaultRoute = { ingress: name, host: ANY_HOST, path: '/', pathType: 'Prefix', backend, choice: SINGLE, options: routeOptions, steps: parsed.steps };
  }

  const rules: RuleContribution[] = [];
  (ingress.spec?.rules ?? []).forEach((rule, ruleIndex) => {
    const ruleField = `spec.rules[${ruleIndex}]`;
    const host = (rule.host ?? '').toLowerCase() || ANY_HOST;
    if (host !== ANY_HOST && !HOST.test(host)) {
      diagnostics.push({ severity: 'Warning', code: 'InvalidHost', object: ref, field: `${ruleField}.host`, message: `"${rule.host}" is not a valid host name or one-label wildcard (*.example.com); rule ignored` });
      return;
    }
    const named = host !== ANY_HOST && !host.startsWith('*.') && !canary;
    const candidates: Candidate[] = [];
    const canaries: CanaryCandidate[] = [];
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
        const { affinity, upstreamHash, loadBalance } = parsed.route;
        canaries.push({ ingress: name, ref, field, path: p.path || '/', pathType, backend, rules: canary, balancing: { affinity, upstreamHash, loadBalance } });
        return;
      }
      candidates.push({ ingress: name, ref, field, path: p.path || '/', pathType, backend, options: routeOptions, steps: parsed.steps, regexMode: parsed.host.regexMode });
    });
    rules.push({
      host,
      candidates,
      canaries,
      fallback: defaultRoute && { ...defaultRoute, host },
      appRoot: canary ? undefined : parsed.host.appRoot,
      aliases: named ? parsed.host.serverAliases : [],
      fromToWww: named && parsed.host.fromToWwwRedirect,
    });
  });

  const tls = tlsHostsOf(ingress, ref, snapshot);
  return { parsed, backends, secretsRead: tls.secretsRead, diagnostics, defaultRoute, rules, tlsHosts: tls.hosts, tlsDiagnostics: tls.diagnostics };
}

/**
 * Each `spec.tls[]` entry maps its hosts to a Secret of the same namespace. A host whose
 * Secret is unusable keeps its entry (it still counts as a TLS host for ssl-redirect) and is
 * served the default certificate.
 */
function tlsHostsOf(ingress: V1Ingress, ref: ObjectRef, snapshot: ObjectSnapshot): Pick<IngressContribution, 'secretsRead'> & { hosts: IngressContribution['tlsHosts']; diagnostics: Diagnostic[] } {
  const hosts: { host: string; certificate: TlsCertificate | undefined }[] = [];
  const secretsRead: { key: string; found: V1Secret | undefined }[] = [];
  const diagnostics: Diagnostic[] = [];
  (ingress.spec?.tls ?? []).forEach((entry, index) => {
    const field = `spec.tls[${index}]`;
    if (!entry.hosts?.length) {
      diagnostics.push({ severity: 'Warning', code: 'InvalidTLS', object: ref, field: `${field}.hosts`, message: 'a TLS entry without hosts is not supported; ignored' });
      return;
    }
    let certificate: TlsCertificate | undefined;
    if (entry.secretName) {
      const key = objectKey(ref.namespace, entry.secretName);
      const found = snapshot.secrets.get(key);
      secretsRead.push({ key, found });
      const result = readTlsSecret(found, key);
      if (typeof result === 'string') {
        diagnostics.push({ severity: 'Warning', code: 'InvalidTLSSecret', object: ref, field: `${field}.secretName`, message: `${result}; the default certificate is served for ${entry.hosts.join(', ')}` });
      } else {
        certificate = result;
      }
    }
    for (const host of entry.hosts) hosts.push({ host: host.toLowerCase(), certificate });
  });
  return { hosts, secretsRead, diagnostics };
}
