import type { Diagnostic, ObjectRef } from '../../diagnostics.ts';
import type { RouteOptions } from '../../table/types.ts';
import { STEP_ORDER, type RequestStep } from '../../table/steps.ts';
import { access } from './access.ts';
import { affinity } from './affinity.ts';
import { basicAuth } from './basic-auth.ts';
import { body } from './body.ts';
import { buffering } from './buffering.ts';
import { canary } from './canary.ts';
import { cors } from './cors.ts';
import { customHeaders } from './custom-headers.ts';
import { errors } from './errors.ts';
import { externalAuth } from './external-auth.ts';
import { hosts } from './hosts.ts';
import type { ControllerConfig } from '../config-map/index.ts';
import type { AnnotationFamily, BackendSettings, HostSettings, IngressSettings, ParseContext } from './family.ts';
import { guardsAccess, INGRESS_NGINX_ANNOTATIONS } from './ingress-nginx-names.ts';
import { loadBalancing } from './load-balancing.ts';
import { nextUpstream } from './next-upstream.ts';
import { rateLimit } from './rate-limit.ts';
import { AnnotationReader, NGINX_PREFIX, parseGoBool, PORTICO_PREFIX } from './reader.ts';
import { redirects } from './redirects.ts';
import { appRoot, rewrite } from './rewrite.ts';
import { snippets } from './snippets.ts';
import { timeouts } from './timeouts.ts';
import { tlsRedirect } from './tls-redirect.ts';
import { serviceUpstream, upstream } from './upstream.ts';

export type { IngressSettings, HostSettings, BackendSettings } from './family.ts';

/** The registry: every annotation family Portico reads. Adding one is one file and one entry here. */
export const FAMILIES: readonly AnnotationFamily[] = [
  timeouts, body, buffering, rewrite, appRoot, hosts, redirects, nextUpstream, tlsRedirect, upstream, serviceUpstream,
  access, cors, customHeaders, rateLimit, basicAuth, externalAuth, canary, affinity, loadBalancing, errors, snippets,
];

/** Annotation names (without prefix) Portico reads, from the registry. */
export const SUPPORTED_ANNOTATIONS: ReadonlySet<string> = new Set(FAMILIES.flatMap((f) => f.annotations));

export interface ParsedAnnotations extends IngressSettings {
  /** The route's request steps, in nginx's phase order; shared by every path of the Ingress. */
  readonly steps: readonly RequestStep[];
  readonly diagnostics: Diagnostic[];
}

/**
 * Parses every annotation Portico understands on one Ingress, family by family. Pure: the same
 * annotations and referenced objects give the same settings.
 */
export function parseIngressAnnotations(annotations: Readonly<Record<string, string>> | undefined, ref: ObjectRef, context: ParseContext = { namespace: ref.namespace ?? 'default', snapshot: undefined }): ParsedAnnotations {
  const own = annotations ?? {};
  const read = new AnnotationReader(own, ref, { layer: configLayer(own, context.config) });
  reportUnsupported(own, read);
  for (const [name, where] of context.config?.unenforced ?? []) {
    if (!(NGINX_PREFIX + name in own) && !(PORTICO_PREFIX + name in own)) read.unenforced.push(where);
  }
  const route: Partial<Record<keyof RouteOptions, unknown>> = {};
  const host: Partial<Record<keyof HostSettings, unknown>> = {};
  const backend: Partial<Record<keyof BackendSettings, unknown>> = {};
  for (const family of FAMILIES) {
    const before = read.invalidKeys.length;
    let part = family.parse(read, context);
    // An unusable annotation falls back to the ConfigMap's value, not the built-in default: parse the family again without it.
    const bad = read.invalidKeys.slice(before).filter((key) => read.layerValue(key.slice(key.indexOf('/') + 1)) !== undefined);
    if (bad.length > 0) part = family.parse(read.without(bad), context);
    Object.assign(route, part.route);
    Object.assign(host, part.host);
    Object.assign(backend, part.backend);
  }
  route.denyReason = read.unenforced.length === 0 ? undefined : `access-guarding annotation not enforced: ${read.unenforced.join(', ')}`;
  const options = route as RouteOptions;
  return { route: options, host: host as HostSettings, backend: backend as BackendSettings, steps: compileSteps(options), diagnostics: read.diagnostics };
}

/**
 * The ConfigMap values under this Ingress's annotations: the annotation defaults, plus the
 * global auth unless the Ingress has its own `auth-url` or says `enable-global-auth: "false"`.
 */
function configLayer(own: Readonly<Record<string, string>>, config: ControllerConfig | undefined): ReadonlyMap<string, string> | undefined {
  if (!config) return undefined;
  if (config.globalAuth.size === 0) return config.annotationDefaults;
  const value = (name: string): string | undefined => own[PORTICO_PREFIX + name] ?? own[NGINX_PREFIX + name];
  if (value('auth-url') !== undefined || parseGoBool(value('enable-global-auth')?.trim() ?? '') === false) return config.annotationDefaults;
  return config.defaultsWithGlobalAuth;
}

/** Annotations under our prefixes that no family reads: one Warning each, never silently ignored. */
function reportUnsupported(annotations: Readonly<Record<string, string>>, read: AnnotationReader): void {
  for (const key of Object.keys(annotations)) {
    const prefix = key.startsWith(NGINX_PREFIX) ? NGINX_PREFIX : key.startsWith(PORTICO_PREFIX) ? PORTICO_PREFIX : undefined;
    if (!prefix) continue;
    const name = key.slice(prefix.length);
    if (SUPPORTED_ANNOTATIONS.has(name)) continue;
    if (prefix === PORTICO_PREFIX && name.startsWith('acme')) continue;
    if (guardsAccess(name)) {
      read.unenforced.push(key);
      read.warn(key, 'UnsupportedAnnotation', 'guards access and is not supported by Portico yet: every path of this Ingress answers 503 until it is (fail closed)', true);
    } else {
      read.warn(key, 'UnsupportedAnnotation', INGRESS_NGINX_ANNOTATIONS.has(name) ? 'not supported by Portico yet; ignored' : 'unknown annotation; ignored');
    }
  }
}

/** The steps the options need, in phase order; a route that cannot be protected gets only `deny`. */
function compileSteps(options: RouteOptions): RequestStep[] {
  if (options.denyReason !== undefined) return [{ kind: 'deny', reason: options.denyReason }];
  const steps: RequestStep[] = [];
  for (const family of FAMILIES) {
    const step = family.step?.(options);
    if (step) steps.push(step);
  }
  return steps.sort((a, b) => STEP_ORDER.indexOf(a.kind) - STEP_ORDER.indexOf(b.kind));
}

/** Families a canary Ingress keeps (ingress-nginx: load balancing and session affinity); the rest come from the main Ingress. */
const KEPT_ON_CANARY = new Set(['canary', 'affinity', 'load-balancing']);

/** Annotations of a canary Ingress that have no effect there, for a diagnostic. */
export function settingsIgnoredOnCanary(annotations: Readonly<Record<string, string>> | undefined): string[] {
  const ignored = new Set(FAMILIES.filter((f) => !KEPT_ON_CANARY.has(f.name)).flatMap((f) => f.annotations));
  return Object.keys(annotations ?? {}).filter((key) => {
    const prefix = key.startsWith(NGINX_PREFIX) ? NGINX_PREFIX : key.startsWith(PORTICO_PREFIX) ? PORTICO_PREFIX : undefined;
    return prefix !== undefined && ignored.has(key.slice(prefix.length));
  });
}

const DEFAULTS = parseIngressAnnotations({}, { kind: 'Ingress', name: '' });
/** ingress-nginx's defaults: what the families give for an Ingress without annotations. */
export const DEFAULT_ROUTE_OPTIONS: RouteOptions = Object.freeze(DEFAULTS.route);
/** The steps of a route without annotations (the HTTPS redirect, the body limit). */
export const DEFAULT_STEPS: readonly RequestStep[] = Object.freeze(DEFAULTS.steps);

/** A route's options as /debug/routes shows them, family by family (so the view cannot drift). */
export function describeRouteOptions(options: RouteOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { denyReason: options.denyReason ?? null };
  for (const family of FAMILIES) Object.assign(out, family.describe?.(options));
  return out;
}

export { parseBodySize } from './body.ts';
export { NGINX_PREFIX, PORTICO_PREFIX } from './reader.ts';
