import type { CorsPolicy, RequestStep } from '../../table/steps.ts';
import type { StepRunner } from './types.ts';

const LABEL = /^[a-z0-9-]+$/;
/** The headers that do not depend on the request, made once per policy (with the origin `*` when any origin goes). */
const fixedHeaders = new WeakMap<CorsPolicy, Readonly<Record<string, string>>>();

function headersOf(policy: CorsPolicy): Readonly<Record<string, string>> {
  let headers = fixedHeaders.get(policy);
  if (!headers) {
    const made: Record<string, string> = {};
    if (policy.anyOrigin) made['access-control-allow-origin'] = '*';
    headers = made;
    if (policy.allowCredentials) made['access-control-allow-credentials'] = 'true';
    made['access-control-allow-methods'] = policy.allowMethods;
    made['access-control-allow-headers'] = policy.allowHeaders;
    if (policy.exposeHeaders !== '') made['access-control-expose-headers'] = policy.exposeHeaders;
    made['access-control-max-age'] = String(policy.maxAgeSeconds);
    fixedHeaders.set(policy, Object.freeze(made));
  }
  return headers;
}

/**
 * Whether an origin (lower case) is listed, or under a listed wildcard with what `labels` allows in
 * the wildcard's place: one label for ingress-nginx, any number for the Gateway API.
 */
export function originListed(origins: ReadonlySet<string>, wildcards: readonly { readonly scheme: string; readonly suffix: string }[], origin: string, labels: RegExp): boolean {
  if (origins.has(origin)) return true;
  for (const w of wildcards) {
    if (origin.startsWith(w.scheme) && origin.endsWith(w.suffix) && labels.test(origin.slice(w.scheme.length, origin.length - w.suffix.length))) return true;
  }
  return false;
}

/**
 * ingress-nginx's CORS block: with origin `*` every response carries the headers (`*` as the
 * origin, Origin header or not); with a list, only requests whose Origin matches, echoed back.
 * Any such OPTIONS request is a preflight, answered 204 here, before access lists and auth.
 */
export const cors: StepRunner<Extract<RequestStep, { kind: 'cors' }>> = ({ policy }, context) => {
  let headers: Readonly<Record<string, string>>;
  if (policy.anyOrigin) {
    headers = headersOf(policy); // shared and frozen: whoever adds to the response headers copies first
  } else {
    const header = context.req.headers.origin;
    if (header === undefined || !originListed(policy.origins, policy.wildcardOrigins, header.toLowerCase(), LABEL)) return undefined;
    headers = { 'access-control-allow-origin': header, ...headersOf(policy) };
  }
  if (context.req.method === 'OPTIONS') return { status: 204, headers: { ...headers, 'content-type': 'text/plain charset=UTF-8', 'content-length': '0' }, body: '' };
  context.changes.response = context.changes.response ? { ...context.changes.response, ...headers } : headers;
  return undefined;
};
